"""External programs the library runs, found the way `make` provisions them (.tools/bin first)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache

from .errors import UserError

MIN_NODE = (22, 0)


def which(name: str) -> str | None:
    """A program from the checkout's .tools/bin (provisioned by `make`), else from PATH."""
    from .resources import tools_dir

    tools = tools_dir()
    if tools is not None and (tools / name).exists() and os.access(tools / name, os.X_OK):
        return str(tools / name)
    return shutil.which(name)


@lru_cache(maxsize=1)
def ensure_node() -> str:
    """cdk8s runs its constructs in Node.js through jsii: find a Node >= 22 and point jsii at it."""
    node = os.environ.get("JSII_NODE") or which("node")
    from .resources import checkout

    hint = ("run `make synth` (scripts/bootstrap.sh installs Node.js 22 from npm) or set JSII_NODE to a node >= 22"
            if checkout() else
            "install Node.js 22 (e.g. `npm install --prefix ~/.local/node node@22`, then set "
            "JSII_NODE=~/.local/node/node_modules/node/bin/node) or put a node >= 22 on PATH")
    if not node:
        raise UserError(f"Node.js is not installed; cdk8s needs Node.js >= 22: {hint}")
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"Node.js at {node} does not run ({exc}); {hint}") from None
    m = re.match(r"v(\d+)\.(\d+)", out)
    if not m or (int(m.group(1)), int(m.group(2))) < MIN_NODE:
        raise UserError(f"Node.js at {node} is {out or 'unknown'}; cdk8s needs >= 22: {hint}")
    os.environ["JSII_NODE"] = node
    return node
