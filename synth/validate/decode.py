"""The API server's first step: YAML to JSON types, as Kubernetes' YAML decoder (sigs.k8s.io/yaml, goyaml.v2) reads it.

Every document becomes what the API server sees after decoding: objects with string keys, lists, strings, integers,
floats, booleans and null. Plain scalars are typed by goyaml.v2's rules, not PyYAML's YAML 1.1 ones, where they differ:
``y``/``n`` are booleans; ``1e3`` and ``08`` are numbers; ``0o17`` is octal; ``10:30`` and ``=`` are strings; a
timestamp keeps its text. NaN and infinities have no JSON form and refuse the document, as does a key given twice
(strict decoding: kubectl's default field validation reports a duplicate field). Plain mappings, sequences and the
core scalars are built straight from libyaml's nodes; anything else (aliases, merge keys, binary, sets, non-string
keys) takes PyYAML's constructor and a JSON round trip.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_INT, _FLOAT, _BOOL, _NULL = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                              "tag:yaml.org,2002:null")
_MERGE, _TIMESTAMP = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:timestamp"

# goyaml.v2 resolve.go: the plain scalars with a fixed meaning, then numbers by Go's parsers.
_BOOLS = {**{v: True for v in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")},
          **{v: False for v in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")}}
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_SPECIAL_FLOATS = frozenset({".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                             ".nan", ".NaN", ".NAN"})
_GO_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


class DecodeError(yaml.YAMLError):
    """What the API server's decoder refuses (a YAML error to the caller: one line per document)."""


@functools.lru_cache(maxsize=65536)
def _resolve(kind, value, implicit):
    """goyaml.v2's tag of a plain scalar (it depends on the text only); quoted and block scalars are strings."""
    if kind is not ScalarNode:
        return _MAP if kind is MappingNode else _SEQ
    if not implicit[0]:
        return _STR
    if value in _BOOLS:
        return _BOOL
    if value in _NULLS:
        return _NULL
    if value in _SPECIAL_FLOATS:
        return _FLOAT
    if value == "<<":
        return _MERGE
    if value[:1] in "-+0123456789.":
        plain = value.replace("_", "")
        if _GO_INT.fullmatch(plain):
            return _INT
        if _GO_FLOAT.fullmatch(plain):
            return _FLOAT
    return _STR


def _go_int(loader, node) -> int:
    plain = node.value.replace("_", "")
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    if re.fullmatch(r"0[0-7]+", digits):
        return sign * int(digits, 8)
    return sign * int(digits, 0)


def _go_float(loader, node) -> float:
    value = node.value.replace("_", "")
    if value.lower().lstrip("+-") in (".inf", ".nan"):
        raise DecodeError(f"{value}: the API server's JSON has no NaN or infinity")
    return float(value)


def _go_bool(loader, node) -> bool:
    return _BOOLS[node.value]


class _Loader(_Base):
    """PyYAML's safe loader with goyaml.v2's scalar typing and a direct node-to-JSON-types build."""

    def __init__(self, stream):
        super().__init__(stream)
        assert not self.yaml_path_resolvers  # the safe loader has none: descending and ascending change nothing
        self.resolve = _resolve
        self.descend_resolver = {}.get
        self.ascend_resolver = tuple

    def construct_document(self, node):  # noqa: D102 - PyYAML hook
        try:
            return self._direct(node)
        except _General:
            pass
        except (ValueError, RecursionError) as exc:  # `!!int abc`; an alias that contains itself
            raise DecodeError(f"not a JSON document: {str(exc).splitlines()[0][:120] or type(exc).__name__}") from None
        try:
            data = _Base.construct_document(self, node)
            return json.loads(json.dumps(data, default=str, allow_nan=False))
        except (ValueError, TypeError, RecursionError) as exc:
            raise DecodeError(f"not a JSON document: {str(exc).splitlines()[0][:120]}") from None

    def construct_mapping(self, node, deep=False):  # noqa: D102 - PyYAML hook (the general path)
        # Keys as JSON has them, before they meet in a dict: 1 and true are two keys ("1", "true"), not one.
        self.flatten_mapping(node)
        out = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (list, dict)):
                raise DecodeError(f"line {key_node.start_mark.line + 1}: a key that is a list or mapping has no JSON form")
            key = json.dumps(key) if not isinstance(key, str) else key
            out[key] = self.construct_object(value_node, deep=deep)
        return out

    def _direct(self, node):
        cls, tag = node.__class__, node.tag
        if cls is ScalarNode:
            if tag == _STR or tag == _TIMESTAMP:
                return node.value
            if tag == _INT:
                return _go_int(self, node)
            if tag == _FLOAT:
                return _go_float(self, node)
            if tag == _BOOL:
                return _BOOLS[node.value]
            if tag == _NULL:
                return None
        elif cls is MappingNode and tag == _MAP:
            out = {}
            for key, value in node.value:
                if key.__class__ is not ScalarNode or key.tag != _STR:
                    raise _General  # merge keys, non-string keys (JSON turns them into strings)
                if key.value in out:
                    raise DecodeError(f"line {key.start_mark.line + 1}: key {key.value!r} is given twice (strict "
                                      "decoding refuses a duplicate field)")
                out[key.value] = self._direct(value)
            return out
        elif cls is SequenceNode and tag == _SEQ:
            return [self._direct(v) for v in node.value]
        raise _General


class _General(Exception):
    """The document has a node the direct path does not build: take PyYAML's constructor."""


# The general path types scalars the same way (and keeps a timestamp's text, as goyaml.v2 does for an untyped value).
_Loader.add_constructor(_INT, _go_int)
_Loader.add_constructor(_FLOAT, _go_float)
_Loader.add_constructor(_BOOL, _go_bool)
_Loader.add_constructor(_TIMESTAMP, lambda loader, node: node.value)


def documents(text: str) -> Iterator[object]:
    """Every non-empty document of ``text`` as JSON types. Raises ``yaml.YAMLError`` where the text is not YAML or the
    API server's decoder refuses it."""
    for doc in yaml.load_all(text, Loader=_Loader):  # noqa: S506 - a safe loader
        if doc is not None:
            yield doc
