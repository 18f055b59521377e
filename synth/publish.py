"""`inference-fleet publish`: package every chart of an output folder and push it to an OCI registry, where
delivery objects with ``delivery.charts.registry`` install them from.

Each chart is packaged with `helm package` (its `.helmignore` keeps the per-cluster values files out) and pushed with
`helm push` to ``oci://REGISTRY/PATH/<chart>:<version>``; a version the registry already holds with the same digest
is left alone, so publishing again is safe. The charts' versions change with their content, so a change never
overwrites what a cluster already runs.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import UserError
from .tools import require

REGISTRY = re.compile(r"^oci://[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]([-a-z0-9._]*[a-z0-9])?)+$")


@dataclass(frozen=True)
class Published:
    chart: str
    version: str
    reference: str  # oci://REGISTRY/PATH/chart:tag
    digest: str  # content digest of the package (content_digest)
    pushed: bool  # False: the registry already held this version with the same digest


def charts_in(out: Path) -> list[Path]:
    charts = sorted(p.parent for p in (out / "charts").glob("*/Chart.yaml"))
    if not charts:
        raise UserError(f"{out}: no charts/*/Chart.yaml to publish; run `inference-fleet synth --out {out}` first")
    return charts


def publish(out: Path, registry: str, *, plain_http: bool = False) -> list[Published]:
    """Package and push every chart under ``out/charts``. ``plain_http`` for a registry without TLS (a local one)."""
    if not REGISTRY.fullmatch(registry):
        raise UserError(f"--registry {registry!r}: give oci://HOST[:PORT]/PATH (lower-case path segments)")
    helm = require("helm")
    flags = ["--plain-http"] if plain_http else []
    done = []
    with tempfile.TemporaryDirectory(prefix="inference-fleet-publish-") as tmp:
        for chart in charts_in(out):
            meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
            name, version = meta["name"], str(meta["version"])
            r = subprocess.run([helm, "package", str(chart), "-d", tmp], capture_output=True, text=True)
            if r.returncode != 0:
                raise UserError(f"helm package {chart} failed: {_last(r.stderr)}")
            package = Path(tmp) / f"{name}-{version}.tgz"
            digest = content_digest(package)
            reference = f"{registry}/{name}:{version.replace('+', '_')}"
            held = _remote_digest(helm, registry, name, version, flags)
            if held is not None and held != digest:
                # Same version, other content: the version is derived from the content, so this is a package built
                # differently (another Helm); refuse rather than replace what clusters may run.
                raise UserError(f"{reference}: the registry holds this version with another package digest; "
                                "a published version is never replaced")
            if held is None:
                r = subprocess.run([helm, "push", str(package), registry, *flags], capture_output=True, text=True)
                if r.returncode != 0:
                    hint = (f" (log in first: gcloud auth print-access-token | helm registry login -u oauth2accesstoken "
                            f"--password-stdin https://{registry.removeprefix('oci://').split('/')[0]})"
                            if ".pkg.dev" in registry and re.search(r"unauthori|denied|401|403", r.stderr, re.I) else "")
                    raise UserError(f"helm push {name} {version} to {registry} failed: {_last(r.stderr)}{hint}")
            done.append(Published(name, version, reference, digest, held is None))
    return done


def _remote_digest(helm: str, registry: str, name: str, version: str, flags: list[str]) -> str | None:
    """The sha256 of the package the registry holds at ``version``, or None when it holds none."""
    with tempfile.TemporaryDirectory(prefix="inference-fleet-pull-") as tmp:
        r = subprocess.run([helm, "pull", f"{registry}/{name}", "--version", version, "-d", tmp, *flags],
                           capture_output=True, text=True)
        if r.returncode != 0:
            if re.search(r"not found|404|manifest unknown|name unknown", r.stderr, re.I):
                return None
            raise UserError(f"helm pull {registry}/{name} --version {version} failed: {_last(r.stderr)}")
        (package,) = Path(tmp).glob("*.tgz")
        return content_digest(package)


def content_digest(package: Path) -> str:
    """A digest of what a chart package holds (each file's path and bytes; not the archive's timestamps, which
    `helm package` takes from the clock): the same chart packaged twice has the same one."""
    digest = hashlib.sha256()
    with tarfile.open(package) as tar:
        for member in sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name):
            digest.update(f"{member.name}\0{member.size}\0".encode())
            digest.update(tar.extractfile(member).read())
    return digest.hexdigest()


def _last(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
