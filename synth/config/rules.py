"""The fleet-file rules a JSON Schema cannot state, one small function each.

Every rule reads the fleet file after the schema passed and defaults were applied, and raises ``ConfigError``
(via ``fail``) naming the exact config path and what is allowed. Rules run in the order they are registered;
each has an id and at least one case under ``tests/cases/config/invalid/`` that fails for it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable

from . import catalog
from ..errors import ConfigError, quote


@dataclass(frozen=True)
class Context:
    data: dict
    shown: str  # the fleet file as the user named it

    def fail(self, rule: str, where: str, msg: str) -> None:
        raise ConfigError(where, msg, self.shown, rule=rule)

    @property
    def clusters(self) -> list[dict]:
        return self.data["clusters"]

    @property
    def serving(self) -> list[tuple[int, dict]]:
        return [(i, c) for i, c in enumerate(self.clusters) if c["serving"]]


RULES: dict[str, Callable[[Context], None]] = {}
HOLDS: dict[str, str] = {}  # rule id -> what holds when the rule passes (the README's table)


def rule(rule_id: str, holds: str):
    def register(fn: Callable[[Context], None]) -> Callable[[Context], None]:
        assert rule_id not in RULES, rule_id
        RULES[rule_id] = fn
        HOLDS[rule_id] = holds
        return fn

    return register


def check(data: dict, shown: str) -> None:
    ctx = Context(data, shown)
    for fn in RULES.values():
        fn(ctx)


# ---- model ---------------------------------------------------------------------------------------


@rule("model-size", "the weights' size is known: Gemma 3 sizes are built in, other models give model.sizeGi")
def _model_size(ctx: Context) -> None:
    if ctx.data["model"]["sizeGi"] is None:
        ctx.fail("model-size", "model.sizeGi", f"is required: the size of {quote(ctx.data['model']['name'])} is not known "
                 f"(known: {', '.join(sorted(catalog.MODEL_SIZES_GI))})")


# ---- model server --------------------------------------------------------------------------------


@rule("topology-machine", "the TPU topology's chips equal the machine type's chips (single-host slices only)")
def _topology_machine(ctx: Context) -> None:
    tpu = ctx.data["server"]["tpu"]
    chips, node = catalog.TOPOLOGY_CHIPS[tpu["topology"]], catalog.MACHINE_CHIPS[tpu["machineType"]]
    if chips != node:
        fit = next(t for t, n in catalog.TOPOLOGY_CHIPS.items() if n == node)
        ctx.fail("topology-machine", "server.tpu.topology",
                 f"{tpu['topology']} is {chips} chip(s) but {tpu['machineType']} has {node}; use topology {fit} (single-host slices only)")


@rule("image-pinned", "the server and picker images are pinned by release tag or digest (no latest, no undated nightly)")
def _images_pinned(ctx: Context) -> None:
    for where, image in (("server.image", ctx.data["server"]["image"]), ("routing.pickerImage", ctx.data["routing"]["pickerImage"])):
        problem = catalog.image_pin_problem(image)
        if problem:
            ctx.fail("image-pinned", where, problem)


def _cores(q: str) -> float:
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


def _gib(q: str) -> float:
    return int(q[:-2]) / (1024 if q.endswith("Mi") else 1)


@rule("server-fits-node", "the server's CPU and memory, plus the weights' RAM file cache, fit one TPU node with room for the system")
def _server_fits(ctx: Context) -> None:
    srv = ctx.data["server"]
    machine = srv["tpu"]["machineType"]
    cores, mem = catalog.MACHINES[machine]
    if _cores(srv["cpu"]) > cores - 4:
        ctx.fail("server-fits-node", "server.cpu", f"{srv['cpu']} does not fit a {machine} node ({cores} vCPU, keep 4 for the system)")
    if _gib(srv["memory"]) > mem * 0.9:
        ctx.fail("server-fits-node", "server.memory",
                 f"{srv['memory']} does not fit a {machine} node ({mem}Gi; keep 10% free for the system and the FUSE RAM cache)")
    size = ctx.data["model"]["sizeGi"]
    if _gib(srv["memory"]) + size > mem * 0.9:
        ctx.fail("server-fits-node", "server.memory",
                 f"{srv['memory']} plus the weights' RAM file cache ({size}Gi) exceeds 90% of a {machine} node ({mem}Gi); lower server.memory")


@rule("managed-args", "server.extraArgs does not repeat a vLLM flag the fleet file sets (--model, --port, --tensor-parallel-size, ...)")
def _managed_args(ctx: Context) -> None:
    for i, arg in enumerate(ctx.data["server"]["extraArgs"]):
        flag = arg.split("=", 1)[0]
        if flag in MANAGED_ARGS:
            ctx.fail("managed-args", f"server.extraArgs[{i}]", f"{flag} is set from the fleet file ({MANAGED_ARGS[flag]}); remove it here")


MANAGED_ARGS = {
    "--model": "model.path",
    "--served-model-name": "model.name",
    "--tensor-parallel-size": "server.tpu.topology",
    "--max-model-len": "model.maxModelLen",
    "--port": "fixed at 8000",
    "--host": "fixed at 0.0.0.0",
    "--gpu-memory-utilization": "server.gpuMemoryUtilization",
}


@rule("autoscaling-bounds", "minReplicas <= maxReplicas, fleet-wide and per cluster")
def _autoscaling_bounds(ctx: Context) -> None:
    auto = ctx.data["server"]["autoscaling"]
    if auto["minReplicas"] > auto["maxReplicas"]:
        ctx.fail("autoscaling-bounds", "server.autoscaling.minReplicas", f"{auto['minReplicas']} is above maxReplicas {auto['maxReplicas']}")
    for i, c in enumerate(ctx.clusters):
        lo, hi = c.get("minReplicas", auto["minReplicas"]), c.get("maxReplicas", auto["maxReplicas"])
        if lo > hi:
            where = "minReplicas" if "minReplicas" in c else "maxReplicas"
            ctx.fail("autoscaling-bounds", f"clusters[{i}].{where}", f"minimum {lo} is above maximum {hi} for this cluster")


@rule("replicas-with-autoscaling", "fixed replicas only without autoscaling, min/max replicas only with it")
def _replicas_with_autoscaling(ctx: Context) -> None:
    enabled = ctx.data["server"]["autoscaling"]["enabled"]
    for i, c in enumerate(ctx.clusters):
        if enabled and "replicas" in c:
            ctx.fail("replicas-with-autoscaling", f"clusters[{i}].replicas",
                     "fixed replicas do not apply while server.autoscaling.enabled is true; give this cluster minReplicas/maxReplicas")
        if not enabled:
            for key in ("minReplicas", "maxReplicas"):
                if key in c:
                    ctx.fail("replicas-with-autoscaling", f"clusters[{i}].{key}",
                             "only applies with server.autoscaling.enabled: true; set replicas for fixed replicas")


@rule("rollout", "a rollout gives both maxSurge and maxUnavailable, not both 0")
def _rollout(ctx: Context) -> None:
    for where, r in (("server.rollout", ctx.data["server"]["rollout"]), ("routing.pickerRollout", ctx.data["routing"]["pickerRollout"])):
        if r and set(r) != {"maxSurge", "maxUnavailable"}:
            missing = ({"maxSurge", "maxUnavailable"} - set(r)).pop()
            ctx.fail("rollout", f"{where}.{missing}", "give both maxSurge and maxUnavailable, or neither for the default")
        if r and r["maxSurge"] == 0 and r["maxUnavailable"] == 0:
            ctx.fail("rollout", f"{where}.maxUnavailable", "maxSurge and maxUnavailable may not both be 0 (the update could never start)")


@rule("capacity", "reservations are per cluster (zonal) and named; reservation-only keys only on reservations; no option twice")
def _capacity(ctx: Context) -> None:
    lists = [("server.tpu.capacity", ctx.data["server"]["tpu"]["capacity"], False)]
    lists += [(f"clusters[{i}].capacity", c["capacity"], True) for i, c in enumerate(ctx.clusters) if "capacity" in c]
    for where, options, per_cluster in lists:
        seen = set()
        for j, opt in enumerate(options):
            at = f"{where}[{j}]"
            kind = opt["type"]
            if kind == "reservation":
                if "reservation" not in opt:
                    ctx.fail("capacity", f"{at}.reservation", "is required for type reservation (the reservation's name)")
                if not per_cluster:
                    ctx.fail("capacity", at, "reservations are zonal: list them in clusters[].capacity of the cluster in that zone")
            else:
                for key in ("reservation", "project", "create"):
                    if key in opt:
                        ctx.fail("capacity", f"{at}.{key}", f"only applies to type reservation (this option is {kind})")
            key = (kind, opt.get("reservation"))
            if key in seen:
                ctx.fail("capacity", at, f"{kind}{' ' + opt['reservation'] if opt.get('reservation') else ''} is listed twice")
            seen.add(key)


@rule("weights-source", "one weights source, and one at all while the loader runs")
def _weights_source(ctx: Context) -> None:
    m = ctx.data["model"]
    source = m.get("source") or {}
    if len(source) > 1:
        ctx.fail("weights-source", "model.source", "give one of huggingface or gcs")
    if m["loader"] and not source:
        ctx.fail("weights-source", "model.source", "is required while model.loader is true (where the loader copies the weights from); "
                 "set model.loader: false if the buckets are filled another way")


@rule("bucket-per-region", "every serving cluster has a bucket, and no bucket serves two regions")
def _bucket_per_region(ctx: Context) -> None:
    model_bucket = ctx.data["model"].get("bucket")
    regions: dict[str, tuple[str, int]] = {}
    for i, c in ctx.serving:
        bucket = c.get("bucket", model_bucket)
        if bucket is None:
            ctx.fail("bucket-per-region", f"clusters[{i}].bucket", "is required: this serving cluster has no bucket and model.bucket is not set")
        region, first = regions.setdefault(bucket, (c["region"], i))
        if region != c["region"]:
            where = f"clusters[{i}].bucket" if "bucket" in c else "model.bucket"
            ctx.fail("bucket-per-region", where, f"bucket {bucket} already serves {region} (clusters[{first}]); give each region its own "
                     "bucket in that region (cross-region reads are slow and billed as egress)")


# ---- clusters --------------------------------------------------------------------------------------


@rule("namespace", "the fleet namespace is not a system namespace (Kubernetes, GKE, Managed Prometheus, Config Sync)")
def _namespace(ctx: Context) -> None:
    ns = ctx.data["namespace"]
    if ns in catalog.SYSTEM_NAMESPACES or ns.startswith(catalog.SYSTEM_NAMESPACE_PREFIXES):
        ctx.fail("namespace", "namespace", f"{ns} is a system namespace (Kubernetes, GKE, Managed Prometheus or Config Sync own it); "
                 "choose another, e.g. llm-serving")


@rule("clusters-unique", "cluster names are unique")
def _clusters_unique(ctx: Context) -> None:
    seen: dict[str, int] = {}
    for i, c in enumerate(ctx.clusters):
        if c["name"] in seen:
            ctx.fail("clusters-unique", f"clusters[{i}].name", f"duplicate cluster '{c['name']}' (also clusters[{seen[c['name']]}])")
        seen[c["name"]] = i


@rule("zones", "each zone is in its cluster's region, and serving zones offer TPU v6e")
def _zones(ctx: Context) -> None:
    for i, c in enumerate(ctx.clusters):
        if not c["zone"].startswith(c["region"] + "-"):
            ctx.fail("zones", f"clusters[{i}].zone", f"{c['zone']} is not in region {c['region']}")
        if c["serving"] and c["zone"] not in catalog.TPU_V6E_ZONES:
            ctx.fail("zones", f"clusters[{i}].zone", f"{c['zone']} does not offer TPU v6e; allowed: {', '.join(sorted(catalog.TPU_V6E_ZONES))}")


@rule("serving-only", "per-cluster serving keys only on serving clusters")
def _serving_only(ctx: Context) -> None:
    for i, c in enumerate(ctx.clusters):
        if not c["serving"]:
            for key in ("replicas", "bucket", "maxReplicas", "minReplicas", "capacity"):
                if key in c:
                    ctx.fail("serving-only", f"clusters[{i}].{key}", "only serving clusters take this (the cluster has serving: false)")


@rule("config-cluster", "the config cluster is a cluster of the fleet, and at least one cluster serves")
def _config_cluster(ctx: Context) -> None:
    names = [c["name"] for c in ctx.clusters]
    cfg = ctx.data["gateway"]["configCluster"]
    if cfg not in names:
        ctx.fail("config-cluster", "gateway.configCluster", f"{quote(cfg)} is not a cluster of the fleet; one of: {', '.join(names)}")
    if not ctx.serving:
        ctx.fail("config-cluster", "clusters", "no serving cluster: at least one cluster needs serving: true")


# ---- addresses -------------------------------------------------------------------------------------


def _network(ctx: Context, where: str, cidr: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        ctx.fail("cidr", where, f"{cidr} is not an IPv4 CIDR (four octets 0-255 and a prefix length 0-32)")
    if str(net) != cidr:
        ctx.fail("cidr", where, f"{cidr} has host bits set or leading zeros; write it as {net}")
    if not net.is_private:
        ctx.fail("cidr", where, f"{cidr} is not a private range (RFC 1918 or another range GCP accepts for subnets)")
    return net  # type: ignore[return-value]


RANGE_LIMITS = {"nodes": (8, 29), "pods": (8, 24), "services": (8, 27), "proxyOnly": (8, 26)}


@rule("cidr", "subnet ranges are canonical private IPv4 CIDRs within GCP's and GKE's prefix limits")
def _cidrs(ctx: Context) -> None:
    for i, c in enumerate(ctx.clusters):
        for key, cidr in c["subnets"].items():
            net = _network(ctx, f"clusters[{i}].subnets.{key}", cidr)
            lo, hi = RANGE_LIMITS[key]
            if not lo <= net.prefixlen <= hi:
                ctx.fail("cidr", f"clusters[{i}].subnets.{key}", f"{cidr}: a {key} range must be /{lo} to /{hi} (GCP subnet and GKE limits)")


@rule("proxy-only-subnet", "every serving cluster names its region's proxy-only subnet, one range per region")
def _proxy_only(ctx: Context) -> None:
    per_region: dict[str, tuple[str, int]] = {}
    for i, c in enumerate(ctx.clusters):
        cidr = c["subnets"].get("proxyOnly")
        if c["serving"] and cidr is None:
            ctx.fail("proxy-only-subnet", f"clusters[{i}].subnets.proxyOnly",
                     "is required for a serving cluster: the region's GLOBAL_MANAGED_PROXY proxy-only subnet, where the gateway's "
                     "proxies (and so every request) come from")
        if cidr is None:
            continue
        if c["region"] in per_region and per_region[c["region"]][0] != cidr:
            other, j = per_region[c["region"]]
            ctx.fail("proxy-only-subnet", f"clusters[{i}].subnets.proxyOnly",
                     f"{c['region']} already has proxy-only subnet {other} (clusters[{j}]); a region has exactly one: give the same range")
        per_region.setdefault(c["region"], (cidr, i))


@rule("cidr-overlap", "no two ranges of the fleet VPC are equal or overlap")
def _cidr_overlap(ctx: Context) -> None:
    ranges: list[tuple[str, ipaddress.IPv4Network]] = []  # (config path, range)
    seen_proxy: set[tuple[str, str]] = set()
    for i, c in enumerate(ctx.clusters):
        for key, cidr in c["subnets"].items():
            if key == "proxyOnly":
                if (c["region"], cidr) in seen_proxy:
                    continue  # the region's one proxy-only subnet, named again by another cluster there
                seen_proxy.add((c["region"], cidr))
            ranges.append((f"clusters[{i}].subnets.{key}", ipaddress.ip_network(cidr)))
    for a in range(len(ranges)):
        for b in range(a):
            (wa, na), (wb, nb) = ranges[a], ranges[b]
            if na == nb:
                ctx.fail("cidr-overlap", wa, f"{na} is already {wb}; every range in the fleet VPC must be distinct")
            if na.overlaps(nb):
                ctx.fail("cidr-overlap", wa, f"{na} overlaps {nb} ({wb}); every range in the fleet VPC must be distinct")


# ---- gateway ---------------------------------------------------------------------------------------


@rule("scopes", "scopes name serving regions once each, set something, and leave at least one region undrained")
def _scopes(ctx: Context) -> None:
    regions = list(dict.fromkeys(c["region"] for _, c in ctx.serving))
    scopes = ctx.data["gateway"]["scopes"]
    for i, sc in enumerate(scopes):
        if sc["region"] not in regions:
            ctx.fail("scopes", f"gateway.scopes[{i}].region", f"{quote(sc['region'])} is not a serving region; one of: {', '.join(regions)}")
        if sc["region"] in [x["region"] for x in scopes[:i]]:
            ctx.fail("scopes", f"gateway.scopes[{i}].region", f"a scope for {sc['region']} is already defined")
        if len(sc) == 1:
            ctx.fail("scopes", f"gateway.scopes[{i}]", "sets nothing: give capacityScalerPercent or backendPreference")
    drained = {sc["region"] for sc in scopes if sc.get("capacityScalerPercent") == 0}
    if regions and drained >= set(regions):
        ctx.fail("scopes", "gateway.scopes", "every serving region has capacityScalerPercent: 0, so no region takes traffic; "
                 "leave at least one region above 0")


@rule("dns", "primaryRegion only with primaryBackup and a serving region; DNS needs reserved addresses and, for primaryBackup, two regions")
def _dns(ctx: Context) -> None:
    dns = ctx.data["dns"]
    regions = list(dict.fromkeys(c["region"] for _, c in ctx.serving))
    if "primaryRegion" in dns:
        if dns["policy"] != "primaryBackup":
            ctx.fail("dns", "dns.primaryRegion", f"only applies to policy primaryBackup (policy is {dns['policy']})")
        if dns["primaryRegion"] not in regions:
            ctx.fail("dns", "dns.primaryRegion", f"{quote(dns['primaryRegion'])} is not a serving region; one of: {', '.join(regions)}")
    if dns["enabled"] and ctx.data["gateway"].get("staticAddresses") is False:
        ctx.fail("dns", "gateway.staticAddresses", "must be true while dns.enabled: Cloud DNS health-checks reserved load-balancer "
                 "addresses, not ephemeral ones")
    if dns["enabled"] and dns["policy"] == "primaryBackup" and len(regions) < 2:
        ctx.fail("dns", "dns.policy", "primaryBackup needs a second serving region to fail over to; use geo")


# ---- GCP side --------------------------------------------------------------------------------------


@rule("gke-version", "gke.minVersion is not below the floor of the features the fleet uses")
def _gke_version(ctx: Context) -> None:
    gke = ctx.data["gke"]
    floor, why = required_version(ctx.data)
    if catalog.version_key(gke["minVersion"]) < catalog.version_key(floor):
        ctx.fail("gke-version", "gke.minVersion", f"{gke['minVersion']} is below {floor}, the floor for {why}")


def required_version(data: dict) -> tuple[str, str]:
    """The lowest GKE version the fleet's features allow, and the feature that sets it."""
    needs = [("dranet", "managed DRANET and the multi-cluster inference gateway")]
    if data["routing"]["metricShape"] == "pod":
        needs.append(("autoscaling-metric-pod-shape", "the AutoscalingMetric pod shape (routing.metricShape: pod)"))
    best = max(needs, key=lambda n: catalog.version_key(catalog.VERSION_FLOORS[n[0]]))
    return catalog.VERSION_FLOORS[best[0]], best[1]


@rule("system-pool", "the system pool's machine type is a known CPU type whose allocatable resources, after GKE's daemons, hold the picker")
def _system_pool(ctx: Context) -> None:
    pool = ctx.data["systemPool"]
    machine = pool["machineType"]
    if machine not in catalog.MACHINES or machine.startswith("ct6e-"):
        known = ", ".join(m for m in catalog.MACHINES if not m.startswith("ct6e-"))
        ctx.fail("system-pool", "systemPool.machineType", f"{machine} is not a CPU machine type this tool knows the size of; one of: {known}")
    if pool["minNodes"] > pool["maxNodes"]:
        ctx.fail("system-pool", "systemPool.minNodes", f"{pool['minNodes']} is above maxNodes {pool['maxNodes']}")
    cpu_m, mem_mi = catalog.allocatable(machine)
    cpu_m -= catalog.GKE_DAEMONS[0]
    mem_mi -= catalog.GKE_DAEMONS[1]
    rt = ctx.data["routing"]
    need_cpu = int(_cores(rt["pickerResources"]["cpu"]) * 1000)
    need_mem = int(_gib(rt["pickerResources"]["memory"]) * 1024)
    if need_cpu > cpu_m or need_mem > mem_mi:
        ctx.fail("system-pool", "systemPool.machineType",
                 f"{machine} leaves {cpu_m}m CPU and {mem_mi}Mi for pods after GKE's daemons; the endpoint picker asks for "
                 f"{need_cpu}m and {need_mem}Mi (routing.pickerResources): choose a larger machine type")


@rule("region-order", "delivery.argocd.regionOrder lists every region of the fleet once")
def _region_order(ctx: Context) -> None:
    regions = list(dict.fromkeys(c["region"] for c in ctx.clusters))
    order = (ctx.data.get("delivery") or {}).get("argocd", {}).get("regionOrder")
    if order is None:
        return
    for i, r in enumerate(order):
        if r not in regions:
            ctx.fail("region-order", f"delivery.argocd.regionOrder[{i}]", f"{quote(r)} is not a region of the fleet; one of: {', '.join(regions)}")
    missing = [r for r in regions if r not in order]
    if missing:
        ctx.fail("region-order", "delivery.argocd.regionOrder", f"missing region(s) {', '.join(missing)}; list every region once")


@rule("config-sync-auth", "gcpserviceaccount auth only for Google-hosted repositories; its email only with that auth")
def _config_sync_auth(ctx: Context) -> None:
    from .build import google_hosted

    dl = ctx.data.get("delivery")
    if dl is None:
        return
    cs = dl["configSync"]
    if "gcpServiceAccountEmail" in cs and cs["auth"] != "gcpserviceaccount":
        ctx.fail("config-sync-auth", "delivery.configSync.gcpServiceAccountEmail", f"only used with auth gcpserviceaccount (auth is {cs['auth']})")
    if "config-sync" in dl["methods"] and cs["auth"] == "gcpserviceaccount" and not google_hosted(dl["repoURL"]):
        ctx.fail("config-sync-auth", "delivery.configSync.auth", f"gcpserviceaccount reads only Google-hosted repositories, not "
                 f"{quote(dl['repoURL'])}; use token (a Secret named delivery.configSync.secretName), ssh, githubapp or none")


@rule("objectives", "InferenceObjective names are unique")
def _objectives(ctx: Context) -> None:
    names = [o["name"] for o in ctx.data["routing"]["objectives"]]
    for i, n in enumerate(names):
        if n in names[:i]:
            ctx.fail("objectives", f"routing.objectives[{i}].name", f"duplicate objective '{n}'")
