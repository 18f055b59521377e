"""GcsFuseModelVolume: read-only CSI volume tuned for model loading, sidecar annotations, Workload Identity."""

from tests.constructs.helpers import objects, pod_spec


def _dep(**over):
    return objects(**over)[("Deployment", "gemma3-27b-vllm")]


def test_inline_read_only_volume_with_tuned_options():
    vol = next(v for v in pod_spec(_dep())["volumes"] if v["name"] == "model")
    csi = vol["csi"]
    assert csi["driver"] == "gcsfuse.csi.storage.gke.io" and csi["readOnly"] is True
    attrs = csi["volumeAttributes"]
    assert attrs["bucketName"] == "gemma3-weights-us-east5"
    opts = attrs["mountOptions"].split(",")
    assert "only-dir=google/gemma-3-27b-it" in opts
    for opt in ("implicit-dirs", "file-cache:enable-parallel-downloads:true", "file-cache:max-size-mb:-1",
                "metadata-cache:ttl-secs:-1"):
        assert opt in opts
    assert " " not in attrs["mountOptions"]


def test_model_argument_reads_the_mount():
    dep = _dep()
    c = pod_spec(dep)["containers"][0]
    assert "--model=/model" in c["args"]
    assert {"mountPath": "/model", "name": "model", "readOnly": True} in c["volumeMounts"]
    assert "--served-model-name=google/gemma-3-27b-it" in c["args"]


def test_sidecar_annotations_and_ram_cache():
    dep = _dep(server={"gcsFuse": {"memoryLimit": "8Gi"}})
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    assert ann["gke-gcsfuse/volumes"] == "true"
    assert ann["gke-gcsfuse/memory-limit"] == "8Gi"
    assert ann["gke-gcsfuse/cpu-limit"] == "0"
    cache = next(v for v in pod_spec(dep)["volumes"] if v["name"] == "gke-gcsfuse-cache")
    assert cache["emptyDir"] == {"medium": "Memory"}


def test_workload_identity_service_account_without_keys():
    objs = objects()
    sa = objs[("ServiceAccount", "gemma3-27b-vllm")]
    assert sa["automountServiceAccountToken"] is False
    binding = sa["metadata"]["annotations"]["inference-fleet.dev/iam-binding"]
    assert binding.startswith("principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/"
                              "my-inference-project.svc.id.goog/subject/ns/llm-serving/sa/gemma3-27b-vllm")
    assert "roles/storage.objectViewer" in binding
    assert not [k for k in objs if k[0] == "Secret"]
    assert pod_spec(objs[("Deployment", "gemma3-27b-vllm")])["serviceAccountName"] == "gemma3-27b-vllm"
