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
    _cel(schema, value, [], lambda path, rule, msg, unchecked=False: found.append((path, msg)), stats)
    return found, stats


def _emitted(schema: dict, value) -> tuple[list, Stats]:
    from synth.validate.problems import Problem

    found, stats = [], Stats()
    _cel(schema, value, [], lambda path, rule, msg, unchecked=False: found.append(Problem("f", "o", path, rule, msg, "", unchecked)), stats)
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


def test_kubernetes_cel_libraries_are_provided():
    assert _evaluate("self.split(',').size() == 2", "a,b") is True
    assert _evaluate("self.substring(2) == 'example.com'", "*.example.com") is True
    assert _evaluate("isIP(self)", "10.0.0.1") is True and _evaluate("isIP(self)", "fe80::1%eth0") is False
    assert _evaluate("isIP(self)", "example.com") is False
    assert _evaluate("isURL(self)", "https://x/y") is True and _evaluate("isURL(self)", "/path") is True
    assert _evaluate("isURL(self)", "not a url") is False
    # Heterogeneous equality, as Kubernetes CEL has it: an int-or-string compared with 0.
    assert _evaluate("self != 0", "8080") is True and _evaluate("self == 0", "x") is False


def test_an_unknown_cel_function_is_not_checked_and_an_erroring_rule_rejects():
    unknown = {"type": "string", "x-kubernetes-validations": [{"rule": "quantityLike(self)", "message": "q"}]}
    found, stats = _emitted(unknown, "1Gi")
    assert len(stats.cel_skipped) == 1 and all(p.unchecked for p in found) and found
    # The API server rejects an object whose rule does not evaluate (here: a field read without has()).
    erroring = {"type": "object", "properties": {"a": {"type": "string"}},
                "x-kubernetes-validations": [{"rule": "self.b == 'x'", "message": "b"}]}
    found, stats = _emitted(erroring, {"a": "y"})
    assert [p.rule for p in found] == ["cel"] and not found[0].unchecked and "does not evaluate" in found[0].message


def test_every_served_version_of_a_pinned_crd_is_checked():
    from synth.validate.engine import Validator

    route = {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "n"},
             "spec": {"parentRefs": [{"name": "g"}], "rules": [{"backendRefs": [{"name": "s", "port": 80}]}]}}
    assert Validator().validate_object("f", route) == []
    route["spec"]["rules"][0]["backendRefs"][0]["port"] = 70000
    assert [p.rule for p in Validator().validate_object("f", route)] == ["schema"]


def test_a_kind_without_a_schema_is_not_checked_rather_than_invalid():
    from synth.validate.engine import Validator

    found = Validator().validate_object("f", {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert [(p.rule, p.unchecked) for p in found] == [("schema", True)]


def test_structural_defaults_are_applied_inside_list_items_before_the_schema():
    from synth.validate.engine import apply_defaults

    schema = {"type": "object", "properties": {"items": {"type": "array", "items": {
        "type": "object", "properties": {"type": {"type": "string", "default": "IPAddress"}, "value": {"type": "string"}}}}}}
    value = {"items": [{"value": "1.2.3.4"}, {"type": "Hostname", "value": "a"}]}
    assert apply_defaults(schema, value) == {"items": [{"type": "IPAddress", "value": "1.2.3.4"}, {"type": "Hostname", "value": "a"}]}
    assert value["items"][0] == {"value": "1.2.3.4"}  # the input is not changed


def test_a_duplicated_container_port_is_a_warning_not_a_failure():
    from synth.validate.engine import Validator

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"},
           "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
                                    "ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "TCP"}]}]}}
    found = [p for p in Validator().validate_fleet({"c": [("f", pod)]}) if p.rule == "api-container-ports"]
    assert [(p.path, p.warning) for p in found] == [("spec.containers[0].ports[1].containerPort", True)]
