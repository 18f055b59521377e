from __future__ import annotations

from pathlib import Path

from synth.pipeline import render
from synth.values import merge

REPO = Path(__file__).resolve().parents[2]
_PLANS: dict = {}


def plan(config: str = "fleet.yaml"):
    path = REPO / config
    if path not in _PLANS:
        _PLANS[path] = render(path)[0]
    return _PLANS[path]


def objects(chart_key: str = "serving", config: str = "fleet.yaml", **overrides) -> dict[tuple[str, str], dict]:
    """Objects of a chart rendered with its defaults merged with ``overrides`` (nested dicts)."""
    chart = next(c for c in plan(config).charts if c.key == chart_key)
    values = merge(chart.defaults, overrides)
    return {(o["kind"], o["metadata"]["name"]): o for _, objs in chart.render(values) for o in objs}


def one(objs: dict, kind: str) -> dict:
    found = [o for (k, _), o in objs.items() if k == kind]
    assert len(found) == 1, f"{len(found)} {kind}"
    return found[0]


def pod_spec(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]
