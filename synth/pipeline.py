"""config → plan → constructs → files → validation → disk. The library entry points behind the CLI."""

from __future__ import annotations

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


def validate_plan(plan: Plan) -> None:
    from .emit.delivery import delivery_objects
    from .validate.engine import Validator, format_problem, save_verdicts

    from .infra import infra_objects

    validator = Validator()
    per_cluster = {c.name: [(f"overlays/{c.name}/{chart.key}/{file}", o) for chart, file, objs in plan.cluster_objects(c)
                            for o in objs] for c in plan.fleet.clusters}
    # The management cluster's Config Connector objects: node pools, subnets and addresses the behaviour rules read.
    per_cluster[INFRA] = [(path, o) for path, objs in infra_objects(plan.fleet).items() for o in objs]
    # The drill's client pods run beside the workloads: validate them with their cluster.
    from .report import drill_objects

    for path, objs in drill_objects(plan.fleet).items():
        per_cluster[path.split("/")[1]] += [(path, o) for o in objs]
    problems = validator.validate_fleet(per_cluster)
    problems += _values_problems(plan)
    for path, objs in delivery_objects(plan).items():
        for o in objs:
            problems += validator.validate_object(path, o)
    save_verdicts()
    if problems:
        lines = [format_problem(p) for p in problems]
        raise UserError("generated manifests fail validation; nothing was written:\n  " + "\n  ".join(lines))


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


def _prewarm_quietly() -> None:
    try:
        _prewarm()
    except Exception:  # noqa: BLE001 - validation reports the same problem with its own message
        pass


def _prewarm() -> None:
    """Load every pinned schema and the CEL parser. Runs in a thread while cdk8s waits on Node.js, so the two
    overlap on a cold cache; the first exception is re-raised when validation needs the schema."""
    from .validate import engine, schemas

    for group, version, kind in schemas.crd_sources():
        schemas.custom_kind(group, version, kind)
    engine._env()


def synthesize(config: str | Path, out: Path, lock_timeout: float = 120) -> dict[str, list[str]]:
    """Render, validate and write ``config`` into ``out`` (serialized with other runs into the same folder)."""
    import threading

    from .emit.files import config_label
    from .emit.writer import check_out, output_lock

    check_out(out)
    with output_lock(out, lock_timeout, f"inference-fleet synth --config {config}"):
        warm = threading.Thread(target=_prewarm_quietly, daemon=True)
        warm.start()
        plan, files, seeds = render(config)
        warm.join()
        validate_plan(plan)
        try:
            return write_tree(out, files, seeds, config_label(Path(config).name))
        except PermissionError as exc:
            raise UserError(f"--out {out}: cannot write {exc.filename or 'there'} ({exc.strerror}); choose a folder you can write to") from None


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
