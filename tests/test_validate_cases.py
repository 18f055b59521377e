"""Validation cases as data: tests/cases/validate/{valid,invalid}/<case>/ hold one YAML file per cluster
(everything that cluster receives); invalid cases list the expected problems as `<rule> <Kind/name> <path>`."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.validate.cli import load_docs
from synth.validate.engine import Validator

CASES = Path(__file__).resolve().parent / "cases" / "validate"


def _problems(case: Path) -> set[str]:
    clusters = {f.stem: load_docs(f) for f in sorted(case.glob("*.yaml"))}
    return {f"{p.rule} {p.obj if p.obj != '?' else ''} {p.path or '.'}".replace("  ", " ")
            for p in Validator().validate_fleet(clusters)}


@pytest.mark.parametrize("case", sorted((CASES / "valid").iterdir()), ids=lambda p: p.name)
def test_valid(case):
    assert _problems(case) == set()


@pytest.mark.parametrize("case", sorted((CASES / "invalid").iterdir()), ids=lambda p: p.name)
def test_invalid(case):
    expected = {line for line in (case / "expected.txt").read_text().splitlines() if line}
    assert _problems(case) == expected


def test_every_rule_has_an_invalid_case():
    from synth.validate.rules import RULES

    covered = {line.split()[0] for case in (CASES / "invalid").iterdir()
               for line in (case / "expected.txt").read_text().splitlines() if line}
    assert set(RULES) - {"yaml", "object"} <= covered, f"rules without a case: {set(RULES) - covered}"


def test_malformed_documents_are_problems(tmp_path):
    from synth.validate.cli import collect

    (tmp_path / "bad.yaml").write_text("kind: [unclosed\n")
    (tmp_path / "scalar.yaml").write_text("just text\n")
    docs = collect([str(tmp_path)], None)
    assert any("__error__" in d for _, d in next(iter(docs.values())) if isinstance(d, dict))
    problems = Validator().validate_fleet({"c": [(f, d) for f, d in next(iter(docs.values())) if not (isinstance(d, dict) and "__error__" in d)]})
    assert [p.rule for p in problems] == ["object"]
