"""Safe runs: synths into one folder are serialized by a lock; SIGINT or SIGTERM at any moment leave the previous
tree or the complete new one, no leftovers, no traceback, and a message that says which."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

LEFTOVERS = (".inference-fleet-journal", ".inference-fleet.lock")


def _start(config: Path, out: Path, *extra: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "synth", "synth", "--config", str(config), "--out", str(out), *extra],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def _check(config: Path, out: Path) -> bool:
    r = subprocess.run([sys.executable, "-m", "synth", "synth", "--check", "--config", str(config), "--out", str(out)],
                       cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return r.returncode == 0


def _no_leftovers(out: Path) -> None:
    names = {p.name for p in out.iterdir()}
    assert not names & set(LEFTOVERS), names
    assert not [n for n in names if n.startswith(".inference-fleet-staging-")], names


@pytest.fixture(scope="module")
def fleets(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("fleets")
    a, b = folder / "a.yaml", folder / "b.yaml"
    a.write_text((REPO / "fleet.yaml").read_text())
    b.write_text((REPO / "fleet.yaml").read_text().replace("maxModelLen: 8192", "maxModelLen: 4096"))
    return a, b


def test_racing_synths_take_turns(fleets, tmp_path):
    a, b = fleets
    out = tmp_path / "out"
    first, second = _start(a, out), _start(b, out)
    results = [p.communicate(timeout=300) + (p.returncode,) for p in (first, second)]
    assert [r[2] for r in results] == [0, 0], results
    assert _check(a, out) or _check(b, out)  # one whole fleet, never a mix
    _no_leftovers(out)


def test_a_busy_folder_is_named(fleets, tmp_path):
    a, _ = fleets
    out = tmp_path / "out"
    holder = _start(a, out, env={"INFERENCE_FLEET_COMMIT_DELAY": "6"})
    deadline = time.time() + 60
    while not (out / ".inference-fleet.lock").exists() and time.time() < deadline:
        time.sleep(0.05)
    waiter = subprocess.run([sys.executable, "-m", "synth", "synth", "--config", str(a), "--out", str(out), "--lock-timeout", "0"],
                            cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    holder.communicate(timeout=300)
    assert waiter.returncode == 2 and waiter.stderr.count("\n") == 1
    assert "is being written by inference-fleet synth --config" in waiter.stderr and f"pid {holder.pid}" in waiter.stderr
    _no_leftovers(out)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_at_many_points(fleets, tmp_path, sig):
    a, b = fleets
    out = tmp_path / "out"
    assert _start(a, out).wait(timeout=300) == 0
    for delay in (0.05, 0.8, 1.6):  # start-up, rendering, validating or writing
        proc = _start(b, out)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=300)
        if "Fatal Python error: init_import_site" in err:
            # The signal reached the interpreter while it imported its own site module, before any of ours: Python
            # reports that itself (no handler of a program can exist yet). Nothing of ours ran.
            assert _check(a, out), f"{delay}: Python stopped at start-up, but the folder changed"
            continue
        assert "Traceback" not in err, err
        if proc.returncode == 0:
            assert _check(b, out)  # it finished before the signal
            holds_a = False
        elif proc.returncode < 0:
            # The signal came while Python itself was starting (nothing of ours ran), or, for SIGTERM, after the run
            # had already finished and its handlers were gone.
            holds_a = _check(a, out)
            assert holds_a or _check(b, out), f"{delay}: killed ({proc.returncode}) with a mixed tree"
        elif "before writing" in err:
            assert _check(a, out), f"{delay}: says nothing was written, but the folder changed"
            holds_a = True
        else:
            assert "committed; it is complete" in err, err
            assert _check(b, out)
            holds_a = False
        assert proc.returncode in (0, -sig, 130 if sig == signal.SIGINT else 143)
        _no_leftovers(out)
        if not holds_a:
            assert _start(a, out).wait(timeout=300) == 0  # back to fleet a for the next point


def test_a_signal_after_the_commit_point_finishes_the_swap(fleets, tmp_path):
    a, b = fleets
    out = tmp_path / "out"
    assert _start(a, out).wait(timeout=300) == 0
    proc = _start(b, out, env={"INFERENCE_FLEET_COMMIT_DELAY": "4"})
    journal = out / ".inference-fleet-journal"
    deadline = time.time() + 120
    while not journal.exists() and time.time() < deadline:
        time.sleep(0.02)
    assert journal.exists(), "the run never reached its commit point"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143 and "committed; it is complete" in err and "Traceback" not in err, err
    assert _check(b, out)
    _no_leftovers(out)
