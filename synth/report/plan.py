"""`inference-fleet plan`: clusters and their node pools, the gateway and its addresses, what is left when a
region's backends, its front end or its pods (during an upgrade) go away, and the operator runbook."""

from __future__ import annotations

from ..bringup import timeline as tl
from ..config import catalog
from ..config.model import Fleet, ServedModel
from .capacity import FailoverRow, all_rows, max_replicas, region_capacity, rollout_of
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


def accelerator_text(served: ServedModel) -> str:
    acc = served.server.accelerator
    if acc.kind == "tpu":
        return f"TPU v6e {acc.machine_type} ({acc.topology}, {acc.chips} chip{'s' if acc.chips > 1 else ''} per replica)"
    return f"{acc.count} x {acc.type} per replica on {acc.machine_type}"


def plan_lines(fleet: Fleet, markdown: bool = False) -> list[str]:
    gw = fleet.gateway
    h = "## " if markdown else ""
    bullet = "- " if markdown else "  "
    first = fleet.models[0]
    if fleet.several:
        out = [f"{'# ' if markdown else ''}Fleet {fleet.name}: {len(fleet.models)} models behind one gateway, namespace {fleet.namespace}", ""]
        out += [f"{h}Models", ""]
        rows = [[m.model.name, m.pool, accelerator_text(m), ", ".join(m.regions), ", ".join(m.model.served_names[1:]) or "-",
                 f"{m.server.requests_per_second_per_replica:g}", f"{m.expected_peak_rps:g}"] for m in fleet.models]
        out += table(["model", "pool", "accelerator", "regions", "LoRA adapters", "rps per replica", "expected peak rps"],
                     rows, markdown)
        out.append("")
    else:
        out = [f"{'# ' if markdown else ''}Fleet {fleet.name}: {first.model.name} on {accelerator_text(first)}, "
               f"namespace {fleet.namespace}", ""]
    out += [f"{h}Clusters", ""]
    rows = []
    for c in fleet.clusters:
        served = fleet.models_in(c)
        for m in served:
            place = m.placement(c)
            cap = max_replicas(m, place) * m.server.requests_per_second_per_replica
            reps = f"{place.min_replicas}-{place.max_replicas}" if m.autoscaled else str(place.replicas)
            r = rollout_of(m, place)
            capacity = " > ".join(o.type + (f" {o.reservation}" if o.reservation else "") for o in place.capacity)
            row = [c.name, c.region, c.zone, "+".join(fleet.roles(c)), reps, f"{cap:g}", c.bucket, capacity,
                   f"surge {r.max_surge}, unavailable {r.max_unavailable}"]
            if fleet.several:
                row.insert(4, m.pool)
            rows.append(row)
        if not served:
            rows.append([c.name, c.region, c.zone, "+".join(fleet.roles(c))] + ["-"] * (6 if fleet.several else 5))
    head = ["cluster", "region", "zone", "role", "replicas", "max rps", "model bucket", "TPU capacity (in order)", "rollout"]
    if fleet.several:
        head = head[:4] + ["model"] + head[4:7] + ["capacity (in order)", "rollout"]
    out += table(head, rows, markdown)
    sp = fleet.system_pool
    out.append("")
    if fleet.several:
        nodes = ("accelerator nodes come from each model's ComputeClass ("
                 + ", ".join(f"{m.compute_class}" + (" with managed DRANET" if m.server.dranet.enabled else "") for m in fleet.models)
                 + "; GKE creates the pools)")
    else:
        nodes = (f"{first.server.accelerator.kind.upper()} nodes come from ComputeClass {first.compute_class} (GKE creates the "
                 f"pools, managed DRANET {'on' if first.server.dranet.enabled else 'off'})")
    out.append(f"Every cluster: system node pool {sp.name} ({sp.machine_type}, {sp.min_nodes}-{sp.max_nodes} nodes, "
               f"{sp.disk_size_gb} GB disks) for the endpoint picker, the weights loader and GKE's system pods; {nodes}. "
               f"GKE {fleet.gke.release_channel} channel.")
    out += ["", f"{h}GKE versions", ""] + gke_versions(fleet, bullet)
    out += ["", f"{h}Gateway", ""]
    out.append(f"{gw.name} ({gw.class_name}) in {gw.config_cluster}, namespace {fleet.namespace}, HTTP :{gw.port}{gw.path_prefix}")
    if fleet.several:
        out.append("routes by model name: clients set the header X-Gateway-Model-Name to the request's model (the gateway does "
                   "not read the body); any other name gets 404")
        for m in fleet.models:
            objectives = ", ".join(fleet.objective_names(m))
            out.append(f"{bullet}{', '.join(m.model.served_names)} -> GCPInferencePoolImport {m.pool}"
                       + (f" (objectives: {objectives})" if objectives else ""))
    else:
        out.append(f"routes to GCPInferencePoolImport {first.pool}, the pool every serving cluster exports")
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
    for m in fleet.models:
        cap = region_capacity(fleet, m)
        of = f" of {m.model.name}" if fleet.several else ""
        out += ["", f"{h}Failover{of} (expected peak {m.expected_peak_rps:g} rps, {m.server.requests_per_second_per_replica:g} rps "
                    f"per replica; fleet {sum(cap.values()):g} rps)", ""]
        rows, warnings = [], []
        for r in all_rows(fleet, m):
            where = " > ".join(r.targets) or "(none)"
            rows.append([f"{r.region} {r.event}", where, f"{r.capacity:g}", _verdict(r), r.note])
            if not r.covered:
                warnings.append(f"WARNING: with {r.region} {r.event}, the fleet has {r.capacity:g} rps{of} for a {r.peak:g} rps peak; "
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
    out += ["", f"{h}Runbook: what Config Connector does not do, as a timeline", ""]
    out.append("Each step says what it waits for and its expected duration (estimates from the model's size and the rates in "
               "synth/bringup/timeline.py); the teardown follows. " + tl.COMPILE_CACHE)
    for r in tl.region_return(fleet):
        out.append(f"{bullet}{r['model']}: a region whose nodes are gone serves again after ~{tl.minutes(r['seconds'])} "
                   f"(nodes {tl.minutes(r['parts']['nodes'])}, weights over FUSE {tl.minutes(r['parts']['weights'])}, "
                   f"compilation {tl.minutes(r['parts']['compile'])}): the failover capacity is short for that long")
    out.append("")
    steps = runbook(fleet)
    out += (["```", *steps, "```"] if markdown else steps)
    return out


def gke_versions(fleet: Fleet, bullet: str = "  - ") -> list[str]:
    """What version the clusters are created at, the floors the fleet relies on (with their sources and when they were
    checked) and the command that shows what the channel offers today."""
    gke = fleet.gke
    if gke.min_version:
        out = [f"WARNING: clusters are created at the pinned {gke.min_version} (gke.minVersion). Release channels drop "
               f"patches within months; once {gke.release_channel} no longer offers it, cluster creation is refused. "
               "Remove gke.minVersion to let the channel choose."]
    else:
        out = [f"Clusters are created at the {gke.release_channel} channel's default version (no pinned patch)."]
    out.append("The fleet relies on these floors (catalog facts, each checked against its source on the date shown):")
    for f in gke.floors:
        out.append(f"{bullet}>= {f.version} for {f.feature} ({f.source}, checked {f.checked})")
    out.append("What the channel offers today; the default must be at least " + gke.floor.version + ":")
    for region in sorted({c.region for c in fleet.clusters}):
        out.append(f"{bullet}{catalog.SERVER_CONFIG.format(region=region, project=fleet.project.id, channel=gke.release_channel.upper())}")
    return out
