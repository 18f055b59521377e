"""Delivery objects: ApplicationSet + AppProject, RootSyncs. They validate against their pinned CRDs, point at
overlays that exist and build, roll out every region, and allow exactly the kinds the charts emit."""

from __future__ import annotations

import pytest
import yaml

from synth.validate.cli import load_docs
from synth.validate.engine import Validator, format_problem
from tests.conftest import fleet_files, fleet_id, run, tool


def _load(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("config", fleet_files(), ids=fleet_id)
def test_delivery_objects_validate_and_point_at_overlays(config, synthesized, plans):
    out = synthesized(config)
    plan = plans(config)
    fleet = plan.fleet
    # Only the methods the fleet file names (none without a delivery section).
    assert (out / "delivery" / "argocd").is_dir() == fleet.delivery.argocd
    assert (out / "delivery" / "config-sync").is_dir() == fleet.delivery.config_sync
    if not fleet.delivery.argocd:
        return
    # Each RootSync goes to its own cluster (each is named after the fleet there).
    syncs = {f"config-sync/{d.name}": load_docs(d) for d in sorted((out / "delivery" / "config-sync").iterdir())
             } if fleet.delivery.config_sync else {}
    problems = Validator().validate_fleet({"argocd": load_docs(out / "delivery" / "argocd"), **syncs})
    assert not problems, "\n".join(map(format_problem, problems))

    appset = _load(out / "delivery/argocd/applicationset.yaml")[0]
    spec = appset["spec"]
    assert spec["goTemplate"] is True and spec["goTemplateOptions"] == ["missingkey=error"]
    assert spec["syncPolicy"]["preserveResourcesOnDeletion"] is True
    assert "ServerSideApply=true" in spec["template"]["spec"]["syncPolicy"]["syncOptions"]
    path_tmpl = spec["template"]["spec"]["source"]["path"]
    kubectl = tool("kubectl")
    prefix = "" if fleet.delivery.path == "." else fleet.delivery.path + "/"
    for cluster in fleet.clusters:
        path = path_tmpl.replace('{{index .metadata.labels "inference-fleet.dev/cluster"}}', cluster.name)
        assert path == f"{prefix}overlays/{cluster.name}"
        local = out / path.removeprefix(prefix)  # the repository holds the output under delivery.path
        assert (local / "kustomization.yaml").is_file()
        assert run([kubectl, "kustomize", str(local)]).returncode == 0
        if fleet.delivery.config_sync:
            rootsync = _load(out / f"delivery/config-sync/{cluster.name}/rootsync.yaml")[0]
            assert rootsync["spec"]["git"]["dir"] == path
            assert rootsync["spec"]["sourceFormat"] == "unstructured"
            assert rootsync["metadata"]["namespace"] == "config-management-system"

    steps = spec["strategy"]["rollingSync"]["steps"]
    assert spec["strategy"]["type"] == "RollingSync"
    for cluster in fleet.clusters:
        matched = [s for s in steps if all(
            (cluster.region in e["values"]) == (e["operator"] == "In") for e in s["matchExpressions"])]
        assert len(matched) >= 1, f"no RollingSync step takes {cluster.name}"
        assert matched[0]["matchExpressions"][0]["operator"] == "In"
    assert steps[-1]["matchExpressions"][0]["operator"] == "NotIn"
    assert [s["matchExpressions"][0]["values"][0] for s in steps[:-1]] == list(fleet.delivery.region_order)
    assert spec["template"]["metadata"]["labels"]["region"] == '{{index .metadata.labels "inference-fleet.dev/region"}}'


@pytest.mark.parametrize("config", fleet_files(), ids=fleet_id)
def test_app_project_allows_exactly_what_we_emit(config, synthesized, plans):
    out = synthesized(config)
    plan = plans(config)
    if not plan.fleet.delivery.argocd:
        return
    project = _load(out / "delivery/argocd/appproject.yaml")[0]["spec"]
    allowed = {(r["group"], r["kind"]) for r in project["clusterResourceWhitelist"] + project["namespaceResourceWhitelist"]}
    possible = {(t.obj["apiVersion"].rpartition("/")[0], t.obj["kind"]) for c in plan.charts for t in c.templates if not t.helm_only}
    # The CRDs the overlays ship (InferenceObjective's) are applied by the same Applications.
    assert allowed == possible | {("apiextensions.k8s.io", "CustomResourceDefinition")}
    # Cluster-scoped: the Namespace, the TPU ComputeClass and the shipped CRDs only.
    assert sorted(r["kind"] for r in project["clusterResourceWhitelist"]) == ["ComputeClass", "CustomResourceDefinition", "Namespace"]
    assert project["sourceRepos"] == [plan.fleet.delivery.repo_url]
    assert {d["namespace"] for d in project["destinations"]} == {plan.fleet.namespace}
    assert len(project["destinations"]) == len(plan.fleet.clusters)


@pytest.mark.parametrize("config", fleet_files(), ids=fleet_id)
def test_infra_root_is_delivered_to_the_management_cluster(config, synthesized, plans):
    out = synthesized(config)
    fleet = plans(config).fleet
    kubectl = tool("kubectl")
    built = run([kubectl, "kustomize", str(out / "infra")])
    assert built.returncode == 0, built.stderr
    kinds = {(d["apiVersion"].rpartition("/")[0], d["kind"]) for d in yaml.safe_load_all(built.stdout) if d}
    if fleet.delivery.config_sync:
        sync = _load(out / "delivery/config-sync/infra/rootsync.yaml")[0]
        assert sync["spec"]["git"]["dir"] == fleet.delivery.infra_dir
    if not fleet.delivery.argocd:
        return
    app = _load(out / "delivery/argocd/infra-application.yaml")[0]
    assert app["spec"]["source"]["path"] == fleet.delivery.infra_dir
    assert app["spec"]["destination"] == {"server": fleet.delivery.management_server, "namespace": fleet.infra.namespace}
    # Removing a Config Connector object deletes a GCP resource: pruning waits for a person.
    assert app["spec"]["syncPolicy"]["automated"]["prune"] is False
    project = _load(out / "delivery/argocd/infra-appproject.yaml")[0]["spec"]
    assert {(r["group"], r["kind"]) for r in project["namespaceResourceWhitelist"]} == kinds
    assert project["clusterResourceWhitelist"] == []
