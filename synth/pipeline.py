"""config → plan → constructs → files → validation → disk. The library entry points behind the CLI."""

from __future__ import annotations

from . import progress

from pathlib import Path

from .config.loader import load_fleet
from .emit.files import all_files
from .emit.writer import drift, write_tree
from .errors import UserError
from .plan import Plan, build_plan

INFRA = "infra"  # the validation input of the management cluster


def render(config: str | Path) -> tuple[Plan, dict[str, bytes], dict[str, bytes]]:
    fleet = load_fleet(config)
    plan = build_plan(fleet)
    files, seeds = all_files(plan, Path(config).name)
    return plan, files, seeds


def validation_inputs(plan: Plan) -> dict:
    """What each cluster receives, the delivery objects, the Helm releases (as Helm installs them: hooks included,
    the namespace left to the runbook) and the Secrets the runbook creates: plain data, validated together."""
    from .emit.delivery import delivery_objects

    per_cluster = {c.name: [(f"overlays/{c.name}/{chart.key}/{file}", o) for chart, file, objs in plan.cluster_objects(c)
                            for o in objs] for c in plan.fleet.clusters}
    # The management cluster's Config Connector objects: node pools, subnets and addresses the behaviour rules read.
    per_cluster[INFRA] = [(path, o) for path, objs in plan.infra().items() for o in objs]
    # The CRDs each overlay ships (emitted from the pinned upstream files).
    from .emit.crds import cluster_crds

    for c in plan.fleet.clusters:
        per_cluster[c.name] += [(f"overlays/{c.name}/crds/{f}", o) for f, o in cluster_crds(plan, c)]
    # The drill's client pods run beside the workloads: validate them with their cluster.
    for path, objs in plan.drill().items():
        per_cluster[path.split("/")[1]] += [(path, o) for o in objs]
    releases = {f"helm:{chart.name}@{c.name}": [(f"charts/{chart.name}/templates/{file}", o)
                                                for file, objs in chart.render(chart.cluster_values(c), helm=True) for o in objs]
                for c in plan.fleet.clusters for chart in plan.charts_for(c)}
    secrets = frozenset((plan.fleet.namespace, s) for s in runbook_secrets(plan.fleet))
    delivery = [(path, o) for path, objs in delivery_objects(plan).items() for o in objs]
    return {"clusters": per_cluster, "delivery": delivery, "releases": releases, "runbook_secrets": secrets}


def runbook_secrets(fleet) -> list[str]:
    """Secrets a runbook step creates in the fleet's namespace (the weights loader's Hugging Face token)."""
    from .config.model import HuggingFaceSource

    return sorted({m.model.source.token_secret for m in fleet.models
                   if m.model.loader and isinstance(m.model.source, HuggingFaceSource)})


def validate_inputs(inputs: dict) -> list:
    from .validate.engine import Validator, save_verdicts

    problems = Validator().validate_fleet(inputs["clusters"], delivery=inputs["delivery"], releases=inputs["releases"],
                                          runbook_secrets=inputs["runbook_secrets"])
    save_verdicts()
    return problems


def _refuse(problems: list) -> None:
    from .validate.problems import format_problem

    if problems:
        lines = [format_problem(p) for p in problems]
        raise UserError("generated manifests fail validation; nothing was written:\n  " + "\n  ".join(lines))


def plan_problems(plan: Plan) -> list:
    """Every problem of what the plan gives: the clusters, delivery objects and Helm releases validated together, and
    every values file against its chart's schema."""
    return plan.memo("problems", lambda: validate_inputs(validation_inputs(plan)) + _values_problems(plan))


def validate_plan(plan: Plan) -> None:
    _refuse(plan_problems(plan))


def _values_problems(plan: Plan) -> list:
    """Every values file must pass its chart's values.schema.json, or `helm install -f` would refuse it."""
    import jsonschema_rs

    from .validate.engine import Problem

    problems = []
    for chart in plan.charts:
        schema = jsonschema_rs.Draft7Validator(chart.spec.json_schema(""))
        for cluster in plan.fleet.clusters:
            if cluster.name in chart.clusters:
                for err in schema.iter_errors(chart.cluster_values(cluster)):
                    problems.append(Problem(f"charts/{chart.name}/values-{cluster.name}.yaml", "values",
                                            ".".join(map(str, err.instance_path)), "schema", err.message, cluster.name))
    return problems


def _quietly(work) -> None:
    try:
        work()
    except Exception:  # noqa: BLE001 - validation reports the same problem with its own message
        pass


# Pinned for validating users' objects, never written by synth: converted on first use, not ahead of every synth.
_NOT_WRITTEN = {("argoproj.io", k) for k in ("Rollout", "AnalysisRun", "AnalysisTemplate", "ClusterAnalysisTemplate",
                                             "Experiment")} | {("configsync.gke.io", "RepoSync")}


def _load_schemas() -> None:
    """Every pinned schema of a kind synth writes, converted (and cached on disk by sha256)."""
    from .validate import schemas

    for group, version, kind in schemas.crd_sources():
        if written(group, kind):
            schemas.custom_kind(group, version, kind)


def written(group: str, kind: str) -> bool:
    """Whether synth can write objects of this pinned kind (the others are there for users' own objects)."""
    return (group, kind) not in _NOT_WRITTEN and group != "kargo.akuity.io"


def _load_tools() -> None:
    """The CEL environment (its parser tables cached on disk) and the NetworkPolicy analyzer."""
    from .validate import engine

    engine._env()
    import nca.NetworkConfig.NetworkConfigQuery  # noqa: F401 - imported ahead of use, for speed
    import nca.NetworkConfig.ResourcesHandler  # noqa: F401


def _convert_in_child() -> None:
    """The forked converter: silent, and stopped like any process when its parent leaves first."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _quietly(_load_schemas)


def _start_prewarm():
    """Make validation's inputs ready while cdk8s renders (mostly waiting on Node.js). With cold caches a forked
    process converts the pinned CRDs into the on-disk cache on another core, while a thread imports the analyzers;
    the thread then loads the converted schemas. Returns a function that waits for it."""
    import multiprocessing
    import threading

    from .validate.schemas import cache_dir

    child = None
    if not (cache_dir() / "schemas").is_dir() and "fork" in multiprocessing.get_all_start_methods():
        child = multiprocessing.get_context("fork").Process(target=_convert_in_child, daemon=True)
        child.start()

    def prepare() -> None:
        _quietly(_load_tools)
        if child is not None:
            child.join()
        _quietly(_load_schemas)

    warm = threading.Thread(target=prepare, daemon=True)
    warm.start()
    return warm.join


def synthesize(config: str | Path, out: Path, lock_timeout: float = 120) -> dict[str, list[str]]:
    """Render, validate and write ``config`` into ``out`` (serialized with other runs into the same folder)."""
    from .emit.files import config_label
    from .emit.writer import check_out, output_lock

    check_out(out)
    # Everything that can refuse the input runs before the folder is touched (bad input writes nothing, not even
    # the lock file); only the write is serialized with other runs.
    # Two threads import at once here (the prewarm thread: the validator's libraries; this one: cdk8s and jsii), and
    # some modules are shared. An interruption raised inside Python's import locks can leave one held and both
    # threads waiting for good, so signals are held until the prewarm thread has finished (a second or two), then
    # raised: the run still stops before writing anything.
    with progress.critical():
        warm = _start_prewarm()
        plan, files, seeds = render(config)
        warm()
    validate_plan(plan)
    with output_lock(out, lock_timeout, f"inference-fleet synth --config {config}"):
        try:
            result = write_tree(out, files, seeds, config_label(Path(config).name))
        except PermissionError as exc:
            raise UserError(f"--out {out}: cannot write {exc.filename or 'there'} ({exc.strerror}); choose a folder you can write to") from None
    result["warnings"] = warnings(plan.fleet, folder=out)
    return result


def warnings(fleet, folder: Path | None = None) -> list[str]:
    """What is accepted but likely to hurt later, one line each (synth prints them on stderr; plan prints them too).
    ``folder``: the output folder, whose user-owned files some warnings read."""
    out: list[str] = []
    if fleet.delivery.chart_registry and folder is not None:
        import yaml

        for c in fleet.clusters:
            local = folder / "overlays" / c.name / "local" / "kustomization.yaml"
            try:
                component = yaml.safe_load(local.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError):
                continue
            if any(component.get(k) for k in ("patches", "resources", "patchesStrategicMerge", "patchesJson6902", "images")):
                out.append(f"overlays/{c.name}/local/ holds changes, but with delivery.charts.registry the cluster "
                                 "installs the charts from the registry and never reads its overlay: move them into the "
                                 "fleet file (server.extensions, per-cluster values) or deliver from Git")
    if fleet.gke.min_version:
        out.append(f"gke.minVersion: clusters are created at the pinned {fleet.gke.min_version}; release channels drop "
                   f"patches within months and cluster creation is then refused (remove it to let the channel choose)")
    return out


def check(config: str | Path, out: Path) -> dict[str, list[str]]:
    from .emit.files import config_label

    _, files, _ = render(config)
    return drift(out, files, config_label(Path(config).name))


def diff(config: str | Path, out: Path) -> str:
    """A unified diff from the tree on disk to a fresh synthesis (what ``synth`` would change)."""
    import difflib

    from .emit.files import MANIFEST, config_label
    from .emit.writer import _manifest_text

    _, files, _ = render(config)
    everything = dict(files)
    everything[MANIFEST] = _manifest_text(files, config_label(Path(config).name))
    from .emit.writer import read_manifest

    chunks = []
    for rel in sorted(set(everything) | set(read_manifest(out))):
        path = out / rel
        old = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        new = everything.get(rel, b"").decode("utf-8")
        if old != new:
            chunks += difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                           f"a/{rel}" if path.is_file() else "/dev/null",
                                           f"b/{rel}" if rel in everything else "/dev/null")
    return "".join(chunks)
