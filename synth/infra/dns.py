"""A private DNS name that sends each client to a live region's gateway address.

The cross-regional internal Gateway has one address per region, and the load balancer fails over *backends*: a
request reaching a region's address is served by another region's pods when that region's pods are gone. A client
pinned to a region's address still depends on that region's proxies and forwarding rule. Cloud DNS routing policies
with health-checked internal load balancers cover that layer (Cloud DNS "Routing policies overview",
https://cloud.google.com/dns/docs/routing-policies-overview, and "Manage routing policies",
https://cloud.google.com/dns/docs/zones/manage-routing-policies):

* Health checking of an internal Application Load Balancer target uses the health of the load balancer itself (no
  probe to configure); it works in private zones only, hence a private zone on the fleet VPC.
* ``geo``: a query from a VM (or a GKE pod, via its node) is answered by the item of the VM's region, or the nearest
  one; when a region's target is unhealthy, by the next nearest healthy region — with ``enableGeoFencing: false``,
  which is why it is off here (fencing would keep answering with the failed region).
* ``primaryBackup``: all clients get the primary region while it is healthy, then the backup geo items.
* Targets name the load balancer's frontend: its IP (``ipAddressRef`` → the reserved ComputeAddress the Gateway
  uses), ``port`` (the listener, a string), ``ipProtocol: tcp``, ``networkRef`` (the VPC), ``projectRef``, and
  ``loadBalancerType: globalL7ilb`` for the cross-region internal Application Load Balancer. ``regionRef`` is left
  out: it is only for regional load balancers (Config Connector's sample for a globalL7ilb target omits it).
* The TTL bounds how long a client keeps a failed region's address."""

from __future__ import annotations

from ..config.model import Fleet
from .common import address_name, network_name, obj, project_ref, ref

API = "dns.cnrm.cloud.google.com/v1beta1"


def record_name(fleet: Fleet) -> str:
    return f"{fleet.dns.zone}-{fleet.dns.host}"


def target(fleet: Fleet, region: str) -> dict:
    return {"internalLoadBalancers": [{
        "ipAddressRef": ref(address_name(fleet, region)),
        "ipProtocol": "tcp",
        "loadBalancerType": "globalL7ilb",
        "networkRef": ref(network_name(fleet)),
        "port": str(fleet.gateway.port),
        "projectRef": project_ref(fleet),
    }]}


def routing_policy(fleet: Fleet) -> dict:
    regions = list(fleet.serving_regions)
    if fleet.dns.policy == "primaryBackup":
        primary = fleet.dns.primary_region
        return {"primaryBackup": {
            "primary": target(fleet, primary),
            "backupGeo": [{"location": r, "healthCheckedTargets": target(fleet, r)} for r in regions if r != primary],
            "trickleRatio": 0,
            "enableGeoFencingForBackups": False,
        }}
    return {"geo": [{"location": r, "healthCheckedTargets": target(fleet, r)} for r in regions], "enableGeoFencing": False}


def objects(fleet: Fleet) -> list[dict]:
    if not fleet.dns.enabled:
        return []
    zone = obj(fleet, API, "DNSManagedZone", fleet.dns.zone, {
        "dnsName": fleet.dns.domain, "visibility": "private",
        "description": f"Private names of the {fleet.name} inference fleet",
        "privateVisibilityConfig": {"networks": [{"networkRef": ref(network_name(fleet))}]}})
    record = obj(fleet, API, "DNSRecordSet", record_name(fleet), {
        "name": fleet.dns.fqdn, "type": "A", "ttl": fleet.dns.ttl, "managedZoneRef": ref(fleet.dns.zone),
        "routingPolicy": routing_policy(fleet)})
    return [zone, record]
