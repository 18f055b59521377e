"""The vLLM model server on TPU or GPU: Deployment, Service, PodDisruptionBudget, PodMonitoring and optional HPA."""

from __future__ import annotations

from dataclasses import dataclass

import cdk8s
import cdk8s_plus_30 as kplus
from constructs import Construct

from ..config import catalog

from .base import ManifestChart, drop, raw_object, set_
from .dranet import DranetClaim
from .gcs_fuse import GcsFuseModelVolume
from ..template import Cond, Not, Truthy, merge_in, splice

PORT = catalog.MODEL_PORT
XLA_CACHE = "/xla-cache"


@dataclass(frozen=True)
class ModelServerProps:
    """Every field is a constant or a value reference; nothing falls back to a cdk8s-plus default.

    name:               Deployment/Service/PDB/PodMonitoring name.
    namespace:          value reference.
    labels:             labels of every object.
    selector:           pod labels the Deployment, Service, PDB, InferencePool and metrics select on. Fixed at
                        first release (selectors are immutable), so they never derive from construct paths.
    pod_labels:         all pod labels (a superset of ``selector``).
    image:              value reference; pinned tag or digest (checked by the loader).
    model_name, max_model_len, gpu_memory_utilization, chips, replicas, cpu, memory, startup_failure_threshold,
    termination_grace_seconds, zone: value references.
    accelerator, topology: node-selector values (value references).
    extra_args_path:    values path of extra vLLM args, spliced after ours.
    autoscaled:         condition under which an HPA owns ``replicas`` (then the Deployment omits it).
    hpa:                (min, max, queue target) value references.
    max_surge, max_unavailable: RollingUpdate value references. One replica fills a TPU node, so the default
                        (0, 1) replaces one pod at a time and the region keeps the others serving.
    compute_class:      value reference: the ComputeClass GKE creates the TPU nodes from.
    bucket, model_path: value references, named in the weights wait's message.
    loader, source_id:  the chart runs the weights loader (a condition), and the source its completion marker must
                        name (value reference). Default: no loader, so the wait checks files by name.
    progress_deadline:  value reference: Deployment progressDeadlineSeconds. Argo CD marks a Deployment Degraded past
                        it, so it covers TPU node creation plus the start-up probe's whole budget. Default "" (600 s).
    accelerator_kind:   "tpu" (google.com/tpu, TPU node labels, an XLA compilation cache) or "gpu" (nvidia.com/gpu,
                        cloud.google.com/gke-accelerator). A constant: each model has its own chart. Default "tpu".
    chips:              devices per replica (TPU chips or GPUs): the resource request and --tensor-parallel-size.
    accelerator:        TPU: cloud.google.com/gke-tpu-accelerator; GPU: cloud.google.com/gke-accelerator.
    adapters:           LoRA adapters (name, folder in the bucket), constants; each is its own read-only FUSE volume
                        under /adapters and a --lora-modules entry. Default none (no LoRA flags).
    max_loras, max_lora_rank: vLLM --max-loras and --max-lora-rank (constants) when there are adapters.
    extensions_path:    values path of the pods' additions (``podAnnotations``, ``podLabels``, ``tolerations``,
                        ``env``, ``volumes``, ``volumeMounts``, ``sidecars``), each after what the construct sets. Default
                        "" (none): the pods are exactly the construct's.
    """

    name: str
    namespace: str
    labels: dict
    selector: dict
    pod_labels: dict
    image: str
    model_name: str
    max_model_len: str
    gpu_memory_utilization: str
    chips: str
    replicas: str
    cpu: str
    memory: str
    startup_failure_threshold: str
    termination_grace_seconds: str
    zone: str
    accelerator: str
    topology: str
    extra_args_path: str
    autoscaled: Cond
    hpa_min: str
    hpa_max: str
    hpa_queue_target: str
    max_surge: str
    max_unavailable: str
    compute_class: str
    bucket: str
    model_path: str
    loader: Cond | None = None
    source_id: str = ""
    progress_deadline: str = ""
    accelerator_kind: str = "tpu"
    adapters: tuple[tuple[str, str], ...] = ()
    max_loras: int = 1
    max_lora_rank: int = 16
    extensions_path: str = ""


ADAPTERS = "/adapters"
# Probe timings. Start-up gets a long budget (weights over FUSE plus XLA compilation of every shape bucket);
# once started, liveness and readiness are tight so a wedged server leaves the pool quickly.
STARTUP_PERIOD = 10
READINESS = {"periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3, "successThreshold": 1}
LIVENESS = {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3, "successThreshold": 1}
# Seconds between taking a pod out of endpoints and SIGTERM, so the load balancer stops sending new requests.
PRESTOP_SLEEP = 30
# Seconds between checks while the model server waits for its weights.
WEIGHTS_POLL = 30

# Runs before vLLM (after GKE's FUSE sidecar, a native sidecar that starts first). The mount lists the model folder
# once when the pod starts (metadata prefetch) and keeps that listing for good (kernel-list-cache-ttl-secs:-1), and
# vLLM finds its shards by listing the folder, so a pod must never start vLLM on a listing taken mid-copy:
#   1. wait until the loader's completion marker, opened by name (negative lookups are not cached), names this
#      source (SOURCE_ID, set when the chart runs the loader); without a loader, until every file opens by name;
#   2. then check the listing this pod holds has config.json and every shard the safetensors index names; if it
#      does not, the listing predates the copy and cannot refresh: stop, name what is missing, say to delete the pod.
WAIT_FOR_WEIGHTS = """\
import json, os, sys, time
root, want = sys.argv[1], os.environ.get("SOURCE_ID", "")
where, poll = os.environ["WEIGHTS"], int(os.environ["POLL_SECONDS"])
def marker():
    try:
        with open(os.path.join(root, ".inference-fleet-weights")) as f:
            return f.read().strip()
    except OSError:
        return ""
def shards():
    index = os.path.join(root, "model.safetensors.index.json")
    if not os.path.exists(index):
        return ["model.safetensors"]
    with open(index) as f:
        return sorted(set(json.load(f)["weight_map"].values()))
def short(names):
    return ", ".join(names[:4]) + (" and %d more" % (len(names) - 4) if len(names) > 4 else "")
while True:
    if want:
        have = marker()
        if have == want:
            break
        state = "holds " + have if have else "is not there yet"
        print("waiting for the weights loader to finish %s: its marker %s (want %s; kubectl get jobs -l "
              "app.kubernetes.io/component=weights-loader)" % (where, state, want), flush=True)
    else:
        gone = [n for n in ["config.json"] + (shards() if os.path.exists(os.path.join(root, "config.json")) else [])
                if not os.path.exists(os.path.join(root, n))]
        if not gone:
            break
        print("waiting for the weights in %s: missing %s" % (where, short(gone)), flush=True)
    time.sleep(poll)
listed = set(os.listdir(root))
missing = ["config.json"] if "config.json" not in listed else [n for n in shards() if n not in listed]
if missing:
    print("%s is complete, but this pod's mount listed the folder before the copy finished and keeps that listing "
          "(it lacks %s): vLLM would load a partial model. Delete this pod; its replacement mounts the complete folder."
          % (where, short(missing)), file=sys.stderr, flush=True)
    sys.exit(1)
print("weights complete in %s (%d shards listed)" % (where, len(shards())), flush=True)
"""

# vLLM refuses to start when a --lora-modules folder cannot be loaded: wait until every adapter has its config and
# weights in the bucket, naming what is missing (adapters are copied into the bucket by the operator), then stop
# with the reason when an adapter's rank is above --max-lora-rank (vLLM would exit without saying which adapter).
WAIT_FOR_ADAPTERS = """\
import json, os, sys, time
def missing():
    out = []
    for folder in sys.argv[1:]:
        names = os.listdir(folder) if os.path.isdir(folder) else []
        if "adapter_config.json" not in names or not any(n.startswith("adapter_model.") for n in names):
            out.append(os.path.basename(folder))
    return out
while True:
    gone = missing()
    if not gone:
        break
    print("waiting for LoRA adapters " + ", ".join(gone) + " in " + os.environ["WEIGHTS"]
          + " (each needs adapter_config.json and adapter_model.safetensors)", flush=True)
    time.sleep(int(os.environ["POLL_SECONDS"]))
limit = int(os.environ["MAX_RANK"])
for folder, name in zip(sys.argv[1:], os.environ["ADAPTERS"].split(",")):
    rank = int(json.load(open(os.path.join(folder, "adapter_config.json"))).get("r", 0))
    if rank > limit:
        print("LoRA adapter " + name + " has rank " + str(rank) + ", above --max-lora-rank " + str(limit)
              + ": vLLM would refuse to start; raise model.lora.maxRank in the fleet file", flush=True)
        sys.exit(1)
print("adapters complete", flush=True)
"""


def lora_args(p: ModelServerProps) -> list[str]:
    """vLLM's LoRA flags: every adapter after one --lora-modules (a repeated flag keeps only its last list)."""
    if not p.adapters:
        return []
    return ["--enable-lora", f"--max-loras={p.max_loras}", f"--max-lora-rank={p.max_lora_rank}",
            "--lora-modules", *[f"{name}={ADAPTERS}/{i}" for i, (name, _) in enumerate(p.adapters)]]


def adapter_volume(index: int, bucket: str, path: str) -> dict:
    """One adapter's folder as its own read-only FUSE volume (only-dir: nothing else of the bucket is visible)."""
    from .gcs_fuse import adapter_mount_options

    return {"name": f"adapter-{index}", "csi": {"driver": "gcsfuse.csi.storage.gke.io", "readOnly": True,
                                                 "volumeAttributes": {"bucketName": bucket,
                                                                      "mountOptions": adapter_mount_options(path),
                                                                      "skipCSIBucketAccessCheck": "true"}}}


class ModelServer(Construct):
    def __init__(self, scope: Construct, id: str, *, props: ModelServerProps, fuse: GcsFuseModelVolume,
                 dranet: DranetClaim, dranet_enabled: Cond) -> None:
        super().__init__(scope, id)
        chart = ManifestChart.of(self)
        p = props
        tpu = p.accelerator_kind == "tpu"

        http = kplus.ContainerPort(number=PORT, name="http", protocol=kplus.Protocol.TCP)
        deployment = kplus.Deployment(
            self,
            "deployment",
            metadata=cdk8s.ApiObjectMetadata(name=p.name, namespace=p.namespace, labels=p.labels),
            select=False,
            replicas=1,  # replaced below by a value reference (omitted when an HPA owns it)
            strategy=kplus.DeploymentStrategy.recreate(),  # replaced below by RollingUpdate with value references
            pod_metadata=cdk8s.ApiObjectMetadata(labels=p.pod_labels, annotations=fuse.pod_annotations),
            service_account=fuse.service_account,
            automount_service_account_token=False,  # vLLM never calls the Kubernetes API
            security_context=kplus.PodSecurityContextProps(ensure_non_root=False),
            progress_deadline=cdk8s.Duration.seconds(7200),
            min_ready=cdk8s.Duration.seconds(0),
        )
        deployment.select(kplus.LabelSelector.of(labels=p.selector))
        container = deployment.add_container(
            name="vllm",
            image=p.image,
            image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
            command=["python3", "-m", "vllm.entrypoints.openai.api_server"],
            ports=[http],
            env_variables={"VLLM_XLA_CACHE_PATH": kplus.EnvValue.from_value(XLA_CACHE)} if tpu else {},
            security_context=kplus.ContainerSecurityContextProps(
                # The vLLM images run as root and write to their home; TPU access on GKE >= 1.28 and GPU
                # access through the device plugin need neither privileges nor capabilities.
                ensure_non_root=False,
                read_only_root_filesystem=False,
                allow_privilege_escalation=False,
                privileged=False,
            ),
        )
        container.mount(GcsFuseModelVolume.MOUNT_PATH, fuse.volume, read_only=True)
        container.mount("/dev/shm", kplus.Volume.from_empty_dir(self, "dshm", "dshm", medium=kplus.EmptyDirMedium.MEMORY))
        if tpu:
            # Compiled XLA graphs, per pod: a shared cache breaks with more than one writer.
            container.mount(XLA_CACHE, kplus.Volume.from_empty_dir(self, "xla", "xla-cache"))
        deployment.add_volume(fuse.cache_volume)

        obj = cdk8s.ApiObject.of(deployment)
        base = "/spec/template/spec"
        c0 = f"{base}/containers/0"
        patches = [drop("/spec/replicas")]
        patches.append(set_("/spec/strategy", {"type": "RollingUpdate", "rollingUpdate": {
            "maxSurge": p.max_surge, "maxUnavailable": p.max_unavailable}}))
        patches.append(set_(f"{base}/tolerations", [
            # TPU nodes are tainted google.com/tpu=present:NoSchedule; GPU nodes nvidia.com/gpu=present:NoSchedule
            # (GKE also adds this toleration to pods requesting GPUs; stated so the pod spec says where it runs).
            {"key": "google.com/tpu" if tpu else "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
            # Nodes GKE creates for the ComputeClass carry its taint (GKE tolerates it for pods that select the
            # class; stated for pre-created pools joined to the class), and Spot nodes carry gke-spot.
            {"key": "cloud.google.com/compute-class", "operator": "Equal", "value": p.compute_class, "effect": "NoSchedule"},
            {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
        ]))
        patches.append(set_(f"{base}/initContainers", [{
            "name": "wait-for-weights",
            "image": p.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["python3", "-c", WAIT_FOR_WEIGHTS, GcsFuseModelVolume.MOUNT_PATH],
            "env": [{"name": "WEIGHTS", "value": f"gs://{p.bucket}/{p.model_path}"},
                    {"name": "POLL_SECONDS", "value": str(WEIGHTS_POLL)},
                    *([chart.conds.only_if(p.loader, {"name": "SOURCE_ID", "value": p.source_id})] if p.loader else [])],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            # Only reads the mount: it need not run as root like the vLLM image does.
            "securityContext": {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "model", "mountPath": GcsFuseModelVolume.MOUNT_PATH, "readOnly": True}],
        }] + ([{
            "name": "wait-for-adapters",
            "image": p.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["python3", "-c", WAIT_FOR_ADAPTERS] + [f"{ADAPTERS}/{i}" for i in range(len(p.adapters))],
            "env": [{"name": "WEIGHTS", "value": f"gs://{p.bucket}"}, {"name": "POLL_SECONDS", "value": str(WEIGHTS_POLL)},
                    {"name": "MAX_RANK", "value": str(p.max_lora_rank)},
                    {"name": "ADAPTERS", "value": ",".join(name for name, _ in p.adapters)}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "securityContext": {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": f"adapter-{i}", "mountPath": f"{ADAPTERS}/{i}", "readOnly": True}
                             for i in range(len(p.adapters))],
        }] if p.adapters else [])))
        patches.append(set_(f"/spec/{chart.conds.when(Not(p.autoscaled))}", {"replicas": p.replicas}))
        if p.progress_deadline:
            patches.append(set_("/spec/progressDeadlineSeconds", p.progress_deadline))
        patches.append(set_(f"{c0}/args", [
            "--host=0.0.0.0",
            f"--port={PORT}",
            f"--model={GcsFuseModelVolume.MOUNT_PATH}",
            f"--served-model-name={p.model_name}",
            f"--tensor-parallel-size={p.chips}",
            f"--max-model-len={p.max_model_len}",
            f"--gpu-memory-utilization={p.gpu_memory_utilization}",
            "--no-enable-log-requests",
            *lora_args(p),
            splice(p.extra_args_path),
        ]))
        device = "google.com/tpu" if tpu else "nvidia.com/gpu"
        patches.append(set_(f"{c0}/resources", {
            "requests": {"cpu": p.cpu, "memory": p.memory, device: p.chips},
            "limits": {"memory": p.memory, device: p.chips},
            chart.conds.when(dranet_enabled): {"claims": [dranet.container_claim]},
        }))
        probe = {"httpGet": {"path": "/health", "port": PORT, "scheme": "HTTP"}}
        patches.append(set_(f"{c0}/startupProbe", {**probe, "periodSeconds": STARTUP_PERIOD, "timeoutSeconds": 5,
                                           "failureThreshold": p.startup_failure_threshold, "successThreshold": 1}))
        patches.append(set_(f"{c0}/readinessProbe", {**probe, **READINESS}))
        patches.append(set_(f"{c0}/livenessProbe", {**probe, **LIVENESS}))
        patches.append(set_(f"{c0}/lifecycle", {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP}}}))
        patches.append(set_(f"{c0}/securityContext/capabilities", {"drop": ["ALL"]}))
        patches.append(set_(f"{base}/securityContext/seccompProfile", {"type": "RuntimeDefault"}))
        patches.append(set_(f"{base}/terminationGracePeriodSeconds", p.termination_grace_seconds))
        patches.append(set_(f"{base}/nodeSelector", {
            "cloud.google.com/compute-class": p.compute_class,
            "cloud.google.com/gke-tpu-accelerator": p.accelerator,
            "cloud.google.com/gke-tpu-topology": p.topology,
            "topology.kubernetes.io/zone": p.zone,
        } if tpu else {
            "cloud.google.com/compute-class": p.compute_class,
            "cloud.google.com/gke-accelerator": p.accelerator,
            "topology.kubernetes.io/zone": p.zone,
        }))
        for i, (_, path) in enumerate(p.adapters):
            patches.append(set_(f"{base}/volumes/-", adapter_volume(i, p.bucket, path)))
            patches.append(set_(f"{c0}/volumeMounts/-", {"name": f"adapter-{i}", "mountPath": f"{ADAPTERS}/{i}",
                                                          "readOnly": True}))
        patches.append(set_(f"{base}/{chart.conds.when(dranet_enabled)}", {"resourceClaims": [dranet.pod_claim]}))
        if p.extensions_path:
            patches += _extension_patches(chart, p.extensions_path, base, c0, tpu)
        chart.emit(obj, "deployment.yaml", patches=patches)

        service = raw_object(self, "service", api_version="v1", kind="Service", name=p.name, namespace=p.namespace,
                             labels=p.labels, body={"spec": {
                                 "type": "ClusterIP",
                                 "selector": p.selector,
                                 "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
                             }})
        chart.emit(service, "service.yaml")

        pdb = raw_object(self, "pdb", api_version="policy/v1", kind="PodDisruptionBudget", name=p.name,
                         namespace=p.namespace, labels=p.labels, body={"spec": {
                             # One replica may be voluntarily evicted at a time (node upgrades), never more.
                             "maxUnavailable": 1,
                             "unhealthyPodEvictionPolicy": "AlwaysAllow",
                             "selector": {"matchLabels": p.selector},
                         }})
        chart.emit(pdb, "poddisruptionbudget.yaml")

        monitoring = raw_object(self, "metrics", api_version="monitoring.googleapis.com/v1", kind="PodMonitoring",
                                name=p.name, namespace=p.namespace, labels=p.labels, body={"spec": {
                                    "selector": {"matchLabels": p.selector},
                                    "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
                                }})
        chart.emit(monitoring, "podmonitoring.yaml")

        hpa = raw_object(self, "hpa", api_version="autoscaling/v2", kind="HorizontalPodAutoscaler", name=p.name,
                         namespace=p.namespace, labels=p.labels, body={"spec": {
                             "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": p.name},
                             "minReplicas": p.hpa_min,
                             "maxReplicas": p.hpa_max,
                             "metrics": [{"type": "Pods", "pods": {
                                 "metric": {"name": "prometheus.googleapis.com|vllm:num_requests_waiting|gauge"},
                                 "target": {"type": "AverageValue", "averageValue": p.hpa_queue_target},
                             }}],
                             # A new TPU replica needs minutes to become ready: scale down slowly.
                             "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}},
                         }})
        chart.emit(hpa, "horizontalpodautoscaler.yaml", when=p.autoscaled)


def _extension_patches(chart: ManifestChart, path: str, base: str, c0: str, tpu: bool) -> list:
    """The pods' additions at ``path``, each after the construct's own entries (lists spliced, mappings merged)."""
    meta = "/spec/template/metadata"
    out = [set_(f"{meta}/annotations/{merge_in(f'{path}.podAnnotations')}", None),
           set_(f"{meta}/labels/{merge_in(f'{path}.podLabels')}", None),
           set_(f"{base}/tolerations/-", splice(f"{path}.tolerations")),
           set_(f"{base}/volumes/-", splice(f"{path}.volumes")),
           set_(f"{c0}/volumeMounts/-", splice(f"{path}.volumeMounts")),
           set_(f"{base}/containers/-", splice(f"{path}.sidecars"))]
    if tpu:  # the container has environment of its own
        out.append(set_(f"{c0}/env/-", splice(f"{path}.env")))
    else:
        out.append(set_(f"{c0}/{chart.conds.when(Truthy(f'{path}.env'))}", {"env": [splice(f"{path}.env")]}))
    return out
