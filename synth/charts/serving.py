"""The serving chart: everything a serving cluster runs (model server, FUSE volume, DRANET claim, pool,
endpoint picker, objectives, metric export)."""

from __future__ import annotations

import cdk8s

from synth.config import catalog
from synth.config.model import Cluster, Fleet
from synth.constructs.base import ManifestChart, raw_object
from synth.constructs.dranet import DranetClaim
from synth.constructs.gcs_fuse import GcsFuseModelVolume
from synth.constructs.model_server import PORT, STARTUP_PERIOD, ModelServer, ModelServerProps
from synth.constructs.helm_test import CompletionTest
from synth.constructs.network_policy import ModelServerNetworkPolicy
from synth.constructs.routing import (
    EndpointPicker,
    InferencePool,
    KvCacheMetric,
    Objectives,
    PickerMonitoring,
    RoutingProps,
)
from synth.template import Truthy, ref
from synth.values import DNS_LABEL, QUANTITY, Group, ValuesSpec, array, boolean, integer, number, string

SPEC = ValuesSpec(
    Group({
        "namespace": Group({
            "name": string("Namespace of every object; identical in every cluster (pools match by name and namespace).", **DNS_LABEL),
            "create": boolean("Create the Namespace object (false when it already exists, e.g. `helm install --create-namespace`)."),
        }),
        "model": Group({
            "name": string("Name clients send in the OpenAI `model` field.", minLength=1, maxLength=128),
            "bucket": string("Cloud Storage bucket with the weights (one in the cluster's region).", pattern="^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$"),
            "path": string("Folder inside the bucket, mounted alone (only-dir).", pattern="^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$"),
            "maxModelLen": integer("vLLM --max-model-len.", minimum=256, maximum=131072),
        }),
        "server": Group({
            "image": string("vLLM TPU image, pinned by tag or digest.", pattern=catalog.IMAGE_PATTERN),
            "replicas": integer("Replicas (one TPU node each) when autoscaling is off.", minimum=1, maximum=64),
            "cpu": string("CPU request of the vLLM container.", **QUANTITY),
            "memory": string("Memory request and limit of the vLLM container.", **QUANTITY),
            "gpuMemoryUtilization": number("vLLM --gpu-memory-utilization (fraction of TPU HBM).", exclusiveMinimum=0, maximum=1),
            "startupFailureThreshold": integer(f"Start-up probe tries, {STARTUP_PERIOD} s apart: the time allowed for loading weights and XLA compilation.", minimum=60, maximum=720),
            "terminationGracePeriodSeconds": integer("Time to finish in-flight requests on shutdown.", minimum=30, maximum=3600),
            "extraArgs": array("Additional vLLM arguments.", {"type": "string", "pattern": "^--[a-z0-9-]+(=.*)?$"}, maxItems=32),
            "zone": string("Zone of the TPU node pool.", pattern="^[a-z]+-[a-z]+[0-9]+-[a-z0-9]+$"),
            "tpu": Group({
                "accelerator": string("Node label cloud.google.com/gke-tpu-accelerator.", enum=[catalog.TPU_ACCELERATOR]),
                "topology": string("Node label cloud.google.com/gke-tpu-topology.", enum=sorted(catalog.TOPOLOGY_CHIPS)),
                "chips": integer("Chips per node: google.com/tpu request and --tensor-parallel-size.", enum=sorted(set(catalog.TOPOLOGY_CHIPS.values()))),
            }),
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
        }),
        "routing": Group({
            "failureMode": string("What the gateway does when the picker does not answer.", enum=["FailOpen", "FailClose"]),
            "pickerImage": string("Endpoint-picker image, pinned.", pattern=catalog.IMAGE_PATTERN),
            "pickerReplicas": integer("Endpoint-picker replicas (active-passive above 1).", minimum=1, maximum=5),
            "exportKvCacheMetric": boolean("Export vLLM KV-cache utilisation for CUSTOM_METRICS balancing (AutoscalingMetric)."),
            "objectives": array("InferenceObjectives (clients send x-gateway-inference-objective: <name>).", {
                "type": "object", "additionalProperties": False, "required": ["name", "priority"],
                "properties": {"name": {"type": "string", **DNS_LABEL}, "priority": {"type": "integer"}},
            }, maxItems=16),
        }),
        "networkPolicy": Group({
            "enabled": boolean("Admit traffic to the model servers only from the proxy-only subnets, the picker and metrics scraping."),
            "proxySubnets": array("CIDRs of the regions' GLOBAL_MANAGED_PROXY proxy-only subnets.", {"type": "string", "pattern": "^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$"}),
        }),
        "tests": Group({
            "enabled": boolean("Render the `helm test` pod that asks the model for a completion."),
        }),
    }),
    title="serving chart values",
)


def server_selector(fleet: Fleet) -> dict:
    return {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": fleet.routing.pool_name,
            "app.kubernetes.io/component": "model-server"}


def common_labels(fleet: Fleet) -> dict:
    return {"app.kubernetes.io/part-of": fleet.name, "app.kubernetes.io/managed-by": "inference-fleet"}


def values(fleet: Fleet, cluster: Cluster | None) -> dict:
    """Values for one cluster, or the chart defaults (fleet-wide settings) when ``cluster`` is None."""
    srv = fleet.server
    first = fleet.serving_clusters[0]
    subnets = [c.proxy_subnet for c in fleet.clusters if c.proxy_subnet]
    return {
        "namespace": {"name": fleet.namespace, "create": True},
        "model": {
            "name": fleet.model.name,
            "bucket": cluster.bucket if cluster else fleet.model.bucket,
            "path": fleet.model.path,
            "maxModelLen": fleet.model.max_model_len,
        },
        "server": {
            "image": srv.image,
            "replicas": cluster.replicas if cluster else srv.replicas,
            "cpu": srv.cpu,
            "memory": srv.memory,
            "gpuMemoryUtilization": srv.gpu_memory_utilization,
            "startupFailureThreshold": -(-srv.startup_timeout_seconds // STARTUP_PERIOD),
            "terminationGracePeriodSeconds": srv.termination_grace_period_seconds,
            "extraArgs": list(srv.extra_args),
            "zone": (cluster or first).zone,
            "tpu": {"accelerator": srv.tpu.accelerator, "topology": srv.tpu.topology, "chips": srv.tpu.chips},
            "autoscaling": {
                "enabled": srv.autoscaling.enabled,
                "minReplicas": srv.autoscaling.min_replicas,
                "maxReplicas": cluster.max_replicas if cluster else srv.autoscaling.max_replicas,
                "queueDepthTarget": srv.autoscaling.queue_depth_target,
            },
            "dranet": {"enabled": srv.dranet.enabled, "deviceClass": srv.dranet.device_class},
            "gcsFuse": {
                "cpuLimit": srv.gcs_fuse.cpu_limit,
                "memoryLimit": srv.gcs_fuse.memory_limit,
                "ephemeralStorageLimit": srv.gcs_fuse.ephemeral_storage_limit,
            },
        },
        "routing": {
            "failureMode": fleet.routing.failure_mode,
            "pickerImage": fleet.routing.picker_image,
            "pickerReplicas": fleet.routing.picker_replicas,
            "exportKvCacheMetric": fleet.gateway.balancing_mode == "CUSTOM_METRICS",
            "objectives": [{"name": o.name, "priority": o.priority} for o in fleet.routing.objectives],
        },
        "networkPolicy": {"enabled": bool(subnets), "proxySubnets": subnets},
        "tests": {"enabled": True},
    }


def build(app: cdk8s.App, fleet: Fleet) -> ManifestChart:
    chart = ManifestChart(app, "serving")
    ns = ref("namespace.name")
    labels = common_labels(fleet)
    name = fleet.server_name
    selector = server_selector(fleet)
    profile = catalog.PROFILES[fleet.routing.api_profile]

    namespace = raw_object(chart, "namespace", api_version="v1", kind="Namespace", name=ns, labels=labels)
    chart.emit(namespace, "namespace.yaml", when=Truthy("namespace.create"))

    member = fleet.workload_identity_member(ns)
    fuse = GcsFuseModelVolume(
        chart, "model-volume", name=name, namespace=ns, bucket=ref("model.bucket"), path=ref("model.path"),
        labels=labels, iam_member=member,
        sidecar_limits={"cpu": ref("server.gcsFuse.cpuLimit"), "memory": ref("server.gcsFuse.memoryLimit"),
                        "ephemeral-storage": ref("server.gcsFuse.ephemeralStorageLimit")},
    )
    dranet_on = Truthy("server.dranet.enabled")
    dranet = DranetClaim(chart, "dranet", name=f"{fleet.routing.pool_name}-netdevs", namespace=ns, labels=labels,
                         device_class=ref("server.dranet.deviceClass"), when=dranet_on)
    ModelServer(chart, "model-server", fuse=fuse, dranet=dranet, dranet_enabled=dranet_on, props=ModelServerProps(
        name=name, namespace=ns, labels=labels, selector=selector,
        pod_labels={**selector, **labels, "inference.networking.k8s.io/engine-type": "vllm"},
        image=ref("server.image"), model_name=ref("model.name"), max_model_len=ref("model.maxModelLen"),
        gpu_memory_utilization=ref("server.gpuMemoryUtilization"), chips=ref("server.tpu.chips"),
        replicas=ref("server.replicas"), cpu=ref("server.cpu"), memory=ref("server.memory"),
        startup_failure_threshold=ref("server.startupFailureThreshold"),
        termination_grace_seconds=ref("server.terminationGracePeriodSeconds"), zone=ref("server.zone"),
        accelerator=ref("server.tpu.accelerator"), topology=ref("server.tpu.topology"),
        extra_args_path="server.extraArgs", autoscaled=Truthy("server.autoscaling.enabled"),
        hpa_min=ref("server.autoscaling.minReplicas"), hpa_max=ref("server.autoscaling.maxReplicas"),
        hpa_queue_target=ref("server.autoscaling.queueDepthTarget"),
    ))
    routing = RoutingProps(
        pool=fleet.routing.pool_name, namespace=ns, labels=labels, server_selector=selector, server_port=PORT,
        picker_image=ref("routing.pickerImage"), picker_replicas=ref("routing.pickerReplicas"),
        failure_mode=ref("routing.failureMode"), objectives_path="routing.objectives",
        objective_api_version=profile["objective_api_version"], objective_group=profile["objective_group"],
        config_api_version=profile["config_api_version"], kv_metric_enabled=Truthy("routing.exportKvCacheMetric"),
    )
    picker = EndpointPicker(chart, "endpoint-picker", props=routing)
    picker_selector = EndpointPicker.selector(fleet.routing.pool_name)
    InferencePool(chart, "inference-pool", props=routing, picker_service=picker.service_name)
    Objectives(chart, "objectives", props=routing)
    KvCacheMetric(chart, "kv-cache-metric", props=routing)
    PickerMonitoring(chart, "picker-monitoring", props=routing, selector=picker_selector)
    ModelServerNetworkPolicy(chart, "network-policy", name=name, namespace=ns, labels=labels, server_selector=selector,
                             picker_selector=picker_selector,
                             port=PORT, subnets_path="networkPolicy.proxySubnets", when=Truthy("networkPolicy.enabled"))
    CompletionTest(chart, "helm-test", name=name, namespace=ns, labels=labels, service=name, port=PORT,
                   model=ref("model.name"), when=Truthy("tests.enabled"))
    return chart
