"""How much traffic each region can take, and what is left when something fails: a region's backends (the load
balancer spills to other regions), a region's front end (DNS moves its clients to another region's address), or a
region upgrading (one rollout step's pods are down). All from the same ``Fleet`` the manifests come from.

Capacity is per model (each model is its own pool and backend service): a region's most replicas of it (the HPA
ceiling when autoscaled) times its requests per second per replica, scaled by the region's ``capacityScalerPercent``
(the share the load balancer may use: 0 drains it). Failover order is what the load balancer does with
WATERFALL_BY_REGION: PREFERRED regions first, then nearest; a model's traffic only goes to regions that serve it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config.model import Fleet, Placement, Rollout, ServedModel

# Approximate locations of regions that offer TPU v6e, to order failover targets nearest first.
REGION_COORDS = {
    "us-central1": (41.26, -95.86),
    "us-east1": (33.20, -80.01),
    "us-east5": (39.96, -83.00),
    "us-south1": (32.78, -96.80),
    "europe-west4": (53.44, 6.84),
    "asia-northeast1": (35.69, 139.69),
    "southamerica-east1": (-23.55, -46.63),
}


def distance(a: str, b: str) -> float:
    if a not in REGION_COORDS or b not in REGION_COORDS:
        return math.inf
    (la1, lo1), (la2, lo2) = (tuple(map(math.radians, REGION_COORDS[r])) for r in (a, b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def max_replicas(served: ServedModel, p: Placement) -> int:
    return p.most_replicas(served.autoscaled)


def rollout_of(served: ServedModel, p: Placement) -> Rollout:
    return served.server.rollout or Rollout.automatic(p.fewest_replicas(served.autoscaled))


def raw_capacity(served: ServedModel) -> dict[str, float]:
    """Region → rps its replicas of ``served`` can serve, before scopes."""
    cap: dict[str, float] = {}
    for p in served.placements:
        cap[p.cluster.region] = cap.get(p.cluster.region, 0.0) + max_replicas(served, p) * served.server.requests_per_second_per_replica
    return cap


def region_capacity(fleet: Fleet, served: ServedModel) -> dict[str, float]:
    """Region → rps the load balancer may send it for ``served`` (its capacity scaler applied)."""
    return {r: v * fleet.gateway.capacity_scaler(r) / 100 for r, v in raw_capacity(served).items()}


def upgrading_capacity(fleet: Fleet, served: ServedModel, region: str) -> float:
    """Rps the region keeps while one rollout step replaces its pods (surge pods add none until ready)."""
    total = 0.0
    for p in served.placements:
        if p.cluster.region == region:
            down = rollout_of(served, p).max_unavailable
            total += max(max_replicas(served, p) - down, 0) * served.server.requests_per_second_per_replica
    return total * fleet.gateway.capacity_scaler(region) / 100


def spill_order(fleet: Fleet, served: ServedModel, lost: str) -> list[str]:
    order = list(served.regions)
    preferred = {s.region for s in fleet.gateway.scopes if s.backend_preference == "PREFERRED"}
    return sorted((r for r in order if r != lost),
                  key=lambda r: (r not in preferred, distance(lost, r), order.index(r)))


@dataclass(frozen=True)
class FailoverRow:
    event: str  # what fails
    region: str
    targets: tuple[str, ...]  # where the traffic goes, in order
    capacity: float  # rps left for the whole fleet
    peak: float
    note: str = ""

    @property
    def covered(self) -> bool:
        return self.capacity >= self.peak


def failover(fleet: Fleet, served: ServedModel) -> list[FailoverRow]:
    """A region's backends lost: its traffic spills to the others (drained regions take none)."""
    cap = region_capacity(fleet, served)
    rows = []
    for lost in served.regions:
        targets = [r for r in spill_order(fleet, served, lost) if cap[r] > 0]
        rows.append(FailoverRow("backends lost", lost, tuple(targets), sum(cap[r] for r in targets), served.expected_peak_rps))
    return rows


def front_end_failover(fleet: Fleet, served: ServedModel) -> list[FailoverRow]:
    """A region's gateway address (its proxies or forwarding rule) lost. With the DNS name, clients of that region
    are answered with the nearest healthy region's address within the TTL; its backends keep serving through the
    other regions' addresses (every gateway address reaches every pool). Without it, clients pinned to that address
    fail until they switch themselves."""
    cap = region_capacity(fleet, served)
    rows = []
    for lost in fleet.serving_regions:
        others = tuple(r for r in sorted(fleet.serving_regions, key=lambda r: (distance(lost, r), r)) if r != lost)
        if fleet.dns.enabled:
            note = f"clients move within the {fleet.dns.ttl} s TTL"
            rows.append(FailoverRow("front end lost", lost, others[:1], sum(cap.values()), served.expected_peak_rps, note))
        else:
            rows.append(FailoverRow("front end lost", lost, (), sum(cap.values()), served.expected_peak_rps,
                                    "clients pinned to this address fail (dns.enabled is false)"))
    return rows


def upgrade_rows(fleet: Fleet, served: ServedModel) -> list[FailoverRow]:
    cap = region_capacity(fleet, served)
    rows = []
    for region in served.regions:
        left = upgrading_capacity(fleet, served, region)
        rows.append(FailoverRow("upgrading", region, (region,) + tuple(r for r in spill_order(fleet, served, region) if cap[r] > 0),
                                left + sum(v for r, v in cap.items() if r != region), served.expected_peak_rps,
                                f"{region} keeps {left:g} rps while a step replaces its pods"))
    return rows


def all_rows(fleet: Fleet, served: ServedModel) -> list[FailoverRow]:
    return failover(fleet, served) + front_end_failover(fleet, served) + upgrade_rows(fleet, served)
