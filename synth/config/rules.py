"""The fleet-file rules a JSON Schema cannot state, one small function each.

Every rule reads the fleet file after the schema passed and defaults were applied, and raises ``ConfigError``
(via ``fail``) naming the exact config path and what is allowed. Rules run in the order they are registered;
each has an id and at least one case under ``tests/cases/config/invalid/`` that fails for it."""

from __future__ import annotations

import re

import ipaddress
from dataclasses import dataclass
from typing import Callable

from . import catalog
from ..errors import ConfigError, quote, raise_all


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

    @property
    def models(self) -> list[tuple[str, dict]]:
        """(config path prefix, entry) of every model; entry holds model, server, routing (and, in the list form,
        regions, clusters, expectedPeakRps)."""
        from .build import model_entries

        return model_entries(self.data)

    @property
    def several(self) -> bool:
        return "models" in self.data

    def placements(self, entry: dict) -> list[tuple[int, dict]]:
        """The serving clusters (index, cluster) that run a model."""
        regions = entry.get("regions")
        return [(i, c) for i, c in self.serving if regions is None or c["region"] in regions]


RULES: dict[str, Callable[[Context], None]] = {}
HOLDS: dict[str, str] = {}  # rule id -> what holds when the rule passes (the README's table)
RAW: set[str] = set()  # rules that read the fleet file as written, before defaults


def rule(rule_id: str, holds: str, raw: bool = False):
    def register(fn: Callable[[Context], None]) -> Callable[[Context], None]:
        assert rule_id not in RULES, rule_id
        RULES[rule_id] = fn
        HOLDS[rule_id] = holds
        if raw:
            RAW.add(rule_id)
        return fn

    return register


def check_raw(data: dict, shown: str) -> None:
    """The rules about the file's form, on the file as written (defaults would hide what the user left out)."""
    _run(Context(data, shown), [fn for rule_id, fn in RULES.items() if rule_id in RAW])


def check(data: dict, shown: str) -> None:
    _run(Context(data, shown), [fn for rule_id, fn in RULES.items() if rule_id not in RAW])


def _run(ctx: Context, rules: list) -> None:
    """Every rule, each reporting its first problem; all problems are raised together. A rule that trips over what
    an earlier rule already refused (a KeyError on a missing section) stays silent: its finding would be a consequence."""
    problems: list[ConfigError] = []
    for fn in rules:
        try:
            fn(ctx)
        except ConfigError as exc:
            problems.append(exc)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            if not problems:
                raise
    raise_all(problems)


# ---- the form of the file ------------------------------------------------------------------------


@rule("model-form", "the fleet file gives model (with server and routing) or models, not both", raw=True)
def _model_form(ctx: Context) -> None:
    data = ctx.data
    if "model" in data and "models" in data:
        ctx.fail("model-form", "models", "give either model (one model) or models (several), not both")
    if "model" not in data and "models" not in data:
        ctx.fail("model-form", "model", "is required (or models, for several models)")
    if "models" in data:
        for key in ("server", "routing"):
            if key in data:
                ctx.fail("model-form", key, f"with models, each model has its own {key}: move it to models[i].{key}")
    entries = ([(f"models[{i}].", m) for i, m in enumerate(data["models"])] if "models" in data else [("", data)])
    for at, entry in entries:
        srv = entry.get("server") or {}
        if "tpu" in srv and "gpu" in srv:
            ctx.fail("model-form", f"{at}server.gpu", "give one accelerator: server.tpu or server.gpu")


@rule("several-models", "with several models, per-cluster numbers live in models[i].clusters and buckets in clusters[].bucket")
def _several_models(ctx: Context) -> None:
    if not ctx.several:
        return
    for i, c in enumerate(ctx.clusters):
        for key in ("replicas", "minReplicas", "maxReplicas", "capacity"):
            if key in c:
                ctx.fail("several-models", f"clusters[{i}].{key}",
                         f"with several models, give it per model: models[N].clusters: [{{name: {c['name']}, {key}: ...}}]")
    for at, entry in ctx.models:
        if entry["model"].get("bucket"):
            ctx.fail("several-models", f"{at}model.bucket",
                     "with several models, each region's bucket holds them all: set clusters[].bucket instead")


# ---- model ---------------------------------------------------------------------------------------


@rule("model-size", "the weights' size is known: Gemma 3 sizes are built in, other models give model.sizeGi")
def _model_size(ctx: Context) -> None:
    for at, entry in ctx.models:
        if entry["model"]["sizeGi"] is None:
            ctx.fail("model-size", f"{at}model.sizeGi", f"is required: the size of {quote(entry['model']['name'])} is not known "
                     f"(known: {', '.join(sorted(catalog.MODEL_SIZES_GI))})")


# ---- model server --------------------------------------------------------------------------------


@rule("topology-machine", "the TPU topology's chips equal the machine type's chips (single-host slices only)")
def _topology_machine(ctx: Context) -> None:
    for at, entry in ctx.models:
        tpu = entry["server"].get("tpu")
        if tpu is None:
            continue
        chips, node = catalog.TOPOLOGY_CHIPS[tpu["topology"]], catalog.MACHINE_CHIPS[tpu["machineType"]]
        if chips != node:
            fit = next(t for t, n in catalog.TOPOLOGY_CHIPS.items() if n == node)
            ctx.fail("topology-machine", f"{at}server.tpu.topology",
                     f"{tpu['topology']} is {chips} chip(s) but {tpu['machineType']} has {node}; use topology {fit} (single-host slices only)")


@rule("gpu-machine", "a GPU model's machine type carries exactly its GPU type and count, in a zone that offers it, without DRANET")
def _gpu_machine(ctx: Context) -> None:
    for at, entry in ctx.models:
        gpu = entry["server"].get("gpu")
        if gpu is None:
            continue
        machine = gpu["machineType"]
        want = (gpu["type"], gpu["count"])
        if not machine:
            ctx.fail("gpu-machine", f"{at}server.gpu.count", f"no machine carries {gpu['count']} x {gpu['type']}; "
                     f"counts: {', '.join(str(n) for t, n in sorted(set(catalog.GPU_MACHINES.values())) if t == gpu['type'])}")
        if catalog.GPU_MACHINES.get(machine) != want:
            fits = sorted(m for m, v in catalog.GPU_MACHINES.items() if v == want)
            ctx.fail("gpu-machine", f"{at}server.gpu.machineType",
                     f"{machine} does not carry {gpu['count']} x {gpu['type']}; one of: {', '.join(fits) or 'none'}")
        if entry["server"]["dranet"]["enabled"]:
            ctx.fail("gpu-machine", f"{at}server.dranet.enabled",
                     f"{machine} has no NICs for managed DRANET (G2 and A3 High are not DRANET machines): set it to false")
        for i, c in ctx.placements(entry):
            if c["zone"] not in catalog.GPU_ZONES[gpu["type"]]:
                zones = sorted(z for z in catalog.GPU_ZONES[gpu["type"]] if z.startswith(c["region"] + "-"))
                ctx.fail("gpu-machine", f"clusters[{i}].zone", f"{c['zone']} does not offer {gpu['type']} for {at}model "
                         f"{entry['model']['name']}; in {c['region']}: {', '.join(zones) or 'none'} (or serve it elsewhere with "
                         f"{at or 'models[i].'}regions)")


@rule("accelerator-memory", "the weights fit the accelerator memory of one replica with room for the KV cache")
def _accelerator_memory(ctx: Context) -> None:
    for at, entry in ctx.models:
        srv = entry["server"]
        if "gpu" in srv:
            kind, devices = srv["gpu"]["type"], srv["gpu"]["count"]
        else:
            kind, devices = catalog.TPU_ACCELERATOR, catalog.TOPOLOGY_CHIPS[srv["tpu"]["topology"]]
        size = entry["model"]["sizeGi"]
        usable = catalog.DEVICE_MEMORY_GI[kind] * devices * float(srv["gpuMemoryUtilization"])
        if size > 0.9 * usable:
            where = f"{at}server.gpu.count" if "gpu" in srv else f"{at}server.tpu.topology"
            ctx.fail("accelerator-memory", where, f"{entry['model']['name']} ({size}Gi of weights) leaves no room for the KV cache "
                     f"in {devices} x {kind} ({usable:.0f}Gi usable at gpuMemoryUtilization {srv['gpuMemoryUtilization']}); "
                     "use more devices per replica")


@rule("image-pinned", "the server and picker images are pinned by release tag or digest (no latest, no undated nightly)")
def _images_pinned(ctx: Context) -> None:
    for at, entry in ctx.models:
        for where, image in ((f"{at}server.image", entry["server"]["image"]), (f"{at}routing.pickerImage", entry["routing"]["pickerImage"])):
            problem = catalog.image_pin_problem(image)
            if problem:
                ctx.fail("image-pinned", where, problem)


@rule("extensions", "server.extensions adds to the model server's pods without replacing what inference-fleet sets: no label, "
      "annotation, variable, volume, mount path or container of its own; mounts name a volume; sidecar images are pinned")
def _extensions(ctx: Context) -> None:
    for at, entry in ctx.models:
        ext = entry["server"].get("extensions") or {}
        base = f"{at}server.extensions"
        for key in ext.get("podLabels", {}):
            if key in catalog.SERVER_POD_LABELS:
                ctx.fail("extensions", f"{base}.podLabels.{key}", "is a label inference-fleet sets (the pool, Service and PDB "
                         f"select on these); use another key, not one of {', '.join(sorted(catalog.SERVER_POD_LABELS))}")
        for key in ext.get("podAnnotations", {}):
            if key.startswith(catalog.SERVER_ANNOTATION_PREFIX):
                ctx.fail("extensions", f"{base}.podAnnotations.{key}", f"{catalog.SERVER_ANNOTATION_PREFIX}* annotations are set "
                         "by inference-fleet (server.gcsFuse); set them there")
        names: set[str] = set()
        for i, env in enumerate(ext.get("env", [])):
            if env["name"] in catalog.SERVER_ENV or env["name"] in names:
                ctx.fail("extensions", f"{base}.env[{i}].name", f"{quote(env['name'])} is already set "
                         f"({'by inference-fleet' if env['name'] in catalog.SERVER_ENV else 'earlier in the list'})")
            names.add(env["name"])
        volumes = set(catalog.SERVER_VOLUMES)
        for i, vol in enumerate(ext.get("volumes", [])):
            if vol["name"] in volumes or vol["name"] in catalog.FUSE_VOLUMES or vol["name"].startswith("adapter-"):
                ctx.fail("extensions", f"{base}.volumes[{i}].name", f"{quote(vol['name'])} is already a volume of the pod; "
                         f"use another name (not {', '.join(sorted(catalog.SERVER_VOLUMES | catalog.FUSE_VOLUMES))} or adapter-N)")
            volumes.add(vol["name"])
        mounts = [(f"{base}.volumeMounts[{i}]", m) for i, m in enumerate(ext.get("volumeMounts", []))]
        mounts += [(f"{base}.sidecars[{s}].volumeMounts[{i}]", m) for s, c in enumerate(ext.get("sidecars", []))
                   for i, m in enumerate(c.get("volumeMounts", []))]
        for where, m in mounts:
            if m["name"] not in volumes:
                ctx.fail("extensions", f"{where}.name", f"{quote(m['name'])} names no volume of the pod "
                         "(add it to server.extensions.volumes)")
            path = m["mountPath"].rstrip("/") or "/"
            if where.startswith(f"{base}.volumeMounts") and any(path in ("/", p) or path.startswith(p + "/") or p.startswith(path + "/")
                                                                 for p in catalog.SERVER_MOUNT_PATHS):
                ctx.fail("extensions", f"{where}.mountPath", f"{m['mountPath']} overlaps a path the vLLM container mounts "
                         f"({', '.join(catalog.SERVER_MOUNT_PATHS)})")
        containers = set(catalog.SERVER_CONTAINERS)
        for i, c in enumerate(ext.get("sidecars", [])):
            if c["name"] in containers:
                ctx.fail("extensions", f"{base}.sidecars[{i}].name", f"{quote(c['name'])} is already a container of the pod")
            containers.add(c["name"])
            problem = catalog.image_pin_problem(c["image"])
            if problem:
                ctx.fail("extensions", f"{base}.sidecars[{i}].image", problem)


def _cores(q: str) -> float:
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


def _gib(q: str) -> float:
    return int(q[:-2]) / (1024 if q.endswith("Mi") else 1)


@rule("server-fits-node", "the server's CPU and memory, plus the weights' RAM file cache, fit one TPU node with room for the system")
def _server_fits(ctx: Context) -> None:
    for at, entry in ctx.models:
        srv = entry["server"]
        machine = srv["gpu"]["machineType"] if "gpu" in srv else srv["tpu"]["machineType"]
        if machine not in catalog.MACHINES:
            continue  # gpu-machine names the problem
        cores, mem = catalog.MACHINES[machine]
        if _cores(srv["cpu"]) > cores - 4:
            ctx.fail("server-fits-node", f"{at}server.cpu", f"{srv['cpu']} does not fit a {machine} node ({cores} vCPU, keep 4 for the system)")
        if _gib(srv["memory"]) > mem * 0.9:
            ctx.fail("server-fits-node", f"{at}server.memory",
                     f"{srv['memory']} does not fit a {machine} node ({mem}Gi; keep 10% free for the system and the FUSE RAM cache)")
        size = entry["model"]["sizeGi"]
        if _gib(srv["memory"]) + size > mem * 0.9:
            ctx.fail("server-fits-node", f"{at}server.memory",
                     f"{srv['memory']} plus the weights' RAM file cache ({size}Gi) exceeds 90% of a {machine} node ({mem}Gi); lower server.memory")


@rule("managed-args", "server.extraArgs does not repeat a vLLM flag the fleet file sets (--model, --port, --tensor-parallel-size, ...)")
def _managed_args(ctx: Context) -> None:
    for at, entry in ctx.models:
        for i, arg in enumerate(entry["server"]["extraArgs"]):
            flag = arg.split("=", 1)[0]
            if flag in MANAGED_ARGS:
                ctx.fail("managed-args", f"{at}server.extraArgs[{i}]", f"{flag} is set from the fleet file ({MANAGED_ARGS[flag]}); remove it here")


MANAGED_ARGS = {
    "--model": "model.path",
    "--served-model-name": "model.name",
    "--tensor-parallel-size": "server.tpu.topology",
    "--max-model-len": "model.maxModelLen",
    "--port": "fixed at 8000",
    "--host": "fixed at 0.0.0.0",
    "--gpu-memory-utilization": "server.gpuMemoryUtilization",
    "--enable-lora": "model.lora",
    "--lora-modules": "model.lora.adapters",
    "--max-loras": "model.lora.maxLoras",
    "--max-lora-rank": "model.lora.maxRank",
}


def _overrides(ctx: Context, at: str, entry: dict) -> list[tuple[str, dict]]:
    """(config path, override) of a model's per-cluster overrides: clusters[i] in the single-model form,
    models[N].clusters[j] otherwise."""
    if at == "":
        return [(f"clusters[{i}].", c) for i, c in enumerate(ctx.clusters)]
    return [(f"{at}clusters[{j}].", o) for j, o in enumerate(entry.get("clusters", []))]


@rule("autoscaling-bounds", "minReplicas <= maxReplicas, fleet-wide and per cluster")
def _autoscaling_bounds(ctx: Context) -> None:
    for at, entry in ctx.models:
        auto = entry["server"]["autoscaling"]
        if auto["minReplicas"] > auto["maxReplicas"]:
            ctx.fail("autoscaling-bounds", f"{at}server.autoscaling.minReplicas", f"{auto['minReplicas']} is above maxReplicas {auto['maxReplicas']}")
        for where, c in _overrides(ctx, at, entry):
            lo, hi = c.get("minReplicas", auto["minReplicas"]), c.get("maxReplicas", auto["maxReplicas"])
            if lo > hi:
                key = "minReplicas" if "minReplicas" in c else "maxReplicas"
                ctx.fail("autoscaling-bounds", f"{where}{key}", f"minimum {lo} is above maximum {hi} for this cluster")


@rule("replicas-with-autoscaling", "fixed replicas only without autoscaling, min/max replicas only with it")
def _replicas_with_autoscaling(ctx: Context) -> None:
    for at, entry in ctx.models:
        enabled = entry["server"]["autoscaling"]["enabled"]
        for where, c in _overrides(ctx, at, entry):
            if enabled and "replicas" in c:
                ctx.fail("replicas-with-autoscaling", f"{where}replicas",
                         f"fixed replicas do not apply while {at}server.autoscaling.enabled is true; give this cluster minReplicas/maxReplicas")
            if not enabled:
                for key in ("minReplicas", "maxReplicas"):
                    if key in c:
                        ctx.fail("replicas-with-autoscaling", f"{where}{key}",
                                 f"only applies with {at}server.autoscaling.enabled: true; set replicas for fixed replicas")


@rule("rollout", "a rollout gives both maxSurge and maxUnavailable, not both 0")
def _rollout(ctx: Context) -> None:
    pairs = [(f"{at}server.rollout", e["server"]["rollout"]) for at, e in ctx.models]
    pairs += [(f"{at}routing.pickerRollout", e["routing"]["pickerRollout"]) for at, e in ctx.models]
    for where, r in pairs:
        if r and set(r) != {"maxSurge", "maxUnavailable"}:
            missing = ({"maxSurge", "maxUnavailable"} - set(r)).pop()
            ctx.fail("rollout", f"{where}.{missing}", "give both maxSurge and maxUnavailable, or neither for the default")
        if r and r["maxSurge"] == 0 and r["maxUnavailable"] == 0:
            ctx.fail("rollout", f"{where}.maxUnavailable", "maxSurge and maxUnavailable may not both be 0 (the update could never start)")


@rule("capacity", "reservations are per cluster (zonal) and named; reservation-only keys only on reservations; no option twice")
def _capacity(ctx: Context) -> None:
    lists = []
    for at, entry in ctx.models:
        acc = "gpu" if "gpu" in entry["server"] else "tpu"
        lists.append((f"{at}server.{acc}.capacity", entry["server"][acc]["capacity"], False))
        lists += [(f"{where}capacity", c["capacity"], True) for where, c in _overrides(ctx, at, entry) if "capacity" in c]
    for where, options, per_cluster in lists:
        seen = set()
        for j, opt in enumerate(options):
            at = f"{where}[{j}]"
            kind = opt["type"]
            if kind == "reservation":
                if "reservation" not in opt:
                    ctx.fail("capacity", f"{at}.reservation", "is required for type reservation (the reservation's name)")
                if not per_cluster:
                    ctx.fail("capacity", at, "reservations are zonal: list them in the capacity of the cluster in that zone "
                             "(clusters[i].capacity, or models[N].clusters[j].capacity with several models)")
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
    for at, entry in ctx.models:
        m = entry["model"]
        source = m.get("source") or {}
        if len(source) > 1:
            ctx.fail("weights-source", f"{at}model.source", "give one of huggingface or gcs")
        if m["loader"] and not source:
            ctx.fail("weights-source", f"{at}model.source", f"is required while {at}model.loader is true (where the loader copies the "
                     f"weights from); set {at}model.loader: false if the buckets are filled another way")


def _bad_path(path: str) -> str | None:
    """Why ``path`` (a folder inside a bucket) is unsafe, or None: it becomes a gcsfuse only-dir= option, a gs:// URL
    and a file name, so it is relative, without empty, '.' or '..' segments, and of plain characters."""
    if not path:
        return "is empty"
    if path.startswith("/"):
        return "is absolute: give a folder inside the bucket (no leading /)"
    parts = path.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "has an empty, '.' or '..' segment: it would mount or copy outside its own folder"
    if not all(re.fullmatch(r"[A-Za-z0-9._-]+", p) for p in parts):
        return "uses characters other than letters, digits, '.', '_' and '-' in a segment"
    return None


@rule("model-path", "model and adapter paths are folders inside the bucket (relative, no empty, '.' or '..' segments); "
                    "a model's folder is its own (the loader writes it): no other model or adapter shares or nests in it")
def _model_path(ctx: Context) -> None:
    models: list[tuple[str, str]] = []
    adapters: list[tuple[str, str]] = []
    for at, entry in ctx.models:
        m = entry["model"]
        paths = [(f"{at}model.path", m.get("path", ""), models)]
        paths += [(f"{at}model.lora.adapters[{j}].path", a.get("path", ""), adapters)
                  for j, a in enumerate((m.get("lora") or {}).get("adapters") or [])]
        for where, path, book in paths:
            why = _bad_path(path)
            if why:
                ctx.fail("model-path", where, f"{path!r} {why}")
            else:
                book.append((where, path.rstrip("/")))

    def overlap(a: str, b: str) -> bool:
        return a == b or a.startswith(b + "/") or b.startswith(a + "/")

    for i, (where, path) in enumerate(models):
        # Adapters are read-only and may be shared; a model's folder is written by its loader (and its marker).
        clash = next(((w, p) for w, p in models[:i] + adapters if overlap(path, p)), None)
        if clash:
            ctx.fail("model-path", where, f"{path!r} overlaps {clash[0]} ({clash[1]!r}): the loader writes a model's folder "
                     "and its completion marker, so another model's weights or an adapter there would be copied over, refused "
                     "or read as this model's (a bucket holds every model its cluster serves)")


@rule("bucket-per-region", "every serving cluster has a bucket, and no bucket serves two regions")
def _bucket_per_region(ctx: Context) -> None:
    model_bucket = None if ctx.several else ctx.data["model"].get("bucket")
    regions: dict[str, tuple[str, int]] = {}
    for i, c in ctx.serving:
        bucket = c.get("bucket", model_bucket)
        if bucket is None:
            ctx.fail("bucket-per-region", f"clusters[{i}].bucket", "is required: this serving cluster has no bucket"
                     + ("" if ctx.several else " and model.bucket is not set"))
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
        tpu_models = [e for _, e in ctx.models if "gpu" not in e["server"] and (i, c) in ctx.placements(e)]
        if tpu_models and c["zone"] not in catalog.TPU_V6E_ZONES:
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


@rule("gke-version", "gke.minVersion, when set, is not below the floor of any feature the fleet uses")
def _gke_version(ctx: Context) -> None:
    pinned = ctx.data["gke"].get("minVersion")
    if pinned is None:
        return
    from .build import required_floors

    for floor in required_floors(ctx.data):
        if catalog.version_key(pinned) < catalog.version_key(floor.version):
            ctx.fail("gke-version", "gke.minVersion", f"{pinned} is below {floor.version}, the floor for {floor.feature}")
            return


@rule("system-pool", "the system pool's machine type is a known CPU type whose allocatable resources, after GKE's daemons, hold the picker")
def _system_pool(ctx: Context) -> None:
    pool = ctx.data["systemPool"]
    machine = pool["machineType"]
    cpu_only = [m for m in catalog.MACHINES if not m.startswith("ct6e-") and m not in catalog.GPU_MACHINES]
    if machine not in cpu_only:
        known = ", ".join(cpu_only)
        ctx.fail("system-pool", "systemPool.machineType", f"{machine} is not a CPU machine type this tool knows the size of; one of: {known}")
    if pool["minNodes"] > pool["maxNodes"]:
        ctx.fail("system-pool", "systemPool.minNodes", f"{pool['minNodes']} is above maxNodes {pool['maxNodes']}")
    cpu_m, mem_mi = catalog.allocatable(machine)
    cpu_m -= catalog.GKE_DAEMONS[0]
    mem_mi -= catalog.GKE_DAEMONS[1]
    need_cpu = max(int(_cores(e["routing"]["pickerResources"]["cpu"]) * 1000) for _, e in ctx.models)
    need_mem = max(int(_gib(e["routing"]["pickerResources"]["memory"]) * 1024) for _, e in ctx.models)
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


@rule("objectives", "InferenceObjective names are unique and, prefixed with their pool when there are several models, DNS labels")
def _objectives(ctx: Context) -> None:
    for at, entry in ctx.models:
        names = [o["name"] for o in entry["routing"]["objectives"]]
        pool = entry["routing"]["poolName"]
        for i, n in enumerate(names):
            if n in names[:i]:
                ctx.fail("objectives", f"{at}routing.objectives[{i}].name", f"duplicate objective '{n}'")
            if ctx.several and len(pool) + 1 + len(n) > 63:
                ctx.fail("objectives", f"{at}routing.objectives[{i}].name",
                         f"with several models the objective is named {pool}-{n}, longer than 63 characters; shorten it or the poolName")


@rule("models", "pool names and served names (models and adapters) are unique; each model serves in serving regions, "
                "and every serving cluster serves a model")
def _models(ctx: Context) -> None:
    pools: dict[str, str] = {}
    names: dict[str, str] = {}
    serving_regions = list(dict.fromkeys(c["region"] for _, c in ctx.serving))
    for at, entry in ctx.models:
        pool = entry["routing"]["poolName"]
        if pool in pools:
            ctx.fail("models", f"{at}routing.poolName", f"pool {pool} is already used by {pools[pool]}; give each model its own poolName")
        if pool == "gateway":
            ctx.fail("models", f"{at}routing.poolName", "'gateway' names the gateway chart; choose another pool name")
        pools[pool] = at.rstrip(".") or "model"
        served = [(f"{at}model.name", entry["model"]["name"])]
        served += [(f"{at}model.lora.adapters[{j}].name", a["name"]) for j, a in enumerate((entry["model"].get("lora") or {}).get("adapters", []))]
        for where, name in served:
            if name in names:
                ctx.fail("models", where, f"{quote(name)} is already served by {names[name]}; every model and adapter name routes to one pool")
            names[name] = where
        for j, region in enumerate(entry.get("regions", [])):
            if region not in serving_regions:
                ctx.fail("models", f"{at}regions[{j}]", f"{quote(region)} is not a serving region; one of: {', '.join(serving_regions)}")
        in_model = {c["name"] for _, c in ctx.placements(entry)}
        for j, o in enumerate(entry.get("clusters", [])):
            if o["name"] not in in_model:
                ctx.fail("models", f"{at}clusters[{j}].name", f"{quote(o['name'])} is not a serving cluster that runs this model; "
                         f"one of: {', '.join(sorted(in_model))}")
            if o["name"] in [x["name"] for x in entry["clusters"][:j]]:
                ctx.fail("models", f"{at}clusters[{j}].name", f"{o['name']} is already overridden above")
    for i, c in ctx.serving:
        if not any((i, c) in ctx.placements(e) for _, e in ctx.models):
            ctx.fail("models", f"clusters[{i}].serving", f"{c['name']} serves no model (no model lists {c['region']} in its regions); "
                     "add the region to a model or set serving: false")


@rule("lora", "LoRA adapters on TPU run on an image with server-mode LoRA, and maxLoras does not exceed the adapters")
def _lora(ctx: Context) -> None:
    for at, entry in ctx.models:
        lora = entry["model"].get("lora")
        if lora is None:
            continue
        if lora["maxLoras"] > len(lora["adapters"]):
            ctx.fail("lora", f"{at}model.lora.maxLoras", f"{lora['maxLoras']} is more than the {len(lora['adapters'])} adapter(s)")
        if "gpu" not in entry["server"]:
            version = catalog.image_version(entry["server"]["image"])
            floor = ".".join(map(str, catalog.TPU_LORA_MIN_IMAGE))
            if version is None or version < catalog.TPU_LORA_MIN_IMAGE:
                ctx.fail("lora", f"{at}server.image", f"{entry['server']['image']}: LoRA on TPU needs vllm/vllm-tpu v{floor} or later "
                         f"(server-mode LoRA arrived in tpu-inference v{floor}); pin e.g. vllm/vllm-tpu:v{floor}")
