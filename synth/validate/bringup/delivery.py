"""Preconditions the delivery objects and Helm releases must meet for a bring-up that needs no hand fixes."""

from __future__ import annotations

from ...bringup import health
from ...bringup.phases import HELM_HOOKS
from ..problems import Problem, annotations, iter_objects, labels, name, oid, pod_specs
from ..view import FleetView
from .order import group_of

RULES = {
    "bringup-argocd": "under RollingSync the template carries no inert selfHeal, and Argo CD has a health check for "
                      "every kind delivered that it does not know",
    "bringup-helm": "a Helm release renders no Namespace (the runbook creates it) and runs the weights loader as a "
                    "pre-install/pre-upgrade hook after its ServiceAccount",
}



def check(view: FleetView) -> list[Problem]:
    return _argocd(view) + _helm(view)


def _argocd(view: FleetView) -> list[Problem]:
    out = []
    delivery = list(iter_objects(view.delivery))
    argo = [(f, o) for f, o in delivery if o.get("kind") in ("ApplicationSet", "Application") and group_of(o) == "argoproj.io"]
    if not argo:
        return out
    configured = set()
    for _, o in delivery:
        if o.get("kind") == "ConfigMap" and name(o) == "argocd-cm":
            configured |= set((o.get("data") or {}))
    for f, o in argo:
        spec = o.get("spec") or {}
        if o.get("kind") == "ApplicationSet" and (spec.get("strategy") or {}).get("type") == "RollingSync":
            automated = (((spec.get("template") or {}).get("spec") or {}).get("syncPolicy") or {}).get("automated") or {}
            if "selfHeal" in automated:
                out.append(Problem(f, oid(o), "spec.template.spec.syncPolicy.automated.selfHeal", "bringup-argocd",
                                   "RollingSync turns auto-sync off on the Applications it generates (reading only prune): "
                                   "selfHeal never takes effect"))
    kinds = {(group_of(o), o.get("kind")) for docs in view.clusters.values() for _, o in iter_objects(docs)}
    first = argo[0]
    for g, k in sorted(set(health.CHECKS) & kinds):
        if health.key(g, k) not in configured:
            out.append(Problem(first[0], oid(first[1]), "", "bringup-argocd",
                               f"Argo CD has no health check for {g}/{k} and argocd-cm sets no {health.key(g, k)}: such an "
                               "object is healthy as soon as it exists, so RollingSync goes on past one no controller accepts"))
    return out


def _helm(view: FleetView) -> list[Problem]:
    out = []
    for release, docs in view.releases.items():
        objs = list(iter_objects(docs))
        accounts = {name(o): o for _, o in objs if o.get("kind") == "ServiceAccount"}
        for f, o in objs:
            if o.get("kind") == "Namespace":
                out.append(Problem(f, oid(o), "", "bringup-helm",
                                   "the release renders the namespace the runbook creates before helm install: Helm refuses "
                                   "to adopt an object it did not create", release))
        for f, o, _, spec, prefix in pod_specs(objs):
            if o.get("kind") != "Job" or labels(o).get("app.kubernetes.io/component") != "weights-loader":
                continue
            hook = annotations(o)
            phases = set(str(hook.get("helm.sh/hook", "")).split(","))
            if not {"pre-install", "pre-upgrade"} <= phases:
                out.append(Problem(f, oid(o), "metadata.annotations", "bringup-helm",
                                   "the weights loader is no pre-install/pre-upgrade hook: Helm installs the servers beside it "
                                   "and they mount a folder still being copied", release))
                continue
            sa = accounts.get(spec.get("serviceAccountName", ""))
            if sa is not None:
                sa_hook = annotations(sa)
                if not {"pre-install", "pre-upgrade"} <= set(str(sa_hook.get("helm.sh/hook", "")).split(",")) or \
                        int(sa_hook.get("helm.sh/hook-weight", "0")) >= int(hook.get("helm.sh/hook-weight", "0")):
                    out.append(Problem(f, oid(sa), "metadata.annotations", "bringup-helm",
                                       f"the loader hook runs as ServiceAccount {name(sa)}, which is no earlier hook: hooks run "
                                       f"before the release's other objects exist (expected {HELM_HOOKS['ServiceAccount']})", release))
    return out
