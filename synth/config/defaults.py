"""Schema defaults: fill every key the fleet file leaves out with the default its schema states, following
``$ref`` into ``definitions`` (model, server and routing are defined once and used by both the single-model form
and each ``models[]`` entry)."""

from __future__ import annotations

import copy
from typing import Any


def resolve(schema: dict, root: dict) -> dict:
    """The schema a ``{"$ref": "#/definitions/NAME"}`` points at (draft-07: a $ref replaces its siblings)."""
    while "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported: {ref}")
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


def apply_defaults(schema: dict, data: Any, root: dict) -> Any:
    schema = resolve(schema, root)
    if isinstance(data, dict) and schema.get("type") == "object":
        for key, sub in schema.get("properties", {}).items():
            sub = resolve(sub, root)
            if key not in data and "default" in sub:
                data[key] = copy.deepcopy(sub["default"])
            if key in data:
                data[key] = apply_defaults(sub, data[key], root)
    elif isinstance(data, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], x, root) for x in data]
    return data


def defaults_of(root: dict, *path: str) -> dict:
    """The defaults of an object the schema does not create by itself (``"definitions", "server", "tpu"``)."""
    node = root
    for part in path:
        node = resolve(node, root)
        node = node["properties"][part] if part in node.get("properties", {}) else node[part]
    return apply_defaults(node, {}, root)
