"""Charts published to a real OCI registry (the distribution registry, Debian's docker-registry, on 127.0.0.1) and
pulled back as a cluster would; delivery objects that install them from there at the versions the output gives."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from synth.errors import UserError
from synth.publish import publish
from tests.conftest import REPO, tool


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    binary = REPO / ".tools" / "bin" / "docker-registry"
    assert binary.exists(), ("no distribution registry: `make bootstrap` fetches Debian's docker-registry into .tools "
                             "(or put docker-registry on PATH)")
    root = tmp_path_factory.mktemp("registry")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = root / "config.yml"
    config.write_text(yaml.safe_dump({
        "version": 0.1, "log": {"level": "error"}, "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"}}))
    proc = subprocess.Popen([str(binary), "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"the registry did not start: {proc.stderr.read1().decode() if proc.stderr else ''}")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


REGISTRY = "oci://us-docker.pkg.dev/my-inference-project/charts"


def _registry_fleet(tmp_path: Path) -> tuple[dict, Path]:
    """The default fleet with its charts delivered from REGISTRY: (its data, the fleet file)."""
    data = yaml.safe_load((REPO / "fleet.yaml").read_text())
    data["delivery"]["charts"] = {"registry": REGISTRY}
    config = tmp_path / "fleet.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return data, config


def _chart_meta(chart: Path) -> dict:
    return yaml.safe_load((chart / "Chart.yaml").read_text())


def test_publish_pushes_every_chart_and_a_pull_gets_it_back(registry, tmp_path):
    ref = f"oci://{registry}/charts"
    first = publish(REPO, ref, plain_http=True)
    charts = sorted(p.parent.name for p in (REPO / "charts").glob("*/Chart.yaml"))
    assert sorted(p.chart for p in first) == charts and all(p.pushed for p in first)
    again = publish(REPO, ref, plain_http=True)
    assert not any(p.pushed for p in again) and [p.digest for p in again] == [p.digest for p in first]
    helm = tool("helm")
    for p in first:
        dest = tmp_path / p.chart
        dest.mkdir()
        r = subprocess.run([helm, "pull", f"{ref}/{p.chart}", "--version", p.version, "-d", str(dest), "--plain-http"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        (package,) = dest.glob("*.tgz")
        with tarfile.open(package) as tar:
            names = tar.getnames()
            meta = yaml.safe_load(tar.extractfile(f"{p.chart}/Chart.yaml").read())
        assert meta["version"] == _chart_meta(REPO / "charts" / p.chart)["version"] == p.version
        assert not [n for n in names if "/values-" in n], names  # no per-cluster values in a package
        assert f"{p.chart}/values.schema.json" in names and f"{p.chart}/README.md" in names


def test_a_published_version_is_never_replaced(registry, tmp_path):
    ref = f"oci://{registry}/guarded"
    out = tmp_path / "out"
    shutil.copytree(REPO / "charts", out / "charts")
    assert all(p.pushed for p in publish(out, ref, plain_http=True))
    gateway = next(c for c in (out / "charts").iterdir() if c.name.endswith("-gateway"))
    with (gateway / "templates" / "gateway.yaml").open("a") as f:
        f.write("# edited by hand, version kept\n")
    with pytest.raises(UserError, match="never replaced"):
        publish(out, ref, plain_http=True)


def test_registry_delivery_installs_the_published_versions(tmp_path):
    from synth.cli import main

    data, config = _registry_fleet(tmp_path)
    out = tmp_path / "out"
    assert main(["synth", "--config", str(config), "--out", str(out)]) == 0  # validated, delivery objects included
    versions = {c.name: _chart_meta(c)["version"] for c in (out / "charts").iterdir()}
    crds, *appsets = yaml.safe_load_all((out / "delivery" / "argocd" / "applicationset.yaml").read_text())
    assert crds["spec"]["template"]["spec"]["source"]["path"].endswith("/crds")  # once per cluster, from Git
    assert len(appsets) == len(versions)
    for appset in appsets:
        chart_source, values_source = appset["spec"]["template"]["spec"]["sources"]
        assert chart_source["repoURL"] == "us-docker.pkg.dev/my-inference-project/charts"
        assert chart_source["targetRevision"] == versions[chart_source["chart"]]
        helm = chart_source["helm"]
        assert helm["valueFiles"][0].startswith(f"$values/charts/{chart_source['chart']}/values-") and helm["skipCrds"]
        if chart_source["chart"].endswith("-serving"):
            assert helm["valuesObject"] == {"weights": {"helmHooks": False}, "tests": {"enabled": False}}
        assert values_source == {"repoURL": data["delivery"]["repoURL"], "targetRevision": "main", "ref": "values"}
        assert appset["spec"]["strategy"]["type"] == "RollingSync"
    reconcilers = set()
    for rootsync in (out / "delivery" / "config-sync").glob("gemma3-*/rootsync.yaml"):
        crd_sync, *charts = yaml.safe_load_all(rootsync.read_text())
        assert crd_sync["spec"]["git"]["dir"].endswith("/crds")
        for rs in charts:
            helm = rs["spec"]["helm"]
            assert rs["spec"]["sourceType"] == "helm" and helm["version"] == versions[helm["chart"]]
            assert helm["auth"] == "k8sserviceaccount" and helm["includeCRDs"] is False
            reconcilers.add(f"root-reconciler-{rs['metadata']['name']}")
    granted = {m["spec"]["member"].rsplit("/", 1)[1] for m in yaml.safe_load_all((out / "infra" / "identity.yaml").read_text())
               if m and m["kind"] == "IAMPolicyMember" and m["spec"]["role"] == "roles/artifactregistry.reader"}
    assert granted == reconcilers
    project = yaml.safe_load((out / "delivery" / "argocd" / "appproject.yaml").read_text())
    assert "us-docker.pkg.dev/my-inference-project/charts" in project["spec"]["sourceRepos"]


def test_a_chart_renders_as_config_sync_renders_it(tmp_path):
    """Config Sync runs `helm template` with no --kube-version (Helm's built-in default decides) and applies what it
    prints, hooks and tests included: with the GitOps values the serving chart renders, without hooks or test Pod."""
    chart = REPO / "charts" / "gemma3-serving"
    values = tmp_path / "gitops.yaml"
    values.write_text(yaml.safe_dump({"weights": {"helmHooks": False}, "tests": {"enabled": False}}))
    r = subprocess.run([tool("helm"), "template", "gemma3", str(chart), "-f", str(chart / "values-gemma3-us-east5.yaml"),
                        "-f", str(values), "--kube-version", "1.30.0"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    assert not [d for d in docs if any(k.startswith("helm.sh/hook") for k in (d["metadata"].get("annotations") or {}))]
    assert {d["kind"] for d in docs} >= {"Job", "Deployment", "InferencePool"} and "Pod" not in {d["kind"] for d in docs}


def test_site_changes_an_overlay_would_apply_are_named_in_registry_mode(tmp_path):
    from synth.pipeline import synthesize

    _, config = _registry_fleet(tmp_path)
    out = tmp_path / "out"
    assert not synthesize(config, out)["warnings"]
    local = out / "overlays" / "gemma3-us-east5" / "local" / "kustomization.yaml"
    component = yaml.safe_load(local.read_text())
    component["patches"] = [{"target": {"kind": "Deployment"}, "patch": "[]"}]
    local.write_text(yaml.safe_dump(component))
    (warning,) = synthesize(config, out)["warnings"]
    assert warning.startswith("overlays/gemma3-us-east5/local/ holds changes")


def test_tools_fetch_refuses_a_platform_the_binaries_do_not_run_on(monkeypatch, tmp_path):
    import platform

    from synth import tools

    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    monkeypatch.setattr(tools, "which", lambda name: None)
    with pytest.raises(UserError, match="Linux x86-64"):
        tools.fetch(tmp_path / "bin", names=("helm",))
