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

from synth.config import catalog
from synth.config.model import (
    Autoscaling,
    Cluster,
    Delivery,
    Dranet,
    Fleet,
    GcsFuse,
    Gateway,
    Model,
    Objective,
    Project,
    Routing,
    Scope,
    Server,
    Tpu,
)
from synth.errors import ConfigError, UserError, format_path, quote

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "fleet.schema.json"
MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_ALIASES = 64
MAX_NODES = 100_000


@lru_cache(maxsize=1)
def fleet_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


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
        return format_path([*error.absolute_path, key]), f"unknown key {quote(key)} (allowed: {allowed})"
    if v == "required":
        missing = next((k for k in schema.get("required", []) if isinstance(inst, dict) and k not in inst), "?")
        return format_path([*error.absolute_path, missing]), "is required"
    if v == "type":
        return path, f"must be {_a(schema['type'])}, got {_kind(inst)}"
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


def _apply_defaults(schema: dict, data: Any) -> Any:
    if isinstance(data, dict) and schema.get("type") == "object":
        for key, sub in schema.get("properties", {}).items():
            if key not in data and "default" in sub:
                data[key] = copy.deepcopy(sub["default"])
            if key in data:
                data[key] = _apply_defaults(sub, data[key])
    elif isinstance(data, list) and isinstance(schema.get("items"), dict):
        return [_apply_defaults(schema["items"], x) for x in data]
    return data


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
    if not isinstance(data, dict):
        raise ConfigError("", f"the fleet file must be a mapping of keys, got {_kind(data)}", shown)
    _reject_control_characters(data, [], shown)
    errors = sorted(_validator().iter_errors(data), key=_error_key)
    if errors:
        where, msg = _describe(errors[0])
        raise ConfigError(where, msg, shown)
    data = _apply_defaults(fleet_schema(), copy.deepcopy(data))

    def fail(where: str, msg: str) -> None:
        raise ConfigError(where, msg, shown)

    srv, rt, gw = data["server"], data["routing"], data["gateway"]
    machine, topo = srv["tpu"]["machineType"], srv["tpu"]["topology"]
    chips = catalog.TOPOLOGY_CHIPS[topo]
    if catalog.MACHINE_CHIPS[machine] != chips:
        fail("server.tpu.topology", f"{topo} is {chips} chip(s) but {machine} has {catalog.MACHINE_CHIPS[machine]}; "
             f"use topology {_topology_for(catalog.MACHINE_CHIPS[machine])} (single-host slices only)")
    _check_image(srv["image"], "server.image", fail)
    cpu = int(srv["cpu"][:-1]) / 1000 if srv["cpu"].endswith("m") else int(srv["cpu"])
    if cpu > catalog.MACHINE_CPU[machine] - 4:
        fail("server.cpu", f"{srv['cpu']} does not fit a {machine} node ({catalog.MACHINE_CPU[machine]} vCPU, keep 4 for the system)")
    mem = srv["memory"]
    mem_gi = int(mem[:-2]) / (1024 if mem.endswith("Mi") else 1)
    if mem_gi > catalog.MACHINE_MEMORY_GI[machine] * 0.9:
        fail("server.memory", f"{mem} does not fit a {machine} node ({catalog.MACHINE_MEMORY_GI[machine]}Gi; keep 10% free for the system and the FUSE RAM cache)")
    auto = srv["autoscaling"]
    if auto["minReplicas"] > auto["maxReplicas"]:
        fail("server.autoscaling.minReplicas", f"{auto['minReplicas']} is above maxReplicas {auto['maxReplicas']}")
    for i, arg in enumerate(srv["extraArgs"]):
        flag = arg.split("=", 1)[0]
        if flag in _MANAGED_ARGS:
            fail(f"server.extraArgs[{i}]", f"{flag} is set from the fleet file ({_MANAGED_ARGS[flag]}); remove it here")

    profile = catalog.PROFILES[rt["apiProfile"]]
    pool = rt.get("poolName") or data["name"]
    picker_image = rt.get("pickerImage") or profile["picker_image"]
    _check_image(picker_image, "routing.pickerImage", fail)
    names = [o["name"] for o in rt["objectives"]]
    for i, n in enumerate(names):
        if n in names[:i]:
            fail(f"routing.objectives[{i}].name", f"duplicate objective '{n}'")

    clusters = data["clusters"]
    seen: dict[str, int] = {}
    for i, c in enumerate(clusters):
        if c["name"] in seen:
            fail(f"clusters[{i}].name", f"duplicate cluster '{c['name']}' (also clusters[{seen[c['name']]}])")
        seen[c["name"]] = i
        if not c["zone"].startswith(c["region"] + "-"):
            fail(f"clusters[{i}].zone", f"{c['zone']} is not in region {c['region']}")
        if c["serving"] and c["zone"] not in catalog.TPU_V6E_ZONES:
            fail(f"clusters[{i}].zone", f"{c['zone']} does not offer TPU v6e; allowed: {', '.join(sorted(catalog.TPU_V6E_ZONES))}")
        if c["serving"] and "proxySubnet" not in c:
            fail(f"clusters[{i}].proxySubnet", "is required for a serving cluster: the CIDR of the region's GLOBAL_MANAGED_PROXY "
                 "proxy-only subnet, the only source the model servers' NetworkPolicy admits gateway traffic from")
        if not c["serving"]:
            for key in ("replicas", "bucket", "maxReplicas"):
                if key in c:
                    fail(f"clusters[{i}].{key}", "only serving clusters take this (the cluster has serving: false)")
        if "maxReplicas" in c and c["maxReplicas"] < auto["minReplicas"]:
            fail(f"clusters[{i}].maxReplicas", f"{c['maxReplicas']} is below server.autoscaling.minReplicas {auto['minReplicas']}")
    if gw["configCluster"] not in seen:
        fail("gateway.configCluster", f"{quote(gw['configCluster'])} is not a cluster of the fleet; one of: {', '.join(seen)}")
    if not any(c["serving"] for c in clusters):
        fail("clusters", "no serving cluster: at least one cluster needs serving: true")
    serving_regions = list(dict.fromkeys(c["region"] for c in clusters if c["serving"]))
    for i, sc in enumerate(gw["scopes"]):
        if sc["region"] not in serving_regions:
            fail(f"gateway.scopes[{i}].region", f"{quote(sc['region'])} is not a serving region; one of: {', '.join(serving_regions)}")
        if sc["region"] in [x["region"] for x in gw["scopes"][:i]]:
            fail(f"gateway.scopes[{i}].region", f"a scope for {sc['region']} is already defined")
        if len(sc) == 1:
            fail(f"gateway.scopes[{i}]", "sets nothing: give capacityScalerPercent or backendPreference")
    dl = data["delivery"]
    regions = list(dict.fromkeys(c["region"] for c in clusters))
    order = dl["argocd"].get("regionOrder")
    if order is not None:
        for i, r in enumerate(order):
            if r not in regions:
                fail(f"delivery.argocd.regionOrder[{i}]", f"{quote(r)} is not a region of the fleet; one of: {', '.join(regions)}")
        missing = [r for r in regions if r not in order]
        if missing:
            fail("delivery.argocd.regionOrder", f"missing region(s) {', '.join(missing)}; list every region once")
    cs = dl["configSync"]
    if "gcpServiceAccountEmail" in cs and cs["auth"] != "gcpserviceaccount":
        fail("delivery.configSync.gcpServiceAccountEmail", f"only used with auth gcpserviceaccount (auth is {cs['auth']})")

    fleet = Fleet(
        name=data["name"],
        project=Project(id=data["project"]["id"], number=data["project"]["number"]),
        namespace=data["namespace"],
        model=Model(name=data["model"]["name"], bucket=data["model"]["bucket"], path=data["model"]["path"],
                    max_model_len=data["model"]["maxModelLen"]),
        server=Server(
            image=srv["image"],
            tpu=Tpu(machine_type=machine, topology=topo, accelerator=catalog.TPU_ACCELERATOR, chips=chips),
            replicas=srv["replicas"],
            cpu=srv["cpu"],
            memory=srv["memory"],
            gpu_memory_utilization=float(srv["gpuMemoryUtilization"]),
            startup_timeout_seconds=srv["startupTimeoutSeconds"],
            termination_grace_period_seconds=srv["terminationGracePeriodSeconds"],
            extra_args=tuple(srv["extraArgs"]),
            requests_per_second_per_replica=float(srv["requestsPerSecondPerReplica"]),
            autoscaling=Autoscaling(enabled=auto["enabled"], min_replicas=auto["minReplicas"],
                                    max_replicas=auto["maxReplicas"], queue_depth_target=auto["queueDepthTarget"]),
            dranet=Dranet(enabled=srv["dranet"]["enabled"], device_class=srv["dranet"]["deviceClass"]),
            gcs_fuse=GcsFuse(cpu_limit=srv["gcsFuse"]["cpuLimit"], memory_limit=srv["gcsFuse"]["memoryLimit"],
                             ephemeral_storage_limit=srv["gcsFuse"]["ephemeralStorageLimit"]),
        ),
        routing=Routing(
            api_profile=rt["apiProfile"],
            pool_name=pool,
            failure_mode=rt["failureMode"],
            picker_image=picker_image,
            picker_replicas=rt["pickerReplicas"],
            objectives=tuple(Objective(o["name"], o["priority"]) for o in rt["objectives"]),
        ),
        gateway=Gateway(
            config_cluster=gw["configCluster"],
            name=gw["name"],
            class_name=gw["className"],
            port=gw["port"],
            path_prefix=gw["pathPrefix"],
            timeout_sec=gw["timeoutSec"],
            balancing_mode=gw["balancingMode"],
            max_utilization_percent=gw["maxUtilizationPercent"],
            max_in_flight_requests_per_endpoint=gw["maxInFlightRequestsPerEndpoint"],
            expected_peak_rps=float(gw["expectedPeakRps"]),
            scopes=tuple(Scope(sc["region"], sc.get("capacityScalerPercent"), sc.get("backendPreference"))
                         for sc in gw["scopes"]),
        ),
        clusters=tuple(
            Cluster(
                name=c["name"],
                region=c["region"],
                zone=c["zone"],
                serving=c["serving"],
                replicas=c.get("replicas", srv["replicas"]),
                max_replicas=c.get("maxReplicas", auto["maxReplicas"]),
                bucket=c.get("bucket", data["model"]["bucket"]),
                proxy_subnet=c.get("proxySubnet"),
            )
            for c in clusters
        ),
        delivery=Delivery(
            repo_url=dl["repoURL"],
            revision=dl["revision"],
            path=dl["path"],
            argocd_namespace=dl["argocd"]["namespace"],
            region_order=tuple(order or regions),
            config_sync_auth=cs["auth"],
            gcp_service_account_email=cs.get("gcpServiceAccountEmail") or f"config-sync@{data['project']['id']}.iam.gserviceaccount.com",
            secret_name=cs["secretName"],
            period=cs["period"],
        ),
    )
    return fleet


_MANAGED_ARGS = {
    "--model": "model.path",
    "--served-model-name": "model.name",
    "--tensor-parallel-size": "server.tpu.topology",
    "--max-model-len": "model.maxModelLen",
    "--port": "fixed at 8000",
    "--host": "fixed at 0.0.0.0",
    "--gpu-memory-utilization": "server.gpuMemoryUtilization",
}

def _check_image(image: str, where: str, fail) -> None:
    problem = catalog.image_pin_problem(image)
    if problem:
        fail(where, problem)


def _topology_for(chips: int) -> str:
    return next(t for t, n in catalog.TOPOLOGY_CHIPS.items() if n == chips)
