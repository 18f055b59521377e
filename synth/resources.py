"""Where the tool finds its data and keeps its caches.

Installed (a wheel): the fleet schema, the pinned-CRD manifest and the supplements ship inside the package
(``inference_fleet/schemas/``); pinned CRDs come from ``INFERENCE_FLEET_CRD_MIRROR`` or are downloaded from their
pinned URLs into a per-user cache (``$XDG_CACHE_HOME/inference-fleet``, default ``~/.cache/inference-fleet``) and
checked against their sha256. In a checkout: the repository's ``schemas/``, the CRD mirror ``../shared/crds`` when
present, and ``.cache/`` in the repository. ``INFERENCE_FLEET_CACHE`` moves the cache anywhere."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def checkout() -> Path | None:
    """The repository this package runs from, or None when installed."""
    root = PACKAGE.parent
    if (root / "pyproject.toml").is_file() and (root / "schemas").is_dir() and (root / PACKAGE.name).is_dir():
        return root
    return None


def schemas_dir() -> Path:
    inside = PACKAGE / "schemas"
    if (inside / "fleet.schema.json").is_file():
        return inside
    repo = checkout()
    if repo is None:
        raise FileNotFoundError("inference-fleet's schemas are missing from its installation; reinstall the package")
    return repo / "schemas"


def mirror_dir() -> Path | None:
    """A folder holding the pinned CRD files (the layout schemas/crds.json names), if any."""
    if os.environ.get("INFERENCE_FLEET_CRD_MIRROR"):
        return Path(os.environ["INFERENCE_FLEET_CRD_MIRROR"])
    repo = checkout()
    if repo is not None and (repo.parent / "shared" / "crds").is_dir():
        return repo.parent / "shared" / "crds"
    return None


def cache_dir() -> Path:
    if os.environ.get("INFERENCE_FLEET_CACHE"):
        return Path(os.environ["INFERENCE_FLEET_CACHE"])
    repo = checkout()
    if repo is not None:
        return repo / ".cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "inference-fleet"


def tools_dir() -> Path | None:
    """``.tools/bin`` of a checkout (where `make` provisions helm, kubectl and Node.js)."""
    repo = checkout()
    return repo / ".tools" / "bin" if repo is not None else None
