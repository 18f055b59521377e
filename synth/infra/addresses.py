"""Reserved internal addresses for the gateway, one per serving region (``purpose: SHARED_LOADBALANCER_VIP``, in a
node subnet of that region). The Gateway names them (``networking.gke.io/named-address-with-region``,
``regions/<region>/addresses/<name>``, as a working lab of this scenario does:
GoogleCloudPlatform/gcp-getting-started-lab-jp inference-gw/lab-03/config-cluster.yaml) instead of ephemeral
addresses, so clients and Cloud DNS health checks can rely on fixed IPs."""

from __future__ import annotations

from ..config.model import Fleet
from .common import address_name, node_subnet, obj, ref

API = "compute.cnrm.cloud.google.com/v1beta1"


def objects(fleet: Fleet) -> list[dict]:
    if not fleet.gateway.static_addresses:
        return []
    out = []
    for region in fleet.serving_regions:
        cluster = next(c for c in fleet.clusters if c.region == region)
        out.append(obj(fleet, API, "ComputeAddress", address_name(fleet, region), {
            "location": region, "addressType": "INTERNAL", "purpose": "SHARED_LOADBALANCER_VIP",
            "subnetworkRef": ref(node_subnet(cluster.name)),
            "description": f"{fleet.gateway.name} address in {region}"}))
    return out


def gateway_addresses(fleet: Fleet) -> list[dict]:
    """One address per serving region: the reserved ComputeAddress of infra/ when static addresses are on (the form a
    working lab of this scenario used), else an ephemeral address GKE picks in that region."""
    if fleet.gateway.static_addresses:
        return [{"type": "networking.gke.io/named-address-with-region",
                 "value": f"regions/{r}/addresses/{address_name(fleet, r)}"} for r in fleet.serving_regions]
    return [{"type": f"networking.gke.io/ephemeral-ipv4-address/{r}", "value": r} for r in fleet.serving_regions]
