"""Validation engine: strict schemas, CEL rules, and the fleet's wiring rules.

Input is, per cluster, every object that cluster receives. Output is a list of ``Problem``s with a rule id
and a message that says how to fix it. A kind without a schema is a problem, never a skip."""

from __future__ import annotations

import copy

import hashlib
import json
import re
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import celpy

from ..errors import format_path
from .problems import Problem, at_cluster, format_problem, is_infra, iter_objects  # noqa: F401 - re-exported
from .schemas import BUILTIN_GROUPS, builtin_served, schema_for
from .verdicts import VerdictStore, save_all


@dataclass
class Stats:
    objects: int = 0
    cel_evaluated: int = 0
    cel_skipped: list[str] = field(default_factory=list)


def _oid(obj: dict) -> str:
    meta = obj.get("metadata")
    name = meta.get("name", "?") if isinstance(meta, dict) else "?"
    return f"{obj.get('kind', '?')}/{name}"


# ---- CEL -----------------------------------------------------------------------------------------

_PROGRAMS: dict[str, Any] = {}
try:
    from importlib.metadata import version as _version

    _CELPY_VERSION = _version("cel-python")
except Exception:  # noqa: BLE001 - metadata missing: still cache, under an unknown version
    _CELPY_VERSION = "unknown"
_ENV_HOLDER: list = []


def _env() -> celpy.Environment:
    """The CEL environment, built once. cel-python builds its LALR parser on first use (~0.5 s); the parser
    tables are cached on disk by lark, so later processes load them in milliseconds."""
    if not _ENV_HOLDER:
        from celpy.celparser import CELParser

        from .schemas import cache_dir

        if CELParser.CEL_PARSER is None:
            import lark

            cache = cache_dir() / "cel" / f"cel-python-{_CELPY_VERSION}-lark-{lark.__version__}.cache"
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                CELParser.CEL_PARSER = lark.Lark(
                    (Path(celpy.__file__).parent / "cel.lark").read_text(), parser="lalr", start="expr", debug=True,
                    g_regex_flags=re.M, lexer_callbacks={"IDENT": CELParser.ambiguous_literals},
                    propagate_positions=True, maybe_placeholders=False, priority="invert",
                    tree_class=celpy.InterpretedRunner.tree_node_class, cache=str(cache))
            except OSError:
                CELParser.CEL_PARSER = None  # no writable cache: celpy builds its own parser
        _ENV_HOLDER.append(celpy.Environment())
    return _ENV_HOLDER[0]


def _split(s, sep, *limit):
    return celpy.celtypes.ListType([celpy.celtypes.StringType(x) for x in str(s).split(str(sep))])


# The Kubernetes CEL libraries the pinned CRDs use that cel-python lacks (k8s.io/apiserver/pkg/cel/library and the
# cel-go strings extension), with the semantics of their Go implementations.
def _substring(s, start, *end):
    text = str(s)
    a, b = int(start), (int(end[0]) if end else len(text))
    if not 0 <= a <= b <= len(text):
        raise ValueError(f"substring: index out of range: {a}, {b}")
    return celpy.celtypes.StringType(text[a:b])


def _is_ip(s):
    import ipaddress

    text = str(s)
    if "%" in text:  # zones are not IP addresses to the Kubernetes library
        return celpy.celtypes.BoolType(False)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return celpy.celtypes.BoolType(False)
    return celpy.celtypes.BoolType(True)


def _is_url(s):
    # Go's url.ParseRequestURI: an absolute URL (scheme and, for hierarchical ones, anything after) or an absolute path.
    from urllib.parse import urlsplit

    text = str(s)
    if not text or any(c in text for c in " \t\n") :
        return celpy.celtypes.BoolType(False)
    if text.startswith("/"):
        return celpy.celtypes.BoolType(True)
    try:
        parts = urlsplit(text)
    except ValueError:
        return celpy.celtypes.BoolType(False)
    return celpy.celtypes.BoolType(bool(parts.scheme) and bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme)))


def _heterogeneous(op, differ: bool):
    """Kubernetes CEL compares values of different types (an int-or-string against 0) as unequal instead of failing."""
    def compare(a, b):
        try:
            return op(a, b)
        except TypeError:
            return celpy.celtypes.BoolType(differ)
    return compare


FUNCTIONS = {"split": _split, "substring": _substring, "isIP": _is_ip, "isURL": _is_url,
             "_==_": _heterogeneous(celpy.evaluation.bool_eq, False), "_!=_": _heterogeneous(celpy.evaluation.bool_ne, True)}
# Part of the verdict cache's name: a verdict depends on the functions it was computed with.
FUNCTIONS_VERSION = "k8slib-2"


def _program(rule: str):
    prog = _PROGRAMS.get(rule)
    if prog is None:
        env = _env()
        prog = env.program(env.compile(rule), functions=FUNCTIONS)
        _PROGRAMS[rule] = prog
    return prog


def apply_defaults(schema: dict, value: Any) -> Any:
    """``value`` as the API server has it before validating a custom resource: a null in a field that is not nullable
    is dropped, and every absent property with a ``default`` gets it, recursively through properties, array items and
    additionalProperties (the defaults themselves are defaulted too). Returns a new value only where something
    changed."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        out = None
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if not isinstance(sub, dict):
                continue
            if key in value and value[key] is None and not sub.get("nullable"):
                # A null where the schema is not nullable is pruned before defaulting and validation.
                out = out if out is not None else dict(value)
                del out[key]
                if "default" in sub:
                    out[key] = apply_defaults(sub, copy.deepcopy(sub["default"]))
                continue
            if key not in value and "default" in sub:
                out = out if out is not None else dict(value)
                out[key] = apply_defaults(sub, copy.deepcopy(sub["default"]))
            elif key in value:
                child = apply_defaults(sub, value[key])
                if child is not value[key]:
                    out = out if out is not None else dict(value)
                    out[key] = child
        add = schema.get("additionalProperties")
        if isinstance(add, dict):
            for key, v in value.items():
                if key not in props:
                    child = apply_defaults(add, v)
                    if child is not v:
                        out = out if out is not None else dict(value)
                        out[key] = child
        return value if out is None else out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = [apply_defaults(schema["items"], v) for v in value]
        return value if all(a is b for a, b in zip(items, value)) else items
    return value


def _with_defaults(schema: dict, value: Any) -> Any:
    if isinstance(value, dict):
        out = dict(value)
        for key, sub in (schema.get("properties") or {}).items():
            if key not in out and "default" in sub:
                out[key] = sub["default"]
        return out
    return value


_HAS_RULES: dict[int, tuple[dict, bool]] = {}
_IGNORES_METADATA: dict[str, bool] = {}
_BARE_SELF = re.compile(r"\bself\b(?!\s*\.)")
def _verdict_file() -> Path:
    from .schemas import cache_dir

    return cache_dir() / "cel" / f"verdicts-cel-python-{_CELPY_VERSION}-{FUNCTIONS_VERSION}.json"


# CEL verdicts of earlier runs. A verdict is a pure function of (rule, value), so it is keyed by a hash of both and
# never goes stale: an edited object has a new key.
_VERDICTS = VerdictStore(_verdict_file)


def save_verdicts() -> None:
    """Keep this run's new verdicts (CEL, reachability) for the next run."""
    save_all()


def _sub_schemas(schema: dict) -> list[dict]:
    subs = [x for x in (schema.get("properties") or {}).values() if isinstance(x, dict)]
    for k in ("additionalProperties", "items"):
        if isinstance(schema.get(k), dict):
            subs.append(schema[k])
    return subs


def _reaches(schema: dict, holds, cache: dict) -> bool:
    """Whether ``holds`` is true of ``schema`` or any schema below it (cached per schema node; the node is kept with
    its answer, so an id reused by a later, different dict is never read as the earlier one)."""
    hit = cache.get(id(schema))
    if hit is None or hit[0] is not schema:
        hit = (schema, holds(schema) or any(_reaches(s, holds, cache) for s in _sub_schemas(schema)))
        cache[id(schema)] = hit
    return hit[1]


def _has_rules(schema: dict) -> bool:
    """Whether ``schema`` or anything below it carries CEL rules."""
    return _reaches(schema, lambda s: bool(s.get("x-kubernetes-validations")), _HAS_RULES)


def _children(schema: dict, value: Any, path: list):
    """(sub-schema, sub-value, path) of every value below ``value`` that ``schema`` describes: its properties, the
    rest of a map under additionalProperties, a list's items."""
    props = schema.get("properties") or {}
    if isinstance(value, dict):
        for key, sub in props.items():
            if key in value:
                yield sub, value[key], path + [key]
        add = schema.get("additionalProperties")
        if isinstance(add, dict):
            for key, v in value.items():
                if key not in props:
                    yield add, v, path + [key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            yield schema["items"], v, path + [i]


def _ignores_metadata(expr: str) -> bool:
    if expr not in _IGNORES_METADATA:
        _IGNORES_METADATA[expr] = "metadata" not in expr and not _BARE_SELF.search(expr)
    return _IGNORES_METADATA[expr]


def builtin_defaults(obj: dict) -> dict:
    """The Go defaulters of built-in kinds whose defaults a schema check depends on (the API server runs them before
    validation): RBAC bindings' roleRef.apiGroup and User/Group subjects' apiGroup (pkg/apis/rbac/v1/defaults.go)."""
    if obj.get("kind") in ("RoleBinding", "ClusterRoleBinding") and str(obj.get("apiVersion", "")).startswith("rbac.authorization.k8s.io/"):
        out = copy.deepcopy(obj)
        ref = out.get("roleRef")
        if isinstance(ref, dict) and not ref.get("apiGroup"):
            ref["apiGroup"] = "rbac.authorization.k8s.io"
        for subject in out.get("subjects") or []:
            if isinstance(subject, dict) and not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = "rbac.authorization.k8s.io"
        return out
    return obj


def _absent_list(err) -> bool:
    """A built-in kind's OpenAPI marks a list required that the API server does not: Go decodes an absent list as an
    empty one and only the kind's validation function decides (EndpointSlice.endpoints may be empty). Native rules
    check the lists that must not be empty (a pod's containers)."""
    if err.validator != "required":
        return False
    missing = next((p for p in err.validator_value if p not in (err.instance or {})), None)
    prop = ((err.schema or {}).get("properties") or {}).get(missing) or {}
    return prop.get("type") == "array" or (isinstance(prop.get("type"), list) and "array" in prop["type"])


def _reason(err: object) -> str:
    args = getattr(err, "args", ())
    return str(args[0] if args else err)[:160]


def _evaluate(expr: str, value: Any, texts: dict | None = None) -> object:
    """The rule's verdict on ``value``: True/False, or an exception class name when cel-python cannot tell.
    Rules are pure functions of ``self``, so verdicts are memoized by the value's canonical JSON (without
    ``metadata`` when the rule cannot see it). ``texts`` caches that JSON for the rules of one schema node."""
    texts = {} if texts is None else texts
    drop = isinstance(value, dict) and "metadata" in value and _ignores_metadata(expr)
    if drop not in texts:
        keyed = {k: v for k, v in value.items() if k != "metadata"} if drop else value
        texts[drop] = json.dumps(keyed, sort_keys=True, separators=(",", ":"))
    results = _VERDICTS.load()
    key = hashlib.sha256(f"{expr}\0{texts[drop]}".encode()).hexdigest()
    if key not in results:
        try:
            result = _program(expr).evaluate({"self": celpy.json_to_cel(value)})
            ok = isinstance(result, (bool, celpy.celtypes.BoolType)) and not isinstance(result, celpy.CELEvalError)
            results[key] = bool(result) if ok else f"{type(result).__name__}: {_reason(result)}"
        except Exception as exc:  # noqa: BLE001 - cel-python raises several types
            results[key] = f"{type(exc).__name__}: {_reason(exc)}"
    return results[key]


def _cel(schema: dict, value: Any, path: list, emit, stats: Stats) -> None:
    if not isinstance(schema, dict) or not _has_rules(schema):
        return
    value = _with_defaults(schema, value)
    texts: dict = {}
    for rule in schema.get("x-kubernetes-validations") or []:
        expr = rule.get("rule", "")
        if "oldSelf" in expr:
            continue  # transition rules need the stored object: not applicable to a create
        verdict = _evaluate(expr, value, texts)
        if not isinstance(verdict, bool):
            if "undeclared reference to" in verdict:
                # A CEL library cel-python lacks (and FUNCTIONS does not provide): the rule is not checked.
                stats.cel_skipped.append(f"{expr[:60]} ({verdict})")
                emit(format_path(path), "cel", f"not checked: the rule `{expr[:80]}` uses a CEL function this validator "
                                              f"does not provide ({verdict.partition(' (in activation')[0]})", unchecked=True)
                continue
            # The API server rejects an object whose validation rule fails to evaluate (no such key, a type error).
            stats.cel_evaluated += 1
            emit(format_path(path), "cel", f"the rule `{expr[:80]}` does not evaluate on this object "
                                          f"({verdict.partition(' (in activation')[0]}): the API server rejects it")
            continue
        stats.cel_evaluated += 1
        if not verdict:
            emit(format_path(path), "cel", rule.get("message") or f"failed: {expr}")
    for sub, v, at in _children(schema, value, path):
        _cel(sub, v, at, emit, stats)


# ---- string formats, as the API server checks them for custom resources ----------------------------
# kube-openapi's strfmt: a CRD's `format` is validated for the formats it knows (unknown ones are ignored). Duration
# accepts Go's time.ParseDuration and strfmt's wider unit list (d, w and long names, optional spaces).
_DURATION_UNITS = ("ns|us|µs|ms|s|m|h|d|w|nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|"
                   "weeks?|sec|secs|min|mins|hr|hrs")
_FORMATS = {
    "duration": re.compile(rf"^(0|[-+]?(\d+(\.\d+)?\s*({_DURATION_UNITS})\s*)+)$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "date-time": re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[-+]\d{2}:?\d{2})?$"),
    "uuid": re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"),
    "byte": re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"),
}
_CHECKED_FORMATS = frozenset(_FORMATS) | {"ipv4", "ipv6", "cidr"}
_HAS_FORMATS: dict[int, tuple[dict, bool]] = {}


def _format_ok(fmt: str, value: str) -> bool:
    if fmt in _FORMATS:
        return bool(_FORMATS[fmt].match(value))
    import ipaddress

    try:
        if fmt == "cidr":
            if "/" not in value:  # Go's net.ParseCIDR wants the prefix length
                return False
            ipaddress.ip_network(value, strict=False)
        elif fmt == "ipv4":
            ipaddress.IPv4Address(value)
        else:
            ipaddress.IPv6Address(value)
        return True
    except ValueError:
        return False


def _formats(schema: dict, value: Any, path: list, emit) -> None:
    if not isinstance(schema, dict) or not _reaches(schema, lambda s: s.get("format") in _CHECKED_FORMATS, _HAS_FORMATS):
        return
    fmt = schema.get("format")
    if isinstance(value, str) and fmt in _CHECKED_FORMATS and not _format_ok(fmt, value):
        emit(format_path(path), "schema", f"{value[:60]!r} is not a valid {fmt} (the CRD's format)")
    for sub, v, at in _children(schema, value, path):
        _formats(sub, v, at, emit)


# ---- the engine ----------------------------------------------------------------------------------


class Validator:
    def __init__(self, kubernetes_version: str = "1.34") -> None:
        self.k8s = kubernetes_version
        self.stats = Stats()

    def validate_object(self, file: str, obj: Any) -> list[Problem]:
        problems: list[Problem] = []
        if not isinstance(obj, dict) or not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
            return [Problem(file, "?", "", "object", "not a Kubernetes object (apiVersion and kind are required)")]
        oid = _oid(obj)

        def emit(path: str, rule: str, message: str, unchecked: bool = False) -> None:
            problems.append(Problem(file, oid, path, rule, message, unchecked=unchecked))

        self.stats.objects += 1
        ks = schema_for(obj["apiVersion"], obj["kind"], self.k8s)
        if ks is None:
            if obj["apiVersion"].rpartition("/")[0] in BUILTIN_GROUPS and obj["kind"] != "List":
                # A built-in group version the server serves, without this kind; or a version it no longer serves.
                why = (f"serves no {obj['kind']} in {obj['apiVersion']}: the API server refuses it (no matches for kind)"
                       if builtin_served(obj["apiVersion"], self.k8s) else
                       f"does not serve {obj['apiVersion']} (removed or never served): the API server refuses "
                       f"{obj['kind']} in it; use a served version")
                problems.append(Problem(file, oid, "apiVersion", "schema", f"Kubernetes {self.k8s} {why}"))
            else:
                problems.append(Problem(file, oid, "", "schema", f"no schema for {obj['apiVersion']} {obj['kind']} (no pinned "
                                        "CRD serves it; add one to schemas/crds.json): the object is not checked",
                                        unchecked=True))
            return problems
        if not ks.builtin:
            obj = apply_defaults(ks.schema, obj)  # the API server prunes nulls and defaults before it validates
        elif ks.builtin:
            obj = builtin_defaults(obj)
            version = obj["apiVersion"].rpartition("/")[2]
            if re.search(r"(alpha|beta)[0-9]*$", version):
                # Every alpha or beta version a recent Kubernetes still serves is off by default (new beta APIs have
                # been since 1.24; the older ones are removed); GKE serves them only where the cluster enables them.
                problems.append(Problem(file, oid, "apiVersion", "schema", f"{obj['apiVersion']} is off by default "
                                        f"in Kubernetes {self.k8s} (GKE: only on a cluster with beta or alpha APIs "
                                        "enabled): the API server refuses it unless the cluster serves it; the object is "
                                        "checked against that version's schema", unchecked=True))
        if not ks.fast.is_valid(obj):
            found = sorted(ks.validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
            errors = [e for e in found if not (ks.builtin and _absent_list(e))]
            for err in errors:
                emit(format_path(err.absolute_path), "schema", _short(err.message))
            if not found:  # the engines read a pattern differently: the strict (ECMA) reading wins
                for err in ks.fast.iter_errors(obj):
                    emit(format_path(list(err.instance_path)), "schema", _short(err.message))
        if not ks.builtin:
            _formats(ks.schema, obj, [], emit)
        if ks.has_cel:
            _cel(ks.schema, obj, [], emit, self.stats)
        return problems

    def validate_fleet(self, clusters: dict[str, list[tuple[str, dict]]], delivery: list | None = None,
                       releases: dict | None = None, runbook_secrets: frozenset = frozenset()) -> list[Problem]:
        """Everything each cluster receives (``clusters``: name → (file, object)). Config Connector objects, in
        whatever input they come, are the management cluster's: they form the fleet's infra (node pools,
        subnets, addresses) that the behaviour rules read, and are checked by the infra rules. ``delivery`` (the
        GitOps objects, validated like the rest) and ``releases`` (Helm releases as Helm installs them: the same
        templates the overlays hold, so they are read by the bring-up rules only) feed the bring-up model."""
        from . import registry
        from .view import FleetView

        problems: list[Problem] = []
        everything: dict[str, list[tuple[str, dict]]] = {}
        sound: dict[str, list[tuple[str, dict]]] = {}
        for cluster, docs in clusters.items():
            everything[cluster], sound[cluster] = [], []
            for file, obj in docs:
                found = self.validate_object(file, obj)
                problems += [at_cluster(p, cluster) for p in found]
                if any(p.rule == "schema" and p.path == "apiVersion" and not p.unchecked for p in found):
                    continue  # a version the server does not serve: the object never exists there, nothing reads it
                everything[cluster].append((file, obj))
                if not any(p.rule in ("schema", "object") for p in found):
                    sound[cluster].append((file, obj))
        delivery = list(delivery or [])
        for file, obj in delivery:
            problems += self.validate_object(file, obj)
        extra = {"delivery": delivery, "releases": releases, "runbook_secrets": runbook_secrets}
        problems += _robust(registry.run, FleetView(everything, **extra), FleetView(sound, **extra))
        unknown = {p.rule for p in problems} - set(registry.RULES)
        assert not unknown, f"unregistered rule ids {unknown}"
        return problems


def _robust(rule_set, everything, sound):
    """Rules over every object, so a schema problem does not also hide the objects it breaks. Rules assume the
    shapes the schemas promise; if a malformed object defeats them, they run again over the objects the schemas
    accepted (the malformed ones are reported already)."""
    try:
        return rule_set(everything)
    except (AttributeError, TypeError, ValueError, KeyError, IndexError):
        return rule_set(sound)


def _short(msg: str) -> str:
    return msg if len(msg) <= 200 else msg[:197] + "..."
