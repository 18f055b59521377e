"""The bring-up as a timeline: steps, each with what it waits for (a condition, the commands that wait, a timeout)
and how long it is expected to take, derived from the fleet.

Durations are estimates, not measurements: the rates below are stated with what they assume, and a step's timeout
is twice its estimate (at least ten minutes), so a wait that times out means something is wrong, not slow."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config.model import Fleet, HuggingFaceSource, ServedModel

GIB = 1024 ** 3

# Assumed rates and durations (seconds; rates in GiB/s). Change them here when measurements say otherwise.
HF_DOWNLOAD_GIB_S = 0.1  # Hugging Face download into the loader's scratch volume (~107 MB/s)
GCS_UPLOAD_GIB_S = 0.25  # gcloud storage rsync from the scratch volume or between buckets in one job
FUSE_READ_GIB_S = 1.0  # Cloud Storage FUSE with parallel downloads into the RAM file cache, at server start-up
XLA_COMPILE_S = 900  # vLLM on TPU: XLA compilation of every shape bucket (no persistent cache: see COMPILE_CACHE)
GPU_WARMUP_S = 180  # vLLM on GPU: CUDA graph capture and warm-up
TPU_NODE_S = 900  # a TPU v6e node from the ComputeClass: node pool creation, boot, TPU device plugin
GPU_NODE_S = 600  # a GPU node from the ComputeClass, with driver installation
CLUSTER_S = 1200  # a regional Standard cluster with its system node pool (Config Connector, in parallel)
CONFIG_CONTROLLER_S = 1200  # a Config Controller instance (full management)
FLEET_FEATURE_S = 600  # fleet ingress: the multi-cluster GatewayClass appears on the config cluster
GATEWAY_S = 900  # the cross-regional load balancer: forwarding rules, backends, health checks, Programmed
IMPORT_S = 600  # the config cluster imports a pool after every serving cluster exports it
MIN_TIMEOUT_S = 600

COMPILE_CACHE = ("The XLA compilation cache is per pod (an emptyDir): a shared cache on the bucket fails with more than "
                 "one writer, so every new pod compiles again; that is part of the time a region takes to serve again.")


@dataclass(frozen=True)
class Wait:
    condition: str  # what must hold before the next step
    commands: tuple[str, ...]  # commands that wait for it (each bounded by the timeout)
    timeout_s: int


@dataclass(frozen=True)
class Step:
    title: str
    commands: tuple[str, ...] = ()
    wait: Wait | None = None
    expected_s: int = 0
    checks: tuple[str, ...] = field(default=())  # what the lab checks here: "command   # what it shows"


def timeout(expected_s: int) -> int:
    return max(MIN_TIMEOUT_S, 2 * expected_s)


def minutes(seconds: int) -> str:
    m = -(-seconds // 60)
    return f"{m} min" if m < 120 else f"{m / 60:.1f} h".replace(".0 h", " h")


def weights_copy_seconds(served: ServedModel) -> int:
    """The loader's copy into one bucket: a Hugging Face download then an upload, or a bucket-to-bucket rsync."""
    size = served.model.size_gi
    if not served.model.loader or served.model.source is None:
        return 0
    if isinstance(served.model.source, HuggingFaceSource):
        return int(size / HF_DOWNLOAD_GIB_S + size / GCS_UPLOAD_GIB_S)
    return int(size / GCS_UPLOAD_GIB_S)


def node_provisioning_seconds(served: ServedModel) -> int:
    return TPU_NODE_S if served.server.accelerator.kind == "tpu" else GPU_NODE_S


def server_start_seconds(served: ServedModel) -> int:
    """vLLM start-up once its node exists: the weights over FUSE, then compilation (TPU) or warm-up (GPU)."""
    compile_s = XLA_COMPILE_S if served.server.accelerator.kind == "tpu" else GPU_WARMUP_S
    return int(served.model.size_gi / FUSE_READ_GIB_S) + compile_s


def time_to_serve(served: ServedModel) -> int:
    """From an empty region (the nodes gone) to a serving pod: failover capacity lost for this long."""
    return node_provisioning_seconds(served) + server_start_seconds(served)


def region_return(fleet: Fleet) -> list[dict]:
    """Per model: how long a region takes to serve again after its nodes are gone, and why."""
    out = []
    for m in fleet.models:
        out.append({"model": m.model.name, "seconds": time_to_serve(m),
                    "parts": {"nodes": node_provisioning_seconds(m), "weights": int(m.model.size_gi / FUSE_READ_GIB_S),
                              "compile": server_start_seconds(m) - int(m.model.size_gi / FUSE_READ_GIB_S)}})
    return out
