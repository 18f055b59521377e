"""What every validation layer shares: the ``Problem`` it reports and small readers of Kubernetes objects. No
layer imports another; the engine imports them all (``synth.validate.registry``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator


@dataclass(frozen=True)
class Problem:
    file: str
    obj: str  # Kind/name
    path: str
    rule: str
    message: str
    cluster: str = ""
    # The rule could not be checked: the input lacks what it needs (the infra root, another cluster). Not a finding:
    # `validate` reports it as a warning (an error with --strict); synth always has the whole fleet in view.
    unchecked: bool = False
    # What the API server accepts with a warning (a duplicated container port): reported, never a failure of validate.
    warning: bool = False


def format_problem(p: Problem) -> str:
    where = f"[{p.cluster}] " if p.cluster else ""
    kind = "not checked: " if p.unchecked else "the API server warns: " if p.warning else ""
    return f"{where}{p.file}: {p.obj}: {p.path or '.'}: {p.rule}: {kind}{p.message}"


def at_cluster(p: Problem, cluster: str) -> Problem:
    return Problem(p.file, p.obj, p.path, p.rule, p.message, cluster, p.unchecked, p.warning)


def iter_objects(docs: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, dict]]:
    for file, obj in docs:
        if isinstance(obj, dict):
            yield file, obj


def name(o: dict) -> str:
    meta = o.get("metadata")
    return meta.get("name", "") if isinstance(meta, dict) else ""


def namespace(o: dict) -> str:
    meta = o.get("metadata")
    return meta.get("namespace", "") if isinstance(meta, dict) else ""


def oid(o: dict) -> str:
    return f"{o.get('kind', '?')}/{name(o) or '?'}"


def labels(o: dict) -> dict:
    return ((o.get("metadata") or {}).get("labels")) or {}


def annotations(o: dict) -> dict:
    return ((o.get("metadata") or {}).get("annotations")) or {}


def matches(selector: dict, lbls: dict) -> bool:
    """A non-empty matchLabels selector selects ``lbls``."""
    return bool(selector) and all(lbls.get(k) == v for k, v in selector.items())


def args(container: dict) -> dict[str, str]:
    out = {}
    for a in (container.get("command") or []) + (container.get("args") or []):
        if isinstance(a, str) and a.startswith("--"):
            k, _, v = a.partition("=")
            out[k] = v
    return out


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


def pod_specs(objs):
    """(file, object, pod metadata, pod spec, field prefix) of every object that runs pods."""
    for f, o in objs:
        kind, spec = o.get("kind"), o.get("spec") or {}
        if kind == "Pod":
            yield f, o, o.get("metadata") or {}, spec, "spec"
        elif kind in WORKLOAD_KINDS:
            t = spec.get("template") or {}
            yield f, o, t.get("metadata") or {}, t.get("spec") or {}, "spec.template.spec"
        elif kind == "CronJob":
            t = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
            yield f, o, t.get("metadata") or {}, t.get("spec") or {}, "spec.jobTemplate.spec.template.spec"


def is_infra(o: dict) -> bool:
    """Config Connector objects: they live on the management cluster, whatever input they came in."""
    api = o.get("apiVersion")
    return isinstance(api, str) and api.partition("/")[0].endswith(".cnrm.cloud.google.com")
