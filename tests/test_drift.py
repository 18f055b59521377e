"""The committed output is exactly what the committed fleet file produces (`make check`), and golden trees of
the test fleets catch any change of output. Update goldens with `make golden` after reviewing the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synth.pipeline import check, render
from tests.conftest import EXAMPLES, FLEETS, REPO

GOLDEN = Path(__file__).resolve().parent / "golden"


def test_committed_output_is_fresh():
    report = check(REPO / "fleet.yaml", REPO)
    assert report == {"stale": [], "missing": [], "extra": []}, "committed output is stale: run `make synth`"


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda p: p.parent.name)
def test_committed_examples_are_fresh(config):
    report = check(config, config.parent)
    assert report == {"stale": [], "missing": [], "extra": []}, (
        f"the output committed beside {config.relative_to(REPO)} is stale: run "
        f"`inference-fleet synth --config {config.relative_to(REPO)} --out {config.parent.relative_to(REPO)}`")


def _tree(files: dict[str, bytes]) -> str:
    parts = []
    for path, data in sorted(files.items()):
        parts.append(f"=== {path}\n{data.decode()}")
    return "".join(parts)


@pytest.mark.parametrize("config", sorted(FLEETS.glob("*.yaml")), ids=lambda p: p.stem)
def test_golden(config):
    _, files, seeds = render(config)
    text = _tree({**files, **{f"(user seed) {k}": v for k, v in seeds.items()}})
    golden = GOLDEN / f"{config.stem}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"no golden for {config.stem}: run `make golden`"
    assert text == golden.read_text(), f"output of {config.name} changed: review and run `make golden`"
