"""The validator agrees with the API server on objects nobody here wrote: the upstream corpus (tests/corpus/SOURCES.yaml
states its repositories, tags, commits and expectations). Every object the API server accepts passes — schema with the
CRD's defaults applied first, every CEL rule evaluated (none skipped), the API server's native rules — every listed
invalid object and every invalid variant fails for its named rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from synth.validate.apiserver import cluster_checks
from synth.validate.decode import documents
from synth.validate.engine import Validator
from tests.casebook import apply_ops

CORPUS = Path(__file__).resolve().parent / "corpus"
SOURCES = yaml.safe_load((CORPUS / "SOURCES.yaml").read_text())


def _objects(path: Path) -> list[dict]:
    """The file's objects as the API server decodes them (the validator's own decoder, as `validate` reads files)."""
    return [d for d in documents(path.read_text()) if isinstance(d, dict)]


def _oid(o: dict) -> str:
    meta = o["metadata"]
    return f"{o['kind']}/{meta.get('name') or meta['generateName']}"


def _verdicts(file: str, objs: list[dict]) -> tuple[dict[str, set], Validator]:
    v = Validator()
    found: dict[str, set] = {_oid(o): set() for o in objs}
    for o in objs:
        for p in v.validate_object(file, o):
            found[_oid(o)].add((p.rule, p.path, p.unchecked))
    for p in cluster_checks([(file, o) for o in objs]):
        found.setdefault(p.obj, set()).add((p.rule, p.path, p.unchecked))
    return found, v


def _files(source: dict) -> list[Path]:
    root = CORPUS / source["name"]
    return sorted(p for p in root.rglob("*.yaml"))


@pytest.mark.parametrize("source", SOURCES["sources"], ids=lambda s: s["name"])
def test_what_the_api_server_accepts_passes(source):
    invalid = {(i["file"], i["object"]): i for i in source.get("invalid") or []}
    # Objects whose verdict depends on the cluster (an API version off by default): reported as not checked, only.
    depends = {(i["file"], i["object"]) for i in source.get("unchecked") or []}
    root = CORPUS / source["name"]
    count, wrong, skipped = 0, [], []
    for path in _files(source):
        rel = str(path.relative_to(root))
        objs = _objects(path)
        count += len(objs)
        found, v = _verdicts(rel, objs)
        skipped += v.stats.cel_skipped
        for obj, problems in found.items():
            expect = invalid.get((rel, obj))
            if (rel, obj) in depends:
                if not problems or not all(unchecked for _, _, unchecked in problems):
                    wrong.append(f"{rel} {obj}: expected only not-checked problems, got {sorted(problems)}")
            elif expect is None and problems:
                wrong.append(f"{rel} {obj}: {sorted(problems)}")
            elif expect is not None and {r for r, _, _ in problems} != {expect["rule"]}:
                wrong.append(f"{rel} {obj}: expected {expect['rule']} ({expect['reason']}), got {sorted(problems)}")
    assert count, f"{source['name']}: no objects"
    assert not wrong, "\n".join(wrong)
    assert not skipped, f"CEL rules skipped: {sorted(set(skipped))}"


def test_the_corpus_is_several_hundred_objects_of_the_kinds_the_fleet_emits():
    kinds = {}
    for source in SOURCES["sources"]:
        for path in _files(source):
            for o in _objects(path):
                kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    assert sum(kinds.values()) >= 500, kinds
    assert {"Gateway", "HTTPRoute", "InferencePool", "InferenceObjective", "PodMonitoring", "Deployment", "Service",
            "Namespace", "ConfigMap", "Secret", "ComputeClass", "ResourceClaimTemplate", "NetworkPolicy",
            "PodDisruptionBudget", "HorizontalPodAutoscaler", "Job", "ServiceAccount", "Role", "RoleBinding",
            "GCPBackendPolicy", "HealthCheckPolicy", "ApplicationSet", "AppProject", "RootSync", "RepoSync",
            "ContainerCluster", "ContainerNodePool", "ComputeSubnetwork", "IAMPolicyMember",
            "GKEHubFeature"} <= set(kinds), sorted(kinds)


def test_every_source_names_its_commit():
    """Each file's origin is exact: a source's commit, or (for a repository read file by file) each file's own."""
    for source in SOURCES["sources"]:
        files = [str(p.relative_to(CORPUS / source["name"])) for p in _files(source)]
        commits = source.get("file_commits") or {}
        for rel in files:
            assert source.get("commit") or commits.get(rel), f"{source['name']}/{rel}: no commit"
        assert source.get("repository") and source.get("license"), source["name"]


@pytest.mark.parametrize("variant", SOURCES["variants"], ids=lambda v: f"{v['object']}:{v['rule']}:{v['path']}")
def test_each_invalid_variant_fails_for_its_rule(variant):
    path = CORPUS / variant["file"]
    objs = [apply_ops(o, variant["ops"]) if _oid(o) == variant["object"] else o for o in _objects(path)]
    found, v = _verdicts(variant["file"], objs)
    assert (variant["rule"], variant["path"], False) in found[variant["object"]], (variant["reason"], found[variant["object"]])
    assert not v.stats.cel_skipped
