"""The CLI: exit codes, one-line errors, no tracebacks, --check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synth", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "fleet.yaml"
    bad.write_text((REPO / "fleet.yaml").read_text().replace("topology: 2x2", "topology: 9x9"))
    out = tmp_path / "out"
    r = cli("synth", "--config", str(bad), "--out", str(out))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "server.tpu.topology" in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists(), "a refused fleet file must not even create the output folder"


def test_bad_config_leaves_an_existing_folder_untouched(tmp_path):
    bad = tmp_path / "fleet.yaml"
    bad.write_text((REPO / "fleet.yaml").read_text().replace("topology: 2x2", "topology: 9x9"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    r = cli("synth", "--config", str(bad), "--out", str(out))
    assert r.returncode == 2
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # no lock file, no staging folder


def test_missing_config(tmp_path):
    r = cli("synth", "--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path))
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr


def inproc(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """The CLI's main() in this process (the same code as the console script, without a new interpreter and a
    cdk8s start-up per call): exit code and what it printed."""
    import contextlib
    import io
    import signal

    from synth.cli import main

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse
                code = exc.code
    finally:
        os.chdir(here)
        for s, h in handlers.items():
            signal.signal(s, h)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def test_check_lists_edited_files_and_diffs_them(tmp_path):
    out = tmp_path / "out"
    first = inproc("synth", "--out", str(out))
    assert first.returncode == 0 and f"{out}: " in first.stdout and " added, 0 changed, 0 removed" in first.stdout
    clean = inproc("synth", "--check", "--out", str(out))
    assert clean.returncode == 0 and "matches a fresh synth of fleet.yaml" in clean.stdout
    edited = out / "charts" / "gemma3-serving" / "templates" / "deployment.yaml"
    edited.write_text(edited.read_text() + "# edit\n")
    (out / "overlays" / "gemma3-us-east5" / "serving" / "service.yaml").unlink()
    r = inproc("synth", "--check", "--out", str(out))
    assert r.returncode == 1
    assert "stale: charts/gemma3-serving/templates/deployment.yaml" in r.stdout
    assert "missing: overlays/gemma3-us-east5/serving/service.yaml" in r.stdout
    d = inproc("synth", "--check", "--diff", "--out", str(out))
    assert d.returncode == 1
    assert "--- a/charts/gemma3-serving/templates/deployment.yaml" in d.stdout and "-# edit" in d.stdout
    assert "--- /dev/null" in d.stdout and "+++ b/overlays/gemma3-us-east5/serving/service.yaml" in d.stdout
    again = inproc("synth", "--out", str(out))
    assert again.returncode == 0 and ": 1 added, 1 changed, 0 removed" in again.stdout


def test_version_and_plan_json(tmp_path):
    import json

    v = cli("--version")
    assert v.returncode == 0 and v.stdout.startswith("inference-fleet 0.")
    p = cli("plan", "--json")
    data = json.loads(p.stdout)
    assert data["version"] == 1 and data["fleet"] == "gemma3"
    assert [c["name"] for c in data["clusters"]] == ["gemma3-us-east5", "gemma3-europe-west4"]
    assert {r["event"] for r in data["failover"]} == {"backends lost", "front end lost", "upgrading"}
    assert data["dns"]["name"] == "api.gemma3.internal." and data["runbook"]


def test_out_errors_name_the_users_path(tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    r = cli("synth", "--out", str(afile))
    assert r.returncode == 2 and f"--out {afile}: is a file" in r.stderr and r.stderr.count("\n") == 1
    # A folder nobody may create (root included): the message names it, not an internal path.
    r = cli("synth", "--out", "/proc/inference-fleet-out")
    assert r.returncode == 2 and "/proc/inference-fleet-out" in r.stderr and r.stderr.count("\n") == 1
    assert ".inference-fleet" not in r.stderr and "Traceback" not in r.stderr


def test_validate_reports_on_stdout_like_synth(tmp_path):
    r = cli("validate", "--overlays", str(REPO / "overlays"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 problem(s)" in r.stdout and r.stderr == ""


def test_missing_node_is_an_actionable_error(tmp_path):
    env = {**os.environ, "JSII_NODE": str(tmp_path / "no-node"), "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "synth", "synth", "--out", str(tmp_path / "out")], capture_output=True,
                       text=True, cwd=REPO, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "Node.js" in r.stderr and "inference-fleet tools --fetch" in r.stderr and "make" not in r.stderr


def test_old_node_is_refused(tmp_path):
    fake = tmp_path / "node"
    fake.write_text("#!/bin/sh\necho v20.20.2\n")
    fake.chmod(0o755)
    env = {**os.environ, "JSII_NODE": str(fake), "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "synth", "synth", "--out", str(tmp_path / "out")], capture_output=True,
                       text=True, cwd=REPO, env=env)
    assert r.returncode == 2 and "v20.20.2" in r.stderr and ">= 22" in r.stderr


def test_what_cannot_be_checked_warns_and_strict_fails_it(tmp_path):
    # One cluster's overlay without the infra root: reachability and scheduling need node pools and subnets that are
    # not in the input. That is not a finding about the overlay: a warning, exit 0; --strict makes it an error.
    from tests.conftest import tool

    built = subprocess.run([tool("kubectl"), "kustomize", str(REPO / "overlays" / "gemma3-europe-west4")],
                           capture_output=True, text=True, check=True)
    one = tmp_path / "one.yaml"
    one.write_text(built.stdout)
    lenient = cli("validate", str(one))
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    warnings = [line for line in lenient.stdout.splitlines() if line.startswith("warning: ")]
    assert {w.split(": ")[4] for w in warnings} == {"reachability-required", "scheduling"}
    assert all("not checked" in w for w in warnings)
    assert "0 problem(s); 2 rule(s) not checked" in lenient.stdout
    strict = cli("validate", "--strict", str(one))
    assert strict.returncode == 1
    assert not any(line.startswith("warning: ") for line in strict.stdout.splitlines())


def test_numeric_flags_are_range_checked(tmp_path):
    for bad in ("-5", "nan-ish", "nan", "100000"):
        r = cli("synth", "--config", str(REPO / "fleet.yaml"), "--out", str(tmp_path / "out"), "--lock-timeout", bad)
        assert r.returncode == 2 and "--lock-timeout" in r.stderr and "Traceback" not in r.stderr
        assert [line for line in r.stderr.splitlines() if "error:" in line] == [r.stderr.strip().splitlines()[-1]]
    assert not (tmp_path / "out").exists()


def test_a_pending_commit_is_reported_then_completed_with_a_message(tmp_path):
    import json

    from synth.emit.writer import JOURNAL, STAGING_PREFIX

    out = tmp_path / "out"
    assert inproc("synth", "--config", str(REPO / "fleet.yaml"), "--out", str(out)).returncode == 0
    staging = out / f"{STAGING_PREFIX}stopped"
    (staging / "tree").mkdir(parents=True)
    (out / JOURNAL).write_text(json.dumps({"staging": staging.name, "write": [], "delete": []}))
    check = inproc("synth", "--check", "--config", str(REPO / "fleet.yaml"), "--out", str(out))
    assert check.returncode == 1 and f"pending: {JOURNAL}" in check.stdout and "did not finish" in check.stderr
    validate = inproc("validate", "--overlays", str(out / "overlays"))
    assert validate.returncode == 0 and "a synth was stopped after its commit point" in validate.stdout
    plan = inproc("plan", "--config", str(REPO / "fleet.yaml"), "--out", str(out))
    assert plan.returncode == 0 and "a synth was stopped after its commit point" in plan.stderr
    again = inproc("synth", "--config", str(REPO / "fleet.yaml"), "--out", str(out))
    assert again.returncode == 0 and "first completed the commit" in again.stderr
    assert not (out / JOURNAL).exists()
    assert inproc("synth", "--check", "--config", str(REPO / "fleet.yaml"), "--out", str(out)).returncode == 0


def test_shell_completion_knows_every_command_and_flag(tmp_path):
    import shutil

    script = inproc("completion", "bash")
    assert script.returncode == 0
    (tmp_path / "c.sh").write_text(script.stdout)
    bash = shutil.which("bash")
    probe = ('source c.sh; COMP_WORDS=(inference-fleet va); COMP_CWORD=1; _inference_fleet; echo "${COMPREPLY[@]}"; '
             'COMP_WORDS=(inference-fleet synth --lock); COMP_CWORD=2; _inference_fleet; echo "${COMPREPLY[@]}"')
    r = subprocess.run([bash, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["validate", "--lock-timeout"]
    assert inproc("completion", "zsh").stdout.startswith("# inference-fleet shell completion")
