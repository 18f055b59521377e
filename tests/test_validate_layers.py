"""Each validation layer on its own: CRD → strict JSON Schema, pinned CRD loading, CEL evaluation."""

from __future__ import annotations

import hashlib
import shutil

import jsonschema
import pytest

from synth.errors import UserError
from synth.validate import schemas
from synth.validate.engine import Stats, _cel, _evaluate


def test_strict_conversion_rejects_unknown_fields_but_keeps_open_maps():
    crd_schema = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "port": {"x-kubernetes-int-or-string": True},
            "note": {"type": "string", "nullable": True},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"a": {"type": "string"}}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "embedded": {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True},
        }}}}
    strict = schemas.strict(crd_schema, top=True)
    v = jsonschema.Draft7Validator(strict)
    base = {"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"}}
    assert v.is_valid({**base, "spec": {"port": 80, "note": None, "free": {"zzz": 1}, "labels": {"k": "v"},
                                        "embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}}}})
    assert v.is_valid({**base, "spec": {"port": "http"}})
    assert not v.is_valid({**base, "spec": {"typo": 1}})
    assert not v.is_valid({**base, "extra": 1})
    assert not v.is_valid({**base, "metadata": {"name": "Bad_Name"}})


def test_every_pinned_kind_loads_and_matches_its_sha(tmp_path, monkeypatch):
    for (group, version, kind), source in schemas.crd_sources().items():
        ks = schemas.custom_kind(group, version, kind)
        assert ks is not None and ks.schema, kind
        if "sha256" in source:
            data = (schemas.mirror_dir() / source["mirror"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == source["sha256"]


def test_tampered_mirror_is_refused(tmp_path, monkeypatch):
    source = schemas.crd_sources()[("inference.networking.k8s.io", "v1", "InferencePool")]
    mirror = tmp_path / "mirror"
    target = mirror / source["mirror"]
    target.parent.mkdir(parents=True)
    shutil.copy(schemas.mirror_dir() / source["mirror"], target)
    target.write_bytes(target.read_bytes() + b"\n# changed\n")
    monkeypatch.setenv("INFERENCE_FLEET_CRD_MIRROR", str(mirror))
    monkeypatch.setenv("INFERENCE_FLEET_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match="sha256 differs"):
        schemas._crd_text(source)


def test_missing_mirror_without_network_is_a_clear_error(tmp_path, monkeypatch):
    source = dict(schemas.crd_sources()[("inference.networking.k8s.io", "v1", "InferencePool")])
    source["url"] = "http://127.0.0.1:9/unreachable.yaml"
    monkeypatch.setenv("INFERENCE_FLEET_CRD_MIRROR", str(tmp_path / "none"))
    monkeypatch.setenv("INFERENCE_FLEET_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match="INFERENCE_FLEET_CRD_MIRROR"):
        schemas._crd_text(source)


def test_supplement_is_applied_on_top_of_upstream():
    ks = schemas.custom_kind("networking.gke.io", "v1", "GCPBackendPolicy")
    default = ks.schema["properties"]["spec"]["properties"]["default"]["properties"]
    assert {"balancingMode", "customMetrics", "scopes", "timeoutSec", "logging"} <= set(default)
    assert default["timeoutSec"]["type"] == "integer"  # upstream fields untouched


def _problems(schema, value):
    found, stats = [], Stats()
    _cel(schema, value, [], lambda path, rule, msg: found.append((path, msg)), stats)
    return found, stats


def test_cel_defaults_applied_before_rules():
    schema = {"type": "object", "properties": {"kind": {"type": "string", "default": "Service"}, "port": {"type": "object"}},
              "x-kubernetes-validations": [{"rule": "self.kind != 'Service' || has(self.port)", "message": "port required"}]}
    found, stats = _problems(schema, {"name": "x"})
    assert found == [("", "port required")] and stats.cel_evaluated == 1


def test_cel_transition_rules_do_not_apply_to_a_create():
    schema = {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}]}
    found, stats = _problems(schema, "a")
    assert found == [] and stats.cel_evaluated == 0 and stats.cel_skipped == []


def test_cel_split_is_provided_and_unsupported_functions_are_counted():
    assert _evaluate("self.split(',').size() == 2", "a,b") is True
    schema = {"type": "string", "x-kubernetes-validations": [{"rule": "isURL(self)", "message": "url"}]}
    found, stats = _problems(schema, "https://x")
    assert found == [] and len(stats.cel_skipped) == 1
