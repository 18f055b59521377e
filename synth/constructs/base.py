"""What every construct builds on: a chart that records which template each object becomes, and raw objects
for kinds cdk8s-plus-30 does not know (or knows only in an outdated shape)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cdk8s
from constructs import Construct

from ..bringup import phases
from ..template import Cond, Conditions, ForEach, Not, Template


@dataclass
class _Entry:
    obj: cdk8s.ApiObject
    file: str
    when: Cond | None
    for_each: ForEach | None
    comment: str
    helm_only: bool
    patches: tuple
    helm_annotations: dict
    helm_annotations_when: Cond | None
    depends_on: tuple  # (template file, Cond | None) of the objects this one waits for under Config Sync


class ManifestChart(cdk8s.Chart):
    """A cdk8s chart whose objects become Helm templates (one file each) and overlay manifests."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, disable_resource_name_hashes=True)
        self.conds = Conditions()
        self._entries: list[_Entry] = []

    @staticmethod
    def of(construct: Construct) -> "ManifestChart":
        chart = cdk8s.Chart.of(construct)
        assert isinstance(chart, ManifestChart), "constructs must live in a ManifestChart"
        return chart

    def emit(self, obj: cdk8s.ApiObject, file: str, *, when: Cond | None = None,
             for_each: ForEach | None = None, comment: str = "", helm_only: bool = False,
             patches: "list[Patch] | None" = None, helm_annotations: dict | None = None,
             helm_annotations_when: Cond | None = None, depends_on: "list[tuple[str, Cond | None]] | None" = None) -> None:
        """Record ``obj`` as template ``file``. ``patches`` apply to the synthesized JSON; they are for objects
        built with cdk8s-plus, whose typed serializer drops fields it does not know (value references in
        integer fields, ``resource.k8s.io/v1`` claims, conditional keys). ``helm_annotations`` go on the chart's
        template only (Helm hooks), and only where ``helm_annotations_when`` holds (None: always). ``depends_on`` names the templates whose objects must be reconciled first under
        Config Sync (each with the condition under which that object exists; at most one conditional entry)."""
        if any(e.file == file for e in self._entries):
            raise ValueError(f"two objects want template {file}")
        self._entries.append(_Entry(obj, file, when, for_each, comment, helm_only, tuple(patches or ()),
                                    dict(helm_annotations or {}), helm_annotations_when, tuple(depends_on or ())))

    def depend(self, file: str, on: str, when: Cond | None = None) -> None:
        """Make template ``file`` wait, under Config Sync, for the object of template ``on`` (existing when ``when``)."""
        entry = next(e for e in self._entries if e.file == file)
        entry.depends_on = entry.depends_on + ((on, when),)

    def templates(self) -> list[Template]:
        out = []
        for e in self._entries:
            obj = e.obj.to_json()
            _strip_cdk8s_labels(obj)
            for p in e.patches:
                p.apply(obj)
            if not e.helm_only:  # helm test hooks are no step of the bring-up
                phases.stamp(obj)
                self._stamp_depends_on(obj, e.depends_on)
            out.append(Template(file=e.file, obj=obj, when=e.when, for_each=e.for_each, comment=e.comment,
                                helm_only=e.helm_only, helm_annotations=e.helm_annotations,
                                helm_annotations_when=e.helm_annotations_when))
        return out

    def _stamp_depends_on(self, obj: dict, depends_on: tuple) -> None:
        always, conditional = [], []
        for file, cond in depends_on:
            target = next(e for e in self._entries if e.file == file).obj.to_json()
            meta = target["metadata"]
            ref = phases.depends_on_ref(target["apiVersion"], target["kind"], meta["name"], meta.get("namespace"))
            (conditional if cond is not None else always).append((ref, cond))
        if len(conditional) > 1:
            raise ValueError(f"{obj['kind']} {obj['metadata']['name']}: more than one conditional dependency")
        annotations = obj["metadata"].setdefault("annotations", {})
        refs = [r for r, _ in always]
        if conditional:
            ref, cond = conditional[0]
            annotations[self.conds.when(cond)] = {phases.DEPENDS_ON: ",".join(refs + [ref])}
            if refs:
                annotations[self.conds.when(Not(cond))] = {phases.DEPENDS_ON: ",".join(refs)}
        elif refs:
            annotations[phases.DEPENDS_ON] = ",".join(refs)


def _strip_cdk8s_labels(obj: Any) -> None:
    """cdk8s-plus stamps ``cdk8s.io/metadata.addr`` (a hash of the construct path) on pod templates. It is not
    ours to keep: renaming a construct would roll every pod. Drop it wherever it appears."""
    if isinstance(obj, dict):
        labels = obj.get("labels")
        if isinstance(labels, dict):
            labels.pop("cdk8s.io/metadata.addr", None)
        for v in obj.values():
            _strip_cdk8s_labels(v)
    elif isinstance(obj, list):
        for v in obj:
            _strip_cdk8s_labels(v)


def raw_object(scope: Construct, id: str, *, api_version: str, kind: str, name: str,
               namespace: str | None = None, labels: dict | None = None, annotations: dict | None = None,
               body: dict | None = None) -> cdk8s.ApiObject:
    """An ApiObject with arbitrary top-level fields (``spec``, ``data``, ``rules``, ...)."""
    metadata = cdk8s.ApiObjectMetadata(name=name, namespace=namespace, labels=labels, annotations=annotations)
    obj = cdk8s.ApiObject(scope, id, api_version=api_version, kind=kind, metadata=metadata)
    for key, value in (body or {}).items():
        obj.add_json_patch(cdk8s.JsonPatch.add(f"/{key}", value))
    return obj


@dataclass(frozen=True)
class Patch:
    """A JSON-pointer ``add`` (``value`` set) or ``remove`` (``value`` is ``REMOVE``) on synthesized JSON."""

    path: str
    value: Any

    def apply(self, doc: dict) -> None:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in self.path.lstrip("/").split("/")]
        node: Any = doc
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        last = parts[-1]
        if self.value is REMOVE:
            if isinstance(node, list):
                del node[int(last)]
            else:
                node.pop(last, None)
        elif isinstance(node, list):
            node.insert(len(node) if last == "-" else int(last), self.value)
        else:
            node[last] = self.value


REMOVE = object()


def set_(path: str, value: Any) -> Patch:
    return Patch(path, value)


def drop(path: str) -> Patch:
    return Patch(path, REMOVE)
