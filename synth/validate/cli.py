"""`inference-fleet validate`: load what each cluster receives, run the engine, report."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import yaml

from ..errors import UserError
from .decode import documents
from .engine import Problem, Validator, format_problem

SUFFIXES = {".yaml", ".yml", ".json"}


NOT_MANIFESTS = ("kustomization.yaml", "kustomization.yml", "Kustomization", "Chart.yaml")


def load_docs(path: Path, label: str | None = None) -> list[tuple[str, object]]:
    """(file, object) for every document under ``path`` (a file, or a folder walked recursively and sorted,
    skipping Kustomize and Helm metadata files)."""
    if path.is_file():
        files = [path]
    else:
        files = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()
                       and p.name not in NOT_MANIFESTS and not p.name.startswith("values"))
    docs: list[tuple[str, object]] = []
    for f in files:
        shown = label or str(f)
        try:
            text = f.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{f}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            docs.append((shown, {"__error__": "not UTF-8 text"}))
            continue
        try:
            # JSON types only, as the API server sees them (YAML dates and the like become strings).
            docs.extend((shown, doc) for doc in documents(text))
        except yaml.YAMLError as exc:
            docs.append((shown, {"__error__": str(exc).splitlines()[0]}))
    return docs


def kustomize(overlay: Path) -> list[tuple[str, object]]:
    from ..tools import require

    kubectl = require("kubectl")
    result = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"kubectl kustomize {overlay} failed: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'no output'}")
    shown = f"kustomize({overlay})"
    return [(shown, d) for d in documents(result.stdout)]


def helm_template(chart: Path, values: Path) -> list[tuple[str, object]]:
    """A release as Helm installs it: ``helm template`` of ``chart`` with ``values`` (hooks included, tests not)."""
    from ..tools import require

    helm = require("helm")
    result = subprocess.run([helm, "template", "release", str(chart), "-f", str(values), "--skip-tests"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"helm template {chart} -f {values} failed: "
                        f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'no output'}")
    shown = f"helm({chart.name}, {values.name})"
    return [(shown, d) for d in documents(result.stdout)]


def beside(overlays: str | None) -> tuple[list, dict]:
    """The delivery objects (``delivery/``) and Helm releases (``charts/*`` with each ``values-<cluster>.yaml``) of
    the output an overlays folder belongs to: the bring-up rules read them."""
    if not overlays:
        return [], {}
    root = Path(overlays).resolve().parent
    delivery = load_docs(root / "delivery") if (root / "delivery").is_dir() else []
    releases = {}
    for chart in sorted(p.parent for p in (root / "charts").glob("*/Chart.yaml")):
        for values in sorted(chart.glob("values-*.yaml")):
            releases[f"helm:{chart.name}@{values.stem.removeprefix('values-')}"] = helm_template(chart, values)
    return delivery, releases


def collect(paths: list[str], overlays: str | None, infra: str | None = None) -> dict[str, list[tuple[str, object]]]:
    """Cluster name → documents. ``--overlays`` builds every overlay with kubectl kustomize; the infra root beside it
    (or ``--infra``) is the management cluster's Config Connector objects, built the same way."""
    clusters: dict[str, list[tuple[str, object]]] = {}
    if overlays:
        root = Path(overlays)
        if not root.is_dir():
            raise UserError(f"{overlays}: not a folder")
        for overlay in sorted(p.parent for p in root.glob("*/kustomization.yaml")):
            clusters[overlay.name] = kustomize(overlay)
        if not clusters:
            raise UserError(f"{overlays}: no overlays (folders with kustomization.yaml)")
        beside = root.resolve().parent / "infra"
        if infra is None and (beside / "kustomization.yaml").is_file():
            infra = str(beside)
    if infra:
        folder = Path(infra)
        if not (folder / "kustomization.yaml").is_file():
            raise UserError(f"{infra}: not an infra root (no kustomization.yaml)")
        clusters["(infra)"] = kustomize(folder)
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise UserError(f"{raw}: no such file or folder")
        name = p.stem if p.is_file() else p.name
        while name in clusters:
            name += "+"
        clusters[name] = load_docs(p)
    if not clusters:
        raise UserError("nothing to validate: pass files or folders (one per cluster) or --overlays DIR")
    return clusters


def run_validate(args: argparse.Namespace) -> int:
    import gc

    # One run building many small objects and few cycles: the cyclic collector would only rescan them (a fifth of the
    # time on a large fleet). Back on afterwards, for a caller that goes on in the same process.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_validate(args)
    finally:
        if enabled:
            gc.enable()


def _run_validate(args: argparse.Namespace) -> int:
    from .schemas import supported_version

    k8s = supported_version(args.kubernetes_version)
    clusters = collect(args.paths, args.overlays, getattr(args, "infra", None))
    validator = Validator(k8s)
    problems: list[Problem] = []
    for cluster, docs in clusters.items():
        for file, doc in docs:
            if isinstance(doc, dict) and "__error__" in doc:
                problems.append(Problem(file, "?", "", "yaml", doc["__error__"], cluster))
        clusters[cluster] = [(f, d) for f, d in docs if not (isinstance(d, dict) and "__error__" in d)]
    delivery, releases = beside(args.overlays)
    if args.overlays:
        from ..emit.writer import pending_commit

        pending = pending_commit(Path(args.overlays).resolve().parent)
        if pending:
            print(f"warning: {pending}: a synth was stopped after its commit point and these overlays are between two trees; "
                  "run synth to complete it, then validate again")
    problems += validator.validate_fleet(clusters, delivery=[(f, d) for f, d in delivery if not (isinstance(d, dict) and "__error__" in d)],
                                         releases=releases)
    from .engine import save_verdicts

    save_verdicts()
    stats = validator.stats
    unchecked = [p for p in problems if p.unchecked]
    warned = [p for p in problems if p.warning and not p.unchecked]
    problems = [p for p in problems if not p.unchecked and not p.warning]
    strict = getattr(args, "strict", False)
    if args.json:
        print(json.dumps({
            "kubernetesVersion": args.kubernetes_version,
            "clusters": sorted(clusters),
            "objects": stats.objects,
            "cel": {"evaluated": stats.cel_evaluated, "skipped": len(stats.cel_skipped), "skippedRules": sorted(set(stats.cel_skipped))},
            "problems": [p.__dict__ for p in problems],
            "notChecked": [p.__dict__ for p in unchecked],
            "warnings": [p.__dict__ for p in warned],
            "strict": strict,
        }, indent=2))
    else:
        for p in problems:
            print(format_problem(p))
        for p in unchecked:
            print(("" if strict else "warning: ") + format_problem(p))
        for p in warned:
            print("warning: " + format_problem(p))
        not_checked = (f"; {len(unchecked)} rule(s) not checked ({'errors with --strict' if strict else 'warnings; --strict fails them'})"
                       if unchecked else "")
        print(f"inference-fleet: {stats.objects} objects in {len(clusters)} cluster(s): {len(problems)} problem(s){not_checked}; "
              f"CEL rules evaluated {stats.cel_evaluated}, skipped {len(stats.cel_skipped)} (unsupported by cel-python)")
    return 1 if problems or (strict and unchecked) else 0
