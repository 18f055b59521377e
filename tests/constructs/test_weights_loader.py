"""WeightsLoader: a Job per cluster that copies the pinned weights into that cluster's bucket, once."""

from tests.constructs.helpers import objects, one, pod_spec


def _job(**over):
    return one(objects(**over), "Job")


def test_job_copies_the_pinned_revision_into_its_bucket():
    job = _job()
    assert job["metadata"]["name"].startswith("gemma3-27b-weights-")
    spec = pod_spec(job)
    assert [c["name"] for c in spec["initContainers"]] == ["check", "download"]
    assert [c["name"] for c in spec["containers"]] == ["upload"]
    assert spec["restartPolicy"] == "Never" and spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == "gemma3-27b-weights"
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "system"}
    download = spec["initContainers"][1]
    env = {e["name"]: e for e in download["env"]}
    assert env["REVISION"]["value"] == "005ad3404e59d6023443cb575daa05336842228a"
    # The token is referenced from a Secret the user creates; never a value.
    assert env["HF_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "hf-token", "key": "token", "optional": True}}
    # Scratch disk sized from the model (52 GiB + headroom).
    assert download["resources"]["requests"]["ephemeral-storage"] == "56Gi"
    assert {"name": "work", "emptyDir": {"sizeLimit": "56Gi"}} in spec["volumes"]


def test_upload_never_overwrites_and_verifies_every_shard():
    upload = pod_spec(_job())["containers"][0]["command"][2]
    assert "--no-clobber" in upload
    assert "model.safetensors.index.json" in upload and "incomplete" in upload
    check = pod_spec(_job())["initContainers"][0]["command"][2]
    assert ".inference-fleet-weights" in check and "exit 1" in check


def test_a_new_source_is_a_new_job():
    a = _job()["metadata"]["name"]
    b = _job(weights={"jobId": "0123456789"})["metadata"]["name"]
    assert a != b and b == "gemma3-27b-weights-0123456789"


def test_cloud_storage_source_skips_the_download():
    spec = pod_spec(_job(weights={"sourceKind": "gcs", "sourceUri": "gs://other/weights"}))
    assert [c["name"] for c in spec["initContainers"]] == ["check"]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["SOURCE_URI"] == "gs://other/weights"


def test_loader_accepts_no_connections():
    pol = objects()[("NetworkPolicy", "gemma3-27b-weights-loader")]
    assert pol["spec"] == {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "weights-loader"}},
                           "policyTypes": ["Ingress"]}
    assert not [k for k in objects(weights={"loader": {"enabled": False}}) if k[0] in ("Job", "NetworkPolicy") and "weights" in k[1]]
