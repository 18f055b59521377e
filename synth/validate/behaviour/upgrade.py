"""What an upgrade leaves serving in each region.

A Deployment update replaces pods as its strategy says (the Deployment controller does not consult
PodDisruptionBudgets); a node upgrade drains nodes through the eviction API, which a PodDisruptionBudget gates.
Kubernetes' arithmetic: ``maxUnavailable`` percentages round down, ``maxSurge`` percentages round up, both default
to 25%; a ``Recreate`` strategy stops every pod first.

* ``upgrade-serving``: a model server (pods an InferencePool selects) keeps at least one pod ready through a rolling
  update, so the region never drops out of the load balancer during an upgrade; the endpoint picker of a pool that
  fails closed keeps one too (a pool that fails open routes without it).
* ``upgrade-pdb``: every PodDisruptionBudget lets a node drain evict at least one pod of its Deployment (otherwise
  node upgrades stall) and, for model servers with two or more replicas, leaves one serving.
Replicas are the Deployment's, or its HorizontalPodAutoscaler's minReplicas (the fewest it may run)."""

from __future__ import annotations

import math

from ..problems import Problem, iter_objects, labels, matches, name, namespace, oid
from ..view import FleetView

RULES = {
    "upgrade-serving": "a rolling update keeps a model server pod (and, for a fail-closed pool, a picker pod) serving in every region",
    "upgrade-pdb": "PodDisruptionBudgets let node upgrades evict a pod and keep a model server pod serving",
}


def _amount(value, replicas: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = replicas * int(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value)


def replicas_of(deployment: dict, hpas: list[dict]) -> int:
    """The replicas a Deployment runs with: its HPA's minReplicas where one of ``hpas`` scales it."""
    for h in hpas:
        ref = (h.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment" and ref.get("name") == name(deployment) and namespace(h) == namespace(deployment):
            return int((h.get("spec") or {}).get("minReplicas", 1))
    return int((deployment.get("spec") or {}).get("replicas", 1))


def rollout(deployment: dict, replicas: int) -> tuple[str, int, int]:
    """(strategy type, pods down at once, extra pods) of one update step."""
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    kind = strategy.get("type", "RollingUpdate")
    if kind == "Recreate":
        return kind, replicas, 0
    ru = strategy.get("rollingUpdate") or {}
    return kind, _amount(ru.get("maxUnavailable", "25%"), replicas, False), _amount(ru.get("maxSurge", "25%"), replicas, True)


def check(view: FleetView) -> list[Problem]:
    problems: list[Problem] = []
    for cluster, docs in view.clusters.items():
        objs = list(iter_objects(docs))
        by_kind: dict[str, list[tuple[str, dict]]] = {}
        for f, o in objs:
            by_kind.setdefault(o.get("kind", ""), []).append((f, o))
        hpas: dict[str, list[dict]] = {}
        for _, h in by_kind.get("HorizontalPodAutoscaler", []):
            hpas.setdefault(namespace(h), []).append(h)
        pools: dict[str, list[dict]] = {}
        for _, p in by_kind.get("InferencePool", []):
            pools.setdefault(namespace(p), []).append(p)
        services = {(namespace(s), name(s)): s for _, s in by_kind.get("Service", [])}
        pdbs: dict[str, list] = {}
        for pf, pdb in by_kind.get("PodDisruptionBudget", []):
            pdbs.setdefault(namespace(pdb), []).append((pf, pdb))
        fail_closed_pickers: dict[str, list[dict]] = {}  # namespace → picker Service selectors
        for ns, in_ns in pools.items():
            for p in in_ns:
                ref = (p.get("spec") or {}).get("endpointPickerRef") or {}
                if ref.get("failureMode", "FailClose") == "FailClose":
                    svc = services.get((ns, ref.get("name")))
                    if svc:
                        fail_closed_pickers.setdefault(ns, []).append((svc.get("spec") or {}).get("selector") or {})

        def role(d: dict) -> str:
            tl = labels((d.get("spec") or {}).get("template") or {})
            if any(matches(((p.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}, tl)
                   for p in pools.get(namespace(d), [])):
                return "model server"
            if any(matches(sel, tl) for sel in fail_closed_pickers.get(namespace(d), [])):
                return "endpoint picker of a fail-closed pool"
            return ""

        for f, d in by_kind.get("Deployment", []):
            what = role(d)
            replicas = replicas_of(d, hpas.get(namespace(d), []))
            kind, down, surge = rollout(d, replicas)
            if what:
                serving = replicas - down
                if serving < 1:
                    how = ("Recreate stops every pod before starting new ones" if kind == "Recreate" else
                           f"{replicas} replica(s) with maxUnavailable {down} leave {max(serving, 0)} serving")
                    fix = ("run 2 or more replicas, or maxSurge 1 with maxUnavailable 0 (one spare TPU node)"
                           if what == "model server" else "run 2 picker replicas or fail open")
                    problems.append(Problem(f, oid(d), "spec.strategy", "upgrade-serving",
                                            f"the {what} stops serving in this region during an update: {how}; {fix}", cluster))
            tl = labels((d.get("spec") or {}).get("template") or {})
            for pf, pdb in pdbs.get(namespace(d), []):
                spec = pdb.get("spec") or {}
                if not matches((spec.get("selector") or {}).get("matchLabels") or {}, tl):
                    continue
                if "maxUnavailable" in spec:
                    allowed = _amount(spec["maxUnavailable"], replicas, False)
                elif "minAvailable" in spec:
                    allowed = replicas - _amount(spec["minAvailable"], replicas, True)
                else:
                    allowed = replicas
                if allowed < 1:
                    problems.append(Problem(pf, oid(pdb), "spec", "upgrade-pdb",
                                            f"allows no eviction of {oid(d)}'s {replicas} pod(s): node upgrades cannot drain "
                                            "its nodes; allow at least one (maxUnavailable: 1)", cluster))
                elif what == "model server" and replicas >= 2 and replicas - allowed < 1:
                    problems.append(Problem(pf, oid(pdb), "spec", "upgrade-pdb",
                                            f"lets a drain evict all {replicas} model server pods at once: the region stops "
                                            "serving during node upgrades; use maxUnavailable: 1", cluster))
    return problems
