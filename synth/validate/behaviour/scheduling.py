"""Which pod lands on which node: every pod must fit a node pool of its cluster as the fleet declares them, and the
pools' node limits must hold what lands there.

Node pools of a cluster come from the infra: its Config Connector ContainerNodePools (machine type, zones, labels,
taints, autoscaling bounds, boot disk), the default pool unless the cluster removes it, and the ComputeClasses the
cluster receives (one potential pool per priority: machine type, TPU shape and taints, zones, managed DRANET; GKE
creates these as needed, so they have no node limit here). GPU priorities give nodes the GPU type's
``cloud.google.com/gke-accelerator`` label, its GPUs and the ``nvidia.com/gpu=present:NoSchedule`` taint.

A pod fits a pool when
  * its nodeSelector labels are on the pool's nodes (``cloud.google.com/gke-nodepool``, zone, TPU and compute-class
    labels GKE sets);
  * it tolerates the pool's taints (TPU nodes: ``google.com/tpu``; Spot: ``cloud.google.com/gke-spot``; a
    ComputeClass's own taint is tolerated for pods that select the class);
  * its requests fit one node's allocatable after GKE's reservation (``catalog.allocatable``) and GKE's per-node
    daemons: every container, the init containers' peak, and the Cloud Storage FUSE sidecar GKE injects into pods
    annotated ``gke-gcsfuse/volumes: "true"`` (250m / 256Mi / 5Gi unless its request annotations say otherwise);
    ephemeral storage against the boot disk's allocatable; ``google.com/tpu`` against the node's chips and
    ``nvidia.com/gpu`` against its GPUs;
  * the DeviceClasses its resource claims ask for are on the pool (``netdev.google.com`` needs managed DRANET).
Node limits: the pods a bounded pool must take at once — each Deployment's replicas plus its rollout surge, Jobs,
and GKE's cluster-wide system pods on the first untainted pool — are packed first-fit-decreasing onto its nodes."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...config import catalog
from ..apiserver import quantity
from .upgrade import replicas_of, rollout
from ..problems import Problem, annotations, iter_objects, name, namespace, oid
from ..view import FleetView

RULES = {
    "scheduling": "every pod fits a node pool of its cluster: node selectors, taints, requests (with GKE's injected sidecars) against allocatable, TPU chips and GPUs, DRA DeviceClasses",
    "node-limits": "each node pool's maximum size holds the pods it must run at once (replicas plus rollout surge, Jobs, GKE system pods)",
}

ZONE = "topology.kubernetes.io/zone"
ANY = "*"
DRANET_CLASSES = {"netdev.google.com", "mrdma.google.com"}


@dataclass
class Pool:
    title: str  # e.g. "node pool system (e2-standard-8)"
    machine: str
    labels: dict[str, set[str]]
    taints: list[tuple[str, str, str]]
    max_nodes: int | None
    chips: int = 0
    dra: set[str] = field(default_factory=set)
    disk_gb: int = 100
    file: str = ""
    obj: str = ""
    gpus: int = 0

    def capacity(self) -> tuple[int, int, float] | None:
        """(millicores, MiB, ephemeral GiB) one node offers pods; None for an unknown machine type."""
        if self.machine not in catalog.MACHINES:
            return None
        cpu, mem = catalog.allocatable(self.machine)
        disk = float(self.disk_gb)
        eph = disk - min(0.5 * disk, 6 + 0.35 * disk, 100) - 0.1 * disk
        return cpu - catalog.GKE_DAEMONS[0], mem - catalog.GKE_DAEMONS[1], eph


@dataclass
class Need:
    file: str
    obj: str
    kind: str
    selector: dict
    tolerations: list[dict]
    cpu: int  # millicores
    mem: int  # MiB
    eph: float  # GiB
    tpu: int
    dra: set[str]
    count: int
    gpu: int = 0


def _milli(v) -> int:
    q = quantity(v)
    return int(round((q or 0) * 1000))


def _mib(v) -> int:
    q = quantity(v)
    return int(round((q or 0) / 2**20))


def _gib(v) -> float:
    q = quantity(v)
    return (q or 0) / 2**30


def _requests(c: dict) -> tuple[int, int, float, int, int]:
    req = (c.get("resources") or {}).get("requests") or {}
    lim = (c.get("resources") or {}).get("limits") or {}
    # A limit without a request means a request of that limit.
    pick = lambda k: req.get(k, lim.get(k))  # noqa: E731
    return (_milli(pick("cpu")), _mib(pick("memory")), _gib(pick("ephemeral-storage")),
            int(quantity(pick("google.com/tpu")) or 0), int(quantity(pick("nvidia.com/gpu")) or 0))


def _pod_need(f: str, o: dict, meta: dict, pod: dict, claim_templates: dict, count: int) -> Need:
    regular = [_requests(c) for c in pod.get("containers") or []]
    sidecars = [_requests(c) for c in pod.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    inits = [_requests(c) for c in pod.get("initContainers") or [] if c.get("restartPolicy") != "Always"]
    ann = meta.get("annotations") or {}
    if ann.get("gke-gcsfuse/volumes") == "true":
        d = catalog.FUSE_SIDECAR_REQUESTS
        sidecars.append((_milli(ann.get("gke-gcsfuse/cpu-request", d["cpu"])), _mib(ann.get("gke-gcsfuse/memory-request", d["memory"])),
                         _gib(ann.get("gke-gcsfuse/ephemeral-storage-request", d["ephemeral-storage"])), 0, 0))
    side = [sum(x[i] for x in sidecars) for i in range(5)]
    steady = [sum(x[i] for x in regular) + side[i] for i in range(5)]
    peak = [max([steady[i]] + [x[i] + side[i] for x in inits]) for i in range(5)]
    dra = set()
    for claim in pod.get("resourceClaims") or []:
        t = claim_templates.get((namespace(o), claim.get("resourceClaimTemplateName")))
        for r in (((t or {}).get("spec") or {}).get("spec") or {}).get("devices", {}).get("requests") or []:
            dra.add((r.get("exactly") or {}).get("deviceClassName"))
    return Need(f, oid(o), o.get("kind", ""), pod.get("nodeSelector") or {}, pod.get("tolerations") or [],
                peak[0], peak[1], peak[2], int(peak[3]), {d for d in dra if d}, count, int(peak[4]))


def _needs(docs) -> list[Need]:
    objs = list(iter_objects(docs))
    hpas_in: dict[str, list[dict]] = {}
    for _, h in objs:
        if h.get("kind") == "HorizontalPodAutoscaler":
            hpas_in.setdefault(namespace(h), []).append(h)
    claims = {(namespace(t), name(t)): t for _, t in objs if t.get("kind") == "ResourceClaimTemplate"}
    out = []
    for f, o in objs:
        kind, spec = o.get("kind"), o.get("spec") or {}
        if kind == "Deployment":
            hpas = hpas_in.get(namespace(o), [])
            replicas = replicas_of(o, hpas)
            for h in hpas:  # at most the HPA's maximum at once
                ref = (h.get("spec") or {}).get("scaleTargetRef") or {}
                if ref.get("name") == name(o):
                    replicas = int((h.get("spec") or {}).get("maxReplicas", replicas))
            count = replicas + rollout(o, replicas)[2]
        elif kind == "Job":
            count = int(spec.get("parallelism", 1))
        elif kind == "Pod" and "helm.sh/hook" not in annotations(o):
            out.append(_pod_need(f, o, o.get("metadata") or {}, spec, claims, 1))
            continue
        else:
            continue
        t = spec.get("template") or {}
        out.append(_pod_need(f, o, t.get("metadata") or {}, t.get("spec") or {}, claims, count))
    return out


def _tolerates(tolerations: list[dict], key: str, value: str, effect: str) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != effect:
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == key):
            return True
        if t.get("key") == key and t.get("operator", "Equal") == "Equal" and t.get("value", "") == value:
            return True
    return False


def misfit(need: Need, pool: Pool) -> list[str]:
    why = []
    for k, v in need.selector.items():
        have = pool.labels.get(k, set())
        if v not in have and not (k == ZONE and ANY in have):
            why.append(f"its nodes have no label {k}={v}")
    for key, value, effect in pool.taints:
        if effect not in ("NoSchedule", "NoExecute"):
            continue
        auto = key == "cloud.google.com/compute-class" and need.selector.get(key) == value
        if not auto and not _tolerates(need.tolerations, key, value, effect):
            why.append(f"taint {key}={value}:{effect} is not tolerated")
    cap = pool.capacity()
    if cap is None:
        why.append(f"machine type {pool.machine} is not one whose size is known")
    else:
        cpu, mem, eph = cap
        if need.cpu > cpu:
            why.append(f"asks {need.cpu}m CPU, a node offers {cpu}m after GKE's reservation and daemons")
        if need.mem > mem:
            why.append(f"asks {need.mem}Mi memory, a node offers {mem}Mi")
        if need.eph > eph:
            why.append(f"asks {need.eph:g}Gi ephemeral storage, a {pool.disk_gb} GB boot disk offers {eph:.0f}Gi")
    if need.tpu > pool.chips:
        why.append(f"asks {need.tpu} TPU chip(s), a node has {pool.chips}")
    if need.gpu > pool.gpus:
        why.append(f"asks {need.gpu} GPU(s), a node has {pool.gpus}")
    if need.dra - pool.dra:
        why.append(f"claims devices of {', '.join(sorted(need.dra - pool.dra))}, which the pool does not offer")
    return why


def _machine_chips(machine: str) -> int:
    return catalog.MACHINE_CHIPS.get(machine, 0)


def _machine_gpus(machine: str) -> tuple[str, int]:
    return catalog.GPU_MACHINES.get(machine, ("", 0))


def node_pools(view: FleetView, cluster: str) -> list[Pool] | None:
    """The pools ``cluster`` may place pods on, or None when the infra does not describe the cluster."""
    managed = view.managed_clusters.get(cluster)
    pools: list[Pool] = []
    if managed is not None:
        cspec = managed.get("spec") or {}
        region = cspec.get("location", "")
        zones = set(cspec.get("nodeLocations") or []) or {ANY}
        obj_name = name(managed)
        if annotations(managed).get("cnrm.cloud.google.com/remove-default-node-pool") != "true":
            machine = (cspec.get("nodeConfig") or {}).get("machineType", "e2-medium")
            count = int(cspec.get("initialNodeCount", 1)) * (3 if region.count("-") == 1 else 1)
            pools.append(Pool(f"default-pool ({machine})", machine, {"cloud.google.com/gke-nodepool": {"default-pool"}, ZONE: zones},
                              [], count, _machine_chips(machine), set(), int((cspec.get("nodeConfig") or {}).get("diskSizeGb", 100)),
                              "", f"ContainerCluster/{obj_name}"))
        for f, np in view.kcc("ContainerNodePool"):
            spec = np.get("spec") or {}
            ref = spec.get("clusterRef") or {}
            if ref.get("name") != obj_name and not str(ref.get("external", "")).endswith(f"/clusters/{cluster}"):
                continue
            pool_name = spec.get("resourceID") or name(np)
            nc = spec.get("nodeConfig") or {}
            machine = nc.get("machineType", "e2-medium")
            pool_zones = set(spec.get("nodeLocations") or []) or zones
            auto = spec.get("autoscaling") or {}
            per_zone = len(pool_zones) if ANY not in pool_zones else 3
            max_nodes = auto.get("totalMaxNodeCount") or (auto["maxNodeCount"] * per_zone if "maxNodeCount" in auto else
                                                          int(spec.get("initialNodeCount", spec.get("nodeCount", 1))) * per_zone)
            labels = {k: {str(v)} for k, v in (nc.get("labels") or {}).items()}
            labels.update({"cloud.google.com/gke-nodepool": {pool_name}, ZONE: pool_zones})
            taints = [(t.get("key", ""), str(t.get("value", "")), {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute",
                                                                   "PREFER_NO_SCHEDULE": "PreferNoSchedule"}.get(t.get("effect"), t.get("effect", "")))
                      for t in nc.get("taint") or []]
            chips = _machine_chips(machine)
            if chips:
                taints.append(("google.com/tpu", "present", "NoSchedule"))
            if nc.get("spot"):
                taints.append(("cloud.google.com/gke-spot", "true", "NoSchedule"))
            pools.append(Pool(f"node pool {pool_name} ({machine})", machine, labels, taints, int(max_nodes), chips, set(),
                              int(nc.get("diskSizeGb", 100)), f, f"ContainerNodePool/{name(np)}"))
    seen_classes: set[str] = set()
    for f, cc in view.objects(cluster, "ComputeClass"):
        if name(cc) in seen_classes:
            continue  # cluster-scoped: one object of a name
        seen_classes.add(name(cc))
        spec = cc.get("spec") or {}
        npc = spec.get("nodePoolConfig") or {}
        dra_on = bool(((npc.get("dra") or {}).get("networking") or {}).get("enabled"))
        for i, p in enumerate(spec.get("priorities") or []):
            machine = p.get("machineType", "")
            tpu = p.get("tpu") or {}
            gpu = p.get("gpu") or {}
            zones = set((p.get("location") or {}).get("zones") or []) | {
                z for s in (p.get("reservations") or {}).get("specific") or [] for z in s.get("zones") or []} or {ANY}
            labels = {"cloud.google.com/compute-class": {name(cc)}, ZONE: zones,
                      "cloud.google.com/gke-nodepool": {ANY}}
            taints = [("cloud.google.com/compute-class", name(cc), "NoSchedule")]
            if tpu:
                labels["cloud.google.com/gke-tpu-accelerator"] = {tpu.get("type", "")}
                labels["cloud.google.com/gke-tpu-topology"] = {tpu.get("topology", "")}
                taints.append(("google.com/tpu", "present", "NoSchedule"))
            gpus = 0
            if gpu:
                # GKE labels GPU nodes with their type and taints them (the cluster has a non-GPU system pool).
                labels["cloud.google.com/gke-accelerator"] = {gpu.get("type", "")}
                taints.append(("nvidia.com/gpu", "present", "NoSchedule"))
                kind, gpus = _machine_gpus(machine)
                if kind != gpu.get("type") or gpus != int(gpu.get("count", 0)):
                    gpus = min(gpus, int(gpu.get("count", 0))) if kind == gpu.get("type") else 0
            if p.get("spot"):
                taints.append(("cloud.google.com/gke-spot", "true", "NoSchedule"))
            dra = DRANET_CLASSES if dra_on and p.get("acceleratorNetworkProfile") else set()
            pools.append(Pool(f"ComputeClass {name(cc)} priority {i + 1} ({machine})", machine, labels, taints, None,
                              int(tpu.get("count", 0)) or _machine_chips(machine), dra, 100, f, f"ComputeClass/{name(cc)}",
                              gpus))
    if managed is None:
        return None  # the ComputeClasses alone do not say where the cluster's other pods go
    return pools


def _pack(sizes: list[tuple[int, int]], node: tuple[int, int]) -> int:
    """Nodes first-fit-decreasing packing needs for (millicores, MiB) pods."""
    bins: list[list[int]] = []
    for cpu, mem in sorted(sizes, reverse=True):
        for b in bins:
            if b[0] >= cpu and b[1] >= mem:
                b[0] -= cpu
                b[1] -= mem
                break
        else:
            bins.append([node[0] - cpu, node[1] - mem])
    return len(bins)


def check(view: FleetView) -> list[Problem]:
    problems: list[Problem] = []
    for cluster, docs in view.clusters.items():
        needs = _needs(docs)
        if not needs:
            continue
        pools = node_pools(view, cluster)
        if pools is None:
            problems.append(Problem("", f"cluster/{cluster}", "", "scheduling",
                                    "no node pools are known for this cluster: validate it together with the infra root "
                                    "(its ContainerCluster and ContainerNodePools), e.g. --overlays DIR beside infra/", cluster,
                                    unchecked=True))
            continue
        placed: dict[int, list[Need]] = {}
        for need in needs:
            fits = [i for i, p in enumerate(pools) if not misfit(need, p)]
            if not fits:
                reasons = "; ".join(f"{p.title}: {', '.join(misfit(need, p)[:2])}" for p in pools) or "the cluster has no node pools"
                problems.append(Problem(need.file, need.obj, "", "scheduling", f"fits no node pool of the cluster: {reasons}", cluster))
                continue
            placed.setdefault(fits[0], []).append(need)
        untainted = next((i for i, p in enumerate(pools) if p.max_nodes is not None and not p.taints), None)
        for i, pool in enumerate(pools):
            if pool.max_nodes is None or pool.capacity() is None:
                continue
            sizes = [(n.cpu, n.mem) for n in placed.get(i, []) for _ in range(n.count)]
            if i == untainted:
                sizes.append(catalog.GKE_SYSTEM_PODS)
            if not sizes:
                continue
            cap = pool.capacity()
            need_nodes = _pack(sizes, (cap[0], cap[1]))
            if need_nodes > pool.max_nodes:
                who = ", ".join(f"{n.obj} x{n.count}" for n in placed.get(i, []))
                problems.append(Problem(pool.file, pool.obj, "spec.autoscaling", "node-limits",
                                        f"{pool.title} may grow to {pool.max_nodes} node(s), but {who}"
                                        f"{' and GKE system pods' if i == untainted else ''} need {need_nodes} at once "
                                        "(replicas plus rollout surge); raise its maximum or use a larger machine type", cluster))
    return problems
