"""A change of weights or image meets the bring-up preconditions again: a new revision is a new loader Job (new
name, new marker), and the servers wait for that Job under every delivery method and for its marker in the pod."""

from __future__ import annotations

import yaml

from synth.bringup.phases import DEPENDS_ON, SYNC_WAVE
from synth.pipeline import render
from tests.conftest import REPO


def _cluster_objects(config):
    plan = render(config)[0]
    cluster = plan.fleet.clusters[0]
    objs = [o for _, _, docs in plan.cluster_objects(cluster) for o in docs]
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def _job(objs):
    return next(o for (k, _), o in objs.items() if k == "Job")


def test_new_weights_are_a_new_job_the_servers_wait_for(tmp_path):
    data = yaml.safe_load((REPO / "fleet.yaml").read_text())
    before = _cluster_objects(REPO / "fleet.yaml")
    data["model"]["source"]["huggingface"]["revision"] = "1" * 40
    data["model"]["path"] = data["model"]["path"] + "-r2"
    changed = tmp_path / "fleet.yaml"
    changed.write_text(yaml.safe_dump(data))
    after = _cluster_objects(changed)
    old, new = _job(before), _job(after)
    assert old["metadata"]["name"] != new["metadata"]["name"]
    server = after[("Deployment", "gemma3-27b-vllm")]
    meta = server["metadata"]["annotations"]
    assert meta[DEPENDS_ON] == f"batch/namespaces/llm-serving/Job/{new['metadata']['name']}"
    assert int(meta[SYNC_WAVE]) > int(new["metadata"]["annotations"][SYNC_WAVE])
    wait = next(c for c in server["spec"]["template"]["spec"]["initContainers"] if c["name"] == "wait-for-weights")
    job_source = next(e["value"] for c in new["spec"]["template"]["spec"]["initContainers"] for e in c.get("env", [])
                      if e["name"] == "SOURCE_ID")
    assert {"name": "SOURCE_ID", "value": job_source} in wait["env"]
    assert job_source.endswith("@" + "1" * 40)


def test_a_new_image_is_a_new_job_too_and_the_servers_follow_it(tmp_path):
    # The loader's download container runs the server image, and a Job's pod template is immutable: a new image must
    # be a new Job (applied beside the old one, never an update the API server refuses). The marker's source is the same.
    data = yaml.safe_load((REPO / "fleet.yaml").read_text())
    data["server"]["image"] = "vllm/vllm-tpu:v0.11.2"
    changed = tmp_path / "fleet.yaml"
    changed.write_text(yaml.safe_dump(data))
    before, after = _cluster_objects(REPO / "fleet.yaml"), _cluster_objects(changed)
    new = _job(after)
    assert _job(before)["metadata"]["name"] != new["metadata"]["name"]
    server = after[("Deployment", "gemma3-27b-vllm")]
    assert server["metadata"]["annotations"][DEPENDS_ON] == f"batch/namespaces/llm-serving/Job/{new['metadata']['name']}"
