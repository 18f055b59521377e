"""Every rule the validator reports, by layer, and the order they run in. Each layer is a module with a ``RULES``
table (id → what holds when it passes) and ``check(view)``; each rule has an invalid case in
tests/cases/validate/invalid/ that fails for it."""

from __future__ import annotations

from . import apiserver, bringup, infra_rules, rules, security
from .behaviour import limits, metrics, reachability, scheduling, upgrade
from .problems import Problem
from .view import FleetView

ENGINE_RULES = {
    "schema": "the object matches its kind's schema (built-in: Kubernetes 1.34 strict; custom: pinned CRD + supplements)",
    "cel": "the CRD's x-kubernetes-validations rules hold",
    "object": "every document is a Kubernetes object",
    "yaml": "every file parses as YAML",
}

# (layer title, module) in the order the layers run; the README's rule table follows it.
LAYERS = (
    ("API server (native validation beyond OpenAPI)", apiserver),
    ("fleet wiring", rules),
    ("security posture", security),
    ("reachability (NetworkPolicy, as Dataplane V2 enforces it)", reachability),
    ("metrics flow", metrics),
    ("scheduling", scheduling),
    ("upgrade safety", upgrade),
    ("GKE limits", limits),
    ("GCP side (Config Connector)", infra_rules),
    ("bring-up order (per delivery method)", bringup),
)

RULES: dict[str, str] = dict(ENGINE_RULES)
for _, _module in LAYERS:
    _overlap = set(RULES) & set(_module.RULES)
    assert not _overlap, f"rule ids defined twice: {_overlap}"
    RULES.update(_module.RULES)


def run(view: FleetView) -> list[Problem]:
    problems: list[Problem] = []
    for _, module in LAYERS:
        problems += module.check(view)
    return problems
