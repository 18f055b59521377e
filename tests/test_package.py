"""A real package: the wheel carries everything the tool needs at run time (the fleet schema, the pinned-CRD manifest,
the supplements) under its own import name, and the installed tool works outside this repository: init, then synth
in an empty folder, validated."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, run


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    import fcntl

    out = tmp_path_factory.mktemp("wheel")
    # setuptools builds in the checkout's build/: one build at a time (each test worker may need the wheel).
    (REPO / "build").mkdir(exist_ok=True)
    with open(REPO / "build" / ".wheel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stale in [REPO / "build" / "lib", *(REPO / "build").glob("bdist.*")]:
            shutil.rmtree(stale, ignore_errors=True)  # a stopped build's leftovers (and modules since removed)
        r = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)])
    assert r.returncode == 0, r.stderr
    (found,) = out.glob("inference_fleet-*.whl")
    return found


def test_wheel_holds_the_package_and_its_data_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"inference_fleet", next(t for t in tops if t.endswith(".dist-info"))}, tops
    for data in ("inference_fleet/schemas/fleet.schema.json", "inference_fleet/schemas/crds.json",
                 "inference_fleet/schemas/supplements/autoscalingmetric.json", "inference_fleet/py.typed",
                 "inference_fleet/api.py"):
        assert data in names
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "inference-fleet = inference_fleet.cli:run" in entry


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel installed; its dependencies come from this checkout's venv (a path entry,
    whose own .pth files, such as the editable install of this repository, are not read)."""
    venv = tmp_path_factory.mktemp("venv")
    assert run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    py = venv / "bin" / "python"
    site = run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)])
    assert r.returncode == 0, r.stderr
    assert not (Path(site) / "synth").exists() and not (Path(site) / "schemas").exists()
    return venv


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["JSII_NODE"] = str(REPO / ".tools" / "bin" / "node")
    env.update(extra)
    return env


def test_installed_tool_inits_and_synthesizes_in_an_empty_folder(installed, tmp_path):
    tool = str(installed / "bin" / "inference-fleet")
    work = tmp_path / "fleet-repo"
    work.mkdir()
    env = _env(INFERENCE_FLEET_CRD_MIRROR=str(REPO.parent / "shared" / "crds"), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    assert "inference-fleet 0." in subprocess.run([tool, "--version"], capture_output=True, text=True, env=env).stdout
    r = subprocess.run([tool, "init", "--project-id", "acme-llm-prod", "--project-number", "4815162342",
                        "--regions", "us-east5,europe-west4", "--delivery", "both",
                        "--repo-url", "https://github.com/acme/fleet-config.git"], cwd=work, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([tool, "synth"], cwd=work, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    for path in ("charts/inference-serving/Chart.yaml", "overlays/inference-us-east5/kustomization.yaml",
                 "infra/kustomization.yaml", "delivery/argocd/applicationset.yaml", "FLEET.md"):
        assert (work / path).is_file(), path
    # The per-user cache, not the package or the folder, holds parsed schemas.
    assert (tmp_path / "xdg" / "inference-fleet").is_dir()
    assert not (work / ".cache").exists()
    r = subprocess.run([tool, "synth", "--check"], cwd=work, capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "matches a fresh synth" in r.stdout


def test_installed_tool_says_what_node_to_install(installed, tmp_path):
    tool = str(installed / "bin" / "inference-fleet")
    r = subprocess.run([tool, "synth", "--config", str(REPO / "fleet.yaml"), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, env=_env(JSII_NODE=str(tmp_path / "no-node")))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "inference-fleet tools --fetch" in r.stderr and "JSII_NODE" in r.stderr


def test_a_pip_user_sees_and_fetches_the_tools(installed, tmp_path):
    """Outside the repository, with neither helm nor kubectl on PATH: `tools` names what is missing and what needs
    it, a command that needs one points at `tools --fetch`, and `tools --fetch` gets them into the user cache."""
    tool = str(installed / "bin" / "inference-fleet")
    only_node = tmp_path / "path"
    only_node.mkdir()
    (only_node / "node").symlink_to(REPO / ".tools" / "bin" / "node")
    pip_cache = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True).stdout.strip()
    env = _env(PATH=f"{only_node}:/usr/bin:/bin", XDG_CACHE_HOME=str(tmp_path / "xdg"), PIP_CACHE_DIR=pip_cache,
               INFERENCE_FLEET_CRD_MIRROR=str(REPO.parent / "shared" / "crds"))
    env.pop("JSII_NODE")
    before = subprocess.run([tool, "tools"], capture_output=True, text=True, env=env)
    assert before.returncode == 1, before.stdout + before.stderr
    lines = before.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["node", "kubectl", "helm"]
    assert all(" missing " in line and "tools --fetch" in line for line in lines[1:]) and " missing " not in lines[0]
    r = subprocess.run([tool, "validate", "--overlays", str(REPO / "overlays")], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "inference-fleet tools --fetch" in r.stderr, r.stderr
    fetched = subprocess.run([tool, "tools", "--fetch"], capture_output=True, text=True, env=env)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    bin_ = tmp_path / "xdg" / "inference-fleet" / "tools" / "bin"
    assert {"helm", "kubectl"} <= {p.name for p in bin_.iterdir()}
    assert sum(line.startswith("fetched ") for line in fetched.stdout.splitlines()) == 2
    assert all(str(bin_) in line for line in fetched.stdout.splitlines()[-2:])


def test_a_cdk8s_app_outside_the_repository_adds_a_cluster(installed, tmp_path):
    """In a fresh venv and an empty folder: the documented API, a user's cdk8s chart holding one cluster's objects,
    and `inference-fleet validate` accepting what the app synthesized."""
    work = tmp_path / "app"
    work.mkdir()
    (work / "fleet.yaml").write_bytes((REPO / "fleet.yaml").read_bytes())
    (work / "main.py").write_text(
        "import cdk8s\n"
        "import inference_fleet as fleet\n"
        "assert 'add_cluster' in fleet.__all__ and fleet.add_cluster.__doc__\n"
        "plan = fleet.build_plan(fleet.load_fleet('fleet.yaml', extensions={'gemma3-27b': fleet.Extensions(\n"
        "    pod_annotations={'example.com/owner': 'platform'})}))\n"
        "app = cdk8s.App(outdir='dist')\n"
        "fleet.add_cluster(cdk8s.Chart(app, 'east'), plan, 'gemma3-us-east5')\n"
        "app.synth()\n")
    env = _env(INFERENCE_FLEET_CRD_MIRROR=str(REPO.parent / "shared" / "crds"), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    r = subprocess.run([str(installed / "bin" / "python"), "main.py"], cwd=work, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "example.com/owner: platform" in (work / "dist" / "east.k8s.yaml").read_text()
    r = subprocess.run([str(installed / "bin" / "inference-fleet"), "validate", "dist"], cwd=work, capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0 and " 0 problem(s)" in r.stdout, r.stdout + r.stderr
