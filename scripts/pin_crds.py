"""Add the CRDs of a mirror folder to schemas/crds.json, one record per kind (its storage version; the validator
loads every served version from the same file). The record's URL, tag and sha256 come from the folder's SOURCE.md
(repository, tag or ref, commit, and the table of files); each mirror file is checked against its sha256 first (a
SOURCE.md without sha256 column: the mirror copy's sha256 is recorded, and downloads are checked against it).

    python scripts/pin_crds.py ../shared/crds/gateway-api [more folders]

Existing records are kept; kinds already pinned are skipped."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "schemas" / "crds.json"


def source_facts(folder: Path) -> tuple[str, str, str, list[tuple[str, str, str]]]:
    text = (folder / "SOURCE.md").read_text(encoding="utf-8")
    repo = re.search(r"Repository: https://github.com/(\S+)", text).group(1)
    commit = re.search(r"[Cc]ommit:? ([0-9a-f]{40})", text).group(1)
    tag = re.search(r"- Tag: (\S+)", text)
    tag = tag.group(1) if tag else f"main@{commit[:8]}"
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0].endswith(".yaml") and re.fullmatch(r"[0-9a-f]{64}", cells[-1]):
            rows.append((cells[0], cells[1], cells[-1]))
        elif len(cells) == 4 and cells[0].endswith(".yaml") and "/" in cells[1]:
            rows.append((cells[0], cells[1], None))  # no sha256 in SOURCE.md: the mirror copy's is recorded
    return repo, commit, tag, rows


def main(folders: list[str]) -> int:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    pinned = {(s["group"], s["kind"]) for s in manifest["sources"]}
    root = Path(folders[0]).resolve().parent if folders else None
    for raw in folders:
        folder = Path(raw).resolve()
        repo, commit, tag, rows = source_facts(folder)
        for local, path, sha in rows:
            data = (folder / local).read_bytes()
            sha = sha or hashlib.sha256(data).hexdigest()
            if hashlib.sha256(data).hexdigest() != sha:
                print(f"{folder.name}/{local}: sha256 differs from SOURCE.md; skipped", file=sys.stderr)
                continue
            crd = yaml.safe_load(data)
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            kind, group = spec["names"]["kind"], spec["group"]
            if (group, kind) in pinned:
                continue
            storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
            manifest["sources"].append({
                "kind": kind, "group": group, "version": storage,
                "mirror": f"{folder.relative_to(root)}/{local}",
                "url": f"https://raw.githubusercontent.com/{repo}/{commit}/{path}",
                "tag": tag, "sha256": sha,
            })
            pinned.add((group, kind))
            print(f"pinned {group} {kind} {storage} ({tag})")
    MANIFEST.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
