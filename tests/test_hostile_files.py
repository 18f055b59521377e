"""Hostile fleet files: safe loaders, size/depth/alias limits, one clear line each."""

from __future__ import annotations

import pytest

from synth.config.loader import MAX_BYTES, load_fleet
from synth.errors import UserError

CASES = {
    "empty": (b"", "must be a mapping of keys, got nothing"),
    "binary": (b"\x00\x01\x02\xff", "binary file"),
    "not-utf8": (b"name: \xff\xfe\n", "not UTF-8"),
    "list": (b"- a\n- b\n", "must be a mapping of keys, got a list"),
    "scalar": (b"42\n", "must be a mapping of keys, got an integer"),
    "deep": (b"a: " + b"[" * 200 + b"]" * 200 + b"\n", "nested deeper than"),
    "alias-bomb": (b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                   b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                   b"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n", "after alias expansion"),
    "python-tag": (b"name: !!python/object/apply:os.system ['true']\n", "invalid YAML"),
    "two-documents": (b"name: a\n---\nname: b\n", "more than one YAML document"),
    "huge": (b"name: " + b"a" * (MAX_BYTES + 1) + b"\n", "a fleet file may be at most"),
    "duplicate-key": (b"name: a\nname: b\n", "duplicate key \"name\""),
    "non-string-key": (b"1: a\n", "keys must be strings"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile(name, tmp_path):
    data, expected = CASES[name]
    path = tmp_path / "fleet.yaml"
    path.write_bytes(data)
    with pytest.raises(UserError) as err:
        load_fleet(path)
    assert expected in err.value.message
    assert "\n" not in err.value.message


def test_missing_path(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_fleet(tmp_path / "absent.yaml")


def test_directory(tmp_path):
    with pytest.raises(UserError, match="not a regular file"):
        load_fleet(tmp_path)
