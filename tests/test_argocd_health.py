"""The Argo CD health checks the output installs (delivery/argocd/argocd-cm-health.yaml), run in a real Lua
interpreter the way Argo CD runs them: the object as the global ``obj``, a table with status and message back."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import REPO

lupa = pytest.importorskip("lupa")

CM = yaml.safe_load((REPO / "delivery" / "argocd" / "argocd-cm-health.yaml").read_text())


def health(key: str, obj: dict) -> tuple[str, str]:
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)

    def table(value):
        if isinstance(value, dict):
            return lua.table_from({k: table(v) for k, v in value.items()})
        if isinstance(value, list):
            return lua.table_from([table(v) for v in value])
        return value

    lua.globals().obj = table(obj)
    result = lua.execute(CM["data"][key])
    return result["status"], result["message"]


def cond(type_: str, status: str, reason: str = "R", message: str = "m") -> dict:
    return {"type": type_, "status": status, "reason": reason, "message": message}


POOL = "resource.customizations.health.inference.networking.k8s.io_InferencePool"


def test_every_kind_argo_cd_does_not_know_has_a_check():
    assert set(CM["data"]) == {
        POOL,
        "resource.customizations.health.cloud.google.com_ComputeClass",
        "resource.customizations.health.networking.gke.io_HealthCheckPolicy",
        "resource.customizations.health.networking.gke.io_GCPBackendPolicy",
    }


@pytest.mark.parametrize("status,expected", [
    # No report is no problem: an exported pool whose Gateway is in another cluster may have no parents at all, and a
    # check waiting for a report that never comes would stall the RollingSync for good.
    (None, "Healthy"),
    ({"parents": []}, "Healthy"),
    ({"parents": [{"conditions": [cond("Accepted", "Unknown", "Pending")]}]}, "Healthy"),
    ({"parents": [{"conditions": [cond("Accepted", "True"), cond("ResolvedRefs", "True")]}]}, "Healthy"),
    ({"parents": [{"conditions": [cond("Exported", "True")]}]}, "Healthy"),
    ({"parents": [{"conditions": [cond("Accepted", "True"), cond("ResolvedRefs", "False", "InvalidExtensionRef")]}]}, "Degraded"),
    ({"parents": [{"conditions": [cond("Accepted", "False", "NotSupportedByParent")]}]}, "Degraded"),
])
def test_pool_health(status, expected):
    obj = {"kind": "InferencePool", "metadata": {"name": "p"}, **({"status": status} if status is not None else {})}
    got, message = health(POOL, obj)
    assert got == expected, message
    if expected == "Degraded":
        assert "False" in message


@pytest.mark.parametrize("key", sorted(k for k in CM["data"] if k != POOL))
@pytest.mark.parametrize("status,expected", [
    (None, "Healthy"),
    ({"conditions": [cond("Health", "True")]}, "Healthy"),
    ({"conditions": [cond("Attached", "True")]}, "Healthy"),
    ({"conditions": [cond("Attached", "False", "TargetNotFound", "no such import")]}, "Degraded"),
    ({"ancestors": [{"ancestorRef": {"name": "i"}, "conditions": [cond("Accepted", "False", "TargetNotFound", "no such import")]}]},
     "Degraded"),
])
def test_condition_health(key, status, expected):
    obj = {"metadata": {"name": "x"}, **({"status": status} if status is not None else {})}
    got, message = health(key, obj)
    assert got == expected, message
    if expected == "Degraded":
        assert "TargetNotFound" in message and "no such import" in message
