"""Fleet-file cases as data: tests/cases/config/{valid,invalid}/<case>/fleet.yaml. An invalid case holds
expected.txt, the exact error line after the file name; adding a regression is adding a folder."""

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
    expected = (case / "expected.txt").read_text().strip()
    assert err.value.message == f"{path}: {expected}"
    assert "\n" not in err.value.message


def test_every_rule_has_an_invalid_case():
    from synth.config.rules import RULES

    covered = set()
    for case in (CASES / "invalid").iterdir():
        try:
            load_fleet(case / "fleet.yaml")
        except UserError as exc:
            covered.add(getattr(exc, "rule", "schema"))
    assert set(RULES) <= covered, f"fleet-file rules without an invalid case: {sorted(set(RULES) - covered)}"
