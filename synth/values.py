"""Chart values: one typed description per chart gives values.schema.json, the commented values.yaml,
the per-cluster values files, and the types the Helm writer needs to format references."""

from __future__ import annotations

import json

import copy
from dataclasses import dataclass
from typing import Any

from .template import yaml_scalar


@dataclass(frozen=True)
class Leaf:
    schema: dict
    doc: str


@dataclass(frozen=True)
class Group:
    fields: dict  # name -> Leaf | Group
    doc: str = ""


def string(doc: str, **schema: Any) -> Leaf:
    return Leaf({"type": "string", **schema}, doc)


def integer(doc: str, **schema: Any) -> Leaf:
    return Leaf({"type": "integer", **schema}, doc)


def number(doc: str, **schema: Any) -> Leaf:
    return Leaf({"type": "number", **schema}, doc)


def boolean(doc: str) -> Leaf:
    return Leaf({"type": "boolean"}, doc)


def array(doc: str, items: dict, **schema: Any) -> Leaf:
    return Leaf({"type": "array", "items": items, **schema}, doc)


def strict_object(properties: dict, required: list[str] | None = None) -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": sorted(required if required is not None else properties),
    }


DNS_LABEL = {"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
QUANTITY = {"pattern": r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"}


class ValuesSpec:
    def __init__(self, root: Group, title: str) -> None:
        self.root = root
        self.title = title
        self._types: dict[str, str] = {}
        self._index(root, "")

    def _index(self, group: Group, prefix: str) -> None:
        for name, node in group.fields.items():
            path = f"{prefix}{name}"
            if isinstance(node, Group):
                self._types[path] = "object"
                self._index(node, path + ".")
            else:
                self._types[path] = node.schema.get("type", "object")

    def type_of(self, path: str) -> str:
        if path not in self._types:
            raise KeyError(f"no value '{path}' in {self.title}")
        return self._types[path]

    def json_schema(self, header: str) -> dict:
        def build(group: Group) -> dict:
            props = {}
            for name, node in group.fields.items():
                if isinstance(node, Group):
                    props[name] = build(node)
                    if node.doc:
                        props[name]["description"] = node.doc
                else:
                    props[name] = {"description": node.doc, **copy.deepcopy(node.schema)}
            return strict_object(props)

        schema = {"$schema": "http://json-schema.org/draft-07/schema#", "$comment": header, "title": self.title}
        schema.update(build(self.root))
        return schema

    def check_complete(self, values: dict) -> None:
        """Every described value is present and nothing else is (the plan and the spec agree)."""

        def walk(group: Group, data: dict, prefix: str) -> None:
            if set(data) != set(group.fields):
                raise AssertionError(f"values at '{prefix or '.'}' have {sorted(data)}, spec {sorted(group.fields)}")
            for name, node in group.fields.items():
                if isinstance(node, Group):
                    walk(node, data[name], f"{prefix}{name}.")

        walk(self.root, values, "")

    def values_yaml(self, values: dict, header: str) -> str:
        lines = [f"# {line}" if line else "#" for line in header.splitlines()]

        def walk(group: Group, data: dict, indent: int) -> None:
            pad = " " * indent
            for name, node in group.fields.items():
                if node.doc:
                    for doc_line in node.doc.splitlines():
                        lines.append(f"{pad}# {doc_line}")
                value = data[name]
                if isinstance(node, Group):
                    lines.append(f"{pad}{name}:")
                    walk(node, value, indent + 2)
                else:
                    lines.extend(dump_value(name, value, indent))

        walk(self.root, values, 0)
        return "\n".join(lines) + "\n"


    def readme_rows(self, values: dict) -> list[str]:
        """Markdown rows (value path, type, default, meaning) of every value, in values.yaml's order."""
        rows: list[str] = []

        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        def walk(group: Group, data: dict, prefix: str) -> None:
            for name, node in group.fields.items():
                path = f"{prefix}{name}"
                if isinstance(node, Group):
                    walk(node, data[name], f"{path}.")
                else:
                    shown = json.dumps(data[name], ensure_ascii=False)
                    shown = shown if len(shown) <= 60 else shown[:57] + "..."
                    rows.append(f"| `{path}` | {node.schema.get('type', '')} | `{cell(shown)}` | {cell(node.doc)} |")

        walk(self.root, values, "")
        return rows


def dump_value(key: str, value: Any, indent: int) -> list[str]:
    """Block-style YAML for one key (used for values files, where values are plain data)."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        out = [f"{pad}{yaml_scalar(key)}:"]
        for k, v in value.items():
            out.extend(dump_value(k, v, indent + 2))
        return out
    if isinstance(value, list) and value:
        out = [f"{pad}{yaml_scalar(key)}:"]
        for it in value:
            if isinstance(it, dict) and it:
                body: list[str] = []
                for k, v in it.items():
                    body.extend(dump_value(k, v, indent + 4))
                out.append(f"{pad}  - {body[0][indent + 4:]}")
                out.extend(body[1:])
            else:
                out.append(f"{pad}  - {yaml_scalar(it) if not isinstance(it, (dict, list)) else ('{}' if isinstance(it, dict) else '[]')}")
        return out
    if isinstance(value, (dict, list)):
        return [f"{pad}{yaml_scalar(key)}: {'{}' if isinstance(value, dict) else '[]'}"]
    return [f"{pad}{yaml_scalar(key)}: {yaml_scalar(value)}"]


def overrides(defaults: dict, values: dict) -> dict:
    """The smallest mapping that, merged over ``defaults`` the way Helm merges -f files, gives ``values``.
    Lists and scalars are replaced whole, mappings are merged key by key."""
    out: dict = {}
    for k, v in values.items():
        d = defaults.get(k)
        if isinstance(v, dict) and isinstance(d, dict):
            sub = overrides(d, v)
            if sub:
                out[k] = sub
        elif v != d or k not in defaults:
            out[k] = v
    return out


def merge(defaults: dict, over: dict) -> dict:
    out = copy.deepcopy(defaults)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
