"""ModelServer: the vLLM TPU Deployment and its Service, PDB, PodMonitoring and HPA."""

from __future__ import annotations

import json

from tests.constructs.helpers import plan, objects, one, pod_spec


def _deployment(**over):
    return objects(**over)[("Deployment", "gemma3-27b-vllm")]


def _vllm(dep):
    return next(c for c in pod_spec(dep)["containers"] if c["name"] == "vllm")


def test_tensor_parallelism_equals_chips_requested():
    c = _vllm(_deployment())
    assert "--tensor-parallel-size=4" in c["args"]
    assert c["resources"]["requests"]["google.com/tpu"] == 4
    assert c["resources"]["limits"]["google.com/tpu"] == 4


def test_no_cdk8s_plus_runtime_default_leaks():
    dep = _deployment()
    text = json.dumps(dep)
    assert "cdk8s.io/metadata.addr" not in text
    assert "1500m" not in text and "2048Mi" not in text
    c = _vllm(dep)
    assert "tcpSocket" not in json.dumps(c)
    assert c["securityContext"]["readOnlyRootFilesystem"] is False  # vLLM writes to its home
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert dep["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "gemma3-27b",
        "app.kubernetes.io/component": "model-server"}


def test_resources_sized_for_ct6e_standard_4t():
    c = _vllm(_deployment())
    assert c["resources"]["requests"]["cpu"] == "40"
    assert c["resources"]["requests"]["memory"] == c["resources"]["limits"]["memory"] == "200Gi"
    assert "cpu" not in c["resources"]["limits"]


def test_startup_budget_covers_xla_compilation():
    p = _vllm(_deployment())["startupProbe"]
    assert p["httpGet"] == {"path": "/health", "port": 8000, "scheme": "HTTP"}
    assert p["failureThreshold"] * p["periodSeconds"] >= 600
    for probe in ("readinessProbe", "livenessProbe"):
        assert _vllm(_deployment())[probe]["httpGet"]["path"] == "/health"


def test_rolls_one_pod_at_a_time_so_the_region_keeps_serving():
    # Two replicas per region (the default fleet): one TPU node restarts while the other serves.
    assert _deployment()["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    # Configurable per values (and per fleet file).
    dep = objects(server={"rollout": {"maxSurge": 1, "maxUnavailable": 0}})[("Deployment", "gemma3-27b-vllm")]
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_a_single_replica_region_surges_instead_of_stopping():
    from synth.charts.serving import values

    fleet = plan("tests/fleets/single-1x1.yaml").fleet
    assert values(fleet, fleet.models[0], fleet.clusters[0])["server"]["rollout"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_lands_on_the_compute_class_tpu_nodes():
    spec = pod_spec(_deployment())
    assert spec["nodeSelector"] == {"cloud.google.com/compute-class": "gemma3-27b-tpu",
                                    "cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice",
                                    "cloud.google.com/gke-tpu-topology": "2x2", "topology.kubernetes.io/zone": "us-east5-b"}
    assert {"key": "google.com/tpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in spec["tolerations"]
    assert {"key": "cloud.google.com/compute-class", "operator": "Equal", "value": "gemma3-27b-tpu",
            "effect": "NoSchedule"} in spec["tolerations"]


def test_waits_for_the_weights_instead_of_crash_looping():
    spec = pod_spec(_deployment())
    (wait,) = spec["initContainers"]
    assert wait["name"] == "wait-for-weights" and wait["image"] == _vllm(_deployment())["image"]
    assert wait["volumeMounts"] == [{"name": "model", "mountPath": "/model", "readOnly": True}]
    assert {"name": "WEIGHTS", "value": "gs://gemma3-weights-us-east5/google/gemma-3-27b-it"} in wait["env"]
    # The script it runs lists what is missing from the index and waits.
    script = wait["command"][2]
    assert "model.safetensors.index.json" in script and "missing" in script and "time.sleep" in script


def test_graceful_drain():
    dep = _deployment()
    assert pod_spec(dep)["terminationGracePeriodSeconds"] == 600
    assert _vllm(dep)["lifecycle"]["preStop"] == {"sleep": {"seconds": 30}}


def test_shm_and_per_pod_xla_cache():
    spec = pod_spec(_deployment())
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["dshm"]["emptyDir"] == {"medium": "Memory"}
    assert vols["xla-cache"]["emptyDir"] == {}
    c = _vllm(_deployment())
    assert {"name": "VLLM_XLA_CACHE_PATH", "value": "/xla-cache"} in c["env"]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts["/dev/shm"] == "dshm" and mounts["/xla-cache"] == "xla-cache"


def test_replicas_fixed_without_hpa_and_omitted_with_it():
    assert _deployment()["spec"]["replicas"] == 2
    objs = objects(server={"autoscaling": {"enabled": True}})
    dep = objs[("Deployment", "gemma3-27b-vllm")]
    assert "replicas" not in dep["spec"]
    hpa = one(objs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "gemma3-27b-vllm"
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == "prometheus.googleapis.com|vllm:num_requests_waiting|gauge"
    assert not [k for k in objects() if k[0] == "HorizontalPodAutoscaler"]


def test_pdb_and_metrics_select_the_pods():
    objs = objects()
    labels = objs[("Deployment", "gemma3-27b-vllm")]["spec"]["template"]["metadata"]["labels"]
    for kind in ("PodDisruptionBudget", "PodMonitoring"):
        sel = objs[(kind, "gemma3-27b-vllm")]["spec"]["selector"]["matchLabels"]
        assert all(labels[k] == v for k, v in sel.items())
    assert objs[("PodDisruptionBudget", "gemma3-27b-vllm")]["spec"]["maxUnavailable"] == 1
    assert objs[("PodMonitoring", "gemma3-27b-vllm")]["spec"]["endpoints"][0]["path"] == "/metrics"


def test_extra_args_follow_ours():
    c = _vllm(_deployment(server={"extraArgs": ["--max-num-seqs=64"]}))
    assert c["args"][-1] == "--max-num-seqs=64"
    assert c["args"].index("--no-enable-log-requests") < len(c["args"]) - 1


def test_hardened_but_not_privileged():
    dep = _deployment()
    c = _vllm(dep)
    assert c["securityContext"]["privileged"] is False
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod_spec(dep)["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod_spec(dep)["automountServiceAccountToken"] is False


MULTI = "examples/multi-model/fleet.yaml"


def test_gpu_server_requests_its_gpus_and_selects_their_type():
    dep = objects("gemma-3-12b", MULTI)[("Deployment", "gemma-3-12b-vllm")]
    c, spec = _vllm(dep), pod_spec(dep)
    assert c["resources"]["requests"]["nvidia.com/gpu"] == 2 and c["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert "google.com/tpu" not in json.dumps(c["resources"])
    assert "--tensor-parallel-size=2" in c["args"]
    assert spec["nodeSelector"] == {"cloud.google.com/compute-class": "gemma-3-12b-gpu",
                                    "cloud.google.com/gke-accelerator": "nvidia-l4",
                                    "topology.kubernetes.io/zone": "us-central1-b"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    # No TPU-only pieces: no XLA cache, no DRANET claim (G2 machines have no DRANET NICs).
    assert "VLLM_XLA_CACHE_PATH" not in json.dumps(c) and "resourceClaims" not in spec
    assert c["image"] == "vllm/vllm-openai:v0.11.1"


def test_lora_adapters_are_mounted_waited_for_and_served_by_name():
    dep = objects("gemma-3-4b", MULTI)[("Deployment", "gemma-3-4b-vllm")]
    c, spec = _vllm(dep), pod_spec(dep)
    args = c["args"]
    i = args.index("--lora-modules")
    # One flag followed by every adapter: vLLM keeps only the last list when the flag repeats.
    assert args[i + 1] == "gemma-3-4b-support=/adapters/0" and args.count("--lora-modules") == 1
    assert {"--enable-lora", "--max-loras=1", "--max-lora-rank=16"} <= set(args)
    volume = next(v for v in spec["volumes"] if v["name"] == "adapter-0")
    assert volume["csi"]["volumeAttributes"]["mountOptions"].startswith("only-dir=adapters/gemma-3-4b-support,")
    assert volume["csi"]["readOnly"] is True
    assert {"name": "adapter-0", "mountPath": "/adapters/0", "readOnly": True} in c["volumeMounts"]
    waits = [x["name"] for x in spec["initContainers"]]
    assert waits == ["wait-for-weights", "wait-for-adapters"]


def test_models_without_adapters_get_no_lora_flags():
    args = _vllm(_deployment())["args"]
    assert not any(a.startswith("--enable-lora") or a == "--lora-modules" for a in args)


def _wait_for_adapters(tmp_path, rank: int):
    """Run the wait-for-adapters script of the 4B model's pod against a local folder (as its mount)."""
    import subprocess
    import sys

    init = next(x for x in pod_spec(objects("gemma-3-4b", MULTI)[("Deployment", "gemma-3-4b-vllm")])["initContainers"]
                if x["name"] == "wait-for-adapters")
    folder = tmp_path / "0"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank, "lora_alpha": 16, "target_modules": ["q_proj"]}))
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    env = {e["name"]: e["value"] for e in init["env"]}
    script = init["command"][2]
    return subprocess.run([sys.executable, "-c", script, str(folder)], env=env, capture_output=True, text=True, timeout=30)


def test_wait_for_adapters_passes_a_complete_adapter_within_the_rank(tmp_path):
    r = _wait_for_adapters(tmp_path, 8)
    assert r.returncode == 0 and "adapters complete" in r.stdout


def test_wait_for_adapters_stops_on_a_rank_vllm_would_refuse(tmp_path):
    r = _wait_for_adapters(tmp_path, 64)
    assert r.returncode == 1
    assert "gemma-3-4b-support has rank 64, above --max-lora-rank 16" in r.stdout and "model.lora.maxRank" in r.stdout
