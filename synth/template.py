"""Values-aware manifests: one object tree, two renderings.

Constructs never see concrete per-cluster values. They receive *references* (``ref("model.bucket")``)
that travel through cdk8s as marker strings. After synthesis each object is rendered twice from the same
tree:

* ``helm_yaml`` turns every reference into a Helm expression (``{{ toJson .Values.model.bucket }}``), so the
  chart's templates really read ``.Values``;
* ``evaluate`` substitutes a cluster's values, giving the plain objects of that cluster's overlay.

Because both come from one tree, ``helm template -f values-<cluster>.yaml`` and the overlay agree by
construction (and the test suite checks it with the real helm binary).

Markers (the brackets never occur in Kubernetes names or in anything we emit):

* ``⟦v:a.b⟧``        the value at ``.Values.a.b``; alone it keeps its type, inside text it is formatted
* ``⟦i:field⟧``      a field of the current item of an object repeated with ``ForEach``
* key ``⟦when:N⟧``   the mapping under it is merged into its parent only when condition N holds
* item ``{⟦if:N⟧: x}``  list item ``x`` is present only when condition N holds
* item ``⟦splice:a.b⟧``  the list at ``.Values.a.b`` is spliced into the surrounding list
* key ``⟦merge:a.b⟧``  the mapping at ``.Values.a.b`` is merged into the surrounding mapping (after its own keys)
"""

from __future__ import annotations

import functools

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

_MARK = re.compile(r"⟦(v|i):([A-Za-z0-9_.]+)⟧")
_WHEN = re.compile(r"^⟦when:(\d+)⟧$")
_IF = re.compile(r"^⟦if:(\d+)⟧$")
_SPLICE = re.compile(r"^⟦splice:([A-Za-z0-9_.]+)⟧$")
_EACH = re.compile(r"^⟦each:([A-Za-z0-9_.]+)⟧$")
_MERGE = re.compile(r"^⟦merge:([A-Za-z0-9_.]+)⟧$")


def ref(path: str) -> str:
    """A reference to ``.Values.<path>``."""
    return f"⟦v:{path}⟧"


def item(field_name: str) -> str:
    """A reference to a field of the current ``ForEach`` item."""
    return f"⟦i:{field_name}⟧"


def splice(path: str) -> str:
    """A list item standing for every element of the list at ``.Values.<path>``."""
    return f"⟦splice:{path}⟧"


def merge_in(path: str) -> str:
    """A mapping key standing for every entry of the mapping at ``.Values.<path>`` (its value is ignored). The
    values schema keeps those keys apart from the mapping's own: a key twice is an error to Helm's YAML reader."""
    return f"⟦merge:{path}⟧"


def each(path: str, node: Any) -> dict:
    """A list item repeated for every element of the list at ``.Values.<path>``; inside ``node``,
    ``item(".")`` is the element itself."""
    return {f"⟦each:{path}⟧": node}


def lookup(values: dict, path: str) -> Any:
    if path == ".":
        return values
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"values have no '{path}'")
        node = node[part]
    return node


# ---- conditions ---------------------------------------------------------------------------------


class Cond:
    def helm(self, root: str = ".Values") -> str:
        raise NotImplementedError

    def holds(self, values: dict) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class Truthy(Cond):
    path: str

    def helm(self, root: str = ".Values") -> str:
        return f"{root}.{self.path}"

    def holds(self, values: dict) -> bool:
        return bool(lookup(values, self.path))


@dataclass(frozen=True)
class Equals(Cond):
    path: str
    value: str

    def helm(self, root: str = ".Values") -> str:
        return f"eq {root}.{self.path} {json.dumps(self.value)}"

    def holds(self, values: dict) -> bool:
        return lookup(values, self.path) == self.value


@dataclass(frozen=True)
class Greater(Cond):
    path: str
    than: int

    def helm(self, root: str = ".Values") -> str:
        return f"gt (int {root}.{self.path}) {self.than}"

    def holds(self, values: dict) -> bool:
        return int(lookup(values, self.path)) > self.than


@dataclass(frozen=True)
class Not(Cond):
    cond: Cond

    def helm(self, root: str = ".Values") -> str:
        return f"not ({self.cond.helm(root)})"

    def holds(self, values: dict) -> bool:
        return not self.cond.holds(values)


@dataclass(frozen=True)
class All(Cond):
    conds: tuple[Cond, ...]

    def helm(self, root: str = ".Values") -> str:
        return "and " + " ".join(f"({c.helm(root)})" for c in self.conds)

    def holds(self, values: dict) -> bool:
        return all(c.holds(values) for c in self.conds)


@dataclass(frozen=True)
class ForEach:
    """Repeat an object once per element of the list at ``.Values.<path>``."""

    path: str


class Conditions:
    """The conditions one chart uses; markers carry their index."""

    def __init__(self) -> None:
        self._conds: list[Cond] = []

    def when(self, cond: Cond) -> str:
        """A mapping key: ``{ctx.when(c): {...}}`` merges ``{...}`` into the parent when ``c`` holds."""
        return f"⟦when:{self._index(cond)}⟧"

    def only_if(self, cond: Cond, value: Any) -> dict:
        """A list item present only when ``cond`` holds."""
        return {f"⟦if:{self._index(cond)}⟧": value}

    def _index(self, cond: Cond) -> int:
        self._conds.append(cond)
        return len(self._conds) - 1

    def __getitem__(self, index: int) -> Cond:
        return self._conds[index]


# ---- rendering with values ----------------------------------------------------------------------


def evaluate(node: Any, values: dict, conds: Conditions, current: dict | None = None) -> Any:
    """The plain data ``node`` stands for, given ``values`` (and the current ForEach item)."""

    def value_of(kind: str, path: str) -> Any:
        if kind == "v":
            return lookup(values, path)
        if current is None:
            raise KeyError(f"item reference '{path}' outside ForEach")
        return lookup(current, path)

    def walk(n: Any) -> Any:
        if isinstance(n, str):
            whole = _MARK.fullmatch(n)
            if whole:
                return value_of(*whole.groups())
            if "⟦" not in n:
                return n
            return _MARK.sub(lambda m: _text(value_of(*m.groups())), n)
        if isinstance(n, dict):
            out: dict = {}
            merged: dict = {}
            for k, v in n.items():
                w = _WHEN.match(k)
                if w:
                    if conds[int(w.group(1))].holds(values):
                        out.update(walk(v))
                elif _MERGE.match(k):
                    merged.update(lookup(values, _MERGE.match(k).group(1)))
                else:
                    out[k] = walk(v)
            out.update(merged)
            return out
        if isinstance(n, list):
            out_list: list = []
            for it in n:
                if isinstance(it, dict) and len(it) == 1 and _IF.match(next(iter(it))):
                    (k, v), = it.items()
                    if conds[int(_IF.match(k).group(1))].holds(values):
                        out_list.append(walk(v))
                elif isinstance(it, str) and _SPLICE.match(it):
                    out_list.extend(lookup(values, _SPLICE.match(it).group(1)))
                elif isinstance(it, dict) and len(it) == 1 and _EACH.match(next(iter(it))):
                    (k, v), = it.items()
                    for element in lookup(values, _EACH.match(k).group(1)):
                        out_list.append(evaluate(v, values, conds, element))
                else:
                    out_list.append(walk(it))
            return out_list
        return n

    return walk(node)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---- rendering as a Helm template ---------------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z0-9_/][A-Za-z0-9_./@%+=-]*(?: [A-Za-z0-9_./@%+=()-]+)*$")


def yaml_scalar(value: Any) -> str:
    """A YAML scalar that reads back as exactly ``value`` (plain where that is unambiguous)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and _reads_back_as_string(value):
            return value
        return json.dumps(value, ensure_ascii=True)
    raise TypeError(f"not a scalar: {value!r}")


_RESERVED = re.compile(
    r"(?:[-+]?(?:[0-9][0-9_.:eE+-]*|\.inf|\.nan|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+)|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|"
    r"TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~)"
)


@functools.lru_cache(maxsize=None)
def _reads_back_as_string(s: str) -> bool:
    """Neither YAML 1.1 (PyYAML, Helm's values) nor YAML 1.2 would read ``s`` as anything but this string. Cached:
    the same scalars recur in every chart and cluster."""
    if _RESERVED.fullmatch(s):
        return False
    try:
        return yaml.load(s, Loader=_SAFE_LOADER) == s  # noqa: S506 - the C build of the safe loader
    except yaml.YAMLError:
        return False


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class HelmWriter:
    """Writes one object tree as Helm template lines."""

    def __init__(self, conds: Conditions, types: Callable[[str], str], item_var: str = "$item",
                 root: str = ".Values") -> None:
        # Inside a range ``.`` is the element, so references there go through ``$``, the template's root.
        self.root = root
        self.conds = conds
        self.types = types  # value path -> JSON schema type, to format references inside text
        self.item_var = item_var

    def expr(self, kind: str, path: str) -> str:
        if kind == "v":
            return f"{self.root}.{path}"
        return self.item_var if path == "." else f"{self.item_var}.{path}"

    def scalar(self, n: Any) -> str:
        if isinstance(n, str) and "⟦" in n:
            whole = _MARK.fullmatch(n)
            if whole:
                return "{{ toJson " + self.expr(*whole.groups()) + " }}"
            fmt, args, pos = "", [], 0
            for m in _MARK.finditer(n):
                fmt += n[pos : m.start()].replace("%", "%%")
                kind, path = m.groups()
                if kind == "v" and self.types(path) == "integer":
                    fmt += "%d"
                    args.append(f"(int {self.expr(kind, path)})")
                else:
                    fmt += "%v"
                    args.append(self.expr(kind, path))
                pos = m.end()
            fmt += n[pos:].replace("%", "%%")
            return "{{ printf " + json.dumps(fmt, ensure_ascii=False) + " " + " ".join(args) + " | toJson }}"
        return yaml_scalar(n)

    def mapping(self, d: dict, indent: int) -> list[str]:
        pad = " " * indent
        lines: list[str] = []
        merges = [m.group(1) for m in map(_MERGE.match, d) if m]
        for k, v in d.items():
            if _MERGE.match(k):
                continue
            w = _WHEN.match(k)
            if w:
                lines.append(f"{pad}{{{{- if {self.conds[int(w.group(1))].helm(self.root)} }}}}")
                lines.extend(self.mapping(v, indent))
                lines.append(f"{pad}{{{{- end }}}}")
                continue
            key = yaml_scalar(k)
            if isinstance(v, dict) and v:
                lines.append(f"{pad}{key}:")
                lines.extend(self.mapping(v, indent + 2))
            elif isinstance(v, list) and v:
                lines.append(f"{pad}{key}:")
                lines.extend(self.sequence(v, indent + 2))
            elif isinstance(v, (dict, list)):
                lines.append(f"{pad}{key}: {'{}' if isinstance(v, dict) else '[]'}")
            else:
                lines.append(f"{pad}{key}: {self.scalar(v)}")
        for path in merges:
            lines.append(f"{pad}{{{{- with {self.root}.{path} }}}}")
            lines.append(f"{pad}{{{{- toYaml . | nindent {indent} }}}}")
            lines.append(f"{pad}{{{{- end }}}}")
        return lines

    def sequence(self, items: list, indent: int) -> list[str]:
        pad = " " * indent
        lines: list[str] = []
        for it in items:
            if isinstance(it, dict) and len(it) == 1 and _IF.match(next(iter(it))):
                (k, v), = it.items()
                lines.append(f"{pad}{{{{- if {self.conds[int(_IF.match(k).group(1))].helm(self.root)} }}}}")
                lines.extend(self.sequence([v], indent))
                lines.append(f"{pad}{{{{- end }}}}")
            elif isinstance(it, str) and _SPLICE.match(it):
                path = _SPLICE.match(it).group(1)
                lines.append(f"{pad}{{{{- range {self.root}.{path} }}}}")
                lines.append(f"{pad}- {{{{ toJson . }}}}")
                lines.append(f"{pad}{{{{- end }}}}")
            elif isinstance(it, dict) and len(it) == 1 and _EACH.match(next(iter(it))):
                (k, v), = it.items()
                lines.append(f"{pad}{{{{- range {self.item_var} := {self.root}.{_EACH.match(k).group(1)} }}}}")
                outer, self.root = self.root, "$.Values"
                lines.extend(self.sequence([v], indent))
                self.root = outer
                lines.append(f"{pad}{{{{- end }}}}")
            elif isinstance(it, dict) and it:
                body = self.mapping(it, indent + 2)
                if body[0].lstrip().startswith("{{"):
                    lines.append(f"{pad}-")
                    lines.extend(body)
                else:
                    lines.append(f"{pad}- {body[0][indent + 2:]}")
                    lines.extend(body[1:])
            elif isinstance(it, list) and it:
                raise ValueError("nested sequences are not emitted")
            elif isinstance(it, (dict, list)):
                lines.append(f"{pad}- {'{}' if isinstance(it, dict) else '[]'}")
            else:
                lines.append(f"{pad}- {self.scalar(it)}")
        return lines


@dataclass
class Template:
    """One chart template: an object tree plus how often it is emitted."""

    file: str  # e.g. "deployment.yaml"
    obj: dict
    when: Cond | None = None
    for_each: ForEach | None = None
    comment: str = ""
    helm_only: bool = False  # helm test hooks: in the chart, never in an overlay
    helm_annotations: dict = field(default_factory=dict)  # on the chart's template only (Helm hooks)
    helm_annotations_when: Cond | None = None  # ...and only when this holds (None: always)

    def helm(self, conds: Conditions, types: Callable[[str], str], header: str) -> str:
        writer = HelmWriter(conds, types, root="$.Values" if self.for_each else ".Values")
        comments = header + "\n" + self.comment
        # Helm runs template actions inside YAML comments too: comments carry neither actions nor markers.
        if "{{" in comments or "}}" in comments or "⟦" in comments:
            raise ValueError(f"{self.file}: template syntax or a value reference in a comment")
        lines = [f"# {line}" if line else "#" for line in header.splitlines()]
        if self.comment:
            lines += [f"# {line}" if line else "#" for line in self.comment.splitlines()]
        obj = self.obj
        if self.helm_annotations:
            extra = ({conds.when(self.helm_annotations_when): self.helm_annotations} if self.helm_annotations_when
                     else self.helm_annotations)
            meta = {**obj["metadata"], "annotations": {**obj["metadata"].get("annotations", {}), **extra}}
            obj = {**obj, "metadata": meta}
        body = writer.mapping(obj, 0)
        if self.for_each:
            lines.append(f"{{{{- range $item := .Values.{self.for_each.path} }}}}")
            lines.append("---")
            lines.extend(body)
            lines.append("{{- end }}")
        elif self.when:
            lines.append(f"{{{{- if {self.when.helm()} }}}}")
            lines.extend(body)
            lines.append("{{- end }}")
        else:
            lines.extend(body)
        text = "\n".join(lines) + "\n"
        if "⟦" in text:
            raise ValueError(f"{self.file}: a value reference was not turned into a template expression")
        return text

    def render(self, values: dict, conds: Conditions, helm: bool = False) -> list[dict]:
        if self.helm_only:
            return []
        if self.for_each:
            objs = [evaluate(self.obj, values, conds, it) for it in lookup(values, self.for_each.path)]
        elif self.when and not self.when.holds(values):
            return []
        else:
            objs = [evaluate(self.obj, values, conds)]
        if helm and self.helm_annotations and (self.helm_annotations_when is None or self.helm_annotations_when.holds(values)):
            for o in objs:
                o["metadata"].setdefault("annotations", {}).update(self.helm_annotations)
        return objs
