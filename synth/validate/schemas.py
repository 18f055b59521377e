"""Schemas for every kind we may emit: kubernetes-validate's bundled strict schemas for built-ins, pinned
upstream CRDs (turned into strict JSON Schema) plus our marked supplements for custom kinds. Compiled once
per process; converted CRDs are cached on disk keyed by the CRD's sha256."""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import yaml
from referencing import Registry, Resource

from ..errors import UserError
from ..upstream import crd_sources, crd_text as _crd_text, source_url  # noqa: F401 - the pins are shared with the emitter

CONVERTER_VERSION = "3"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def schemas_root() -> Path:
    from ..resources import schemas_dir

    return schemas_dir()


def mirror_dir() -> Path | None:
    from ..resources import mirror_dir as find

    return find()


def cache_dir() -> Path:
    from ..resources import cache_dir as find

    return find()


@dataclass(frozen=True)
class KindSchema:
    fast: Any  # jsonschema-rs validator: the yes/no answer for every object
    validator: Any  # jsonschema validator: readable errors, only for objects that fail
    schema: dict  # the strict schema (CEL rules kept under x-kubernetes-validations)
    has_cel: bool
    has_defaults: bool = False  # structural-schema defaults to apply before validating (custom kinds)
    builtin: bool = False  # a Kubernetes kind: its OpenAPI "required" is advisory where Go decodes absence as empty


@lru_cache(maxsize=None)
def _served(sha256: str, mirror: str, url: str, kind: str, tag: str) -> tuple[str, ...]:
    crd = yaml.load(_crd_text({"sha256": sha256, "mirror": mirror, "url": url, "kind": kind, "tag": tag}), Loader=_Loader)  # noqa: S506
    return tuple(v["name"] for v in crd["spec"]["versions"] if v.get("served", True))


def served_versions(source: dict) -> tuple[str, ...]:
    """Every version the pinned CRD file of ``source`` serves."""
    return _served(source["sha256"], source["mirror"], source["url"], source["kind"], source["tag"])


def crd_version_schema(source: dict) -> dict:
    """The strict JSON Schema of one served version of a pinned CRD (cached by sha256)."""
    cached = cache_dir() / "schemas" / f"{source['sha256']}-{source['version']}-v{CONVERTER_VERSION}.json"
    if cached.is_file():
        try:
            return json.loads(cached.read_text(encoding="utf-8"))
        except ValueError:
            pass
    crd = yaml.load(_crd_text(source), Loader=_Loader)  # noqa: S506 - safe C loader
    version = next(v for v in crd["spec"]["versions"] if v["name"] == source["version"])
    if not version.get("served", True):
        raise UserError(f"{source['kind']} {source['version']} is not served by the pinned CRD")
    schema = strict(version["schema"]["openAPIV3Schema"], top=True)  # the parsed CRD is ours alone: convert in place
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(schema), encoding="utf-8")
        os.replace(tmp, cached)
    except OSError:
        pass  # no writable cache: convert again next time
    return schema


def strict(node: dict, top: bool = False) -> dict:
    """openAPIV3Schema → JSON Schema as strict as the API server with strict field validation."""
    if node.get("x-kubernetes-int-or-string"):
        node.pop("type", None)
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable"):
        t = node.get("type")
        if isinstance(t, str):
            node["type"] = [t, "null"]
    if "properties" in node:
        for key, sub in node["properties"].items():
            node["properties"][key] = strict(sub)
        if not node.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in node:
            node["additionalProperties"] = False
    if isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = strict(node["additionalProperties"])
    if isinstance(node.get("items"), dict):
        node["items"] = strict(node["items"])
    # allOf/anyOf/oneOf branches in CRDs are partial constraints on the same object: they stay open.
    if node.get("x-kubernetes-embedded-resource"):
        node.setdefault("properties", {}).update({"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                                  "metadata": {"type": "object"}})
    if top:
        props = node.setdefault("properties", {})
        props["metadata"] = OBJECT_META
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        node["additionalProperties"] = False
        node.setdefault("required", [])
        for k in ("apiVersion", "kind", "metadata"):
            if k not in node["required"]:
                node["required"].append(k)
    return node


_DNS_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "maxLength": 253, "pattern": _DNS_SUBDOMAIN},
        "namespace": {"type": "string", "maxLength": 63, "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 63}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def _apply_supplement(schema: dict, rel: str) -> dict:
    sup = json.loads((schemas_root() / rel).read_text(encoding="utf-8"))
    if "schema" in sup:
        return sup["schema"]
    node = schema
    for part in sup["at"].strip("/").split("/"):
        node = node.setdefault(part, {})
    node.update(sup["properties"])
    return schema


@lru_cache(maxsize=None)
def custom_kind(group: str, version: str, kind: str) -> KindSchema | None:
    """The schema of ``group/version kind``: the pinned record of that version, or — for any other version the same
    pinned CRD serves — that version's schema from the same file (the API server serves them all)."""
    source = crd_sources().get((group, version, kind))
    if source is None:
        pinned = next((s for (g, _, k), s in crd_sources().items() if g == group and k == kind and "sha256" in s), None)
        if pinned is None or version not in served_versions(pinned):
            return None
        source = {**pinned, "version": version, "supplement": None}
    schema = crd_version_schema(source) if "sha256" in source else {}
    if source.get("supplement"):
        schema = _apply_supplement(schema, source["supplement"])
    text = json.dumps(schema)
    return KindSchema(jsonschema_rs.Draft7Validator(schema), jsonschema.Draft7Validator(schema), schema,
                      "x-kubernetes-validations" in text, '"default":' in text)




def _minor(version: str) -> tuple[int, int]:
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?", version.strip())
    if not m:
        raise UserError(f"Kubernetes version {version!r}: give MAJOR.MINOR, e.g. 1.34")
    return int(m.group(1)), int(m.group(2))


def supported_version(version: str) -> str:
    """``version`` as MAJOR.MINOR, checked against the schema versions kubernetes-validate bundles."""
    import kubernetes_validate.utils as kv

    wanted = _minor(version)
    bundled = sorted(_minor(v) for v in kv.all_versions())
    if wanted < bundled[0] or wanted > bundled[-1]:
        raise UserError(f"Kubernetes {version}: schemas are bundled for {bundled[0][0]}.{bundled[0][1]} to "
                        f"{bundled[-1][0]}.{bundled[-1][1]}")
    return f"{wanted[0]}.{wanted[1]}"


@lru_cache(maxsize=None)
def _builtin_registry(k8s: str) -> tuple[Path, Registry]:  # noqa: D401
    import kubernetes_validate.utils as kv

    version = [v for v in kv.all_versions() if _minor(v) <= _minor(k8s)][-1]
    root = Path(kv.__file__).resolve().parent / "kubernetes-json-schema" / f"v{version}-local-strict"
    defs = json.loads((root / "_definitions.json").read_text(encoding="utf-8"))
    return root, Resource.from_contents(defs) @ Registry()


@lru_cache(maxsize=None)
def _served_builtin(k8s: str) -> frozenset[str]:
    root, _ = _builtin_registry(k8s)
    return frozenset(p.name.split("-", 1)[1][: -len(".json")] for p in root.glob("*-*.json") if not p.name.startswith("_"))


def builtin_served(api_version: str, k8s: str) -> bool:
    """Whether Kubernetes ``k8s`` serves the built-in group version at all (with any kind)."""
    return re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version) in _served_builtin(k8s)


@lru_cache(maxsize=None)
def builtin_kind(api_version: str, kind: str, k8s: str) -> KindSchema | None:
    root, registry = _builtin_registry(k8s)
    short = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = root / f"{kind.lower()}-{short}.json"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    schema = json.loads(text)
    return KindSchema(jsonschema_rs.Draft202012Validator(_inlined(root, text)),
                      jsonschema.Draft202012Validator(schema, registry=registry), schema, False, builtin=True)


@lru_cache(maxsize=None)
def _definitions_text(root: Path) -> str:
    return (root / "_definitions.json").read_text(encoding="utf-8").replace('"/api/_definitions.json#', '"#')


@lru_cache(maxsize=None)
def _definitions(root: Path) -> dict:
    return json.loads(_definitions_text(root))["$defs"]


_REF = re.compile(r'"\$ref": "#/\$defs/([^"]+)"')


def _inlined(root: Path, text: str) -> dict:
    """The kind schema with the kubernetes-validate definitions it reaches inlined (one self-contained document)."""
    text = text.replace('"/api/_definitions.json#', '"#')
    defs = _definitions(root)
    needed, todo = set(), set(_REF.findall(text))
    while todo:
        name = todo.pop()
        if name in needed or name not in defs:
            continue
        needed.add(name)
        todo |= set(_REF.findall(json.dumps(defs[name])))
    schema = json.loads(text)
    schema["$defs"] = {n: defs[n] for n in sorted(needed)}
    return schema


BUILTIN_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io",
                  "resource.k8s.io", "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "discovery.k8s.io",
                  "admissionregistration.k8s.io", "apiextensions.k8s.io", "certificates.k8s.io", "node.k8s.io",
                  "apiregistration.k8s.io", "events.k8s.io", "flowcontrol.apiserver.k8s.io", "extensions",
                  "authentication.k8s.io", "authorization.k8s.io", "internal.apiserver.k8s.io",
                  "storagemigration.k8s.io"}


def schema_for(api_version: str, kind: str, k8s: str) -> KindSchema | None:
    group, _, version = api_version.rpartition("/")
    custom = custom_kind(group, version, kind)
    if custom:
        return custom
    if group in BUILTIN_GROUPS:
        return builtin_kind(api_version, kind, k8s)
    return None
