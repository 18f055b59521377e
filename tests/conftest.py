"""Shared fixtures: the provisioned tools, and synthesized trees of the test fleets (built once per session)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / ".tools" / "bin"
FLEETS = Path(__file__).resolve().parent / "fleets"

os.environ["PATH"] = f"{TOOLS}{os.pathsep}{os.environ.get('PATH', '')}"
if (TOOLS / "node").exists():
    os.environ.setdefault("JSII_NODE", str(TOOLS / "node"))


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not provisioned; run `make test` (scripts/bootstrap.sh installs it)")
    return path


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


EXAMPLES = sorted((REPO / "examples").glob("*/fleet.yaml"))


def fleet_id(path: Path) -> str:
    """A test id for a fleet file: its stem, or its folder for examples/<name>/fleet.yaml."""
    return path.parent.name if path.parent.parent == REPO / "examples" else path.stem


def fleet_files() -> list[Path]:
    return [REPO / "fleet.yaml", *sorted(FLEETS.glob("*.yaml")), *EXAMPLES]


_TREES: dict[Path, Path] = {}


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory):
    """fleet file → folder with its synthesized output (charts/, overlays/), built once per session."""
    from synth.pipeline import synthesize

    def get(config: Path) -> Path:
        if config not in _TREES:
            out = tmp_path_factory.mktemp(config.stem)
            synthesize(config, out)
            _TREES[config] = out
        return _TREES[config]

    return get


@pytest.fixture(scope="session")
def plans():
    from synth.pipeline import render

    cache: dict[Path, object] = {}

    def get(config: Path):
        if config not in cache:
            cache[config] = render(config)[0]
        return cache[config]

    return get


def pytest_sessionstart(session):
    """Preflight: the pinned CRDs every schema test needs (mirror, cache or download, sha256-checked). Without them
    hundreds of tests would fail minutes later for one reason: stop now, with that one line."""
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller checked
    from synth.errors import UserError
    from synth.upstream import crd_sources, crd_text

    for source in crd_sources().values():
        if "sha256" not in source:
            continue
        try:
            crd_text(source)
        except UserError as exc:
            pytest.exit(f"preflight: the pinned CRDs cannot be had: {exc.message}", returncode=2)


# The longest tests (process-level: signals, the installed wheel, trivy, killed writers) run first, so the workers
# finish together instead of one waiting on a long test collected last.
_LONG_FIRST = ("test_safe_runs.py", "test_posture_scanner.py", "test_package.py", "test_writer.py", "test_crd_download.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(_LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
