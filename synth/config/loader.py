"""Fleet file → ``Fleet``: safe YAML, strict schema, defaults, then the rules a schema cannot state.
Every failure is a ``ConfigError`` naming the exact config path."""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from . import rules
from .build import build, derive_defaults
from .defaults import apply_defaults
from .model import Fleet
from ..errors import ConfigError, UserError, format_path, quote, raise_all

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_ALIASES = 64
MAX_NODES = 100_000


@lru_cache(maxsize=1)
def fleet_schema() -> dict:
    from ..resources import schemas_dir

    return json.loads((schemas_dir() / "fleet.schema.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(fleet_schema())


# ---- reading -----------------------------------------------------------------------------------

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_Base):  # type: ignore[misc, valid-type]
    """Safe loader that rejects duplicate keys and non-string keys."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise ConfigError("", f"line {key_node.start_mark.line + 1}: keys must be strings, got {key!r}")
        if key in out:
            raise ConfigError("", f"line {key_node.start_mark.line + 1}: duplicate key {quote(key)}")
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_fleet_file(path: str | Path) -> Any:
    p = Path(path)
    shown = str(path)
    try:
        if not p.exists():
            raise UserError(f"{shown}: no such file (pass --config FILE)")
        if not p.is_file():
            raise UserError(f"{shown}: not a regular file")
        raw = p.read_bytes()
    except OSError as exc:
        raise UserError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError("", f"file is {len(raw)} bytes; a fleet file may be at most {MAX_BYTES}", shown)
    if b"\x00" in raw:
        raise ConfigError("", "binary file (NUL byte); a fleet file is UTF-8 YAML", shown)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("", f"not UTF-8 (byte {exc.start}); a fleet file is UTF-8 YAML", shown) from None
    _check_shape(text, shown)
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a safe loader subclass
    except ConfigError as exc:
        raise ConfigError("", exc.detail, shown) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError("", f"invalid YAML: {where}{problem}", shown) from None
    except RecursionError:
        raise ConfigError("", f"nested deeper than {MAX_DEPTH} levels", shown) from None
    _count_nodes(data, shown)
    return data


def _check_shape(text: str, shown: str) -> None:
    """Bound nesting and aliases before anything is built (anchor/alias bombs, deep nesting)."""
    depth = aliases = documents = 0
    try:
        for event in yaml.parse(text, Loader=_Base):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ConfigError("", f"nested deeper than {MAX_DEPTH} levels", shown)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise ConfigError("", f"more than {MAX_ALIASES} YAML aliases", shown)
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise ConfigError("", "more than one YAML document; a fleet file is a single mapping", shown)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError("", f"invalid YAML: {where}{problem}", shown) from None


def _count_nodes(data: Any, shown: str) -> None:
    budget = MAX_NODES
    stack = [data]
    while stack:
        node = stack.pop()
        budget -= 1
        if budget < 0:
            raise ConfigError("", f"more than {MAX_NODES} values after alias expansion", shown)
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


# ---- schema ------------------------------------------------------------------------------------


def _describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    path = format_path(error.absolute_path)
    v, schema, inst = error.validator, error.schema, error.instance
    if v == "additionalProperties":
        allowed = ", ".join(sorted(schema.get("properties", {})))
        extra = sorted(set(inst) - set(schema.get("properties", {}))) if isinstance(inst, dict) else []
        key = extra[0] if extra else "?"
        if key in MOVED and MOVED[key][0] == [p for p in error.absolute_path if not isinstance(p, int)]:
            return format_path([*error.absolute_path, key]), f"moved: write it as {MOVED[key][1]}"
        return format_path([*error.absolute_path, key]), f"unknown key {quote(key)} (allowed: {allowed})"
    if v == "required":
        missing = next((k for k in schema.get("required", []) if isinstance(inst, dict) and k not in inst), "?")
        return format_path([*error.absolute_path, missing]), "is required"
    if v == "type":
        hint = " (put it in quotes)" if schema["type"] == "string" and isinstance(inst, (int, float)) and not isinstance(inst, bool) else ""
        return path, f"must be {_a(schema['type'])}, got {_kind(inst)}{hint}"
    if v == "enum":
        return path, f"must be one of {', '.join(json.dumps(e) for e in schema['enum'])}; got {_short(inst)}"
    if v == "pattern":
        return path, f"{_short(inst)} is not allowed: must match {schema['pattern']}"
    if v in ("maxLength", "minLength"):
        return path, f"must be {'at most' if v == 'maxLength' else 'at least'} {schema[v]} characters, got {len(inst)}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
        return path, f"must be {words[v]} {schema[v]}, got {_short(inst)}"
    if v in ("minItems", "maxItems"):
        return path, f"must have {'at least' if v == 'minItems' else 'at most'} {schema[v]} entries, got {len(inst)}"
    return path, error.message


# Keys of earlier fleet files that moved: key -> (parent path without list indexes, where it lives now).
MOVED = {"proxySubnet": (["clusters"], "subnets.proxyOnly")}


def _a(t: Any) -> str:
    names = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
             "object": "a mapping", "array": "a list"}
    if isinstance(t, list):
        return " or ".join(names.get(x, x) for x in t)
    return names.get(t, t)


_KINDS = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"), (list, "a list"),
          (dict, "a mapping"))


def _kind(x: Any) -> str:
    if x is None:
        return "nothing (null)"
    return next((name for t, name in _KINDS if isinstance(x, t)), type(x).__name__)


def _short(x: Any) -> str:
    s = json.dumps(x, ensure_ascii=True, default=str) if not isinstance(x, str) else json.dumps(x, ensure_ascii=True)
    return s if len(s) <= 60 else s[:57] + "..."


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _reject_control_characters(node: Any, path: list, shown: str) -> None:
    """No field of a fleet file is multi-line; a newline or other control character is always a mistake (and
    would slip past schema patterns, whose ``$`` matches before a final newline)."""
    if isinstance(node, str):
        if _CONTROL.search(node):
            raise ConfigError(format_path(path), f"{quote(node)} contains a control character (newline, tab, ...)", shown)
    elif isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str) and _CONTROL.search(k):
                raise ConfigError(format_path(path), f"key {quote(k)} contains a control character", shown)
            _reject_control_characters(v, [*path, k], shown)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _reject_control_characters(v, [*path, i], shown)


def _error_key(e: jsonschema.ValidationError) -> tuple:
    return (len(e.absolute_path), [str(p) for p in e.absolute_path], e.validator != "additionalProperties", str(e.validator))


# ---- semantics ---------------------------------------------------------------------------------


def load_fleet(path: str | Path) -> Fleet:
    data = read_fleet_file(path)
    return parse_fleet(data, str(path))


def parse_fleet(data: Any, shown: str = "fleet file") -> Fleet:
    """Schema, defaults, the rules a schema cannot state (``synth.config.rules``), then frozen objects."""
    if not isinstance(data, dict):
        raise ConfigError("", f"the fleet file must be a mapping of keys, got {_kind(data)}", shown)
    _reject_control_characters(data, [], shown)
    errors = sorted(_validator().iter_errors(data), key=_error_key)
    reported: list[tuple] = []
    problems = []
    for e in errors:
        at = tuple(e.absolute_path)
        if any(at[:len(r)] == r for r in reported):
            continue  # the same place again, or inside a place already reported (a consequence, not news)
        reported.append(at)
        where, msg = _describe(e)
        problems.append(ConfigError(where, msg, shown))
    raise_all(problems)
    rules.check_raw(data, shown)
    root = fleet_schema()
    data = derive_defaults(apply_defaults(root, copy.deepcopy(data), root), root)
    rules.check(data, shown)
    return build(data)
