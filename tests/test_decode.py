"""The validator reads YAML as the API server's decoder (sigs.k8s.io/yaml, goyaml.v2) does: scalar types by Go's
rules where YAML 1.1 differs, timestamps kept as text, keys as JSON has them, and what has no JSON form refused."""

from __future__ import annotations

import pytest
import yaml

from synth.validate.decode import documents


@pytest.mark.parametrize("text,expected", [
    ("a: y\nb: n\nc: yes\nd: off\ne: 'y'", {"a": True, "b": False, "c": True, "d": False, "e": "y"}),
    ("a: 1e3\nb: 08\nc: 0o17\nd: 017\ne: 0x1F\nf: 1_000\ng: .5\nh: -0b11",
     {"a": 1000.0, "b": 8.0, "c": 15, "d": 15, "e": 31, "f": 1000, "g": 0.5, "h": -3}),
    ("a: 10:30\nb: =\nc: 2024-01-01T00:00:00Z\nd: 2024-01-01", {"a": "10:30", "b": "=", "c": "2024-01-01T00:00:00Z", "d": "2024-01-01"}),
    ("2024-01-01: x\n1: a\ntrue: b", {"2024-01-01": "x", "1": "a", "true": "b"}),
    ("a: &x {p: 1}\nb: *x\nc: {<<: *x, q: 2}", {"a": {"p": 1}, "b": {"p": 1}, "c": {"p": 1, "q": 2}}),
    ("a: ''\nb:\nc: ~\nd: '1'\ne: |\n  x\n", {"a": "", "b": None, "c": None, "d": "1", "e": "x\n"}),
], ids=["booleans", "numbers", "strings-goyaml-keeps", "keys", "aliases-and-merge", "empty-and-quoted"])
def test_scalars_as_the_api_server_reads_them(text, expected):
    assert list(documents(text)) == [expected]


@pytest.mark.parametrize("text", ["a: .nan", "replicas: .inf", "a: !!int abc", "a: &a [*a]", "a: 1\na: 2",
                                  "? [1]\n: x"],
                         ids=["nan", "infinity", "bad-explicit-int", "recursive-alias", "duplicate-key", "list-key"])
def test_what_has_no_json_form_is_refused(text):
    with pytest.raises(yaml.YAMLError):
        list(documents(text))


def test_empty_documents_are_skipped():
    assert list(documents("---\n---\na: 1\n---\n")) == [{"a": 1}]
