"""Fuzzing the fleet file: whatever the input, the loader either returns a Fleet or raises one ConfigError
naming a config path — never another exception. The CLI turns that into one line, exit 2, nothing written."""

from __future__ import annotations

import copy
import os
import subprocess
import sys


import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth.config.loader import parse_fleet
from synth.errors import ConfigError
from tests.conftest import REPO

BASE = yaml.safe_load((REPO / "fleet.yaml").read_text())
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1200"))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=80), st.text(alphabet="{}$<>%\"'\\\n\t :-_./", max_size=40),
    st.sampled_from(["", " ", "{{ .Release.Name }}", "{{- fail \"x\" }}", "a" * 300, "ünïcødé-名前", "\x00", "2x2",
                     "4x4", "us-east5", "mars-north1", "us-east5-z", "Bad_Bucket", "latest", "--model=/x", "8000", "True"]),
)
structures = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                          max_leaves=12)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(BASE) if p]


@st.composite
def mutated_fleets(draw):
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["replace", "delete", "unknown-key", "duplicate-list-item"]))
            if action == "replace":
                parent[path[-1]] = draw(structures)
            elif action == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif action == "unknown-key" and isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=10))] = draw(scalars)
            elif action == "duplicate-list-item" and isinstance(parent[path[-1]], list) and parent[path[-1]]:
                parent[path[-1]].append(copy.deepcopy(parent[path[-1]][0]))
        except (KeyError, IndexError, TypeError):
            pass
    return data


def _check(data) -> None:
    try:
        fleet = parse_fleet(data, "fleet.yaml")
    except ConfigError as err:
        assert all(line.startswith("fleet.yaml: ") for line in err.message.splitlines())
        assert err.path or err.message.startswith("fleet.yaml: <root>: ")
        return
    assert fleet.serving_clusters and fleet.config_cluster


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(mutated_fleets())
def test_mutated_fleet_files(data):
    _check(data)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(structures)
def test_random_structures(data):
    _check(data)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(mutated_fleets())
def test_cli_exit_2_one_line_and_output_untouched(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("fuzz")
    config = tmp / "fleet.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        parse_fleet(yaml.safe_load(config.read_text()), "x")
        return  # valid mutations are covered by the synth tests
    except ConfigError:
        pass
    out = tmp / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user file")
    r = subprocess.run([sys.executable, "-m", "synth", "synth", "--config", str(config), "--out", str(out)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2, r.stderr
    assert r.stderr.endswith("\n") and "Traceback" not in r.stderr
    assert all(line.startswith("inference-fleet: ") for line in r.stderr.splitlines())
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
