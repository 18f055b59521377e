"""Every chart passes `helm lint --strict` and renders, with every values file and with every optional branch
flipped; and `helm template` gives exactly the objects the overlay renderer gives for the same values."""

from __future__ import annotations

import copy
import re
import json
from pathlib import Path

import pytest

from synth.bringup.phases import HELM_HOOKS
import yaml

from synth.template import All, Equals, Greater, Not, Truthy, lookup
from tests.conftest import fleet_files, fleet_id, run, tool


def _set(values: dict, path: str, value) -> dict:
    out = copy.deepcopy(values)
    node = out
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value
    return out


# Every kind of model-server pod addition (fleet file server.extensions; chart values server.extensions).
EXTENSIONS = {
    "podAnnotations": {"example.com/team": "inference", "sidecar.example.com/inject": "false"},
    "podLabels": {"example.com/cost-center": "ml-42"},
    "tolerations": [{"key": "example.com/dedicated", "operator": "Equal", "value": "llm", "effect": "NoSchedule"}],
    "env": [{"name": "VLLM_LOGGING_LEVEL", "value": "DEBUG"},
            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
    "volumes": [{"name": "chat-templates", "configMap": {"name": "chat-templates"}}],
    "volumeMounts": [{"name": "chat-templates", "mountPath": "/templates", "readOnly": True}],
    "sidecars": [{"name": "log-forwarder", "image": "fluent/fluent-bit:4.0.3",
                  "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
                  "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                      "seccompProfile": {"type": "RuntimeDefault"}, "runAsNonRoot": True, "runAsUser": 65534}}],
}
# Non-empty examples for list values whose emptiness switches a branch.
LIST_SAMPLES = {
    "server.extensions.env": EXTENSIONS["env"],
    "backend.scopes": [{"selector": {"gke.io/region": "us-east5"}, "capacityScalerPercent": 50},
                       {"selector": {"gke.io/region": "europe-west4"}, "backendPreference": "PREFERRED"}],
}


def _flip(base: dict, path: str):
    value = lookup(base, path)
    if isinstance(value, list):
        if value:
            return []
        assert path in LIST_SAMPLES, f"add a non-empty sample for {path} to LIST_SAMPLES"
        return LIST_SAMPLES[path]
    return not value


def _branch_values(chart) -> list[tuple[str, dict]]:
    """The defaults, then one variant per way each condition, list and splice of the chart can go."""
    base = chart.defaults
    variants: list[tuple[str, dict]] = [("defaults", base)]
    seen = set()

    def leaves(cond):
        if isinstance(cond, Not):
            yield from leaves(cond.cond)
        elif isinstance(cond, All):
            for c in cond.conds:
                yield from leaves(c)
        else:
            yield cond

    conds = [chart.conds[i] for i in range(len(chart.conds._conds))]
    conds += [t.when for t in chart.templates if t.when]
    for cond in conds:
        for leaf in leaves(cond):
            if leaf in seen:
                continue
            seen.add(leaf)
            if isinstance(leaf, Truthy):
                flipped = _flip(base, leaf.path)
                variants.append((f"{leaf.path}={'on' if flipped else 'off'}", _set(base, leaf.path, flipped)))
            elif isinstance(leaf, Equals):
                variants.append((f"{leaf.path}={leaf.value}", _set(base, leaf.path, leaf.value)))
            elif isinstance(leaf, Greater):
                for v in (leaf.than, leaf.than + 1):
                    variants.append((f"{leaf.path}={v}", _set(base, leaf.path, v)))
    for t in chart.templates:
        if t.for_each:
            variants.append((f"{t.for_each.path}=[]", _set(base, t.for_each.path, [])))
    if chart.model is not None:
        variants.append(("extensions", _set(base, "server.extensions", EXTENSIONS)))
    if chart.key == "serving":
        variants.append(("extraArgs", _set(base, "server.extraArgs", ["--max-num-seqs=64", "--enable-prefix-caching"])))
        variants.append(("weights-from-gcs", _set(_set(base, "weights.sourceKind", "gcs"), "weights.sourceUri", "gs://src-bucket/model")))
        variants.append(("rollout-surge", _set(base, "server.rollout", {"maxSurge": 1, "maxUnavailable": 0})))
        variants.append(("template-text", _set(base, "model.name", "{{ .Release.Name }} \"quoted\" {{- fail \"boom\" }}")))
    return variants


def _cases():
    from synth.pipeline import render

    for config in fleet_files():
        plan = render(config)[0]
        for chart in plan.charts:
            for label, values in _branch_values(chart):
                yield pytest.param(config, chart.key, label, values, id=f"{fleet_id(config)}-{chart.key}-{label}")


CASES = list(_cases())


def _docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def _key(o: dict) -> tuple:
    return (o["kind"], o["metadata"]["name"])


@pytest.mark.parametrize("config,chart_key,label,values", CASES)
def test_helm_template_equals_overlay_renderer(config, chart_key, label, values, synthesized, plans, tmp_path):
    out = synthesized(config)
    chart = next(c for c in plans(config).charts if c.key == chart_key)
    chart_dir = out / "charts" / chart.name
    vfile = tmp_path / "values.yaml"
    vfile.write_text(json.dumps(values))
    helm = tool("helm")
    # (helm lint --strict runs on every values file the output ships, in test_every_values_file_lints_and_renders.)
    rendered = run([helm, "template", "release", str(chart_dir), "-f", str(vfile), "--skip-tests", "--kube-version", "1.34.0"])
    assert rendered.returncode == 0, rendered.stderr
    from_helm = sorted(_docs(rendered.stdout), key=_key)
    # The weights loader's Helm hooks are the chart's only difference: an overlay orders by waves and depends-on.
    for o in from_helm:
        loader = chart.model is not None and (o["metadata"]["name"] == chart.model.loader_name
                                              or o["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "weights-loader")
        hooks = HELM_HOOKS.get(o["kind"]) if loader else None
        annotations = o["metadata"].get("annotations", {})
        if hooks and all(annotations.get(k) == v for k, v in hooks.items()):
            for k in hooks:
                del annotations[k]
        assert not any(k.startswith("helm.sh/hook") for k in annotations), (o["kind"], annotations)
    from_python = sorted([o for _, objs in chart.render(values) for o in objs], key=_key)
    assert from_helm == from_python


@pytest.mark.parametrize("config", fleet_files(), ids=fleet_id)
def test_every_values_file_lints_and_renders(config, synthesized, plans):
    out = synthesized(config)
    helm = tool("helm")
    for chart in plans(config).charts:
        chart_dir = out / "charts" / chart.name
        files = sorted(chart_dir.glob("values-*.yaml"))
        assert {f.name for f in files} == {f"values-{c}.yaml" for c in chart.clusters}
        for vf in files:
            lint = run([helm, "lint", "--strict", str(chart_dir), "-f", str(vf)])
            assert lint.returncode == 0, lint.stdout + lint.stderr
            rendered = run([helm, "template", "r", str(chart_dir), "-f", str(vf)])
            assert rendered.returncode == 0, rendered.stderr
            tests = [d for d in _docs(rendered.stdout) if d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
            assert len(tests) == (1 if chart.model is not None else 0)


def test_schema_rejects_unknown_values(synthesized, tmp_path):
    out = synthesized(fleet_files()[0])
    chart = next((out / "charts").glob("*-serving"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  replicaz: 3\n")
    result = run([tool("helm"), "template", "r", str(chart), "-f", str(bad)])
    assert result.returncode != 0
    assert "replicaz" in result.stderr


def test_chart_metadata(synthesized):
    out = synthesized(fleet_files()[0])
    for chart in (out / "charts").iterdir():
        meta = yaml.safe_load((chart / "Chart.yaml").read_text())
        assert meta["apiVersion"] == "v2"
        # No kubeVersion: Config Sync renders with `helm template` and no --kube-version (Helm's own default decides).
        assert "kubeVersion" not in meta and meta["annotations"]["inference-fleet.dev/kubernetes"] == ">= 1.34"
        schema = json.loads((chart / "values.schema.json").read_text())
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"

        def closed(node):
            if node.get("type") == "object" and "properties" in node:
                assert node["additionalProperties"] is False
                for sub in node["properties"].values():
                    closed(sub)
            if isinstance(node.get("items"), dict):
                closed(node["items"])

        closed(schema)


def test_template_files_are_templates(synthesized):
    """Templates read .Values (they are not static YAML)."""
    out = synthesized(fleet_files()[0])
    for chart in (out / "charts").iterdir():
        texts = [p.read_text() for p in (chart / "templates").rglob("*.yaml")]
        assert sum(".Values." in t for t in texts) >= len(texts) * 0.8
        assert all(Path(p).read_text().startswith("# Generated by inference-fleet") for p in (chart / "templates").rglob("*.yaml"))


def test_a_packaged_chart_holds_no_per_cluster_values(synthesized, tmp_path):
    import tarfile

    out = synthesized(fleet_files()[0])
    for chart in sorted((out / "charts").iterdir()):
        r = run([tool("helm"), "package", str(chart), "-d", str(tmp_path)])
        assert r.returncode == 0, r.stderr
    for package in tmp_path.glob("*.tgz"):
        names = tarfile.open(package).getnames()
        assert any(n.endswith("/values.yaml") for n in names)
        assert not [n for n in names if "/values-" in n], names


def test_every_chart_has_a_readme_listing_every_value(synthesized, plans):
    config = fleet_files()[0]
    out = synthesized(config)
    for chart in plans(config).charts:
        readme = run([tool("helm"), "show", "readme", str(out / "charts" / chart.name)])
        assert readme.returncode == 0 and f"# {chart.name}" in readme.stdout
        leaves = [p for p, t in chart.spec._types.items() if t != "object" or not any(q.startswith(p + ".") for q in chart.spec._types)]
        missing = [p for p in leaves if f"| `{p}` |" not in readme.stdout]
        assert not missing, missing


def test_a_chart_version_changes_exactly_when_its_content_does(tmp_path):
    """SemVer with a digest of the packaged content: a change to what one chart holds gives that chart, and only it,
    a new version; the same content always the same version."""
    from synth.pipeline import render

    def versions(config) -> dict[str, str]:
        files = render(config)[1]
        return {path.split("/")[1]: yaml.safe_load(data)["version"] for path, data in files.items()
                if path.startswith("charts/") and path.endswith("/Chart.yaml")}

    from tests.conftest import REPO

    before = versions(REPO / "fleet.yaml")
    assert versions(REPO / "fleet.yaml") == before
    assert all(re.fullmatch(r"0\.1\.0\+[0-9a-f]{12}", v) for v in before.values()), before
    data = yaml.safe_load((REPO / "fleet.yaml").read_text())
    data.setdefault("server", {})["terminationGracePeriodSeconds"] = 240
    changed = tmp_path / "fleet.yaml"
    changed.write_text(yaml.safe_dump(data))
    after = versions(changed)
    assert {name for name in before if before[name] != after[name]} == {"gemma3-serving"}
