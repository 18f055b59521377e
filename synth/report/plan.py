"""`inference-fleet plan`: clusters and their node pools, the gateway and its addresses, what is left when a
region's backends, its front end or its pods (during an upgrade) go away, and the operator runbook."""

from __future__ import annotations

from ..config.model import Fleet
from .capacity import (
    FailoverRow,
    failover,
    front_end_failover,
    max_replicas,
    region_capacity,
    rollout_of,
    upgrade_rows,
)
from .runbook import runbook


def table(header: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"] + \
               ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return ["  " + fmt.format(*header).rstrip()] + ["  " + fmt.format(*r).rstrip() for r in rows]


def _verdict(r: FailoverRow) -> str:
    return "yes" if r.covered else f"NO, short by {r.peak - r.capacity:g} rps"


def plan_lines(fleet: Fleet, markdown: bool = False) -> list[str]:
    srv, gw = fleet.server, fleet.gateway
    h = "## " if markdown else ""
    bullet = "- " if markdown else "  "
    out = [f"{'# ' if markdown else ''}Fleet {fleet.name}: {fleet.model.name} on TPU v6e {srv.tpu.machine_type} "
           f"({srv.tpu.topology}, {srv.tpu.chips} chips per replica), namespace {fleet.namespace}", ""]
    out += [f"{h}Clusters", ""]
    rows = []
    for c in fleet.clusters:
        if c.serving:
            cap = max_replicas(fleet, c) * srv.requests_per_second_per_replica
            reps = f"{c.min_replicas}-{c.max_replicas}" if srv.autoscaling.enabled else str(c.replicas)
            r = rollout_of(fleet, c)
            tpu = " > ".join(o.type + (f" {o.reservation}" if o.reservation else "") for o in c.capacity)
            rows.append([c.name, c.region, c.zone, "+".join(fleet.roles(c)), reps, f"{cap:g}", c.bucket, tpu,
                         f"surge {r.max_surge}, unavailable {r.max_unavailable}"])
        else:
            rows.append([c.name, c.region, c.zone, "+".join(fleet.roles(c)), "-", "-", "-", "-", "-"])
    out += table(["cluster", "region", "zone", "role", "replicas", "max rps", "model bucket", "TPU capacity (in order)",
                  "rollout"], rows, markdown)
    sp = fleet.system_pool
    out.append("")
    out.append(f"Every cluster: system node pool {sp.name} ({sp.machine_type}, {sp.min_nodes}-{sp.max_nodes} nodes, "
               f"{sp.disk_size_gb} GB disks) for the endpoint picker, the weights loader and GKE's system pods; TPU nodes "
               f"come from ComputeClass {fleet.compute_class} (GKE creates the pools, managed DRANET "
               f"{'on' if srv.dranet.enabled else 'off'}). GKE {fleet.gke.release_channel} channel, >= {fleet.gke.min_version}.")
    out += ["", f"{h}Gateway", ""]
    out.append(f"{gw.name} ({gw.class_name}) in {gw.config_cluster}, namespace {fleet.namespace}, HTTP :{gw.port}{gw.path_prefix}")
    out.append(f"routes to GCPInferencePoolImport {fleet.routing.pool_name}, the pool every serving cluster exports")
    if fleet.dns.enabled:
        out.append(f"clients use http://{fleet.dns.fqdn.rstrip('.')}{'' if gw.port == 80 else f':{gw.port}'}{gw.path_prefix} "
                   f"(private zone {fleet.dns.domain} on {fleet.network.name}, {fleet.dns.policy} routing, health-checked, TTL {fleet.dns.ttl} s)")
    for region in fleet.serving_regions:
        kind = (f"reserved address {fleet.name}-gateway-{region}" if gw.static_addresses
                else f"ephemeral address networking.gke.io/ephemeral-ipv4-address/{region}")
        out.append(f"{bullet}address in {region}: {kind}")
    if gw.balancing_mode == "CUSTOM_METRICS":
        full = f"a region is full at {gw.max_utilization_percent}% KV-cache utilisation"
    else:
        full = f"a pod is full at {gw.max_in_flight_requests_per_endpoint} in-flight requests"
    out.append(f"balancing {gw.balancing_mode}: {full}; then traffic spills to the next region (WATERFALL_BY_REGION)")
    for sc in gw.scopes:
        parts = [f"capacity scaler {sc.capacity_scaler_percent}%" + (" (drained)" if sc.capacity_scaler_percent == 0 else "")
                 if sc.capacity_scaler_percent is not None else "",
                 f"{sc.backend_preference.lower()} backend" if sc.backend_preference else ""]
        out.append(f"{bullet}scope {sc.region}: " + ", ".join(p for p in parts if p))
    cap = region_capacity(fleet)
    out += ["", f"{h}Failover (expected peak {gw.expected_peak_rps:g} rps, {srv.requests_per_second_per_replica:g} rps per replica; "
                f"fleet {sum(cap.values()):g} rps)", ""]
    rows, warnings = [], []
    for r in failover(fleet) + front_end_failover(fleet) + upgrade_rows(fleet):
        where = " > ".join(r.targets) or "(none)"
        rows.append([f"{r.region} {r.event}", where, f"{r.capacity:g}", _verdict(r), r.note])
        if not r.covered:
            warnings.append(f"WARNING: with {r.region} {r.event}, the fleet has {r.capacity:g} rps for a {r.peak:g} rps peak; "
                            "raise replicas (or autoscaling maxReplicas), or a region's capacity scaler")
    out += table(["event", "traffic goes to (in order)", "fleet rps left", "covers peak", "note"], rows, markdown)
    if warnings:
        out.append("")
        out += warnings
    out.append("")
    out.append(f"Backends lost: the load balancer sends the region's traffic to the others (drained regions take none). "
               f"Front end lost: {'the DNS name answers with a healthy region' if fleet.dns.enabled else 'clients of that address need another region address'}"
               f"; backends everywhere keep serving. Losing the config cluster ({gw.config_cluster}) stops configuration "
               "changes, not traffic.")
    out += ["", f"{h}Runbook: what Config Connector does not do", ""]
    steps = runbook(fleet)
    out += (["```", *steps, "```"] if markdown else steps)
    return out
