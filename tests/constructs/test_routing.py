"""InferencePool, EndpointPicker, Objectives, KvCacheMetric: per-cluster routing objects."""

from tests.constructs.helpers import objects, pod_spec


def test_pool_selects_model_servers_and_is_exported():
    objs = objects()
    pool = objs[("InferencePool", "gemma3-27b")]
    labels = objs[("Deployment", "gemma3-27b-vllm")]["spec"]["template"]["metadata"]["labels"]
    sel = pool["spec"]["selector"]["matchLabels"]
    assert all(labels[k] == v for k, v in sel.items())
    assert pool["spec"]["targetPorts"] == [{"number": 8000}]
    assert pool["metadata"]["annotations"]["networking.gke.io/export"] == "True"
    ref = pool["spec"]["endpointPickerRef"]
    assert ref == {"group": "", "kind": "Service", "name": "gemma3-27b-epp", "port": {"number": 9002}, "failureMode": "FailOpen"}


def test_picker_runs_for_the_pool_with_its_config():
    objs = objects()
    dep = objs[("Deployment", "gemma3-27b-epp")]
    c = pod_spec(dep)["containers"][0]
    assert "--pool-name=gemma3-27b" in c["args"] and "--pool-namespace=llm-serving" in c["args"]
    assert c["image"] == "registry.k8s.io/gateway-api-inference-extension/epp:v1.5.0"
    assert {p["containerPort"] for p in c["ports"]} == {9002, 9003, 9090}
    assert c["livenessProbe"]["grpc"]["port"] == 9003
    cm = objs[("ConfigMap", "gemma3-27b-epp")]
    config = cm["data"]["plugins.yaml"]
    for scorer in ("queue-scorer", "kv-cache-utilization-scorer", "prefix-cache-scorer"):
        assert scorer in config
    svc = objs[("Service", "gemma3-27b-epp")]
    assert {p["port"] for p in svc["spec"]["ports"]} == {9002, 9090}
    assert all(dep["spec"]["template"]["metadata"]["labels"][k] == v for k, v in svc["spec"]["selector"].items())


def test_picker_rbac_is_namespaced_and_minimal():
    objs = objects()
    assert not [k for k in objs if k[0] in ("ClusterRole", "ClusterRoleBinding")]
    role = objs[("Role", "gemma3-27b-epp")]
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert resources == {"pods", "inferencepools", "inferenceobjectives", "inferencemodelrewrites"}
    assert all(set(rule["verbs"]) == {"get", "list", "watch"} for rule in role["rules"])
    ha = objects(routing={"pickerReplicas": 2})
    ha_resources = {r for rule in ha[("Role", "gemma3-27b-epp")]["rules"] for r in rule["resources"]}
    assert {"leases", "events"} <= ha_resources
    assert "--ha-enable-leader-election" in pod_spec(ha[("Deployment", "gemma3-27b-epp")])["containers"][0]["args"]


def test_objectives_follow_the_profile():
    gke = objects()
    objs = [o for (k, _), o in gke.items() if k == "InferenceObjective"]
    assert {o["metadata"]["name"]: o["spec"]["priority"] for o in objs} == {"interactive": 10, "batch": 0}
    assert {o["apiVersion"] for o in objs} == {"inference.networking.x-k8s.io/v1alpha2"}
    llmd = objects(config="tests/fleets/three-regions-llmd.yaml")
    assert {o["apiVersion"] for (k, _), o in llmd.items() if k == "InferenceObjective"} == {"llm-d.ai/v1alpha2"}
    assert pod_spec(llmd[("Deployment", "qwen-epp")])["containers"][0]["image"].startswith("ghcr.io/llm-d/")


def test_kv_cache_metric_only_for_custom_metrics_balancing():
    metric = objects()[("AutoscalingMetric", "gemma3-27b-kv-cache")]
    # Nested shape: the metrics belong to the endpoint that serves them (GKE reads nothing beside endpoints).
    assert metric["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "gemma3-27b",
                                     "app.kubernetes.io/component": "model-server"}},
        "endpoints": [{"port": 8000, "path": "/metrics", "metrics": [
            {"name": "vllm:kv_cache_usage_perc", "exportName": "kv-cache"},
            {"name": "vllm:gpu_cache_usage_perc", "exportName": "kv-cache-old"}]}]}
    assert ("AutoscalingMetric", "gemma3-27b-kv-cache") not in objects(routing={"exportKvCacheMetric": False})


def test_kv_cache_metric_pod_shape():
    metric = objects(routing={"metricShape": "pod"})[("AutoscalingMetric", "gemma3-27b-kv-cache")]
    (entry,) = metric["spec"]["metrics"]
    # The pod shape's selector takes label names without "." or "/": a label of our own, on the model-server pods.
    assert entry["pod"]["selector"] == {"matchLabels": {"inference-fleet-pool": "gemma3-27b"}}
    assert entry["pod"]["containers"][0]["endpoint"] == {"port": 8000, "path": "/metrics"}
    assert [m["gauge"]["name"] for m in entry["pod"]["containers"][0]["metrics"]] == ["kv-cache", "kv-cache-old"]
    labels = objects()[("Deployment", "gemma3-27b-vllm")]["spec"]["template"]["metadata"]["labels"]
    assert labels["inference-fleet-pool"] == "gemma3-27b"


def test_picker_runs_on_the_system_pool_and_rolls_without_downtime():
    dep = objects()[("Deployment", "gemma3-27b-epp")]
    spec = dep["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "system"}
    assert "tolerations" not in spec  # never on TPU nodes
    assert spec["containers"][0]["resources"] == {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "8Gi"}}
    # One replica: a new pod starts before the old one stops.
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def test_lora_models_add_the_adapter_affinity_scorer():
    import yaml

    multi = "examples/multi-model/fleet.yaml"
    config = yaml.safe_load(objects("gemma-3-4b", multi)[("ConfigMap", "gemma-3-4b-epp")]["data"]["plugins.yaml"])
    assert {"type": "lora-affinity-scorer"} in config["plugins"]
    refs = {p["pluginRef"]: p["weight"] for p in config["schedulingProfiles"][0]["plugins"]}
    assert refs == {"queue-scorer": 2, "kv-cache-utilization-scorer": 2, "prefix-cache-scorer": 3, "lora-affinity-scorer": 2}
    plain = yaml.safe_load(objects("gemma-3-27b", multi)[("ConfigMap", "gemma-3-27b-epp")]["data"]["plugins.yaml"])
    assert "lora-affinity-scorer" not in str(plain)


def test_objectives_of_several_models_are_prefixed_with_their_pool():
    multi = "examples/multi-model/fleet.yaml"
    names = sorted(n for k, n in objects("gemma-3-4b", multi) if k == "InferenceObjective")
    assert names == ["gemma-3-4b-batch", "gemma-3-4b-interactive"]
