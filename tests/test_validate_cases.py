"""Validation cases as data (tests/casebook.py describes the format): every valid case passes, every invalid
case yields exactly its expected problems, and every rule has an invalid case that fails for that rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.validate.engine import Validator
from tests.casebook import load_case, split_inputs

CASES = Path(__file__).resolve().parent / "cases" / "validate"


def _problems(case: Path) -> set[str]:
    _, clusters = load_case(case)
    inputs = split_inputs(clusters)
    return {f"{p.rule} {p.obj if p.obj != '?' else ''} {p.path or '.'}".replace("  ", " ")
            for p in Validator().validate_fleet(inputs["clusters"], delivery=inputs["delivery"], releases=inputs["releases"])}


@pytest.mark.parametrize("case", sorted((CASES / "valid").iterdir()), ids=lambda p: p.name)
def test_valid(case):
    assert _problems(case) == set()


@pytest.mark.parametrize("case", sorted((CASES / "invalid").iterdir()), ids=lambda p: p.name)
def test_invalid(case):
    spec, _ = load_case(case)
    assert _problems(case) == set(spec["expected"])


def test_every_rule_has_an_invalid_case():
    from synth.validate.registry import RULES

    covered = {line.split()[0] for case in (CASES / "invalid").iterdir()
               for line in load_case(case)[0]["expected"]}
    assert set(RULES) - {"yaml", "object"} <= covered, f"rules without a case: {set(RULES) - covered}"


def test_malformed_documents_are_problems(tmp_path):
    from synth.validate.cli import collect

    (tmp_path / "bad.yaml").write_text("kind: [unclosed\n")
    (tmp_path / "scalar.yaml").write_text("just text\n")
    docs = collect([str(tmp_path)], None)
    assert any("__error__" in d for _, d in next(iter(docs.values())) if isinstance(d, dict))
    problems = Validator().validate_fleet({"c": [(f, d) for f, d in next(iter(docs.values())) if not (isinstance(d, dict) and "__error__" in d)]})
    assert [p.rule for p in problems] == ["object"]
