"""inference-fleet as a library: the same fleet file, rules, plan, objects and validation as the CLI, for a Python
program or a cdk8s app of its own.

    fleet = load_fleet("fleet.yaml")                 # the CLI's rules and messages; ConfigErrors lists every problem
    plan = build_plan(fleet)                         # charts, clusters, values
    add_cluster(chart, plan, "gemma3-us-east5")      # that cluster's objects in any cdk8s.Chart, validated first

``extensions`` (on ``load_fleet``/``parse_fleet``) add to a model's server pods what the fleet file does not model —
annotations, labels, tolerations, environment, volumes, sidecars — and are checked by the same rules as the fleet
file's ``server.extensions``, then validated with everything else.

Stability: the names in ``inference_fleet.__all__`` follow the package's SemVer (a minor release adds, only a major
one removes or changes); modules and names not listed there are internal.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config.loader import parse_fleet as _parse, read_fleet_file
from .config.model import Cluster, Fleet
from .errors import ConfigError, ConfigErrors, UserError
from .plan import Plan
from .validate.problems import Problem

if TYPE_CHECKING:
    import cdk8s


class ValidationFailed(UserError):
    """The objects a plan gives fail validation; ``problems`` lists each (the messages ``synth`` prints)."""

    def __init__(self, problems: list[Problem]) -> None:
        from .validate.problems import format_problem

        self.problems = problems
        super().__init__("the fleet's manifests fail validation:\n  " + "\n  ".join(format_problem(p) for p in problems))


@dataclass(frozen=True)
class Extensions:
    """Additions to one model's server pods (the fleet file's ``server.extensions``), each after what inference-fleet
    sets and never replacing it.

    pod_annotations: added to the pod template (not ``gke-gcsfuse/*``, which ``server.gcsFuse`` sets). Default none.
    pod_labels:      added to the pod template (not the labels the pool, Service and PDB select on). Default none.
    tolerations:     Kubernetes tolerations, after the accelerator's and the ComputeClass's. Default none.
    env:             variables of the vLLM container: ``value`` or ``valueFrom`` a ConfigMap key or a pod field (no
                     Secret references: identities come from Workload Identity). Default none.
    volumes:         ConfigMap, emptyDir or PersistentVolumeClaim volumes (no Secret or hostPath). Default none.
    volume_mounts:   mounts of the vLLM container (of these volumes or the pod's). Default none.
    sidecars:        containers beside vLLM (name, pinned image, command, args, env, ports, resources, volumeMounts,
                     securityContext); privilege escalation is off and every capability dropped whatever they set.
                     Default none.
    """

    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, Any]] = ()
    env: Sequence[Mapping[str, Any]] = ()
    volumes: Sequence[Mapping[str, Any]] = ()
    volume_mounts: Sequence[Mapping[str, Any]] = ()
    sidecars: Sequence[Mapping[str, Any]] = ()

    def to_data(self) -> dict:
        """The fleet file's ``server.extensions`` for these additions (only the ones given)."""
        data = {"podAnnotations": dict(self.pod_annotations), "podLabels": dict(self.pod_labels),
                "tolerations": [dict(t) for t in self.tolerations], "env": [dict(e) for e in self.env],
                "volumes": [dict(v) for v in self.volumes], "volumeMounts": [dict(m) for m in self.volume_mounts],
                "sidecars": [dict(c) for c in self.sidecars]}
        return copy.deepcopy({k: v for k, v in data.items() if v})


def read_fleet(path: str | Path) -> dict:
    """The fleet file as plain data (YAML, duplicate keys and other ambiguities refused with one line each)."""
    return read_fleet_file(path)


def parse_fleet(data: Mapping[str, Any], *, extensions: Mapping[str, Extensions] | None = None,
                source: str = "fleet file") -> Fleet:
    """A fleet from plain data: the schema, the defaults and every rule, as the CLI applies them. ``extensions`` maps a
    model (its name or pool name) to additions for its server pods; they join the model's ``server.extensions``.
    Raises ``ConfigErrors`` (``.problems``: every problem, each naming its config path) on bad input."""
    data = copy.deepcopy(dict(data))
    for key, ext in (extensions or {}).items():
        entry = _model_entry(data, key, source)
        server = entry.setdefault("server", {})
        merged = dict(server.get("extensions") or {})
        for name, value in ext.to_data().items():
            merged[name] = ({**merged.get(name, {}), **value} if isinstance(value, dict)
                            else [*merged.get(name, []), *value])
        server["extensions"] = merged
    try:
        return _parse(data, source)
    except ConfigErrors:
        raise
    except ConfigError as exc:
        raise ConfigErrors([exc]) from None


def load_fleet(path: str | Path, *, extensions: Mapping[str, Extensions] | None = None) -> Fleet:
    """``parse_fleet`` of the file at ``path`` (problems name that file)."""
    return parse_fleet(read_fleet(path), extensions=extensions, source=str(path))


def _model_entry(data: dict, key: str, source: str) -> dict:
    from .config.build import model_entries

    entries = model_entries(data)
    for _, entry in entries:
        model, routing = entry.get("model") or {}, entry.get("routing") or {}
        if key in (model.get("name"), routing.get("poolName")):
            return entry
    names = ", ".join(str((e.get("model") or {}).get("name")) for _, e in entries)
    raise ConfigErrors([ConfigError(f"extensions.{key}", f"no model is named {key!r} (models: {names})", source)])


def build_plan(fleet: Fleet) -> Plan:
    """Which charts exist, which cluster installs each with which values, and the objects each cluster receives."""
    from .plan import build_plan as build

    return build(fleet)


def _cluster(plan: Plan, name: str) -> Cluster:
    for c in plan.fleet.clusters:
        if c.name == name:
            return c
    raise UserError(f"no cluster {name!r} in fleet {plan.fleet.name} (clusters: {', '.join(c.name for c in plan.fleet.clusters)})")


def validate_fleet(plan: Plan) -> list[Problem]:
    """Every problem of what the plan's clusters, delivery objects and Helm releases hold, as ``synth`` validates
    them (the whole fleet in view): empty when the fleet's output is sound."""
    from .pipeline import plan_problems

    return plan_problems(plan)


def cluster_manifests(plan: Plan, cluster: str, *, model: str | None = None, crds: bool = True) -> list[dict]:
    """The objects ``cluster`` receives — exactly its overlay's — as plain data. ``model`` (a model or pool name) keeps
    one model's serving objects only. ``crds`` (default on) includes the CRDs the overlay ships that GKE does not
    install (InferenceObjective): without them a sync stalls on an unknown kind; turn it off only where another
    source delivers them."""
    c = _cluster(plan, cluster)
    objs = []
    for chart, _, rendered in plan.cluster_objects(c):
        if model is not None and (chart.model is None or model not in (chart.model.model.name, chart.model.pool)):
            continue
        objs += copy.deepcopy(rendered)
    if model is not None and not objs:
        raise UserError(f"cluster {cluster!r} serves no model {model!r}")
    if crds:
        from .emit.crds import cluster_crds

        objs = [copy.deepcopy(o) for _, o in cluster_crds(plan, c)] + objs
    return objs


def add_cluster(chart: "cdk8s.Chart", plan: Plan, cluster: str, *, model: str | None = None, crds: bool = True,
                check: bool = True) -> list["cdk8s.ApiObject"]:
    """Add ``cluster_manifests(plan, cluster, ...)`` to ``chart`` (any ``cdk8s.Chart`` of the caller's app), one
    ``cdk8s.ApiObject`` each, and return the ones added (an object the chart already holds from an earlier call, such
    as a CRD two models share, is not added twice). Cluster-scoped objects stay without a namespace whatever the
    chart's. With ``check`` (the default) the plan is validated first, as ``synth``
    would, and ``ValidationFailed`` is raised instead of adding anything."""
    import cdk8s

    if check:
        problems = validate_fleet(plan)
        if problems:
            raise ValidationFailed(problems)
    added = []
    for o in cluster_manifests(plan, cluster, model=model, crds=crds):
        meta = o["metadata"]
        ident = re.sub(r"[^A-Za-z0-9-]", "-", f"{cluster}-{o['kind']}-{meta.get('namespace', '')}-{meta['name']}")
        if chart.node.try_find_child(ident) is not None:
            continue  # already added (two models' calls share the cluster's CRDs and namespace)
        api = cdk8s.ApiObject(chart, ident, api_version=o["apiVersion"], kind=o["kind"],
                              metadata=cdk8s.ApiObjectMetadata(name=meta["name"], namespace=meta.get("namespace")))
        if "namespace" not in meta and chart.namespace:
            # cdk8s stamps the chart's namespace on every object; a cluster-scoped one (CRD, ComputeClass) has none.
            api.add_json_patch(cdk8s.JsonPatch.remove("/metadata/namespace"))
        for key in ("labels", "annotations"):
            for k, v in (meta.get(key) or {}).items():
                (api.metadata.add_label if key == "labels" else api.metadata.add_annotation)(k, v)
        for key, value in o.items():
            if key not in ("apiVersion", "kind", "metadata"):
                api.add_json_patch(cdk8s.JsonPatch.add(f"/{key}", value))
        added.append(api)
    return added


def synthesize(config: str | Path, out: str | Path) -> dict:
    """``inference-fleet synth``: validate, then write charts, overlays, infra and delivery objects atomically into
    ``out``. Returns what changed (``added``, ``changed``, ``deleted``, ``created`` file lists)."""
    from .pipeline import synthesize as run

    return run(str(config), Path(out))
