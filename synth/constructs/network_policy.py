"""Who may reach the pods the serving chart runs. GKE Dataplane V2 (which managed DRANET requires) enforces
NetworkPolicy, and a pod no policy selects accepts every pod and address, so each pod here gets one that
admits exactly the paths the architecture uses:

model server, port 8000 (the InferencePool's target port)
  - Google health-check probes 35.191.0.0/16 and 130.211.0.0/22: the load balancer health-checks every NEG
    endpoint (pod IP) from there; without them every endpoint is unhealthy and the gateway answers 503
    (Cloud Load Balancing "Firewall rules": https://cloud.google.com/load-balancing/docs/firewall-rules)
  - every serving region's GLOBAL_MANAGED_PROXY proxy-only subnet: the cross-region load balancer's Envoy
    proxies send requests from there, and a region's proxies may send them to any region's pods
  - the endpoint picker of this pool: it scrapes /metrics every 50 ms to pick endpoints
  - Managed Prometheus collectors (gmp-system or gke-gmp-system, pod label app.kubernetes.io/name: collector; pod network, no
    hostNetwork) and GKE's metrics agents in kube-system / gke-managed-system, which read the KV-cache gauge the
    AutoscalingMetric exports for CUSTOM_METRICS balancing
  - pods of this namespace labelled inference-fleet.dev/model-client: "true" (opt-in clients, the helm test)

endpoint picker
  - 9002 (ext-proc, gRPC over TLS) from the proxy-only subnets: the load balancer's proxies make the callout
  - 9003 (gRPC health) from the health-check ranges and the proxy-only subnets: the picker is itself a load
    balancer backend, health-checked on 9003
  - 9090 (metrics) from the Managed Prometheus collectors only

Kubelet probes come from the pod's own node and are never subject to NetworkPolicy. An ipBlock and a selector are
never combined in one peer (the API server rejects it)."""

from __future__ import annotations

from constructs import Construct

from ..config import catalog

from .base import ManifestChart, raw_object
from ..template import Cond, each, item

MODEL_CLIENT_LABEL = catalog.MODEL_CLIENT_LABEL
# Managed Prometheus collectors (prometheus-engine: DaemonSet collector, pod label app.kubernetes.io/name: collector).
# Sources disagree on the namespace GKE runs them in (gmp-system, or gke-gmp-system as on Autopilot); both are
# GKE-managed, so both are admitted: admitting only the wrong one would silently lose every scrape.
GMP_NAMESPACES = ("gmp-system", "gke-gmp-system")
GMP_COLLECTORS = {"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                                              "values": list(GMP_NAMESPACES)}]},
                  "podSelector": {"matchLabels": {"app.kubernetes.io/name": "collector"}}}
# GKE's metrics agents that read AutoscalingMetric endpoints run in these namespaces; their pod labels are not
# published, so the namespaces are admitted whole.
METRICS_AGENT_NAMESPACES = ("gke-managed-system", "kube-system")


def _cidrs(path: str) -> dict:
    return each(path, {"ipBlock": {"cidr": item(".")}})


class ModelServerNetworkPolicy(Construct):
    """Props: name, namespace, labels; server_selector (the pods protected); picker_selector; port (the pool's
    target port); subnets_path and health_path (values paths of the proxy-only and health-check CIDRs); kv_metric
    (the AutoscalingMetric is emitted, so GKE's metrics agents read the port); when (networkPolicy.enabled)."""

    def __init__(self, scope: Construct, id: str, *, name: str, namespace: str, labels: dict, server_selector: dict,
                 picker_selector: dict, port: int, subnets_path: str, health_path: str, kv_metric: Cond, when: Cond) -> None:
        super().__init__(scope, id)
        chart = ManifestChart.of(self)
        tcp = [{"port": port, "protocol": "TCP"}]
        obj = raw_object(self, "policy", api_version="networking.k8s.io/v1", kind="NetworkPolicy", name=name,
                         namespace=namespace, labels=labels, body={"spec": {
                             "podSelector": {"matchLabels": server_selector},
                             "policyTypes": ["Ingress"],
                             "ingress": [
                                 {"from": [_cidrs(health_path), _cidrs(subnets_path)], "ports": tcp},
                                 {"from": [{"podSelector": {"matchLabels": picker_selector}},
                                           {"podSelector": {"matchLabels": {MODEL_CLIENT_LABEL: "true"}}}], "ports": tcp},
                                 {"from": [GMP_COLLECTORS, chart.conds.only_if(kv_metric, {"namespaceSelector": {"matchExpressions": [{
                                     "key": "kubernetes.io/metadata.name", "operator": "In",
                                     "values": list(METRICS_AGENT_NAMESPACES)}]}})], "ports": tcp},
                             ],
                         }})
        chart.emit(obj, "networkpolicy.yaml", when=when)


class PickerNetworkPolicy(Construct):
    """Props: name, namespace, labels; picker_selector (the pods protected); ext_proc, health, metrics (ports);
    subnets_path, health_path (values paths); when."""

    def __init__(self, scope: Construct, id: str, *, name: str, namespace: str, labels: dict, picker_selector: dict,
                 ext_proc: int, health: int, metrics: int, subnets_path: str, health_path: str, when: Cond) -> None:
        super().__init__(scope, id)
        obj = raw_object(self, "policy", api_version="networking.k8s.io/v1", kind="NetworkPolicy", name=name,
                         namespace=namespace, labels=labels, body={"spec": {
                             "podSelector": {"matchLabels": picker_selector},
                             "policyTypes": ["Ingress"],
                             "ingress": [
                                 {"from": [_cidrs(subnets_path)], "ports": [{"port": ext_proc, "protocol": "TCP"}]},
                                 {"from": [_cidrs(health_path), _cidrs(subnets_path)],
                                  "ports": [{"port": health, "protocol": "TCP"}]},
                                 {"from": [GMP_COLLECTORS], "ports": [{"port": metrics, "protocol": "TCP"}]},
                             ],
                         }})
        ManifestChart.of(self).emit(obj, "epp-networkpolicy.yaml", when=when)
