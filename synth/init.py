"""`inference-fleet init`: a commented starter fleet file from a few flags, validated before it is written, never
overwriting a file. Address ranges are laid out per cluster (nodes, pods, services, the region's proxy-only subnet)
so they are distinct in the fleet VPC; the file states them, so they never move when clusters are added later."""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from pathlib import Path

import yaml

from .config import catalog
from .errors import UserError

# Revisions known to exist, so a starter file for these models needs no --revision.
# Commits of Google's Gemma 3 instruction-tuned repositories (as Hugging Face caches name their snapshots).
KNOWN_REVISIONS = {
    "google/gemma-3-27b-it": "005ad3404e59d6023443cb575daa05336842228a",
    "google/gemma-3-12b-it": "96b6f1eccf38110c56df3a15bffe176da04bfd80",
    "google/gemma-3-4b-it": "093f9f388b31de276ce2de164bdc2081324b9767",
}
V6E_ZONE = {z.rsplit("-", 1)[0]: z for z in sorted(catalog.TPU_V6E_ZONES, reverse=True)}  # region → a v6e zone


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project-id", required=True, help="GCP project id")
    p.add_argument("--project-number", required=True, help="GCP project number (Workload Identity principals name it)")
    p.add_argument("--regions", required=True, help="comma-separated serving regions, nearest clients first; the first "
                   f"also holds the Gateway (regions with TPU v6e: {', '.join(sorted(V6E_ZONE))})")
    p.add_argument("--name", default="inference", help="fleet name (default: inference)")
    p.add_argument("--model", default="google/gemma-3-27b-it", help="Hugging Face model id (default: google/gemma-3-27b-it)")
    p.add_argument("--revision", help="commit sha of the model repository (known for google/gemma-3-27b-it)")
    p.add_argument("--weights-uri", help="gs://BUCKET/PREFIX holding the weights, instead of Hugging Face")
    p.add_argument("--machine-type", default="ct6e-standard-4t", choices=sorted(catalog.MACHINE_CHIPS),
                   help="TPU v6e host (default: ct6e-standard-4t, a 2x2 slice)")
    p.add_argument("--replicas", type=int, default=2, help="model servers per region (default: 2)")
    p.add_argument("--delivery", default="none", choices=["argocd", "config-sync", "both", "none"],
                   help="GitOps delivery to write objects for (default: none: Helm or kubectl)")
    p.add_argument("--repo-url", help="Git repository that will hold the output (with --delivery)")
    p.add_argument("--output", "-o", default="fleet.yaml", help="file to write (default: fleet.yaml; never overwritten)")


def _topology(machine: str) -> str:
    return next(t for t, n in catalog.TOPOLOGY_CHIPS.items() if n == catalog.MACHINE_CHIPS[machine])


def _bucket(project: str, name: str, region: str) -> str:
    base = re.sub(r"[^a-z0-9-]", "-", f"{project}-{name}-{region}".lower())
    return base[:63].strip("-")


def starter(args: argparse.Namespace) -> str:
    regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    if not regions:
        raise UserError("init: --regions names no region")
    for r in regions:
        if r not in V6E_ZONE:
            raise UserError(f"init: --regions: {r} has no TPU v6e zone; one of: {', '.join(sorted(V6E_ZONE))}")
    if len(set(regions)) != len(regions):
        raise UserError("init: --regions names a region twice; one cluster per region")
    if len(regions) > 30:
        raise UserError("init: --regions: at most 30 regions in a starter file")
    if args.delivery != "none" and not args.repo_url:
        raise UserError(f"init: --delivery {args.delivery} needs --repo-url (the Git repository the clusters read)")
    if args.weights_uri and args.revision:
        raise UserError("init: give --revision (Hugging Face) or --weights-uri (Cloud Storage), not both")
    revision = args.revision or KNOWN_REVISIONS.get(args.model)
    if not args.weights_uri and not revision:
        raise UserError(f"init: --revision is required for {args.model} (the commit sha to pin), or give --weights-uri")
    name = args.name
    lines = [
        f"# Fleet {name}: {args.model} on TPU v6e {args.machine_type} in {', '.join(regions)}.",
        "# Written by `inference-fleet init`. Every key is described in the inference-fleet README (fleet file",
        "# reference); run `inference-fleet plan` to see the plan and `inference-fleet synth` to write the output.",
        f"name: {name}",
        "project:",
        f"  id: {args.project_id}",
        f'  number: "{args.project_number}"',
        "namespace: llm-serving",
        "model:",
        f"  name: {args.model}",
        f"  path: {args.model}          # folder inside each region's bucket",
        "  source:",
    ]
    if args.weights_uri:
        lines += ["    gcs:", f"      uri: {args.weights_uri}"]
    else:
        lines += ["    huggingface:", f"      revision: {revision}   # pinned commit; the token comes from Secret hf-token"]
    if catalog.model_size_gi(args.model) is None:
        lines.append("  sizeGi: 20          # TODO: the weights' size in GiB (sizes the loader's disk)")
    lines += [
        "server:",
        "  image: vllm/vllm-tpu:v0.11.1",
        "  tpu:",
        f"    machineType: {args.machine_type}",
        f"    topology: {_topology(args.machine_type)}",
        "    capacity:           # tried in order; reservations go in a cluster's own capacity list",
        "      - type: onDemand",
        "      - type: spot",
        f"  replicas: {args.replicas}",
        "routing:",
        "  apiProfile: gke",
        "gateway:",
        f"  configCluster: {name}-{regions[0]}",
        "  balancingMode: CUSTOM_METRICS",
        f"  expectedPeakRps: {args.replicas * 4 * max(1, len(regions) - 1)}",
        "dns:",
        "  enabled: true      # clients use api.<name>.internal: the nearest healthy region's gateway address",
        "clusters:",
    ]
    for i, region in enumerate(regions):
        lines += [
            f"  - name: {name}-{region}",
            f"    region: {region}",
            f"    zone: {V6E_ZONE[region]}",
            f"    bucket: {_bucket(args.project_id, name, region)}",
            "    subnets:",
            f"      nodes: 10.0.{16 * i}.0/20",
            f"      pods: 10.{4 + 4 * i}.0.0/14",
            f"      services: 10.1.{16 * i}.0/20",
            f"      proxyOnly: 10.{128 + i}.0.0/23",
        ]
    if args.delivery != "none":
        methods = ["argocd", "config-sync"] if args.delivery == "both" else [args.delivery]
        lines += ["delivery:", f"  repoURL: {args.repo_url}", f"  methods: [{', '.join(methods)}]"]
    return "\n".join(lines) + "\n"


def run_init(args: argparse.Namespace) -> int:
    from .config.loader import parse_fleet

    target = Path(args.output)
    if target.exists():
        raise UserError(f"init: {target} exists; init never overwrites a file (choose another --output)")
    text = starter(args)
    parse_fleet(yaml.safe_load(text), f"init: {target}")  # validated before it is written
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".init-", dir=target.parent)
    try:
        # mkstemp creates 0600; a fleet file is an ordinary, shareable file (0644 less the user's umask).
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            os.link(tmp, target)  # fails when the file appeared meanwhile: never overwrite
        except FileExistsError:
            raise UserError(f"init: {target} exists; init never overwrites a file (choose another --output)") from None
    finally:
        os.unlink(tmp)
    print(f"inference-fleet: wrote {target} ({len(args.regions.split(','))} region(s)); next: inference-fleet plan --config {target}")
    return 0
