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

    data = yaml.safe_load((REPO / "fleet.yaml").read_text())
    data["delivery"]["charts"] = {"registry": "oci://us-docker.pkg.dev/my-inference-project/charts"}
    config = tmp_path / "fleet.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    assert main(["synth", "--config", str(config), "--out", str(out)]) == 0  # validated, delivery objects included
    versions = {c.name: _chart_meta(c)["version"] for c in (out / "charts").iterdir()}
    appsets = list(yaml.safe_load_all((out / "delivery" / "argocd" / "applicationset.yaml").read_text()))
    assert len(appsets) == len(versions)
    for appset in appsets:
        chart_source, values_source = appset["spec"]["template"]["spec"]["sources"]
        assert chart_source["repoURL"] == "us-docker.pkg.dev/my-inference-project/charts"
        assert chart_source["targetRevision"] == versions[chart_source["chart"]]
        assert chart_source["helm"]["valueFiles"][0].startswith(f"$values/charts/{chart_source['chart']}/values-")
        assert values_source == {"repoURL": data["delivery"]["repoURL"], "targetRevision": "main", "ref": "values"}
        assert appset["spec"]["strategy"]["type"] == "RollingSync"
    for rootsync in (out / "delivery" / "config-sync").glob("gemma3-*/rootsync.yaml"):
        for rs in yaml.safe_load_all(rootsync.read_text()):
            helm = rs["spec"]["helm"]
            assert rs["spec"]["sourceType"] == "helm" and helm["version"] == versions[helm["chart"]]
            assert helm["auth"] == "gcpserviceaccount" and helm["includeCRDs"] is True
    project = yaml.safe_load((out / "delivery" / "argocd" / "appproject.yaml").read_text())
    assert "us-docker.pkg.dev/my-inference-project/charts" in project["spec"]["sourceRepos"]
