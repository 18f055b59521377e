"""Who may reach the model servers: the gateway's proxy-only subnets, the endpoint picker (it scrapes
/metrics), GKE's metric collectors (Managed Prometheus, the custom-metrics export the load balancer balances
on), and pods that opt in as model clients (the helm test). Kubelet probes come from the node and are not
subject to the policy."""

from __future__ import annotations

from constructs import Construct

from synth.constructs.base import ManifestChart, raw_object
from synth.template import Cond, each, item

MODEL_CLIENT_LABEL = "inference-fleet.dev/model-client"
# Namespaces of GKE's metric collectors (Standard and Autopilot Managed Prometheus, GKE system agents).
METRICS_NAMESPACES = ("gke-gmp-system", "gke-managed-system", "gmp-system", "kube-system")


class ModelServerNetworkPolicy(Construct):
    """Props: name, namespace, labels; server_selector (pods protected); picker_selector; port; subnets_path
    (values path of the proxy-only subnet CIDRs); when (the policy is optional: without subnets in the fleet
    file it would cut the gateway off)."""

    def __init__(self, scope: Construct, id: str, *, name: str, namespace: str, labels: dict, server_selector: dict,
                 picker_selector: dict, port: int, subnets_path: str, when: Cond) -> None:
        super().__init__(scope, id)
        obj = raw_object(self, "policy", api_version="networking.k8s.io/v1", kind="NetworkPolicy", name=name,
                         namespace=namespace, labels=labels, body={"spec": {
                             "podSelector": {"matchLabels": server_selector},
                             "policyTypes": ["Ingress"],
                             "ingress": [{
                                 "ports": [{"port": port, "protocol": "TCP"}],
                                 "from": [
                                     each(subnets_path, {"ipBlock": {"cidr": item(".")}}),
                                     {"podSelector": {"matchLabels": picker_selector}},
                                     {"podSelector": {"matchLabels": {MODEL_CLIENT_LABEL: "true"}}},
                                     {"namespaceSelector": {"matchExpressions": [{
                                         "key": "kubernetes.io/metadata.name", "operator": "In",
                                         "values": list(METRICS_NAMESPACES)}]}},
                                 ],
                             }],
                         }})
        ManifestChart.of(self).emit(obj, "networkpolicy.yaml", when=when)
