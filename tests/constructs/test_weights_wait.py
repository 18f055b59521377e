"""The model server's wait-for-weights, run as the pod runs it (python3 -c SCRIPT /model) against a folder that
stands in for the FUSE mount: it waits for the loader's marker of its source, then refuses a listing that lacks
shards (a mount listed mid-copy), naming them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.constructs.helpers import objects, one, pod_spec

SOURCE = "hf://google/gemma-3-27b-it@005ad3404e59d6023443cb575daa05336842228a"
SHARDS = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]


def wait_container(**values) -> dict:
    deployment = objects("serving", **values)[("Deployment", "gemma3-27b-vllm")]
    return next(c for c in pod_spec(deployment)["initContainers"] if c["name"] == "wait-for-weights")


def run(container: dict, mount, timeout: float = 5.0):
    env = {e["name"]: e["value"] for e in container["env"]}
    env["POLL_SECONDS"] = "1"
    command = [sys.executable if c == "python3" else c for c in container["command"][:-1]] + [str(mount)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def model(folder, shards=SHARDS, marker: str | None = SOURCE):
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {f"w{i}": s for i, s in enumerate(SHARDS)}}))
    for s in shards:
        (folder / s).write_bytes(b"")
    if marker is not None:
        (folder / ".inference-fleet-weights").write_text(marker + "\n")
    return folder


def test_waits_for_the_marker_of_its_own_source(tmp_path):
    c = wait_container()
    assert {"name": "SOURCE_ID", "value": SOURCE} in c["env"]
    for marker in (None, "hf://google/gemma-3-27b-it@0000000000000000000000000000000000000000"):
        folder = model(tmp_path / f"m{marker is None}", marker=marker)
        with pytest.raises(subprocess.TimeoutExpired) as waited:
            run(c, folder, timeout=1.0)
        said = waited.value.stdout.decode() if isinstance(waited.value.stdout, bytes) else (waited.value.stdout or "")
        assert "waiting for the weights loader to finish" in said and f"want {SOURCE}" in said


def test_complete_marker_and_listing_start_the_server(tmp_path):
    done = run(wait_container(), model(tmp_path / "m"))
    assert done.returncode == 0, done.stderr
    assert "weights complete" in done.stdout and "2 shards listed" in done.stdout


def test_a_listing_without_every_shard_stops_and_says_to_delete_the_pod(tmp_path):
    # The marker is there (the copy finished), but this mount's listing predates the last shard.
    stale = run(wait_container(), model(tmp_path / "m", shards=SHARDS[:1]))
    assert stale.returncode == 1
    assert SHARDS[1] in stale.stderr and "Delete this pod" in stale.stderr


def test_without_a_loader_it_waits_for_every_file_by_name(tmp_path):
    c = wait_container(weights={"loader": {"enabled": False}})
    assert "SOURCE_ID" not in {e["name"] for e in c["env"]}
    folder = model(tmp_path / "m", shards=SHARDS[:1], marker=None)
    with pytest.raises(subprocess.TimeoutExpired) as waited:
        run(c, folder, timeout=1.0)
    said = waited.value.stdout.decode() if isinstance(waited.value.stdout, bytes) else (waited.value.stdout or "")
    assert f"missing {SHARDS[1]}" in said
    (folder / SHARDS[1]).write_bytes(b"")
    assert run(c, folder).returncode == 0
