"""Regressions found in review: odd but valid inputs render, malformed manifests and bad paths never produce a
traceback, and the writer trusts nothing in its journal."""

from __future__ import annotations

import json

import pytest
import yaml

from synth.emit.writer import JOURNAL, recover
from synth.errors import UserError
from synth.pipeline import synthesize
from tests.conftest import REPO, run, tool
from tests.test_cli import cli


def _fleet(tmp_path, file_name="fleet.yaml", **changes):
    data = yaml.safe_load((REPO / "fleet.yaml").read_text())
    for path, value in changes.items():
        node = data
        parts = path.split("__")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    config = tmp_path / file_name
    config.write_text(yaml.safe_dump(data))
    return config


def test_template_syntax_in_the_config_file_name(tmp_path):
    config = _fleet(tmp_path, file_name='x{{fail "inj"}}.yaml')
    synthesize(config, tmp_path / "out")
    chart = tmp_path / "out" / "charts" / "gemma3-serving"
    r = run([tool("helm"), "template", "r", str(chart)])
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("change", [{"namespace": "0b1"}, {"namespace": "1e3"},
                                    {"server__image": "registry.example.com:5000/vllm/vllm-tpu:v0.11.1"}],
                         ids=["binary-looking-namespace", "float-looking-namespace", "registry-port"])
def test_odd_but_valid_values_render(tmp_path, change):
    config = _fleet(tmp_path, **change)
    out = tmp_path / "out"
    synthesize(config, out)
    for chart in (out / "charts").iterdir():
        for vf in chart.glob("values-*.yaml"):
            r = run([tool("helm"), "template", "r", str(chart), "-f", str(vf)])
            assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("value", ["gemma3\n", "a\tb", "x\x85"])
def test_control_characters_are_one_line_errors(tmp_path, value):
    config = _fleet(tmp_path, name=value)
    r = cli("synth", "--config", str(config), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "control character" in r.stderr


MALFORMED = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": "foo"},
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "annotations": None}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x:1",
     "startupProbe": {"failureThreshold": "many"}}]}}}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dated"}, "data": {"when": "2024-01-01"}},
    "just a string",
    {"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool", "metadata": {"name": "p\n"},
     "spec": {"selector": {"matchLabels": {"a": "b"}}, "targetPorts": [{"number": 8000}]}},
]


def test_malformed_manifests_are_problems_not_tracebacks(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump_all(MALFORMED) + "---\nwhen: 2024-01-01\n")
    r = cli("validate", str(f))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "InferencePool/p" in r.stdout and "schema" in r.stdout


@pytest.mark.parametrize("version", ["1.9", "1.0", "banana", "2.40"])
def test_unsupported_kubernetes_version(version):
    r = cli("validate", "--kubernetes-version", version, "overlays")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_os_errors_are_one_line(tmp_path):
    r = cli("plan", "--dot", str(tmp_path))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = cli("synth", "--out", str(blocker / "sub"))
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_journal_cannot_point_outside_the_output(tmp_path):
    victim = tmp_path / "victim"
    (victim / "tree").mkdir(parents=True)
    (victim / "tree" / "keep").write_text("x")
    out = tmp_path / "out"
    out.mkdir()
    (out / JOURNAL).write_text(json.dumps({"staging": str(victim / "tree"), "write": ["keep"], "delete": []}))
    with pytest.raises(UserError, match="not a staging folder"):
        recover(out)
    assert (victim / "tree" / "keep").exists()
    (out / JOURNAL).write_text("{not json")
    with pytest.raises(UserError, match="delete it"):
        recover(out)
