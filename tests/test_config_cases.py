"""Fleet-file cases as data: tests/cases/config/{valid,invalid}/<case>/fleet.yaml. An invalid case holds
expected.txt, the exact error lines after the file name (one per problem: a run reports them all); adding a
regression is adding a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.config.loader import load_fleet
from synth.errors import UserError

CASES = Path(__file__).resolve().parent / "cases" / "config"


@pytest.mark.parametrize("case", sorted((CASES / "valid").iterdir()), ids=lambda p: p.name)
def test_valid(case):
    fleet = load_fleet(case / "fleet.yaml")
    assert fleet.serving_clusters


@pytest.mark.parametrize("case", sorted((CASES / "invalid").iterdir()), ids=lambda p: p.name)
def test_invalid(case):
    path = case / "fleet.yaml"
    with pytest.raises(UserError) as err:
        load_fleet(path)
    expected = (case / "expected.txt").read_text().strip().splitlines()
    assert err.value.message.splitlines() == [f"{path}: {line}" for line in expected]


def test_every_rule_has_an_invalid_case():
    from synth.config.rules import RULES

    covered = set()
    for case in (CASES / "invalid").iterdir():
        try:
            load_fleet(case / "fleet.yaml")
        except UserError as exc:
            covered.update(getattr(exc, "rules", [getattr(exc, "rule", "schema")]))
    assert set(RULES) <= covered, f"fleet-file rules without an invalid case: {sorted(set(RULES) - covered)}"


def test_every_problem_of_a_file_is_reported_in_one_run(tmp_path):
    import yaml

    data = yaml.safe_load((Path(__file__).resolve().parents[1] / "fleet.yaml").read_text())
    data["model"]["maxModelLen"] = -1
    data["server"]["replicas"] = "two"
    bad = tmp_path / "fleet.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(UserError) as err:
        load_fleet(bad)
    assert [line.split(": ")[1] for line in err.value.message.splitlines()] == ["model.maxModelLen", "server.replicas"]
    # Once the schema holds, every rule runs: two rule problems in one file, one line each.
    data = yaml.safe_load((Path(__file__).resolve().parents[1] / "fleet.yaml").read_text())
    data["model"]["path"] = "google/../x"
    data["namespace"] = "kube-system"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(UserError) as err:
        load_fleet(bad)
    assert sorted(line.split(": ")[1] for line in err.value.message.splitlines()) == ["model.path", "namespace"]
