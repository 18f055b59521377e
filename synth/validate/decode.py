"""The API server's first step: YAML (1.1 scalars, as Kubernetes' YAML decoder resolves them) to JSON types.

Every document becomes what the API server sees after decoding: objects with string keys, lists, strings, integers,
floats, booleans and null. Plain mappings, sequences and the core scalar tags are built directly from libyaml's nodes;
anything else (timestamps, binary, sets, merge keys, non-string keys) takes PyYAML's own constructor and a JSON round
trip, so both paths give the same result — the fast one only skips work that cannot change it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_SCALARS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
                      "tag:yaml.org,2002:float"})


class _General(Exception):
    """The document has a node the direct path does not build: take PyYAML's constructor."""


_RESOLVER = yaml.resolver.Resolver()  # the safe loader's resolver: implicit tags by scalar text, no path resolvers


@functools.lru_cache(maxsize=65536)
def _resolve(kind, value, implicit):
    """A node's tag: for a plain scalar it depends on the text only, so it is resolved once per distinct text."""
    return _RESOLVER.resolve(kind, value, implicit)


class _Loader(_Base):
    """PyYAML's safe loader with tag resolution memoised and a direct node-to-JSON-types build."""

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
            return json.loads(json.dumps(_Base.construct_document(self, node), default=str))

    def _direct(self, node):
        cls, tag = node.__class__, node.tag
        if cls is ScalarNode:
            if tag == _STR:
                return node.value
            if tag in _SCALARS:
                return self.yaml_constructors[tag](self, node)
        elif cls is MappingNode and tag == _MAP:
            out = {}
            for key, value in node.value:
                if key.__class__ is not ScalarNode or key.tag != _STR:
                    raise _General  # merge keys, non-string keys (JSON turns them into strings)
                out[key.value] = self._direct(value)
            return out
        elif cls is SequenceNode and tag == _SEQ:
            return [self._direct(v) for v in node.value]
        raise _General


def documents(text: str) -> Iterator[object]:
    """Every non-empty document of ``text`` as JSON types. Raises ``yaml.YAMLError`` where the text is not YAML."""
    for doc in yaml.load_all(text, Loader=_Loader):  # noqa: S506 - a safe loader
        if doc is not None:
            yield doc
