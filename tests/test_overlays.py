"""Every overlay builds with plain `kubectl kustomize`, equals `helm template` of its cluster's charts and
values files (test hooks aside), and passes strict validation including the fleet rules."""

from __future__ import annotations

import pytest
import yaml

from synth.bringup.phases import HELM_HOOKS
from synth.validate.engine import Validator, format_problem
from tests.conftest import fleet_files, fleet_id, run, tool


def _docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def _key(o: dict) -> tuple:
    return (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])


@pytest.mark.parametrize("config", fleet_files(), ids=fleet_id)
def test_overlays_build_and_equal_helm(config, synthesized, plans):
    out = synthesized(config)
    plan = plans(config)
    kubectl, helm = tool("kubectl"), tool("helm")
    built: dict[str, list] = {}
    for cluster in plan.fleet.clusters:
        overlay = out / "overlays" / cluster.name
        assert (overlay / "kustomization.yaml").is_file()
        k = run([kubectl, "kustomize", str(overlay)])
        assert k.returncode == 0, k.stderr
        assert "deprecated" not in k.stderr.lower(), k.stderr
        from_kustomize = sorted(_docs(k.stdout), key=_key)
        from_helm: dict = {}
        for i, chart in enumerate(plan.charts_for(cluster)):
            # An overlay is the whole cluster: the CRDs once, and the namespace (the Helm runbook creates it itself).
            h = run([helm, "template", "r", str(out / "charts" / chart.name), "-f",
                     str(out / "charts" / chart.name / f"values-{cluster.name}.yaml"), "--skip-tests", "--include-crds",
                     *(["--set", "namespace.create=true"] if i == 0 else [])])
            assert h.returncode == 0, h.stderr
            for d in _docs(h.stdout):
                annotations = d["metadata"].get("annotations", {})
                for k in HELM_HOOKS.get(d["kind"], {}) if "helm.sh/hook" in annotations else ():
                    annotations.pop(k, None)
                from_helm.setdefault(_key(d), d)
        assert from_kustomize == sorted(from_helm.values(), key=_key), cluster.name
        built[cluster.name] = [("kustomize", o) for o in from_kustomize]
    infra = run([kubectl, "kustomize", str(out / "infra")])
    assert infra.returncode == 0, infra.stderr
    built["infra"] = [("kustomize(infra)", o) for o in _docs(infra.stdout)]
    problems = Validator().validate_fleet(built)
    assert not problems, "\n".join(format_problem(p) for p in problems)


def test_config_cluster_alone_holds_the_gateway(synthesized, plans):
    config = [f for f in fleet_files() if f.stem == "three-regions-llmd"][0]
    out = synthesized(config)
    plan = plans(config)
    for cluster in plan.fleet.clusters:
        files = {p.parent.name for p in (out / "overlays" / cluster.name).rglob("*.yaml")}
        assert ("gateway" in files) == (cluster.name == plan.fleet.gateway.config_cluster)
        assert ("serving" in files) == cluster.serving
