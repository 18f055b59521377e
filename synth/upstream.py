"""Pinned upstream files: the CRDs listed in schemas/crds.json (repository, tag, URL, sha256). Read from the mirror
folder or the download cache, or fetched from the pinned URL; every byte is checked against the sha256 before use.
The validator compiles schemas from them; the emitter ships the CRDs a fleet needs that GKE does not install."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from functools import lru_cache

from .errors import UserError

RAW_GITHUB = "https://raw.githubusercontent.com/"


def _schemas_root():
    from .resources import schemas_dir

    return schemas_dir()


def mirror_dir():
    from .resources import mirror_dir as find

    return find()


def cache_dir():
    from .resources import cache_dir as find

    return find()


def source_url(source: dict) -> str:
    """The pinned URL, through ``INFERENCE_FLEET_CRD_BASE_URL`` when set (a mirror of raw.githubusercontent.com)."""
    base = os.environ.get("INFERENCE_FLEET_CRD_BASE_URL")
    if base and source["url"].startswith(RAW_GITHUB):
        return base.rstrip("/") + "/" + source["url"][len(RAW_GITHUB):]
    return source["url"]


@lru_cache(maxsize=1)
def crd_sources() -> dict[tuple[str, str, str], dict]:
    data = json.loads((_schemas_root() / "crds.json").read_text(encoding="utf-8"))
    return {(s["group"], s["version"], s["kind"]): s for s in data["sources"]}


def crd_text(source: dict) -> bytes:
    folder = mirror_dir()
    mirror = folder / source["mirror"] if folder is not None else None
    cached = cache_dir() / "crds" / f"{source['sha256']}.yaml"
    for candidate in (mirror, cached):
        if candidate is not None and candidate.is_file():
            data = candidate.read_bytes()
            if hashlib.sha256(data).hexdigest() != source["sha256"]:
                raise UserError(f"{candidate}: sha256 differs from the pin in schemas/crds.json ({source['kind']} {source['tag']}); "
                                "the file is not the pinned CRD")
            return data
    url = source_url(source)
    where = f"not in {folder}" if folder is not None else "no CRD mirror (INFERENCE_FLEET_CRD_MIRROR)"
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - pinned URL (or its configured mirror)
            data = resp.read()
    except urllib.error.HTTPError as exc:
        raise UserError(f"no CRD for {source['kind']}: {where}, and {url} answered HTTP {exc.code}; set INFERENCE_FLEET_CRD_MIRROR "
                        "to a folder with the pinned CRDs") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"no CRD for {source['kind']}: {where}, and {url} could not be fetched ({reason}); set "
                        "INFERENCE_FLEET_CRD_MIRROR to a folder with the pinned CRDs") from None
    if hashlib.sha256(data).hexdigest() != source["sha256"]:
        raise UserError(f"{url}: sha256 differs from the pin in schemas/crds.json ({source['kind']} {source['tag']}); refusing it")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(data)
    except OSError:
        pass  # no writable cache: fetch again next time
    return data


