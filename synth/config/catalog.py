"""Facts the fleet file is checked against: where TPU v6e exists, what each machine type holds, and the
pinned images of each routing profile. Update here when Google publishes new zones or releases."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

# Zones that offer TPU v6e (Cloud TPU "regions and zones" page).
TPU_V6E_ZONES = frozenset(
    {
        "us-central1-b",
        "us-east1-d",
        "us-east5-a",
        "us-east5-b",
        "europe-west4-a",
        "asia-northeast1-b",
        "southamerica-east1-c",
    }
)

# Single-host v6e machine types: chips per node, and the topology that fills the node.
MACHINE_CHIPS = {"ct6e-standard-1t": 1, "ct6e-standard-4t": 4, "ct6e-standard-8t": 8}
TOPOLOGY_CHIPS = {"1x1": 1, "2x2": 4, "2x4": 8}
TPU_ACCELERATOR = "tpu-v6e-slice"

# vCPU and memory (GiB) of the machine types a fleet may use. TPU v6e hosts: Cloud TPU v6e page and GKE's
# cluster-autoscaler machine table; general-purpose shapes: Compute Engine machine families.
MACHINES: dict[str, tuple[int, int]] = {
    "ct6e-standard-1t": (44, 176), "ct6e-standard-4t": (180, 720), "ct6e-standard-8t": (180, 1440),
    "e2-standard-4": (4, 16), "e2-standard-8": (8, 32), "e2-standard-16": (16, 64), "e2-standard-32": (32, 128),
    "e2-highmem-4": (4, 32), "e2-highmem-8": (8, 64), "e2-highmem-16": (16, 128),
    "n2-standard-4": (4, 16), "n2-standard-8": (8, 32), "n2-standard-16": (16, 64), "n2-standard-32": (32, 128),
    "n2d-standard-8": (8, 32), "n2d-standard-16": (16, 64),
    "n4-standard-4": (4, 16), "n4-standard-8": (8, 32), "n4-standard-16": (16, 64),
    "c2-standard-8": (8, 32), "c2-standard-16": (16, 64), "c3-standard-8": (8, 32), "c3-standard-22": (22, 88),
}
# GPU machines: vCPU and memory (GB) with their GPUs (Compute Engine "GPU machine types"; the G2 sizes between the
# documented ones as listed by GCP's machine-type API, via the SkyPilot catalog catalogs/v8/gcp/vms.csv @006059e0).
GPU_MACHINES: dict[str, tuple[str, int]] = {
    "g2-standard-4": ("nvidia-l4", 1), "g2-standard-8": ("nvidia-l4", 1), "g2-standard-12": ("nvidia-l4", 1),
    "g2-standard-16": ("nvidia-l4", 1), "g2-standard-24": ("nvidia-l4", 2), "g2-standard-32": ("nvidia-l4", 1),
    "g2-standard-48": ("nvidia-l4", 4), "g2-standard-96": ("nvidia-l4", 8),
    "a3-highgpu-1g": ("nvidia-h100-80gb", 1), "a3-highgpu-2g": ("nvidia-h100-80gb", 2),
    "a3-highgpu-4g": ("nvidia-h100-80gb", 4), "a3-highgpu-8g": ("nvidia-h100-80gb", 8),
}
MACHINES.update({
    "g2-standard-4": (4, 16), "g2-standard-8": (8, 32), "g2-standard-12": (12, 48), "g2-standard-16": (16, 64),
    "g2-standard-24": (24, 96), "g2-standard-32": (32, 128), "g2-standard-48": (48, 192), "g2-standard-96": (96, 384),
    "a3-highgpu-1g": (26, 234), "a3-highgpu-2g": (52, 468), "a3-highgpu-4g": (104, 936), "a3-highgpu-8g": (208, 1872),
})
# The machine a GPU model gets when the fleet file names none: enough host memory for the server and the weights'
# RAM file cache beside it (g2-standard-16 rather than -4 for one L4).
DEFAULT_GPU_MACHINES = {
    ("nvidia-l4", 1): "g2-standard-16", ("nvidia-l4", 2): "g2-standard-24", ("nvidia-l4", 4): "g2-standard-48",
    ("nvidia-l4", 8): "g2-standard-96",
    ("nvidia-h100-80gb", 1): "a3-highgpu-1g", ("nvidia-h100-80gb", 2): "a3-highgpu-2g",
    ("nvidia-h100-80gb", 4): "a3-highgpu-4g", ("nvidia-h100-80gb", 8): "a3-highgpu-8g",
}


def default_gpu_machine(gpu_type: str, count: int) -> str:
    return DEFAULT_GPU_MACHINES.get((gpu_type, count), "")


def gpu_server_defaults(machine: str) -> tuple[str, str]:
    """vLLM requests on a GPU machine when the fleet file gives none: half its vCPUs and half its memory (the rest
    holds GKE's daemons, the FUSE sidecar and the weights' RAM file cache)."""
    cores, gib = MACHINES.get(machine, (8, 32))
    return str(max(cores // 2, 2)), f"{max(gib // 2, 8)}Gi"


# Zones that offer each GPU type in the regions that also offer TPU v6e (GCP's machine-type API as listed in the
# SkyPilot catalog catalogs/v8/gcp/vms.csv @006059e0; check Compute Engine's "GPU regions and zones" before relying
# on a zone not listed here).
GPU_ZONES = {
    "nvidia-l4": frozenset({"europe-west4-a", "europe-west4-b", "europe-west4-c", "us-central1-a", "us-central1-b",
                            "us-central1-c", "asia-northeast1-a", "asia-northeast1-b", "asia-northeast1-c",
                            "us-east1-b", "us-east1-c", "us-east1-d"}),
    "nvidia-h100-80gb": frozenset({"us-east5-a", "europe-west4-b", "europe-west4-c", "us-central1-a", "us-central1-b",
                                   "us-central1-c", "asia-northeast1-b"}),
}
# Accelerator memory per device in GiB, for the weights-fit check: TPU v6e 32 GB HBM (about 31.25 GiB usable),
# L4 24 GB, H100 80 GB.
DEVICE_MEMORY_GI = {"tpu-v6e-slice": 31.25, "nvidia-l4": 22.0, "nvidia-h100-80gb": 79.0}

# Pinned vLLM images when the fleet file names none: the TPU build, and the CUDA build of the same vLLM release.
TPU_SERVER_IMAGE = "vllm/vllm-tpu:v0.11.1"
GPU_SERVER_IMAGE = "vllm/vllm-openai:v0.11.1"
# Server-mode LoRA on TPU (the worker's add_lora) arrived in tpu-inference v0.25.0 (vllm-project/tpu-inference
# commit bbc32beff); vllm/vllm-tpu images carry the tpu-inference release of their tag.
TPU_LORA_MIN_IMAGE = (0, 25, 0)


# vLLM container requests when the fleet file gives none: sized to the host, leaving room for GKE's daemons, the
# FUSE sidecar and the weights' RAM file cache.
SERVER_DEFAULTS = {"ct6e-standard-1t": ("8", "40Gi"), "ct6e-standard-4t": ("40", "200Gi"), "ct6e-standard-8t": ("80", "400Gi")}


@lru_cache(maxsize=None)
def allocatable(machine: str) -> tuple[int, int]:
    """(millicores, MiB) a GKE Standard node of ``machine`` offers pods: capacity minus GKE's reservation for the
    kubelet and system daemons, minus the 100 MiB eviction threshold (GKE "Plan GKE Standard node sizes":
    https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes)."""
    cores, gib = MACHINES[machine]
    cpu_reserved = 0.0
    for i in range(cores):  # 6% of the 1st core, 1% of the 2nd, 0.5% of the 3rd-4th, 0.25% of every core above 4
        cpu_reserved += 60 if i == 0 else 10 if i == 1 else 5 if i < 4 else 2.5
    mem_mi = gib * 1024
    reserved = 0.0
    left = mem_mi
    for size, share in ((4096, 0.25), (4096, 0.20), (8192, 0.10), (114688, 0.06), (float("inf"), 0.02)):
        part = min(left, size)
        reserved += part * share
        left -= part
        if left <= 0:
            break
    return cores * 1000 - int(round(cpu_reserved)), int(mem_mi - reserved - 100)


# GKE's per-node daemons on a Standard node with Dataplane V2, Managed Prometheus, GCS FUSE CSI and Workload
# Identity (fluentbit-gke, gke-metadata-server, gke-metrics-agent, pdcsi-node, gcsfusecsi-node, collector, anetd):
# about 265m / 615Mi measured on GKE nodes plus anetd, rounded up. An estimate, kept on the safe side.
GKE_DAEMONS = (400, 800)  # millicores, MiB per node
# Cluster-wide GKE system pods that run on the non-TPU pool (kube-dns x2, its autoscaler, konnectivity agents,
# metrics-server, the GMP operator, event exporter): rounded-up estimate.
GKE_SYSTEM_PODS = (1000, 1536)
# The Cloud Storage FUSE sidecar GKE injects (gke-gcsfuse-sidecar, a native sidecar since 1.29): requests stay at
# 250m / 256Mi / 5Gi when the gke-gcsfuse/*-limit annotations are "0" (gcs-fuse-csi-driver pkg/webhook/config.go).
FUSE_SIDECAR_REQUESTS = {"cpu": "250m", "memory": "256Mi", "ephemeral-storage": "5Gi"}
# Google Cloud health-check probe ranges (Cloud Load Balancing "Firewall rules").
HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22")

# Weights of known models in GiB (bf16 safetensors), to size the loader's scratch disk and the RAM file cache.
MODEL_SIZES_GI = {"gemma-3-1b": 2, "gemma-3-4b": 9, "gemma-3-12b": 23, "gemma-3-27b": 52}


def model_size_gi(name: str) -> int | None:
    last = name.rsplit("/", 1)[-1].lower()
    return next((size for prefix, size in MODEL_SIZES_GI.items() if last.startswith(prefix)), None)


# Namespaces a fleet may not take: Kubernetes' own and those GKE, Managed Prometheus and Config Sync manage.
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
SYSTEM_NAMESPACE_PREFIXES = ("kube-", "gke-", "gmp-", "config-management-", "cnrm-", "istio-", "asm-", "anthos-")

# Routing API profiles: InferenceObjective group/version and the endpoint picker that reads it.
PROFILES = {
    "gke": {
        "objective_api_version": "inference.networking.x-k8s.io/v1alpha2",
        "objective_group": "inference.networking.x-k8s.io",
        "picker_image": "registry.k8s.io/gateway-api-inference-extension/epp:v1.5.0",
        "config_api_version": "inference.networking.x-k8s.io/v1alpha1",
    },
    "llm-d": {
        "objective_api_version": "llm-d.ai/v1alpha2",
        "objective_group": "llm-d.ai",
        "picker_image": "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0",
        "config_api_version": "llm-d.ai/v1alpha1",
    },
}

# Ports and labels the charts, the infra and the reports share (kept here so the GCP side and the reports need no
# cdk8s): the vLLM port (the pool's target port), the endpoint picker's ext-proc, gRPC health and metrics ports.
MODEL_PORT = 8000
EXT_PROC_PORT = 9002
HEALTH_PORT = 9003
METRICS_PORT = 9090
MODEL_CLIENT_LABEL = "inference-fleet.dev/model-client"  # pods with it may call the model servers directly
CURL_IMAGE = "curlimages/curl:8.11.1"  # the helm test and the drill clients

# The Cloud SDK image the weights loader checks and uploads with (slim variant: gcloud storage and a shell).
CLOUD_SDK_IMAGE = "gcr.io/google.com/cloudsdktool/google-cloud-cli:578.0.0-slim"

@dataclass(frozen=True)
class Floor:
    """The lowest GKE version a feature works at: a floor to check, never a version to create clusters at (release
    channels drop patches within months; Config Connector sends spec.minMasterVersion as the create version)."""

    feature: str  # what needs it, as plan prints it
    version: str
    source: str  # where the fact comes from
    checked: str  # when it was last checked against its source (YYYY-MM)


# Every floor the generated fleet can rely on; floors_for picks those a fleet uses.
VERSION_FLOORS = {
    "dranet": Floor("managed DRANET (DeviceClass netdev.google.com, Standard)", "1.34.1-gke.1829001",
                    "GKE docs: Set up managed DRANET", "2026-12"),
    "mc-inference-gateway": Floor("the multi-cluster Inference Gateway", "1.34.1-gke.1127000",
                                  "GKE docs: Deploy a multi-cluster Inference Gateway", "2026-12"),
    "compute-class-autocreation": Floor("ComputeClass nodePoolAutoCreation without node auto-provisioning",
                                        "1.33.3-gke.1136000", "GKE docs: About custom ComputeClasses (as summarised by a third party)", "2026-12"),
    "autoscaling-metric-pod-shape": Floor("the AutoscalingMetric pod shape (routing.metricShape: pod)", "1.35.1-gke.1396000",
                                          "GKE docs: multi-cluster gateway custom metrics", "2026-12"),
}
# The floor every fleet needs (the whole stack: managed DRANET on Standard is the highest of the always-used floors).
GKE_MIN_VERSION = VERSION_FLOORS["dranet"].version


def floors_for(pod_metric_shape: bool) -> list[Floor]:
    """The floors of the features a fleet uses, highest first (pod_metric_shape: any model's routing.metricShape is pod)."""
    needs = ["dranet", "mc-inference-gateway", "compute-class-autocreation"]
    if pod_metric_shape:
        needs.append("autoscaling-metric-pod-shape")
    return sorted((VERSION_FLOORS[n] for n in needs), key=lambda f: version_key(f.version), reverse=True)


# What a release channel offers changes every week: the command that shows it today, per region.
SERVER_CONFIG = ("gcloud container get-server-config --location={region} --project={project} --flatten=channels "
                 "--filter=channels.channel={channel} --format='value(channels.defaultVersion)'")


def version_key(v: str) -> tuple[int, ...]:
    """Order GKE versions like 1.34.1-gke.1829001."""
    import re

    return tuple(int(x) for x in re.findall(r"[0-9]+", v))

# Container image references: [registry[:port]/]path[:tag][@sha256:digest]. One definition for the loader, the
# charts' values schema and the security rule.
IMAGE_PATTERN = (r"^(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9._/-]+(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
                 r"(?:@sha256:[a-f0-9]{64})?$")
# Tags that move under a running fleet: regions could run different code.
MOVING_TAGS = frozenset({"latest", "nightly", "main", "master", "edge", "dev", "stable"})


# The same rule for JSON Schema (the charts' values.schema.json): a tag or a digest, and no moving tag unless a digest
# pins it. RE2-compatible (Helm's schema validator has no lookahead).
PINNED_IMAGE_SCHEMA = {
    "allOf": [{"pattern": r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$"}],
    "not": {"pattern": ":(" + "|".join(sorted(MOVING_TAGS)) + ")$"},
}


def image_pin_problem(image: str) -> str | None:
    """Why ``image`` is not a pinned reference, or None when it is."""
    import re

    if not re.fullmatch(IMAGE_PATTERN[1:-1], image):
        return f"{image!r} is not an image reference (registry/repository:tag or @sha256:digest)"
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    if not tag:
        return f"{image!r} has no tag; pin a release tag or a digest"
    if tag in MOVING_TAGS:
        return f"{image!r} uses the moving tag {tag!r}; pin a release tag or a digest so regions cannot drift"
    return None


def image_version(image: str) -> tuple[int, ...] | None:
    """The release of an image tagged vX.Y.Z (or X.Y.Z), or None for digests and other tags."""
    import re

    if "@" in image:
        return None
    m = re.fullmatch(r"v?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?", image.rsplit("/", 1)[-1].partition(":")[2])
    return None if m is None else tuple(int(x or 0) for x in m.groups())


# What the model server's pods hold of their own, which server.extensions may not set again (the constructs assert
# their output stays within these).
SERVER_POD_LABELS = frozenset({"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
                               "app.kubernetes.io/part-of", "inference-fleet.dev/generated-by",
                               "inference.networking.k8s.io/engine-type", "inference-fleet-pool"})
SERVER_ANNOTATION_PREFIX = "gke-gcsfuse/"  # the Cloud Storage FUSE driver's sidecar settings
SERVER_VOLUMES = frozenset({"model", "dshm", "xla-cache", "gke-gcsfuse-cache"})  # and adapter-<n>
# Volume names the Cloud Storage FUSE driver gives a meaning of its own (its sidecar's cache, temp and buffer volumes).
FUSE_VOLUMES = frozenset({"gke-gcsfuse-cache", "gke-gcsfuse-tmp", "gke-gcsfuse-buffer"})
SERVER_MOUNT_PATHS = ("/model", "/dev/shm", "/xla-cache", "/adapters")
SERVER_CONTAINERS = frozenset({"vllm", "wait-for-weights", "wait-for-adapters", "gke-gcsfuse-sidecar"})
SERVER_ENV = frozenset({"VLLM_XLA_CACHE_PATH"})
