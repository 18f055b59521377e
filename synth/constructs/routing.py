"""Per-cluster routing: the exported InferencePool, its endpoint picker, the InferenceObjectives and the
KV-cache metric export the load balancer balances on."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from ..config import catalog

from .base import ManifestChart, raw_object
from ..template import Cond, Equals, ForEach, Greater, item

EXT_PROC_PORT = catalog.EXT_PROC_PORT
HEALTH_PORT = catalog.HEALTH_PORT
METRICS_PORT = catalog.METRICS_PORT


@dataclass(frozen=True)
class RoutingProps:
    """pool:            InferencePool name, identical in every region (exported and imported by name).
    namespace:          value reference.
    labels:             labels of every object.
    server_selector:    the model-server pod labels the pool selects.
    server_port:        the model-server container port (the pool's only target port).
    picker_image, picker_replicas, failure_mode: value references.
    objectives_path:    values path of the [{name, priority}] list.
    objective_api_version, objective_group, config_api_version: by API profile (constants of the chart).
    kv_metric_enabled:  condition under which the AutoscalingMetric is emitted (CUSTOM_METRICS balancing).
    picker_cpu, picker_memory, picker_memory_limit: value references; requests sized for the system pool.
    picker_max_surge, picker_max_unavailable: value references (RollingUpdate).
    picker_node_pool:   value reference: the system node pool the picker runs on (cloud.google.com/gke-nodepool).
    metric_shape_path:  values path of the AutoscalingMetric shape ("endpoints" or "pod").
    metric_pod_label:   a pod label whose key has no "." or "/" (the pod shape's selector accepts only letters,
                        digits, "-" and "_" in label names).
    lora:               the model serves LoRA adapters: the picker also scores by adapter affinity (the
                        lora-affinity-scorer is not in its default profile; GIE v1.5.0 pkg/epp/config/loader/defaults.go).
                        Default False.
    legacy_kv_metric:   also export vLLM's pre-0.10.2 KV-cache gauge (as kv-cache-old). Default True.
    """

    pool: str
    namespace: str
    labels: dict
    server_selector: dict
    server_port: int
    picker_image: str
    picker_replicas: str
    failure_mode: str
    objectives_path: str
    objective_api_version: str
    objective_group: str
    config_api_version: str
    kv_metric_enabled: Cond
    picker_cpu: str
    picker_memory: str
    picker_memory_limit: str
    picker_max_surge: str
    picker_max_unavailable: str
    picker_node_pool: str
    metric_shape_path: str
    metric_pod_label: dict
    lora: bool = False
    legacy_kv_metric: bool = True


PICKER_CONFIG = "plugins.yaml"


class InferencePool(Construct):
    """The pool of model-server pods, exported to the fleet (``networking.gke.io/export: "True"``)."""

    def __init__(self, scope: Construct, id: str, *, props: RoutingProps, picker_service: str) -> None:
        super().__init__(scope, id)
        p = props
        obj = raw_object(self, "pool", api_version="inference.networking.k8s.io/v1", kind="InferencePool",
                         name=p.pool, namespace=p.namespace, labels=p.labels,
                         annotations={"networking.gke.io/export": "True"},
                         body={"spec": {
                             "selector": {"matchLabels": p.server_selector},
                             "targetPorts": [{"number": p.server_port}],
                             "appProtocol": "http",
                             "endpointPickerRef": {
                                 "group": "",
                                 "kind": "Service",
                                 "name": picker_service,
                                 "port": {"number": EXT_PROC_PORT},
                                 "failureMode": p.failure_mode,
                             },
                         }})
        ManifestChart.of(self).emit(obj, "inferencepool.yaml")


class EndpointPicker(Construct):
    """The endpoint picker (EPP) of one pool, emitted natively rather than through the upstream chart.

    Least privilege: its own ServiceAccount (the only pod here that mounts a token, because it watches the
    API), a namespaced Role for pods, the pool and objectives (plus leases when replicated), no cluster roles.
    """

    @staticmethod
    def selector(pool: str) -> dict:
        return {"app.kubernetes.io/name": "endpoint-picker", "app.kubernetes.io/instance": pool}

    def __init__(self, scope: Construct, id: str, *, props: RoutingProps) -> None:
        super().__init__(scope, id)
        chart = ManifestChart.of(self)
        p = props
        name = f"{p.pool}-epp"
        self.service_name = name
        selector = self.selector(p.pool)
        labels = {**p.labels, **selector}
        replicated = Greater("routing.pickerReplicas", 1)

        sa = raw_object(self, "sa", api_version="v1", kind="ServiceAccount", name=name, namespace=p.namespace,
                        labels=labels, body={"automountServiceAccountToken": True})
        chart.emit(sa, "epp-serviceaccount.yaml")
        read = ["get", "list", "watch"]
        role = raw_object(self, "role", api_version="rbac.authorization.k8s.io/v1", kind="Role", name=name,
                          namespace=p.namespace, labels=labels, body={"rules": [
                              {"apiGroups": [""], "resources": ["pods"], "verbs": read},
                              {"apiGroups": ["inference.networking.k8s.io"], "resources": ["inferencepools"], "verbs": read},
                              {"apiGroups": [p.objective_group], "resources": ["inferenceobjectives", "inferencemodelrewrites"], "verbs": read},
                              chart.conds.only_if(replicated, {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                                               "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}),
                              chart.conds.only_if(replicated, {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}),
                          ]})
        chart.emit(role, "epp-role.yaml")
        binding = raw_object(self, "binding", api_version="rbac.authorization.k8s.io/v1", kind="RoleBinding",
                             name=name, namespace=p.namespace, labels=labels, body={
                                 "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": p.namespace}],
                                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                             })
        chart.emit(binding, "epp-rolebinding.yaml")

        config = "\n".join([
            f"apiVersion: {p.config_api_version}",
            "kind: EndpointPickerConfig",
            "plugins:",
            "- type: queue-scorer",
            "- type: kv-cache-utilization-scorer",
            "- type: prefix-cache-scorer",
            *(["- type: lora-affinity-scorer"] if p.lora else []),
            "schedulingProfiles:",
            "- name: default",
            "  plugins:",
            "  - pluginRef: queue-scorer",
            "    weight: 2",
            "  - pluginRef: kv-cache-utilization-scorer",
            "    weight: 2",
            "  - pluginRef: prefix-cache-scorer",
            "    weight: 3",
            # Pods that already hold the requested adapter (vllm:lora_requests_info) score higher; below the
            # prefix-cache weight, which already follows the adapter's prompts.
            *(["  - pluginRef: lora-affinity-scorer", "    weight: 2"] if p.lora else []),
            "",
        ])
        cm = raw_object(self, "config", api_version="v1", kind="ConfigMap", name=name, namespace=p.namespace,
                        labels=labels, body={"data": {PICKER_CONFIG: config}})
        chart.emit(cm, "epp-configmap.yaml")

        def grpc_probe(service: str, **timing) -> dict:
            return {"grpc": {"port": HEALTH_PORT, "service": service}, **timing}

        deployment = raw_object(self, "deployment", api_version="apps/v1", kind="Deployment", name=name,
                                namespace=p.namespace, labels=labels, body={"spec": {
            "replicas": p.picker_replicas,
            # One pod at a time. With several replicas they run active-passive behind a leader lease (the
            # prefix-cache scorer keeps state in memory), so a surge pod only waits for the lease.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": p.picker_max_surge,
                                                                    "maxUnavailable": p.picker_max_unavailable}},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": True,
                    # TPU nodes are tainted and hold only model servers: the picker runs on the system pool.
                    "nodeSelector": {"cloud.google.com/gke-nodepool": p.picker_node_pool},
                    "terminationGracePeriodSeconds": 130,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "epp",
                        "image": p.picker_image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": [
                            f"--pool-name={p.pool}",
                            f"--pool-namespace={p.namespace}",
                            "--pool-group=inference.networking.k8s.io",
                            f"--config-file=/config/{PICKER_CONFIG}",
                            f"--grpc-port={EXT_PROC_PORT}",
                            f"--grpc-health-port={HEALTH_PORT}",
                            f"--metrics-port={METRICS_PORT}",
                            "--zap-encoder=json",
                            "--v=1",
                            "--tracing=false",
                            # Managed Prometheus scrapes without a bearer token; the picker's NetworkPolicy admits
                            # only the Managed Prometheus collectors to the metrics port.
                            "--metrics-endpoint-auth=false",
                            chart.conds.only_if(replicated, "--ha-enable-leader-election"),
                        ],
                        "ports": [
                            {"name": "grpc", "containerPort": EXT_PROC_PORT, "protocol": "TCP"},
                            {"name": "grpc-health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
                            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
                        ],
                        "env": [
                            {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        ],
                        "livenessProbe": grpc_probe("liveness", initialDelaySeconds=5, periodSeconds=10,
                                                    timeoutSeconds=2, failureThreshold=3),
                        "readinessProbe": grpc_probe("readiness", periodSeconds=2, timeoutSeconds=2, failureThreshold=3),
                        # No CPU limit: throttling adds picking latency. Requests fit the system pool beside GKE's
                        # system pods, with room for a second pod during an update.
                        "resources": {"requests": {"cpu": p.picker_cpu, "memory": p.picker_memory},
                                      "limits": {"memory": p.picker_memory_limit}},
                        "securityContext": {"allowPrivilegeEscalation": False, "privileged": False,
                                            "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                            "capabilities": {"drop": ["ALL"]}},
                        "volumeMounts": [{"name": "config", "mountPath": "/config", "readOnly": True}],
                    }],
                    "volumes": [{"name": "config", "configMap": {"name": name}}],
                },
            },
        }})
        chart.emit(deployment, "epp-deployment.yaml")

        service = raw_object(self, "service", api_version="v1", kind="Service", name=name, namespace=p.namespace,
                             labels=labels, body={"spec": {
                                 "type": "ClusterIP",
                                 "selector": selector,
                                 "ports": [
                                     {"name": "grpc-ext-proc", "port": EXT_PROC_PORT, "targetPort": "grpc",
                                      "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"},
                                     {"name": "http-metrics", "port": METRICS_PORT, "targetPort": "metrics",
                                      "protocol": "TCP"},
                                 ],
                             }})
        chart.emit(service, "epp-service.yaml")

        pdb = raw_object(self, "pdb", api_version="policy/v1", kind="PodDisruptionBudget", name=name,
                         namespace=p.namespace, labels=labels, body={"spec": {
                             "maxUnavailable": 1, "selector": {"matchLabels": selector}}})
        chart.emit(pdb, "epp-poddisruptionbudget.yaml")


class Objectives(Construct):
    """One InferenceObjective per entry of the objectives list (API group by profile)."""

    def __init__(self, scope: Construct, id: str, *, props: RoutingProps) -> None:
        super().__init__(scope, id)
        p = props
        obj = raw_object(self, "objective", api_version=p.objective_api_version, kind="InferenceObjective",
                         name=item("name"), namespace=p.namespace, labels=p.labels, body={"spec": {
                             "priority": item("priority"),
                             "poolRef": {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": p.pool},
                         }})
        ManifestChart.of(self).emit(obj, "inferenceobjectives.yaml", for_each=ForEach(p.objectives_path),
                                    comment="Clients choose an objective with the header x-gateway-inference-objective: <name>.")


class KvCacheMetric(Construct):
    """Exports vLLM's KV-cache utilisation as ``kv-cache`` for ``CUSTOM_METRICS`` balancing across regions: the
    GCPBackendPolicy balances on ``gke.named_metrics.kv-cache``, and GKE reads it only from an AutoscalingMetric.

    Two shapes (GKE "Expose custom metrics for load balancers"):
      endpoints: ``spec.endpoints[] = {port, path, metrics[] = {name, exportName}}`` (GKE >= 1.34.1-gke.1127000; the
                 multi-cluster inference gateway guide uses it). Metrics are nested in each endpoint.
      pod:       ``spec.metrics[] = {pod: {selector, containers[] = {endpoint, metrics[] = {gauge}}}}``
                 (GKE >= 1.35.1-gke.1396000); the selector's label names may not contain "." or "/".
    Both export vLLM's current gauge (``vllm:kv_cache_usage_perc``, vLLM >= 0.10.2) as ``kv-cache`` and, when
    ``props.legacy_kv_metric``, the name older vLLM releases use (``vllm:gpu_cache_usage_perc``) as ``kv-cache-old``:
    a server exposes one of them. A cluster exports at most 10 such metrics (the endpoints shape's limit), so with
    several models the old name is exported only for images older than vLLM 0.10.2.
    """

    EXPORT_NAME = "kv-cache"
    METRICS = (("vllm:kv_cache_usage_perc", "kv-cache"), ("vllm:gpu_cache_usage_perc", "kv-cache-old"))

    def __init__(self, scope: Construct, id: str, *, props: RoutingProps) -> None:
        super().__init__(scope, id)
        p = props
        chart = ManifestChart.of(self)
        endpoints = Equals(p.metric_shape_path, "endpoints")
        pod = Equals(p.metric_shape_path, "pod")
        metrics = self.METRICS if p.legacy_kv_metric else self.METRICS[:1]
        obj = raw_object(self, "metric", api_version="autoscaling.gke.io/v1beta1", kind="AutoscalingMetric",
                         name=f"{p.pool}-kv-cache", namespace=p.namespace, labels=p.labels, body={"spec": {
                             chart.conds.when(endpoints): {
                                 "selector": {"matchLabels": p.server_selector},
                                 "endpoints": [{"port": p.server_port, "path": "/metrics", "metrics": [
                                     {"name": prom, "exportName": export} for prom, export in metrics]}],
                             },
                             chart.conds.when(pod): {"metrics": [{"pod": {
                                 "selector": {"matchLabels": p.metric_pod_label},
                                 "containers": [{"endpoint": {"port": p.server_port, "path": "/metrics"}, "metrics": [
                                     {"gauge": {"name": export, "prometheusMetricName": prom, "loadBalancing": {"enabled": True}}}
                                     for prom, export in metrics]}],
                             }}]},
                         }})
        chart.emit(obj, "autoscalingmetric.yaml", when=p.kv_metric_enabled)


class PickerMonitoring(Construct):
    def __init__(self, scope: Construct, id: str, *, props: RoutingProps, selector: dict) -> None:
        super().__init__(scope, id)
        p = props
        obj = raw_object(self, "metrics", api_version="monitoring.googleapis.com/v1", kind="PodMonitoring",
                         name=f"{p.pool}-epp", namespace=p.namespace, labels=p.labels, body={"spec": {
                             "selector": {"matchLabels": selector},
                             "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}],
                         }})
        ManifestChart.of(self).emit(obj, "epp-podmonitoring.yaml")
