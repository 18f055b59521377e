"""The library API: the README's Python examples run as written, a cdk8s app of the user's own gets a cluster's objects
(validated first), and extensions reach the pods through the fleet-file rules."""

from __future__ import annotations

import re
import shutil

import pytest

import synth as fleet
from tests.conftest import REPO


def _readme_examples() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("### As a library", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_every_public_name_resolves_and_is_documented():
    assert sorted(dir(fleet)) == sorted(fleet.__all__)
    for name in fleet.__all__:
        value = getattr(fleet, name)
        assert value.__doc__, f"{name} has no docstring"


def test_the_readme_examples_run(tmp_path, monkeypatch):
    examples = _readme_examples()
    assert len(examples) == 2
    shutil.copy(REPO / "fleet.yaml", tmp_path / "fleet.yaml")
    monkeypatch.chdir(tmp_path)
    for code in examples:
        # jsii's Node.js process resolves a relative outdir against its own working directory (where this test
        # process started it), not the chdir above: give the example's folder in full.
        code = code.replace("import inference_fleet as fleet", "import synth as fleet").replace('outdir="dist"', f'outdir="{tmp_path}/dist"')
        exec(compile(code, "README.md", "exec"), {})
    (out,) = (tmp_path / "dist").glob("*.k8s.yaml")
    from synth.cli import main

    assert main(["validate", str(tmp_path / "dist")]) == 0
    text = out.read_text()
    assert "log-forwarder" in text and "example.com/team: inference" in text and "kind: CustomResourceDefinition" in text


def test_extensions_join_the_fleet_files_and_obey_its_rules():
    ext = fleet.Extensions(env=[{"name": "VLLM_LOGGING_LEVEL", "value": "DEBUG"}],
                           tolerations=[{"key": "example.com/dedicated", "operator": "Exists", "effect": "NoSchedule"}])
    plan = fleet.build_plan(fleet.load_fleet(REPO / "fleet.yaml", extensions={"google/gemma-3-27b-it": ext}))
    (server,) = [o for o in fleet.cluster_manifests(plan, "gemma3-europe-west4", model="gemma3-27b")
                 if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-vllm")]
    pod = server["spec"]["template"]["spec"]
    assert pod["containers"][0]["env"][-1] == {"name": "VLLM_LOGGING_LEVEL", "value": "DEBUG"}
    assert pod["tolerations"][-1]["key"] == "example.com/dedicated"
    with pytest.raises(fleet.ConfigErrors) as err:
        fleet.load_fleet(REPO / "fleet.yaml", extensions={"gemma3-27b": fleet.Extensions(env=[{"name": "VLLM_XLA_CACHE_PATH", "value": "/x"}])})
    assert [p.path for p in err.value.problems] == ["server.extensions.env[0].name"]
    with pytest.raises(fleet.ConfigErrors) as err:
        fleet.load_fleet(REPO / "fleet.yaml", extensions={"no-such-model": fleet.Extensions()})
    assert "extensions.no-such-model" in str(err.value)


def test_add_cluster_refuses_a_plan_that_fails_validation():
    import cdk8s

    plan = fleet.build_plan(fleet.load_fleet(REPO / "fleet.yaml"))
    cluster = next(c for c in plan.fleet.clusters if c.name == "gemma3-us-east5")
    for _, _, objs in plan.cluster_objects(cluster):
        for o in objs:
            if o["kind"] == "PodDisruptionBudget":
                o["spec"]["maxUnavailable"] = -1
    chart = cdk8s.Chart(cdk8s.App(), "mine")
    with pytest.raises(fleet.ValidationFailed) as err:
        fleet.add_cluster(chart, plan, "gemma3-us-east5")
    assert err.value.problems and not chart.node.children
    with pytest.raises(fleet.UserError):
        fleet.cluster_manifests(plan, "no-such-cluster")


def test_a_namespaced_chart_and_one_call_per_model(tmp_path):
    """A user's chart with a namespace of its own keeps cluster-scoped objects unnamespaced; adding two models of one
    cluster to one chart adds their shared objects once."""
    import cdk8s
    import yaml

    plan = fleet.build_plan(fleet.load_fleet(REPO / "examples" / "multi-model" / "fleet.yaml"))
    cluster = next(c.name for c in plan.fleet.clusters if len(plan.fleet.models_in(c)) >= 2)
    models = [m.pool for m in plan.fleet.models_in(next(c for c in plan.fleet.clusters if c.name == cluster))][:2]
    app = cdk8s.App(outdir=str(tmp_path / "dist"))
    chart = cdk8s.Chart(app, "mine", namespace=plan.fleet.namespace)
    first = fleet.add_cluster(chart, plan, cluster, model=models[0])
    second = fleet.add_cluster(chart, plan, cluster, model=models[1])
    assert first and second
    app.synth()
    docs = [d for d in yaml.safe_load_all((tmp_path / "dist" / "mine.k8s.yaml").read_text()) if d]
    scoped = [d for d in docs if d["kind"] in ("CustomResourceDefinition", "ComputeClass")]
    assert scoped and all("namespace" not in d["metadata"] for d in scoped)
    assert sum(d["kind"] == "CustomResourceDefinition" for d in docs) == 1
