"""Validation cases as data. A case folder holds ``case.yaml``:

    description: what is broken
    base: examples/multi-model        # optional: whose committed output the base is (default: the repository's,
                                      # from fleet.yaml)
    clusters: [gemma3-us-east5]       # base clusters: that output's overlays/<name>/; its infra/ root comes
                                      # along as cluster "infra" unless `infra: false`
    patches:                          # applied to the base, in order
      - cluster: gemma3-us-east5
        target: {kind: InferencePool, name: gemma3-27b}
        ops: [{op: replace, path: /spec/targetPorts/0/number, value: 8080}]   # RFC 6902 on that object
      - {cluster: gemma3-us-east5, remove: {kind: NetworkPolicy, name: gemma3-27b-vllm}}
      - {cluster: gemma3-us-east5, add: {apiVersion: v1, kind: Secret, ...}}
      - {cluster: gemma3-europe-west4, copy: {from: gemma3-us-east5, kind: Gateway, name: inference-gateway}}
    expected: ["pool-ports InferencePool/gemma3-27b spec.targetPorts[0]"]   # invalid cases: `<rule> <Kind/name> <path>`

Two more inputs feed the bring-up rules: ``delivery`` (the committed delivery/ folder: the Argo CD and Config Sync
objects) and ``helm:<chart>@<cluster>`` (``helm template`` of that committed chart with values-<cluster>.yaml, as
Helm installs it); name them in ``clusters`` and patch them like a cluster.

Any other ``*.yaml`` file in the folder is one more cluster (its file stem) taken as written. Because a case
states only its defect, a change of the generated output does not invalidate it; a regression is a new folder.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from synth.validate.cli import load_docs

REPO = Path(__file__).resolve().parents[1]


def _key(o: dict) -> tuple:
    return (o.get("kind"), (o.get("metadata") or {}).get("name"))


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")] if path else []


def apply_ops(doc: dict, ops: list[dict]) -> dict:
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = _pointer(op["path"])
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1]
        kind = op["op"]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(index, copy.deepcopy(op["value"]))
            elif kind == "remove":
                del parent[index]
            elif kind == "replace":
                parent[index] = copy.deepcopy(op["value"])
            else:
                raise ValueError(f"unsupported op {kind}")
        else:
            if kind in ("add", "replace"):
                if kind == "replace" and last not in parent:
                    raise KeyError(f"replace of missing {op['path']}")
                parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del parent[last]
            else:
                raise ValueError(f"unsupported op {kind}")
    return doc


def base_cluster(name: str, base: str = ".") -> list[tuple[str, dict]]:
    """Everything cluster ``name`` of a committed output receives (``infra``: its infra/ root; ``delivery``: its
    delivery objects; ``helm:<chart>@<cluster>``: a Helm release of its charts)."""
    root = REPO / base
    if name == "delivery":
        return [(f"delivery/{Path(f).relative_to(root / 'delivery')}", o) for f, o in load_docs(root / "delivery")]
    if name.startswith("helm:"):
        from synth.validate.cli import helm_template

        chart, _, cluster = name.removeprefix("helm:").partition("@")
        return helm_template(root / "charts" / chart, root / "charts" / chart / f"values-{cluster}.yaml")
    folder = root / "infra" if name == "infra" else root / "overlays" / name
    if not folder.is_dir():
        raise FileNotFoundError(f"no committed overlay {folder}")
    prefix = "infra" if name == "infra" else f"overlays/{name}"
    return [(f"{prefix}/{Path(f).relative_to(folder)}", o) for f, o in load_docs(folder)]


def load_case(case: Path) -> tuple[dict, dict[str, list[tuple[str, dict]]]]:
    spec = yaml.safe_load((case / "case.yaml").read_text())
    names = list(spec.get("clusters") or [])
    if names and spec.get("infra", True) and "infra" not in names:
        names.append("infra")
    base = spec.get("base", ".")
    clusters: dict[str, list[tuple[str, dict]]] = {n: base_cluster(n, base) for n in names}
    for i, patch in enumerate(spec.get("patches") or []):
        docs = clusters[patch["cluster"]]
        if "add" in patch:
            docs.append((f"case:patches[{i}]", copy.deepcopy(patch["add"])))
            continue
        if "copy" in patch:
            src = patch["copy"]
            found = [o for _, o in base_cluster(src["from"], base) if _key(o) == (src["kind"], src["name"])]
            if len(found) != 1:
                raise LookupError(f"{case.name}: patches[{i}] copies {len(found)} objects {src}")
            docs.append((f"case:patches[{i}]", found[0]))
            continue
        target = patch.get("remove") or patch["target"]
        hits = [j for j, (_, o) in enumerate(docs) if _key(o) == (target["kind"], target["name"])]
        if len(hits) != 1:
            raise LookupError(f"{case.name}: patches[{i}] matches {len(hits)} objects {target}")
        if "remove" in patch:
            del docs[hits[0]]
        else:
            f, o = docs[hits[0]]
            docs[hits[0]] = (f, apply_ops(o, patch["ops"]))
    for extra in sorted(case.glob("*.yaml")):
        if extra.name != "case.yaml":
            clusters[extra.stem] = load_docs(extra)
    return spec, clusters


def split_inputs(clusters: dict) -> dict:
    """validate_fleet's arguments: clusters, the delivery objects and the Helm releases."""
    return {"clusters": {k: v for k, v in clusters.items() if k != "delivery" and not k.startswith("helm:")},
            "delivery": clusters.get("delivery", []),
            "releases": {k: v for k, v in clusters.items() if k.startswith("helm:")}}
