"""The bring-up model: the order each delivery method applies a cluster's objects in, and the preconditions each
object needs at the moment it is applied — on the first rollout and again on every change.

How each method orders (``order.py``):
  Argo CD       sync waves (``argocd.argoproj.io/sync-wave``, default 0); a wave starts when the earlier ones are
                healthy (a Job: complete); inside a wave, kinds in Argo CD's order (Namespaces, then
                ServiceAccounts, ..., workloads last).
  Config Sync   CRDs and Namespaces first; otherwise ``config.kubernetes.io/depends-on`` or no order at all.
  kubectl -k    the documented phases, selected by the label ``inference-fleet.dev/phase``, one after the other.
  Helm          a release's hooks first (a pre-install Job is waited for), then its objects by kind.

The preconditions (``workloads.py``, ``delivery.py``): a custom resource's CRD served, the namespace, the
ServiceAccount a pod runs as, a Secret a pod needs, weights complete before a server mounts them (and the server's
own wait keyed to the loader's marker), servers before the pool that routes to them, Argo CD health checks for the
kinds it does not know, and Helm releases that create nothing the runbook creates and run the loader as a hook."""

from __future__ import annotations

from ..problems import Problem
from ..view import FleetView
from . import delivery, workloads

RULES = {**workloads.RULES, **delivery.RULES}


def check(view: FleetView) -> list[Problem]:
    return workloads.check(view) + delivery.check(view)
