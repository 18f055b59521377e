"""When each delivery method applies an object, relative to another one in the same cluster."""

from __future__ import annotations

from ...bringup.phases import DEPENDS_ON, PHASE_LABEL, PHASES, SYNC_WAVE, depends_on_ref
from ..problems import annotations, labels, name, namespace

PHASE_INDEX = {p.name: i for i, p in enumerate(PHASES)}


def group_of(o: dict) -> str:
    """The API group of ``o`` ("" for the core group)."""
    api = o.get("apiVersion") or ""
    return api.rpartition("/")[0] if "/" in api else ""


def wave(o: dict) -> int | None:
    """The Argo CD sync wave (0 when unset); None when the annotation is not an integer (Argo CD rejects it)."""
    raw = annotations(o).get(SYNC_WAVE, "0")
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


def phase(o: dict) -> int | None:
    """The kubectl phase's position, None without a (known) phase label."""
    return PHASE_INDEX.get(labels(o).get(PHASE_LABEL))


def ref_of(o: dict) -> str:
    return depends_on_ref(o.get("apiVersion", ""), o.get("kind", ""), name(o), namespace(o) or None)


def depends_on(o: dict) -> set[str]:
    raw = annotations(o).get(DEPENDS_ON, "")
    return {r.strip() for r in str(raw).split(",") if r.strip()}


def after(later: dict, first: dict, *, waits: bool) -> list[str]:
    """Why ``later`` may be applied before ``first`` is there (``waits``: before it is ready — a complete Job,
    available servers), per delivery method; empty when every method orders them.

    Presence (a namespace, a CRD, a ServiceAccount, a ComputeClass): Argo CD and kustomize order kinds inside one wave
    or phase (Namespaces and CRDs first, ServiceAccounts before workloads) and Config Sync applies CRDs and Namespaces
    first (a pod created before its ServiceAccount is retried until it exists), so only an explicitly later wave or
    phase is a problem. Readiness: a later wave, a later phase, and a Config Sync dependency are all needed."""
    why = []
    lw, fw = wave(later), wave(first)
    if lw is None or fw is None or (lw <= fw if waits else lw < fw):
        why.append(f"Argo CD: sync wave {annotations(later).get(SYNC_WAVE, '0')} is not "
                   f"{'after' if waits else 'at or after'} {annotations(first).get(SYNC_WAVE, '0')} of {first.get('kind')}/{name(first)}")
    if waits and ref_of(first) not in depends_on(later):
        why.append(f"Config Sync: no config.kubernetes.io/depends-on: {ref_of(first)}")
    lp, fp = phase(later), phase(first)
    if waits and (lp is None or fp is None or lp <= fp):
        why.append(f"kubectl phases: {labels(later).get(PHASE_LABEL, '(no phase)')} is not after "
                   f"{labels(first).get(PHASE_LABEL, '(no phase)')}")
    elif not waits and lp is not None and fp is not None and lp < fp:
        why.append(f"kubectl phases: {labels(later).get(PHASE_LABEL)} comes before {labels(first).get(PHASE_LABEL)}")
    return why
