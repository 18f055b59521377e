"""`inference-fleet init`: a commented starter fleet file from flags, validated before it is written, never
overwriting; what it writes synthesizes."""

from __future__ import annotations

import yaml

from synth.config.loader import load_fleet
from tests.test_cli import cli

FLAGS = ["--project-id", "acme-llm-prod", "--project-number", "4815162342", "--regions", "us-east5,europe-west4,asia-northeast1"]


def test_writes_a_commented_valid_fleet_file(tmp_path):
    target = tmp_path / "fleet.yaml"
    r = cli("init", *FLAGS, "--delivery", "config-sync", "--repo-url", "https://github.com/acme/fleet.git", "--output", str(target))
    assert r.returncode == 0, r.stderr
    text = target.read_text()
    assert text.startswith("# Fleet inference:") and "# pinned commit" in text
    fleet = load_fleet(target)
    assert [c.region for c in fleet.clusters] == ["us-east5", "europe-west4", "asia-northeast1"]
    assert fleet.gateway.config_cluster == "inference-us-east5" and fleet.delivery.methods == ("config-sync",)
    # Every cluster's ranges are distinct (the fleet-file rules passed) and in the file, so they never move.
    assert len({c.subnets.pods for c in fleet.clusters}) == 3
    plan = cli("plan", "--config", str(target))
    assert plan.returncode == 0 and "asia-northeast1 backends lost" in plan.stdout
    # An ordinary file the team can read (0644 under the usual umask), not the 0600 of a temporary file.
    import os
    import stat

    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_never_overwrites(tmp_path):
    target = tmp_path / "fleet.yaml"
    target.write_text("mine\n")
    r = cli("init", *FLAGS, "--output", str(target))
    assert r.returncode == 2 and "exists" in r.stderr and r.stderr.count("\n") == 1
    assert target.read_text() == "mine\n"


def test_refuses_what_it_cannot_validate(tmp_path):
    cases = [
        (["--regions", "us-west2"], "has no TPU v6e zone"),
        (["--delivery", "argocd"], "needs --repo-url"),
        (["--model", "acme/other-7b"], "--revision is required"),
        (["--project-id", "X"], "project.id"),
    ]
    for extra, expected in cases:
        target = tmp_path / "fleet.yaml"
        args = list(FLAGS)
        for i in range(0, len(extra), 2):
            if extra[i] in args:
                args[args.index(extra[i]) + 1] = extra[i + 1]
            else:
                args += extra[i:i + 2]
        r = cli("init", *args, "--output", str(target))
        assert r.returncode == 2 and expected in r.stderr and r.stderr.count("\n") == 1, (extra, r.stderr)
        assert not target.exists()


def test_gcs_weights_and_an_unknown_model(tmp_path):
    target = tmp_path / "fleet.yaml"
    r = cli("init", *FLAGS, "--model", "acme/other-7b", "--weights-uri", "gs://acme-weights/other-7b", "--output", str(target))
    assert r.returncode == 0, r.stderr
    data = yaml.safe_load(target.read_text())
    assert data["model"]["source"] == {"gcs": {"uri": "gs://acme-weights/other-7b"}} and data["model"]["sizeGi"] > 0
