"""GKE and VPC limits the objects run into.

* ``neg-budget``: each imported pool is one backend service, and a backend service takes at most 50 NEGs; GKE makes
  one NEG per target port per zone per exporting cluster (multi-cluster Inference Gateway setup guide, limits).
  Zones are those the pool's pods can run in (their zone node selector, else the zones of their ComputeClass).
* ``proxy-only-subnets``: every region with a gateway address has exactly one GLOBAL_MANAGED_PROXY proxy-only subnet
  in the VPC, and no REGIONAL_MANAGED_PROXY one beside it (creating the global one fails then).
* ``subnet-ranges``: the VPC's subnet ranges (primary and secondary, proxy-only included) are valid canonical CIDRs
  that do not overlap.
* ``metrics-budget``: a cluster exports at most 10 metrics through AutoscalingMetrics of the endpoints shape (GKE
  "Expose custom metrics for load balancers", the shape of GKE >= 1.34.1-gke.1127000; several models each add
  theirs)."""

from __future__ import annotations

import ipaddress

from ..problems import Problem, iter_objects, labels, matches, name, namespace, oid
from ..view import FleetView

RULES = {
    "neg-budget": "NEGs per imported pool (exporting clusters x zones x target ports) stay within 50 per backend service",
    "proxy-only-subnets": "one GLOBAL_MANAGED_PROXY subnet in each gateway region, and no REGIONAL_MANAGED_PROXY subnet beside it",
    "subnet-ranges": "subnet ranges of the VPC are canonical and do not overlap",
    "metrics-budget": "a cluster exports at most 10 metrics through AutoscalingMetrics of the endpoints shape",
}
METRICS_LIMIT = 10
NEG_LIMIT = 50
DEFAULT_ZONES = 3  # a region's zones when nothing narrows them


def _pool_zones(classes: dict, workloads: dict, pool: dict) -> int:
    """Zones the pool's pods may run in (``classes``: ComputeClass by name; ``workloads``: namespace → Deployments)."""
    sel = ((pool.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    zones: set[str] = set()
    for o in workloads.get(namespace(pool), []):
        t = (o.get("spec") or {}).get("template") or {}
        if not matches(sel, labels(t)):
            continue
        ns = (t.get("spec") or {}).get("nodeSelector") or {}
        if "topology.kubernetes.io/zone" in ns:
            zones.add(ns["topology.kubernetes.io/zone"])
            continue
        cc = classes.get(ns.get("cloud.google.com/compute-class", ""))
        for p in ((cc or {}).get("spec") or {}).get("priorities") or []:
            zones |= set((p.get("location") or {}).get("zones") or [])
            zones |= {z for s in (p.get("reservations") or {}).get("specific") or [] for z in s.get("zones") or []}
        if not zones:
            return DEFAULT_ZONES
    return len(zones) or DEFAULT_ZONES


def gateway_regions(view: FleetView) -> dict[str, tuple[str, str, dict]]:
    """Region → (cluster, file, Gateway) for every region a Gateway takes an address in."""
    out = {}
    for cluster, docs in view.clusters.items():
        for f, gw in iter_objects(docs):
            if gw.get("kind") != "Gateway":
                continue
            for a in (gw.get("spec") or {}).get("addresses") or []:
                t, v = str(a.get("type", "")), str(a.get("value", ""))
                if t.startswith("networking.gke.io/ephemeral-ipv4-address/"):
                    out[t.rpartition("/")[2]] = (cluster, f, gw)
                elif t == "networking.gke.io/named-address-with-region" and v.startswith("regions/"):
                    out[v.split("/")[1]] = (cluster, f, gw)
    return out


def _metrics_budget(view: FleetView) -> list[Problem]:
    problems = []
    for cluster, docs in view.clusters.items():
        exported = [(f, o, m.get("exportName")) for f, o in iter_objects(docs) if o.get("kind") == "AutoscalingMetric"
                    for ep in (o.get("spec") or {}).get("endpoints") or [] for m in ep.get("metrics") or []]
        if len(exported) > METRICS_LIMIT:
            f, o, _ = exported[METRICS_LIMIT]
            problems.append(Problem(f, oid(o), "spec.endpoints", "metrics-budget",
                                    f"the cluster's AutoscalingMetrics export {len(exported)} metrics, above the "
                                    f"{METRICS_LIMIT} GKE takes per cluster; export fewer (one KV-cache gauge per model)", cluster))
    return problems


def check(view: FleetView) -> list[Problem]:
    problems: list[Problem] = _metrics_budget(view)
    budget: dict[tuple[str, str], list] = {}
    for cluster, docs in view.clusters.items():
        classes = {name(o): o for _, o in iter_objects(docs) if o.get("kind") == "ComputeClass"}
        workloads: dict[str, list[dict]] = {}
        for _, o in iter_objects(docs):
            if o.get("kind") in ("Deployment", "StatefulSet"):
                workloads.setdefault(namespace(o), []).append(o)
        for f, pool in iter_objects(docs):
            if pool.get("kind") == "InferencePool":
                negs = _pool_zones(classes, workloads, pool) * max(1, len((pool.get("spec") or {}).get("targetPorts") or []))
                budget.setdefault((namespace(pool), name(pool)), []).append((cluster, f, pool, negs))
    for (ns, pool_name), rows in budget.items():
        total = sum(r[3] for r in rows)
        if total > NEG_LIMIT:
            cluster, f, pool, _ = rows[0]
            parts = ", ".join(f"{c}: {n}" for c, _, _, n in rows)
            problems.append(Problem(f, oid(pool), "spec.targetPorts", "neg-budget",
                                    f"the imported pool needs {total} NEGs ({parts}; one per zone and target port in each "
                                    f"exporting cluster), above the {NEG_LIMIT} a backend service takes; use fewer zones, "
                                    "target ports or clusters per pool", cluster))
    if view.infra:
        regular: dict[tuple[str, str], list] = {}
        for f, sn in view.kcc("ComputeSubnetwork"):
            spec = sn.get("spec") or {}
            if spec.get("purpose") == "REGIONAL_MANAGED_PROXY":
                regular.setdefault((spec.get("region"), (spec.get("networkRef") or {}).get("name")), []).append((f, sn))
        for region, (cluster, f, gw) in sorted(gateway_regions(view).items()):
            subs = view.proxy_only_subnets.get(region, [])
            if len(subs) != 1:
                problems.append(Problem(f, oid(gw), "spec.addresses", "proxy-only-subnets",
                                        f"region {region} has {len(subs)} GLOBAL_MANAGED_PROXY proxy-only subnets in the infra; "
                                        "the gateway needs exactly one there", cluster))
            for sf, sn in subs:
                clash = regular.get((region, ((sn.get("spec") or {}).get("networkRef") or {}).get("name")))
                if clash:
                    problems.append(Problem(clash[0][0], oid(clash[0][1]), "spec.purpose", "proxy-only-subnets",
                                            f"a REGIONAL_MANAGED_PROXY subnet beside {oid(sn)} in {region}: creating the "
                                            "global proxy-only subnet fails; remove one"))
        ranges: dict[str, list] = {}
        for f, sn in view.kcc("ComputeSubnetwork"):
            spec = sn.get("spec") or {}
            net = (spec.get("networkRef") or {}).get("name") or (spec.get("networkRef") or {}).get("external", "")
            entries = [("spec.ipCidrRange", spec.get("ipCidrRange"))] + \
                      [(f"spec.secondaryIpRange[{i}].ipCidrRange", r.get("ipCidrRange")) for i, r in enumerate(spec.get("secondaryIpRange") or [])]
            for path, cidr in entries:
                if cidr is None:
                    continue
                try:
                    parsed = ipaddress.ip_network(cidr, strict=True)
                except ValueError:
                    problems.append(Problem(f, oid(sn), path, "subnet-ranges", f"{cidr!r} is not a canonical CIDR"))
                    continue
                ranges.setdefault(net, []).append((f, sn, path, parsed))
        for net, rows in ranges.items():
            for i in range(len(rows)):
                for j in range(i):
                    if rows[i][3].overlaps(rows[j][3]):
                        problems.append(Problem(rows[i][0], oid(rows[i][1]), rows[i][2], "subnet-ranges",
                                                f"{rows[i][3]} overlaps {rows[j][3]} ({oid(rows[j][1])} {rows[j][2]}) in network {net}"))
    return problems
