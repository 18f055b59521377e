"""Command line: a thin layer over the library. User errors → one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .errors import UserError

PROG = "inference-fleet"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Generate the manifests of a multi-region LLM inference fleet on GKE.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write charts/, overlays/ (validated) from the fleet file")
    s.add_argument("--config", default="fleet.yaml", help="fleet file (default: fleet.yaml)")
    s.add_argument("--out", default=".", help="output folder (default: the current folder)")
    s.add_argument("--check", action="store_true", help="write nothing; exit 1 listing generated files that differ")

    v = sub.add_parser("validate", help="validate manifests as the API server and the fleet rules would")
    v.add_argument("paths", nargs="*", help="files or folders: everything one cluster receives, one path per cluster")
    v.add_argument("--overlays", help="validate `kubectl kustomize` of every overlay under this folder (and the infra/ root beside it)")
    v.add_argument("--infra", help="the infra/ root (Config Connector objects: node pools, subnets, addresses, DNS)")
    v.add_argument("--kubernetes-version", default="1.34", help="Kubernetes minor for built-in kinds (default 1.34)")
    v.add_argument("--json", action="store_true", help="print a JSON report")

    pl = sub.add_parser("plan", help="print the fleet plan, failover table and operator runbook")
    pl.add_argument("--config", default="fleet.yaml", help="fleet file (default: fleet.yaml)")
    pl.add_argument("--markdown", action="store_true", help="markdown instead of plain text")
    pl.add_argument("--dot", metavar="FILE", help="also write the topology as Graphviz DOT to FILE")
    d = sub.add_parser("drill", help="print the failover drill of the fleet (clients, drain a region's backends, then its front end, restore)")
    d.add_argument("--config", default="fleet.yaml", help="fleet file (default: fleet.yaml)")
    d.add_argument("--markdown", action="store_true", help="markdown instead of plain text")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "synth":
            return _synth(args)
        if args.command == "validate":
            from .validate.cli import run_validate

            return run_validate(args)
        if args.command == "plan":
            from .config.loader import load_fleet
            from .report import dot, plan_lines

            fleet = load_fleet(args.config)
            print("\n".join(plan_lines(fleet, markdown=args.markdown)))
            if args.dot:
                target = Path(args.dot)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(dot(fleet), encoding="utf-8")
            return 0
        if args.command == "drill":
            from .config.loader import load_fleet
            from .report import drill_lines

            print("\n".join(drill_lines(load_fleet(args.config), markdown=args.markdown)))
            return 0
    except UserError as exc:
        print(f"{PROG}: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{PROG}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the previous output is intact", file=sys.stderr)
        return 130
    return 2


def _synth(args: argparse.Namespace) -> int:
    from .pipeline import check, synthesize

    out = Path(args.out)
    if args.check:
        report = check(args.config, out)
        problems = [(kind, rel) for kind in ("stale", "missing", "extra") for rel in report[kind]]
        for kind, rel in problems:
            print(f"{kind}: {rel}")
        if problems:
            print(f"{PROG}: {len(problems)} generated file(s) differ from a fresh synth of {args.config}; run `make synth`",
                  file=sys.stderr)
            return 1
        return 0
    result = synthesize(args.config, out)
    if os.environ.get("INFERENCE_FLEET_QUIET") != "1":
        print(f"{PROG}: {len(result['written'])} file(s) written, {len(result['deleted'])} removed, "
              f"{len(result['created'])} user file(s) created in {out}")
    return 0
