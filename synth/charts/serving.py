"""The serving chart of one model: everything a serving cluster runs for it (model server, FUSE volume, DRANET
claim, ComputeClass, pool, endpoint picker, objectives, metric export, weights loader). A fleet with several models
has one such chart per model, installed side by side in the same namespace."""

from __future__ import annotations

import copy
import hashlib

import cdk8s

from ..config import catalog
from ..config.model import Cluster, Fleet, GcsSource, HuggingFaceSource, Rollout, ServedModel
from ..constructs.base import ManifestChart, raw_object
from ..constructs.dranet import DranetClaim
from ..constructs.gcs_fuse import GcsFuseModelVolume
from ..constructs.model_server import PORT, STARTUP_PERIOD, ModelServer, ModelServerProps
from ..constructs.helm_test import CompletionTest
from ..constructs.network_policy import ModelServerNetworkPolicy, PickerNetworkPolicy
from ..constructs.compute_class import AcceleratorComputeClass, gpu_priorities, priorities
from ..constructs.weights_loader import WeightsLoader
from ..constructs.routing import (
    EXT_PROC_PORT,
    HEALTH_PORT,
    METRICS_PORT,
    EndpointPicker,
    InferencePool,
    KvCacheMetric,
    Objectives,
    PickerMonitoring,
    RoutingProps,
)
from ..template import Truthy, ref
from ..values import DNS_LABEL, QUANTITY, Group, Leaf, ValuesSpec, array, boolean, integer, number, string

CIDR_PATTERN = "^([0-9]{1,3}\\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$"
# The ComputeClass priority fields the chart emits (strict: anything else is a values error).
_OPTION_FIELDS = {
        "spot": {"type": "boolean"},
        "flexStart": {"type": "object", "additionalProperties": False, "properties": {"enabled": {"type": "boolean"}}},
        "location": {"type": "object", "additionalProperties": False,
                     "properties": {"zones": {"type": "array", "items": {"type": "string"}, "minItems": 1}}},
        "reservations": {"type": "object", "additionalProperties": False, "required": ["affinity", "specific"],
                         "properties": {"affinity": {"type": "string", "enum": ["Specific"]},
                                        "specific": {"type": "array", "minItems": 1, "items": {
                                            "type": "object", "additionalProperties": False, "required": ["name"],
                                            "properties": {"name": {"type": "string"}, "project": {"type": "string"},
                                                           "zones": {"type": "array", "items": {"type": "string"}}}}}}},
}
GPU_PRIORITY_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["machineType", "gpu"],
    "properties": {
        "machineType": {"type": "string", "enum": sorted(catalog.GPU_MACHINES)},
        "gpu": {"type": "object", "additionalProperties": False, "required": ["type", "count"],
                "properties": {"type": {"type": "string", "enum": sorted({t for t, _ in catalog.GPU_MACHINES.values()})},
                               "count": {"type": "integer", "enum": sorted({n for _, n in catalog.GPU_MACHINES.values()})},
                               "driverVersion": {"type": "string", "enum": ["default", "latest"]}}},
        **_OPTION_FIELDS,
    },
}
PRIORITY_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["machineType", "tpu"],
    "properties": {
        "machineType": {"type": "string", "enum": sorted(catalog.MACHINE_CHIPS)},
        "tpu": {"type": "object", "additionalProperties": False, "required": ["type", "count", "topology"],
                "properties": {"type": {"type": "string", "enum": [catalog.TPU_ACCELERATOR]},
                               "count": {"type": "integer", "enum": sorted(set(catalog.TOPOLOGY_CHIPS.values()))},
                               "topology": {"type": "string", "enum": sorted(catalog.TOPOLOGY_CHIPS)}}},
        "acceleratorNetworkProfile": {"type": "string", "enum": ["auto"]},
        **_OPTION_FIELDS,
    },
}
# The per-pod label the AutoscalingMetric pod shape selects on (its label names may not contain "." or "/").
METRIC_POD_LABEL = "inference-fleet-pool"


def spec_for(kind: str) -> ValuesSpec:
    """The values of a model's serving chart; ``kind`` is its accelerator ("tpu" or "gpu")."""
    tpu = kind == "tpu"
    return ValuesSpec(
        Group({
            "namespace": Group({
                "name": string("Namespace of every object; identical in every cluster (pools match by name and namespace).", **DNS_LABEL),
                "create": boolean("Render the Namespace. Default false: the runbook creates it (with the token Secret) before `helm install`, and Helm refuses to adopt an object it did not create; `helm install --create-namespace` also makes it. The overlays always carry it."),
            }),
            "model": Group({
                "name": string("Name clients send in the OpenAI `model` field.", minLength=1, maxLength=128),
                "bucket": string("Cloud Storage bucket with the weights (one in the cluster's region).", pattern="^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$"),
                "path": string("Folder inside the bucket, mounted alone (only-dir).", pattern="^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$"),
                "maxModelLen": integer("vLLM --max-model-len.", minimum=256, maximum=131072),
            }),
            "server": Group({
                "image": string(f"vLLM {'TPU' if tpu else 'GPU'} image, pinned by tag or digest.", pattern=catalog.IMAGE_PATTERN, **catalog.PINNED_IMAGE_SCHEMA),
                "replicas": integer(f"Replicas (one {'TPU' if tpu else 'GPU'} node each) when autoscaling is off.", minimum=1, maximum=64),
                "cpu": string("CPU request of the vLLM container.", **QUANTITY),
                "memory": string("Memory request and limit of the vLLM container.", **QUANTITY),
                "gpuMemoryUtilization": number(f"vLLM --gpu-memory-utilization (fraction of {'TPU HBM' if tpu else 'GPU memory'}).", exclusiveMinimum=0, maximum=1),
                "startupFailureThreshold": integer(f"Start-up probe tries, {STARTUP_PERIOD} s apart: the time allowed for loading weights and XLA compilation.", minimum=60, maximum=720),
                "progressDeadlineSeconds": integer("Deployment progress deadline: TPU or GPU node creation plus the start-up probe's budget (Argo CD marks a Deployment Degraded past it).", minimum=600, maximum=43200),
                "terminationGracePeriodSeconds": integer("Time to finish in-flight requests on shutdown.", minimum=30, maximum=3600),
                "extraArgs": array("Additional vLLM arguments.", {"type": "string", "pattern": "^--[a-z0-9-]+(=.*)?$"}, maxItems=32),
                "zone": string(f"Zone of the {'TPU' if tpu else 'GPU'} node pool.", pattern="^[a-z]+-[a-z]+[0-9]+-[a-z0-9]+$"),
                "computeClass": string(f"ComputeClass the {'TPU' if tpu else 'GPU'} nodes come from (nodeSelector cloud.google.com/compute-class).", **DNS_LABEL),
                "rollout": Group({
                    "maxSurge": integer(f"Extra pods during an update (each needs a whole {'TPU' if tpu else 'GPU'} node).", minimum=0, maximum=16),
                    "maxUnavailable": integer("Pods down at once during an update; the region keeps the rest serving.", minimum=0, maximum=16),
                }),
                **({"tpu": Group({
                    "accelerator": string("Node label cloud.google.com/gke-tpu-accelerator.", enum=[catalog.TPU_ACCELERATOR]),
                    "topology": string("Node label cloud.google.com/gke-tpu-topology.", enum=sorted(catalog.TOPOLOGY_CHIPS)),
                    "chips": integer("Chips per node: google.com/tpu request and --tensor-parallel-size.", enum=sorted(set(catalog.TOPOLOGY_CHIPS.values()))),
                })} if tpu else {"gpu": Group({
                    "type": string("Node label cloud.google.com/gke-accelerator.", enum=sorted({t for t, _ in catalog.GPU_MACHINES.values()})),
                    "count": integer("GPUs per replica: nvidia.com/gpu request and --tensor-parallel-size.", enum=sorted({n for _, n in catalog.GPU_MACHINES.values()})),
                })}),
                "autoscaling": Group({
                    "enabled": boolean("Run an HPA on vLLM's queue depth instead of fixed replicas."),
                    "minReplicas": integer("Fewest replicas.", minimum=1, maximum=64),
                    "maxReplicas": integer("Most replicas.", minimum=1, maximum=64),
                    "queueDepthTarget": integer("Average waiting requests per replica that triggers a scale-out.", minimum=1, maximum=1000),
                }),
                "dranet": Group({
                    "enabled": boolean("Claim the node's extra NICs through GKE managed DRANET."),
                    "deviceClass": string("DeviceClass of the NICs.", enum=["netdev.google.com", "mrdma.google.com"]),
                }),
                "gcsFuse": Group({
                    "cpuLimit": string("gke-gcsfuse/cpu-limit (\"0\" = unlimited, GKE Standard only).", pattern="^(0|[0-9]+m?)$"),
                    "memoryLimit": string("gke-gcsfuse/memory-limit.", pattern="^(0|[0-9]+(Mi|Gi))$"),
                    "ephemeralStorageLimit": string("gke-gcsfuse/ephemeral-storage-limit.", pattern="^(0|[0-9]+(Mi|Gi))$"),
                }),
                "extensions": extension_values(),
            }),
            f"{kind}Capacity": Group({
                "enabled": boolean(f"Emit the ComputeClass GKE creates the {'TPU' if tpu else 'GPU'} node pools from (off when the pool is created by hand)."),
                "nodeServiceAccount": string(f"Google service account of the {'TPU' if tpu else 'GPU'} nodes (least privilege; writes the balancing metrics).",
                                             pattern="^[a-z][-a-z0-9]{4,28}[a-z0-9]@[a-z][-a-z0-9]{4,28}[a-z0-9]\\.iam\\.gserviceaccount\\.com$"),
                "priorities": array("ComputeClass priorities, tried in order (one per capacity option).", PRIORITY_SCHEMA if tpu else GPU_PRIORITY_SCHEMA, minItems=1, maxItems=8),
            }),
            "routing": Group({
                "failureMode": string("What the gateway does when the picker does not answer.", enum=["FailOpen", "FailClose"]),
                "pickerImage": string("Endpoint-picker image, pinned.", pattern=catalog.IMAGE_PATTERN, **catalog.PINNED_IMAGE_SCHEMA),
                "pickerReplicas": integer("Endpoint-picker replicas (active-passive above 1).", minimum=1, maximum=5),
                "pickerNodePool": string("Node pool the picker runs on (the system pool).", **DNS_LABEL),
                "pickerResources": Group({
                    "cpu": string("CPU request (no limit).", **QUANTITY),
                    "memory": string("Memory request.", **QUANTITY),
                    "memoryLimit": string("Memory limit.", **QUANTITY),
                }),
                "pickerRollout": Group({
                    "maxSurge": integer("Extra picker pods during an update.", minimum=0, maximum=16),
                    "maxUnavailable": integer("Picker pods down at once during an update.", minimum=0, maximum=16),
                }),
                "exportKvCacheMetric": boolean("Export vLLM KV-cache utilisation for CUSTOM_METRICS balancing (AutoscalingMetric)."),
                "metricShape": string("AutoscalingMetric shape: endpoints (GKE >= 1.34.1-gke.1127000) or pod (GKE >= 1.35.1-gke.1396000).", enum=["endpoints", "pod"]),
                "objectives": array("InferenceObjectives (clients send x-gateway-inference-objective: <name>).", {
                    "type": "object", "additionalProperties": False, "required": ["name", "priority"],
                    "properties": {"name": {"type": "string", **DNS_LABEL}, "priority": {"type": "integer"}},
                }, maxItems=16),
            }),
            "networkPolicy": Group({
                "enabled": boolean("Admit traffic to the model servers and the picker only on the paths the gateway, the picker and metrics scraping use."),
                "proxySubnets": array("CIDRs of every serving region's GLOBAL_MANAGED_PROXY proxy-only subnet.", {"type": "string", "pattern": CIDR_PATTERN}, minItems=1),
                "healthCheckRanges": array("Google Cloud health-check probe ranges.", {"type": "string", "pattern": CIDR_PATTERN}, minItems=1),
            }),
            "weights": Group({
                "loader": Group({
                    "enabled": boolean("Run the Job that copies the weights into this cluster's bucket (skips a complete bucket)."),
                }),
                "helmHooks": boolean("Make the loader's service account and Job Helm pre-install/pre-upgrade hooks, which `helm install --wait` waits for. Set false where a GitOps tool renders the chart (Argo CD Helm source, Config Sync sourceType helm): they order the loader by sync wave or depends-on, and Argo CD would re-create hooks on every sync."),
                "jobId": string("Hash of what the loader's pod template is made from (source, bucket, path, images, scratch, node pool): part of the Job's name, so any change is a new Job (a Job's template is immutable).", pattern="^[a-f0-9]{10}$"),
                "sourceKind": string("Where the weights come from.", enum=["huggingface", "gcs", "none"]),
                "sourceId": string("What the bucket's marker object records (hf://REPO@REVISION or gs://...).", maxLength=512),
                "repo": string("Hugging Face repository id.", maxLength=96),
                "revision": string("Hugging Face commit sha.", pattern="^([0-9a-f]{40})?$"),
                "tokenSecret": string("Secret with the Hugging Face token (you create it; optional for public repositories).", **DNS_LABEL),
                "tokenKey": string("Key of the token in that Secret.", pattern="^[-._a-zA-Z0-9]+$"),
                "sourceUri": string("Cloud Storage source (gcs).", pattern="^(gs://.+)?$"),
                "sdkImage": string("Cloud SDK image of the check and upload steps, pinned.", pattern=catalog.IMAGE_PATTERN, **catalog.PINNED_IMAGE_SCHEMA),
                "scratch": string("Scratch disk for the download (the weights plus headroom).", **QUANTITY),
            }),
            "tests": Group({
                "enabled": boolean("Render the `helm test` pod that asks the model for a completion."),
            }),
        }),
        title="serving chart values",
    )


_POD_ANNOTATION_PREFIX = catalog.SERVER_ANNOTATION_PREFIX  # server.extensions may not set these (a key twice is a YAML error to Helm)


def extension_values() -> Group:
    """``server.extensions``: the fleet file's schema of each addition (one statement of the rules), with what the
    chart itself guarantees on top — sidecars locked down, labels and annotations apart from the template's own."""
    from ..config.loader import fleet_schema

    props = copy.deepcopy(fleet_schema()["definitions"]["extensions"]["properties"])
    sidecar = props["sidecars"]["items"]
    sidecar["required"] = sorted({*sidecar["required"], "securityContext"})
    sc = sidecar["properties"]["securityContext"]
    sc["properties"].update({"allowPrivilegeEscalation": {"const": False},
                             "capabilities": {"type": "object", "additionalProperties": False, "required": ["drop"],
                                              "properties": {"drop": {"type": "array", "contains": {"const": "ALL"},
                                                                      "items": {"type": "string"}}}},
                             "seccompProfile": {"type": "object", "additionalProperties": False, "required": ["type"],
                                                "properties": {"type": {"const": "RuntimeDefault"}}}})
    sc["required"] = ["allowPrivilegeEscalation", "capabilities", "seccompProfile"]
    props["podAnnotations"]["propertyNames"]["not"] = {"pattern": f"^{_POD_ANNOTATION_PREFIX}"}
    # What the fleet rule `extensions` refuses by name, for values given straight to Helm.
    props["env"]["not"] = {"contains": {"type": "object", "required": ["name"],
                                        "properties": {"name": {"enum": sorted(catalog.SERVER_ENV)}}}}
    props["volumes"]["not"] = {"contains": {"type": "object", "required": ["name"], "properties": {"name": {
        "anyOf": [{"enum": sorted(catalog.SERVER_VOLUMES | catalog.FUSE_VOLUMES)}, {"pattern": "^adapter-"}]}}}}
    props["sidecars"]["not"] = {"contains": {"type": "object", "required": ["name"],
                                             "properties": {"name": {"enum": sorted(catalog.SERVER_CONTAINERS)}}}}
    props["podLabels"]["propertyNames"]["not"] = {"enum": sorted(RESERVED_POD_LABELS)}
    fields = {}
    for key, schema in props.items():
        schema.pop("default", None)
        doc = schema.pop("description")
        fields[key] = Leaf(schema, doc)
    return Group(fields, "Additions to the model server's pods (fleet file server.extensions).")


RESERVED_POD_LABELS = catalog.SERVER_POD_LABELS
SPEC = spec_for("tpu")


def server_selector(served: ServedModel) -> dict:
    return {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": served.pool,
            "app.kubernetes.io/component": "model-server"}


def common_labels(fleet: Fleet) -> dict:
    return {"app.kubernetes.io/part-of": fleet.name, "inference-fleet.dev/generated-by": "inference-fleet"}


def values(fleet: Fleet, served: ServedModel, cluster: Cluster | None) -> dict:
    """Values of ``served``'s chart for one cluster, or the chart defaults (fleet-wide settings) when ``cluster`` is
    None."""
    srv, rt = served.server, served.routing
    place = served.placement(cluster) if cluster else served.placements[0]
    assert place is not None, f"{served.pool} does not run in {cluster.name if cluster else '?'}"
    c = place.cluster
    bucket = cluster.bucket if cluster else (served.model.bucket or c.bucket)
    subnets = list(dict.fromkeys(x.proxy_subnet for x in fleet.serving_clusters if x.proxy_subnet))
    acc = srv.accelerator
    # The first model a cluster serves owns the Namespace (each model is its own Helm release).
    first = (fleet.models_in(cluster) if cluster else fleet.models)[0]
    server = {
        "image": srv.image,
        "replicas": place.replicas if cluster else srv.replicas,
        "cpu": srv.cpu,
        "memory": srv.memory,
        "gpuMemoryUtilization": srv.gpu_memory_utilization,
        "startupFailureThreshold": -(-srv.startup_timeout_seconds // STARTUP_PERIOD),
        "progressDeadlineSeconds": progress_deadline(served),
        "terminationGracePeriodSeconds": srv.termination_grace_period_seconds,
        "extraArgs": list(srv.extra_args),
        "zone": c.zone,
        "computeClass": served.compute_class,
        "rollout": _rollout(srv.rollout or Rollout.automatic(place.fewest_replicas(srv.autoscaling.enabled))),
    }
    if srv.tpu is not None:
        server["tpu"] = {"accelerator": acc.accelerator, "topology": acc.topology, "chips": acc.chips}
        prio = priorities(machine_type=acc.machine_type, accelerator=acc.accelerator, chips=acc.chips,
                          topology=acc.topology, zone=c.zone, project=fleet.project.id, capacity=place.capacity,
                          dranet=srv.dranet.enabled)
    else:
        server["gpu"] = {"type": acc.type, "count": acc.count}
        prio = gpu_priorities(machine_type=acc.machine_type, gpu_type=acc.type, count=acc.count,
                              driver_version=acc.driver_version, zone=c.zone, project=fleet.project.id,
                              capacity=place.capacity)
    server.update({
        "autoscaling": {
            "enabled": srv.autoscaling.enabled,
            "minReplicas": place.min_replicas if cluster else srv.autoscaling.min_replicas,
            "maxReplicas": place.max_replicas if cluster else srv.autoscaling.max_replicas,
            "queueDepthTarget": srv.autoscaling.queue_depth_target,
        },
        "dranet": {"enabled": srv.dranet.enabled, "deviceClass": srv.dranet.device_class},
        "gcsFuse": {
            "cpuLimit": srv.gcs_fuse.cpu_limit,
            "memoryLimit": srv.gcs_fuse.memory_limit,
            "ephemeralStorageLimit": srv.gcs_fuse.ephemeral_storage_limit,
        },
        "extensions": srv.extensions.values(),
    })
    return {
        "namespace": {"name": fleet.namespace, "create": False},
        "model": {
            "name": served.model.name,
            "bucket": bucket,
            "path": served.model.path,
            "maxModelLen": served.model.max_model_len,
        },
        "server": server,
        f"{acc.kind}Capacity": {
            "enabled": True,
            "nodeServiceAccount": fleet.node_service_account,
            "priorities": prio,
        },
        "routing": {
            "failureMode": rt.failure_mode,
            "pickerImage": rt.picker_image,
            "pickerReplicas": rt.picker_replicas,
            "pickerNodePool": fleet.system_pool.name,
            "pickerResources": {"cpu": rt.picker_cpu, "memory": rt.picker_memory,
                                "memoryLimit": double_quantity(rt.picker_memory)},
            "pickerRollout": _rollout(rt.picker_rollout or Rollout.automatic(rt.picker_replicas)),
            "exportKvCacheMetric": fleet.gateway.balancing_mode == "CUSTOM_METRICS",
            "metricShape": rt.metric_shape,
            "objectives": [{"name": n, "priority": o.priority} for n, o in zip(fleet.objective_names(served), rt.objectives)],
        },
        "networkPolicy": {"enabled": True, "proxySubnets": subnets, "healthCheckRanges": list(catalog.HEALTH_CHECK_RANGES)},
        "weights": weights_values(served, bucket, fleet.system_pool.name),
        "tests": {"enabled": True},
    }


def progress_deadline(served: ServedModel) -> int:
    """Seconds a new model-server pod may take to become ready: a node from the ComputeClass, then the start-up
    probe's budget (weights over FUSE and compilation)."""
    from ..bringup.timeline import node_provisioning_seconds

    return node_provisioning_seconds(served) + served.server.startup_timeout_seconds


def legacy_kv_metric(fleet: Fleet, served: ServedModel) -> bool:
    """Export the pre-0.10.2 gauge too, except with several models whose image is known to be newer (a cluster
    exports at most 10 metrics, two per model otherwise)."""
    version = catalog.image_version(served.server.image)
    return not fleet.several or version is None or version < (0, 10, 2)


def _rollout(r: Rollout) -> dict:
    return {"maxSurge": r.max_surge, "maxUnavailable": r.max_unavailable}


def double_quantity(q: str) -> str:
    number = "".join(ch for ch in q if ch.isdigit())
    return f"{int(number) * 2}{q[len(number):]}"


def weights_values(served: ServedModel, bucket: str, node_pool: str) -> dict:
    """The loader's values. Its Job name carries a hash of everything its pod template is rendered from (source,
    destination, images, scratch size, node pool): a Job's template is immutable, so any change is a new Job that
    GitOps tools create beside the finished one, never an update they would be refused."""
    model = served.model
    src = model.source
    kind = "none" if src is None else ("gcs" if isinstance(src, GcsSource) else "huggingface")
    source_id = "" if src is None else (src.uri if isinstance(src, GcsSource) else f"hf://{src.repo}@{src.revision}")
    hf = src if isinstance(src, HuggingFaceSource) else None
    return {
        "loader": {"enabled": model.loader and src is not None},
        "helmHooks": True,
        "jobId": hashlib.sha256("\0".join((source_id, bucket, model.path, catalog.CLOUD_SDK_IMAGE, served.server.image,
                                            f"{model.size_gi + 4}Gi", node_pool)).encode()).hexdigest()[:10],
        "sourceKind": kind,
        "sourceId": source_id,
        "repo": hf.repo if hf else "",
        "revision": hf.revision if hf else "",
        "tokenSecret": hf.token_secret if hf else "hf-token",
        "tokenKey": hf.token_key if hf else "token",
        "sourceUri": src.uri if isinstance(src, GcsSource) else "",
        "sdkImage": catalog.CLOUD_SDK_IMAGE,
        "scratch": f"{model.size_gi + 4}Gi",
    }


def build(app: cdk8s.App, fleet: Fleet, served: ServedModel) -> ManifestChart:
    chart = ManifestChart(app, f"serving-{served.pool}")
    ns = ref("namespace.name")
    labels = common_labels(fleet)
    name = served.server_name
    selector = server_selector(served)
    profile = catalog.PROFILES[served.routing.api_profile]
    kind = served.server.accelerator.kind
    tpu = kind == "tpu"
    adapters = tuple((a.name, a.path) for a in served.model.lora.adapters) if served.model.lora else ()

    namespace = raw_object(chart, "namespace", api_version="v1", kind="Namespace", name=ns, labels=labels)
    chart.emit(namespace, "namespace.yaml", when=Truthy("namespace.create"))

    member = fleet.workload_identity_member(ns, name)
    fuse = GcsFuseModelVolume(
        chart, "model-volume", name=name, namespace=ns, bucket=ref("model.bucket"), path=ref("model.path"),
        labels=labels, iam_member=member,
        sidecar_limits={"cpu": ref("server.gcsFuse.cpuLimit"), "memory": ref("server.gcsFuse.memoryLimit"),
                        "ephemeral-storage": ref("server.gcsFuse.ephemeralStorageLimit")},
    )
    dranet_on = Truthy("server.dranet.enabled")
    dranet = DranetClaim(chart, "dranet", name=f"{served.pool}-netdevs", namespace=ns, labels=labels,
                         device_class=ref("server.dranet.deviceClass"), when=dranet_on)
    pod_labels = {**selector, **labels, "inference.networking.k8s.io/engine-type": "vllm", METRIC_POD_LABEL: served.pool}
    assert set(pod_labels) <= RESERVED_POD_LABELS, sorted(set(pod_labels) - RESERVED_POD_LABELS)
    ModelServer(chart, "model-server", fuse=fuse, dranet=dranet, dranet_enabled=dranet_on, props=ModelServerProps(
        name=name, namespace=ns, labels=labels, selector=selector,
        pod_labels=pod_labels,
        image=ref("server.image"), model_name=ref("model.name"), max_model_len=ref("model.maxModelLen"),
        gpu_memory_utilization=ref("server.gpuMemoryUtilization"),
        chips=ref("server.tpu.chips" if tpu else "server.gpu.count"),
        replicas=ref("server.replicas"), cpu=ref("server.cpu"), memory=ref("server.memory"),
        startup_failure_threshold=ref("server.startupFailureThreshold"),
        termination_grace_seconds=ref("server.terminationGracePeriodSeconds"), zone=ref("server.zone"),
        accelerator=ref("server.tpu.accelerator" if tpu else "server.gpu.type"),
        topology=ref("server.tpu.topology") if tpu else "",
        extra_args_path="server.extraArgs", autoscaled=Truthy("server.autoscaling.enabled"),
        hpa_min=ref("server.autoscaling.minReplicas"), hpa_max=ref("server.autoscaling.maxReplicas"),
        hpa_queue_target=ref("server.autoscaling.queueDepthTarget"),
        max_surge=ref("server.rollout.maxSurge"), max_unavailable=ref("server.rollout.maxUnavailable"),
        compute_class=ref("server.computeClass"), bucket=ref("model.bucket"), model_path=ref("model.path"),
        loader=Truthy("weights.loader.enabled"), source_id=ref("weights.sourceId"),
        progress_deadline=ref("server.progressDeadlineSeconds"), accelerator_kind=kind, adapters=adapters,
        max_loras=served.model.lora.max_loras if served.model.lora else 1,
        max_lora_rank=served.model.lora.max_rank if served.model.lora else 16,
        extensions_path="server.extensions",
    ))
    capacity = f"{kind}Capacity"
    AcceleratorComputeClass(chart, "tpu-capacity" if tpu else "gpu-capacity", name=ref("server.computeClass"), labels=labels,
                            priorities_path=f"{capacity}.priorities", service_account=ref(f"{capacity}.nodeServiceAccount"),
                            dranet=dranet_on, when=Truthy(f"{capacity}.enabled"),
                            description=("TPU v6e capacity for the model servers, tried in order." if tpu else
                                         f"{served.server.accelerator.type} capacity for the model servers, tried in order."))
    WeightsLoader(chart, "weights-loader", name=served.loader_name, namespace=ns, labels=labels, job_id=ref("weights.jobId"),
                  bucket=ref("model.bucket"), model_path=ref("model.path"), source_id=ref("weights.sourceId"),
                  source_kind_path="weights.sourceKind", repo=ref("weights.repo"), revision=ref("weights.revision"),
                  token_secret=ref("weights.tokenSecret"), token_key=ref("weights.tokenKey"),
                  source_uri=ref("weights.sourceUri"), sdk_image=ref("weights.sdkImage"), server_image=ref("server.image"),
                  scratch=ref("weights.scratch"), node_pool=ref("routing.pickerNodePool"),
                  when=Truthy("weights.loader.enabled"), hooks=Truthy("weights.helmHooks"))
    routing = RoutingProps(
        pool=served.pool, namespace=ns, labels=labels, server_selector=selector, server_port=PORT,
        picker_image=ref("routing.pickerImage"), picker_replicas=ref("routing.pickerReplicas"),
        failure_mode=ref("routing.failureMode"), objectives_path="routing.objectives",
        objective_api_version=profile["objective_api_version"], objective_group=profile["objective_group"],
        config_api_version=profile["config_api_version"], kv_metric_enabled=Truthy("routing.exportKvCacheMetric"),
        picker_cpu=ref("routing.pickerResources.cpu"), picker_memory=ref("routing.pickerResources.memory"),
        picker_memory_limit=ref("routing.pickerResources.memoryLimit"),
        picker_max_surge=ref("routing.pickerRollout.maxSurge"), picker_max_unavailable=ref("routing.pickerRollout.maxUnavailable"),
        picker_node_pool=ref("routing.pickerNodePool"), metric_shape_path="routing.metricShape",
        metric_pod_label={METRIC_POD_LABEL: served.pool}, lora=bool(adapters),
        legacy_kv_metric=legacy_kv_metric(fleet, served),
    )
    picker = EndpointPicker(chart, "endpoint-picker", props=routing)
    picker_selector = EndpointPicker.selector(served.pool)
    InferencePool(chart, "inference-pool", props=routing, picker_service=picker.service_name)
    Objectives(chart, "objectives", props=routing)
    KvCacheMetric(chart, "kv-cache-metric", props=routing)
    PickerMonitoring(chart, "picker-monitoring", props=routing, selector=picker_selector)
    policies = Truthy("networkPolicy.enabled")
    ModelServerNetworkPolicy(chart, "network-policy", name=name, namespace=ns, labels=labels, server_selector=selector,
                             picker_selector=picker_selector, port=PORT, subnets_path="networkPolicy.proxySubnets",
                             health_path="networkPolicy.healthCheckRanges", kv_metric=Truthy("routing.exportKvCacheMetric"),
                             when=policies)
    PickerNetworkPolicy(chart, "picker-network-policy", name=picker.service_name, namespace=ns, labels=labels,
                        picker_selector=picker_selector, ext_proc=EXT_PROC_PORT, health=HEALTH_PORT, metrics=METRICS_PORT,
                        subnets_path="networkPolicy.proxySubnets", health_path="networkPolicy.healthCheckRanges",
                        when=policies)
    # Config Sync order (Argo CD uses the phases' sync waves, Helm the loader's hooks): servers after a complete
    # loader Job, the pool after its servers, objectives after their pool.
    chart.depend("deployment.yaml", "weights-job.yaml", Truthy("weights.loader.enabled"))
    chart.depend("inferencepool.yaml", "deployment.yaml")
    chart.depend("inferenceobjectives.yaml", "inferencepool.yaml")
    CompletionTest(chart, "helm-test", name=name, namespace=ns, labels=labels, service=name, port=PORT,
                   model=ref("model.name"), when=Truthy("tests.enabled"))
    return chart
