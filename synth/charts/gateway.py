"""The gateway chart: what the config cluster runs to route to every region's exported pool."""

from __future__ import annotations

import cdk8s

from ..config.model import Cluster, Fleet
from ..constructs.base import ManifestChart, raw_object
from ..constructs.gateway import GatewayProps, MultiClusterGateway
from ..constructs.model_server import PORT
from ..constructs.routing import KvCacheMetric
from .serving import common_labels
from ..infra.addresses import gateway_addresses
from ..template import Truthy, ref
from ..values import DNS_LABEL, Group, ValuesSpec, array, boolean, integer, string

SPEC = ValuesSpec(
    Group({
        "namespace": Group({
            "name": string("Namespace of the Gateway and policies: the namespace of the exported pools.", **DNS_LABEL),
            "create": boolean("Render the Namespace. Default false: the runbook creates it before `helm install` (Helm refuses to adopt an object it did not create); `helm install --create-namespace` also makes it. The overlays always carry it."),
        }),
        "gateway": Group({
            "name": string("Gateway name.", **DNS_LABEL),
            "className": string("GatewayClass for imported inference pools.", enum=["gke-l7-cross-regional-internal-managed-mc"]),
            "port": integer("HTTP listener port.", minimum=1, maximum=65535),
            "pathPrefix": string("Path prefix routed to the model.", pattern="^/"),
            "addresses": array("One internal address per serving region (needs a GLOBAL_MANAGED_PROXY subnet there): a reserved "
                               "address (named-address-with-region, regions/REGION/addresses/NAME) or an ephemeral one.", {
                "type": "object", "additionalProperties": False, "required": ["type", "value"],
                "properties": {
                    "type": {"type": "string", "pattern": "^networking\\.gke\\.io/(named-address-with-region|ephemeral-ipv4-address/[a-z]+-[a-z]+[0-9]+)$"},
                    "value": {"type": "string", "pattern": "^([a-z]+-[a-z]+[0-9]+|regions/[a-z]+-[a-z]+[0-9]+/addresses/[a-z]([-a-z0-9]*[a-z0-9])?)$"},
                }}, minItems=1, maxItems=16, uniqueItems=True),
        }),
        "backend": Group({
            "timeoutSec": integer("Backend timeout for one request.", minimum=1, maximum=86400),
            "balancingMode": string("CUSTOM_METRICS (KV-cache utilisation) or IN_FLIGHT.", enum=["CUSTOM_METRICS", "IN_FLIGHT"]),
            "maxUtilizationPercent": integer("CUSTOM_METRICS: KV-cache utilisation at which a region is full.", minimum=1, maximum=100),
            "maxInFlightRequestsPerEndpoint": integer("IN_FLIGHT: in-flight requests per pod at which it is full.", minimum=1, maximum=100000),
            "scopes": array("Per-region overrides, first match wins (GCPBackendPolicy default.scopes).", {
                "type": "object", "additionalProperties": False, "required": ["selector"],
                "properties": {
                    "selector": {"type": "object", "additionalProperties": False, "required": ["gke.io/region"],
                                 "properties": {"gke.io/region": {"type": "string", "pattern": "^[a-z]+-[a-z]+[0-9]+$"}}},
                    "capacityScalerPercent": {"type": "integer", "minimum": 0, "maximum": 100},
                    "backendPreference": {"type": "string", "enum": ["PREFERRED", "DEFAULT"]},
                },
            }, maxItems=16),
        }),
    }),
    title="gateway chart values",
)


def values(fleet: Fleet, cluster: Cluster | None) -> dict:
    gw = fleet.gateway
    return {
        "namespace": {"name": fleet.namespace, "create": False},
        "gateway": {"name": gw.name, "className": gw.class_name, "port": gw.port, "pathPrefix": gw.path_prefix,
                    "addresses": gateway_addresses(fleet)},
        "backend": {"timeoutSec": gw.timeout_sec, "balancingMode": gw.balancing_mode,
                    "maxUtilizationPercent": gw.max_utilization_percent,
                    "maxInFlightRequestsPerEndpoint": gw.max_in_flight_requests_per_endpoint,
                    "scopes": [_scope(sc) for sc in gw.scopes]},
    }


def _scope(sc) -> dict:
    out: dict = {"selector": {"gke.io/region": sc.region}}
    if sc.capacity_scaler_percent is not None:
        out["capacityScalerPercent"] = sc.capacity_scaler_percent
    if sc.backend_preference is not None:
        out["backendPreference"] = sc.backend_preference
    return out


def build(app: cdk8s.App, fleet: Fleet) -> ManifestChart:
    chart = ManifestChart(app, "gateway")
    ns = ref("namespace.name")
    labels = common_labels(fleet)
    namespace = raw_object(chart, "namespace", api_version="v1", kind="Namespace", name=ns, labels=labels)
    chart.emit(namespace, "namespace.yaml", when=Truthy("namespace.create"))
    MultiClusterGateway(chart, "gateway", props=GatewayProps(
        name=ref("gateway.name"), namespace=ns, labels=labels, class_name=ref("gateway.className"),
        port=ref("gateway.port"), path_prefix=ref("gateway.pathPrefix"), addresses_path="gateway.addresses",
        pools=tuple((m.pool, m.model.served_names) for m in fleet.models), health_port=PORT, timeout_sec=ref("backend.timeoutSec"),
        balancing_mode_path="backend.balancingMode", max_utilization=ref("backend.maxUtilizationPercent"),
        max_in_flight=ref("backend.maxInFlightRequestsPerEndpoint"), kv_metric=KvCacheMetric.EXPORT_NAME,
        scopes_path="backend.scopes", match_model=fleet.several,
    ))
    return chart
