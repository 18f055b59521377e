"""The fleet VPC: one custom-mode network for every cluster (the multi-cluster gateway needs one VPC), a node
subnet per cluster with its pod and service ranges, one GLOBAL_MANAGED_PROXY proxy-only subnet per serving region,
firewall rules for the load balancer, and Cloud NAT for private nodes.

Firewall rules target the fleet's node service account (every GKE node runs as it), so they open nothing else:
  health checks   35.191.0.0/16, 130.211.0.0/22 → model (8000) and picker (9002 ext-proc, 9003 health) ports: the
                  load balancer probes every NEG endpoint from these ranges (Cloud Load Balancing "Firewall rules")
  proxies         every proxy-only subnet → the same ports: Envoy-based load balancers send requests (and the
                  picker callout) from the proxy-only subnet of the region that took the request
  internal        node and pod ranges of every cluster → nodes, the intra-VPC traffic of the fleet
The NetworkPolicies in each cluster admit the same sources to the pods (Dataplane V2 enforces both layers)."""

from __future__ import annotations

from ..config import catalog
from ..config.model import Fleet
from .common import ABANDON, network_name, node_subnet, obj, proxy_subnet, ref

API = "compute.cnrm.cloud.google.com/v1beta1"
BACKEND_PORTS = [str(catalog.MODEL_PORT), str(catalog.EXT_PROC_PORT), str(catalog.HEALTH_PORT)]


def objects(fleet: Fleet) -> list[dict]:
    net = network_name(fleet)
    out = [obj(fleet, API, "ComputeNetwork", net, {
        "autoCreateSubnetworks": False, "mtu": fleet.network.mtu, "routingMode": "GLOBAL"}, annotations=ABANDON)]
    for c in fleet.clusters:
        out.append(obj(fleet, API, "ComputeSubnetwork", node_subnet(c.name), {
            "region": c.region, "networkRef": ref(net), "ipCidrRange": c.subnets.nodes,
            "privateIpGoogleAccess": True,
            "secondaryIpRange": [{"rangeName": "pods", "ipCidrRange": c.subnets.pods},
                                 {"rangeName": "services", "ipCidrRange": c.subnets.services}],
        }))
    proxies = proxy_only_subnets(fleet)
    for region, cidr in proxies.items():
        # role ACTIVE as the setup guide passes it; the purpose is immutable and one per region and VPC.
        out.append(obj(fleet, API, "ComputeSubnetwork", proxy_subnet(fleet, region), {
            "region": region, "networkRef": ref(net), "ipCidrRange": cidr,
            "purpose": "GLOBAL_MANAGED_PROXY", "role": "ACTIVE"}))
    nodes = [{"name": fleet.node_service_account_id}]
    tcp = [{"protocol": "tcp", "ports": BACKEND_PORTS}]
    out.append(obj(fleet, API, "ComputeFirewall", f"{net}-allow-health-checks", {
        "networkRef": ref(net), "direction": "INGRESS", "priority": 1000,
        "description": "Google Cloud health checks to the model servers and endpoint pickers",
        "sourceRanges": list(catalog.HEALTH_CHECK_RANGES), "allow": tcp, "targetServiceAccounts": nodes}))
    if proxies:
        out.append(obj(fleet, API, "ComputeFirewall", f"{net}-allow-proxies", {
            "networkRef": ref(net), "direction": "INGRESS", "priority": 1000,
            "description": "The gateway's proxy-only subnets to the model servers and endpoint pickers",
            "sourceRanges": list(proxies.values()), "allow": tcp, "targetServiceAccounts": nodes}))
    internal = [r for c in fleet.clusters for r in (c.subnets.nodes, c.subnets.pods)]
    out.append(obj(fleet, API, "ComputeFirewall", f"{net}-allow-internal", {
        "networkRef": ref(net), "direction": "INGRESS", "priority": 1000,
        "description": "Node and pod ranges of the fleet's clusters",
        "sourceRanges": internal, "allow": [{"protocol": "tcp"}, {"protocol": "udp"}, {"protocol": "icmp"}],
        "targetServiceAccounts": nodes}))
    if fleet.network.cloud_nat:
        for region in dict.fromkeys(c.region for c in fleet.clusters):
            router = f"{net}-router-{region}"
            out.append(obj(fleet, API, "ComputeRouter", router, {"region": region, "networkRef": ref(net)}))
            out.append(obj(fleet, API, "ComputeRouterNAT", f"{net}-nat-{region}", {
                "region": region, "routerRef": ref(router), "natIpAllocateOption": "AUTO_ONLY",
                "sourceSubnetworkIpRangesToNat": "LIST_OF_SUBNETWORKS",
                "subnetwork": [{"subnetworkRef": ref(node_subnet(c.name)), "sourceIpRangesToNat": ["ALL_IP_RANGES"]}
                               for c in fleet.clusters if c.region == region],
                "logConfig": {"enable": True, "filter": "ERRORS_ONLY"}}))
    return out


def proxy_only_subnets(fleet: Fleet) -> dict[str, str]:
    """Region → its proxy-only CIDR, for every region that has one."""
    out: dict[str, str] = {}
    for c in fleet.clusters:
        if c.subnets.proxy_only:
            out.setdefault(c.region, c.subnets.proxy_only)
    return out
