"""The config cluster's side of the multi-cluster Inference Gateway: Gateway, an HTTPRoute to each imported
pool, and the health-check and backend policies on each import.

With several models, each pool's route matches the model names it serves (the model and its LoRA adapters) in the
header ``X-Gateway-Model-Name``, which clients set to the ``model`` of the request body. GKE documents body-based
routing (an extension that copies the body's ``model`` into that header) only for single-cluster Gateways; for the
multi-cluster class it is not documented, so the client sets the header. A request whose header names no served
model matches no rule and gets the Gateway API's 404."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from .base import ManifestChart, raw_object
from ..template import Equals, Truthy, ref, splice


@dataclass(frozen=True)
class GatewayProps:
    """name, class_name, port, path_prefix, timeout_sec, balancing_mode, max_utilization, max_in_flight: value
    references. addresses_path: values path of the Gateway's addresses (one per serving region, {type, value}). pool: the exported pool's
    name (the GCPInferencePoolImport GKE creates has the same name). health_port: model-server port.
    scopes_path: values path of the per-region overrides, emitted as default.scopes when not empty."""

    name: str
    namespace: str
    labels: dict
    class_name: str
    port: str
    path_prefix: str
    addresses_path: str
    pools: tuple[tuple[str, tuple[str, ...]], ...]
    health_port: int
    timeout_sec: str
    balancing_mode_path: str
    max_utilization: str
    max_in_flight: str
    kv_metric: str
    scopes_path: str
    match_model: bool = False


MODEL_HEADER = "X-Gateway-Model-Name"
IMPORT_REF = {"group": "networking.gke.io", "kind": "GCPInferencePoolImport"}


class MultiClusterGateway(Construct):
    def __init__(self, scope: Construct, id: str, *, props: GatewayProps) -> None:
        super().__init__(scope, id)
        chart = ManifestChart.of(self)
        p = props
        gateway = raw_object(self, "gateway", api_version="gateway.networking.k8s.io/v1", kind="Gateway",
                             name=p.name, namespace=p.namespace, labels=p.labels, body={"spec": {
                                 "gatewayClassName": p.class_name,
                                 # One internal VIP per serving region: clients use their region's address (or
                                 # the fleet's DNS name) and the load balancer still fails over to other regions'
                                 # backends.
                                 "addresses": [splice(p.addresses_path)],
                                 "listeners": [{"name": "http", "protocol": "HTTP", "port": p.port,
                                                "allowedRoutes": {"namespaces": {"from": "Same"}}}],
                             }})
        chart.emit(gateway, "gateway.yaml")
        for pool, names in p.pools:
            self._pool(chart, p, pool, names, suffix=f"-{pool}" if p.match_model else "")

    def _pool(self, chart: ManifestChart, p: GatewayProps, pool: str, names: tuple[str, ...], suffix: str) -> None:
        """The route to one imported pool and the policies on that import."""
        if p.match_model:
            matches = [{"path": {"type": "PathPrefix", "value": p.path_prefix},
                        "headers": [{"type": "Exact", "name": MODEL_HEADER, "value": n}]} for n in names]
        else:
            matches = [{"path": {"type": "PathPrefix", "value": p.path_prefix}}]
        route = raw_object(self, f"route{suffix}", api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute",
                           name=pool, namespace=p.namespace, labels=p.labels, body={"spec": {
                               "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": p.name}],
                               "rules": [{
                                   "matches": matches,
                                   "backendRefs": [{**IMPORT_REF, "name": pool}],
                               }],
                           }})
        chart.emit(route, f"httproute{suffix}.yaml")
        health = raw_object(self, f"health{suffix}", api_version="networking.gke.io/v1", kind="HealthCheckPolicy",
                            name=pool, namespace=p.namespace, labels=p.labels, body={"spec": {
                                "targetRef": {**IMPORT_REF, "name": pool},
                                "default": {
                                    "checkIntervalSec": 5,
                                    "timeoutSec": 5,
                                    "healthyThreshold": 2,
                                    "unhealthyThreshold": 2,
                                    "config": {"type": "HTTP", "httpHealthCheck": {
                                        "portSpecification": "USE_FIXED_PORT",
                                        "port": p.health_port,
                                        "requestPath": "/health",
                                    }},
                                },
                            }})
        chart.emit(health, f"healthcheckpolicy{suffix}.yaml")
        custom = Equals(p.balancing_mode_path, "CUSTOM_METRICS")
        in_flight = Equals(p.balancing_mode_path, "IN_FLIGHT")
        backend = raw_object(self, f"backend{suffix}", api_version="networking.gke.io/v1", kind="GCPBackendPolicy",
                             name=pool, namespace=p.namespace, labels=p.labels, body={"spec": {
                                 "targetRef": {**IMPORT_REF, "name": pool},
                                 "default": {
                                     "timeoutSec": p.timeout_sec,
                                     "logging": {"enabled": True},
                                     "balancingMode": ref(p.balancing_mode_path),
                                     "trafficDuration": "LONG",
                                     chart.conds.when(custom): {"customMetrics": [{
                                         "name": f"gke.named_metrics.{p.kv_metric}",
                                         "dryRun": False,
                                         "maxUtilizationPercent": p.max_utilization,
                                     }]},
                                     chart.conds.when(in_flight): {
                                         "maxInFlightRequestsPerEndpoint": p.max_in_flight,
                                         "dryRun": False,
                                     },
                                     # Only backend-level fields that the default never sets: a field in both
                                     # places makes GKE reject the policy.
                                     chart.conds.when(Truthy(p.scopes_path)): {"scopes": ref(p.scopes_path)},
                                 },
                             }})
        chart.emit(backend, f"gcpbackendpolicy{suffix}.yaml")
