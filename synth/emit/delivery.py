"""Fleet-level delivery objects: an Argo CD ApplicationSet + AppProject over labelled cluster Secrets, and a
Config Sync RootSync per cluster. Both point each cluster at its overlay. Plain data: nothing here needs cdk8s."""

from __future__ import annotations

from ..bringup import health, timeline
from ..config.model import Fleet
from ..plan import Plan, release_name
from ..values import merge
from .crds import chart_crd_sources

LABEL = "inference-fleet.dev"
# Go-template expressions of an ApplicationSet's cluster generator: the cluster Secret's labels.
CLUSTER_OF_SECRET = f'{{{{index .metadata.labels "{LABEL}/cluster"}}}}'
REGION_OF_SECRET = f'{{{{index .metadata.labels "{LABEL}/region"}}}}'
# Labels an operator puts on each Argo CD cluster Secret (none of Google's fleet syncers add them).
CONNECT_GATEWAY = "https://connectgateway.googleapis.com/v1/projects/{number}/locations/global/gkeMemberships/{cluster}"


def _metadata(fleet: Fleet, namespace: str) -> dict:
    return {"name": fleet.name, "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": fleet.name, "inference-fleet.dev/generated-by": "inference-fleet"}}


def cluster_secret_labels(fleet: Fleet) -> dict[str, dict[str, str]]:
    return {c.name: {"argocd.argoproj.io/secret-type": "cluster", f"{LABEL}/fleet": fleet.name,
                     f"{LABEL}/cluster": c.name, f"{LABEL}/region": c.region, f"{LABEL}/role": "-".join(fleet.roles(c))}
            for c in fleet.clusters}


def application_set(fleet: Fleet) -> dict:
    d = fleet.delivery
    cluster, region = CLUSTER_OF_SECRET, REGION_OF_SECRET
    overlay = d.overlay_dir("CLUSTER").replace("CLUSTER", cluster)
    steps = [{"matchExpressions": [{"key": "region", "operator": "In", "values": [r]}], "maxUpdate": "100%"}
             for r in d.region_order]
    # Applications matching no step are never synced by RollingSync: the last step takes everything else.
    steps.append({"matchExpressions": [{"key": "region", "operator": "NotIn", "values": list(d.region_order)}]})
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": _metadata(fleet, d.argocd_namespace),
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"clusters": {"selector": {
                "matchLabels": {"argocd.argoproj.io/secret-type": "cluster", f"{LABEL}/fleet": fleet.name},
                # `index` on a missing label yields "" even with missingkey=error: require the labels here.
                "matchExpressions": [
                    {"key": f"{LABEL}/cluster", "operator": "In", "values": [c.name for c in fleet.clusters]},
                    {"key": f"{LABEL}/region", "operator": "Exists"},
                ],
            }}}],
            # RollingSync syncs each step itself: it turns auto-sync off on the Applications it generates and reads
            # only `automated.prune`, as the prune flag of the syncs it triggers (selfHeal would be inert, so the
            # template has none). Each step waits for its Applications to be healthy; inside one, sync waves order
            # the bring-up phases. Deleting the ApplicationSet removes Applications in the reverse of the step order.
            "strategy": {"type": "RollingSync", "deletionOrder": "Reverse", "rollingSync": {"steps": steps}},
            "syncPolicy": {"preserveResourcesOnDeletion": True},
            "template": {
                "metadata": {"name": f"{fleet.name}-{cluster}",
                             "labels": {"region": region, "cluster": cluster, "fleet": fleet.name}},
                "spec": {
                    "project": fleet.name,
                    "source": {"repoURL": d.repo_url, "targetRevision": d.revision, "path": overlay},
                    "destination": {"server": "{{.server}}", "namespace": fleet.namespace},
                    "syncPolicy": {
                        "automated": {"prune": True},
                        # SkipDryRunOnMissingResource: the InferenceObjectives sync in the same operation as their CRD.
                        "syncOptions": ["ServerSideApply=true", "PruneLast=true", "FailOnSharedResource=true",
                                        "SkipDryRunOnMissingResource=true"],
                        "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
                    },
                },
            },
        },
    }


def app_project(fleet: Fleet, plan: Plan) -> dict:
    d = fleet.delivery
    # Every kind the charts can emit (whatever the values), not just what the current values render.
    kinds = sorted({(t.obj["apiVersion"].rpartition("/")[0], t.obj["kind"], "namespace" in t.obj["metadata"])
                    for chart in plan.charts for t in chart.templates if not t.helm_only}
                   | ({("apiextensions.k8s.io", "CustomResourceDefinition", False)}
                      if any(chart_crd_sources(chart) for chart in plan.charts) else set()))
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": _metadata(fleet, d.argocd_namespace),
        "spec": {
            "description": f"{', '.join(m.model.name for m in fleet.models)} inference fleet {fleet.name}: only its repository, "
                           "clusters, namespace and kinds.",
            "sourceRepos": [d.repo_url] + ([_registry_host_path(d.chart_registry)] if d.chart_registry else []),
            "destinations": [{"server": CONNECT_GATEWAY.format(number=fleet.project.number, cluster=c.name),
                              "namespace": fleet.namespace} for c in fleet.clusters],
            "clusterResourceWhitelist": [{"group": g, "kind": k} for g, k, namespaced in kinds if not namespaced],
            "namespaceResourceWhitelist": [{"group": g, "kind": k} for g, k, namespaced in kinds if namespaced],
            "orphanedResources": {"warn": True},
        },
    }


def health_checks(fleet: Fleet, plan: Plan) -> dict:
    """``argocd-cm`` data with a Lua health check for every kind the output holds that Argo CD does not know. A whole
    ConfigMap that is also a merge patch: ``kubectl patch configmap argocd-cm --type merge --patch-file`` adds the keys
    and keeps the rest of the controller's settings."""
    kinds = {(t.obj["apiVersion"].rpartition("/")[0], t.obj["kind"]) for chart in plan.charts for t in chart.templates}
    data = {health.key(g, k): script for (g, k), script in sorted(health.CHECKS.items()) if (g, k) in kinds}
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "argocd-cm", "namespace": fleet.delivery.argocd_namespace,
                         "labels": {"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"}},
            "data": data}


def root_sync(fleet: Fleet, cluster) -> dict:
    d = fleet.delivery
    folder = d.overlay_dir(cluster.name) if cluster is not None else d.infra_dir
    git = {"repo": d.repo_url, "revision": d.revision, "dir": folder, "auth": d.config_sync_auth,
           "period": d.period}
    if d.config_sync_auth == "gcpserviceaccount":
        git["gcpServiceAccountEmail"] = d.gcp_service_account_email
    elif d.config_sync_auth in ("token", "ssh", "githubapp", "cookiefile"):
        git["secretRef"] = {"name": d.secret_name}
    spec = {"sourceType": "git", "sourceFormat": "unstructured", "git": git}
    if cluster is not None and cluster.serving:
        # depends-on waits up to reconcileTimeout (default 5m) for a dependency, else the dependent waits for the next
        # sync: give it the loader's copy and the servers' start-up, as the timeline estimates them.
        spec["override"] = {"reconcileTimeout": f"{timeline.timeout(reconcile_seconds(fleet, cluster)) // 60}m"}
    return {
        "apiVersion": "configsync.gke.io/v1beta1",
        "kind": "RootSync",
        "metadata": _metadata(fleet, "config-management-system"),
        "spec": spec,
    }


def reconcile_seconds(fleet: Fleet, cluster) -> int:
    """The longest a dependency of ``cluster``'s objects takes to reconcile: the weights copy or a server's start."""
    return max(max(timeline.weights_copy_seconds(m), timeline.time_to_serve(m)) for m in fleet.models_in(cluster))


def _infra_metadata(fleet: Fleet) -> dict:
    """Metadata of the infra/ root's Argo CD objects (named <fleet>-infra)."""
    return {**_metadata(fleet, fleet.delivery.argocd_namespace), "name": f"{fleet.name}-infra"}


def infra_project(fleet: Fleet, infra: dict[str, list[dict]]) -> dict:
    """The AppProject of the infra/ root (``infra``: its files' objects): only the fleet's repository, the management
    cluster's Config Connector namespace, and exactly the Config Connector kinds the root holds."""
    kinds = sorted({(o["apiVersion"].rpartition("/")[0], o["kind"]) for objs in infra.values() for o in objs})
    meta = _infra_metadata(fleet)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": meta,
        "spec": {
            "description": f"GCP side of inference fleet {fleet.name}: Config Connector objects on the management cluster.",
            "sourceRepos": [fleet.delivery.repo_url],
            "destinations": [{"server": fleet.delivery.management_server, "namespace": fleet.infra.namespace}],
            "clusterResourceWhitelist": [],
            "namespaceResourceWhitelist": [{"group": g, "kind": k} for g, k in kinds],
            "orphanedResources": {"warn": True},
        },
    }


def infra_application(fleet: Fleet) -> dict:
    """One Application syncing infra/ to the management cluster. No automatic pruning: removing a Config Connector
    object deletes its GCP resource (clusters, the VPC, buckets and APIs are abandoned instead, but firewall rules,
    NAT and grants are not), so deletions wait for a person to sync with prune."""
    d = fleet.delivery
    meta = _infra_metadata(fleet)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": meta,
        "spec": {
            "project": f"{fleet.name}-infra",
            "source": {"repoURL": d.repo_url, "targetRevision": d.revision, "path": d.infra_dir},
            "destination": {"server": d.management_server, "namespace": fleet.infra.namespace},
            "syncPolicy": {
                "automated": {"prune": False, "selfHeal": True},
                "syncOptions": ["ServerSideApply=true", "FailOnSharedResource=true"],
                "retry": {"limit": 10, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "10m"}},
            },
        },
    }


def infra_root_sync(fleet: Fleet) -> dict:
    sync = root_sync(fleet, None)
    sync["metadata"]["name"] = f"{fleet.name}-infra"
    sync["spec"]["git"]["dir"] = fleet.delivery.infra_dir
    return sync


def delivery_objects(plan: Plan) -> dict[str, list[dict]]:
    """Output path → objects (built once per plan)."""
    return plan.memo("delivery", lambda: _delivery_objects(plan))


def chart_versions(plan: Plan) -> dict[str, str]:
    """Each chart's version (from its content, as its Chart.yaml states it)."""
    from .files import planned_chart_files

    out = {}
    for chart in plan.charts:
        text = planned_chart_files(plan, chart)[f"charts/{chart.name}/Chart.yaml"]
        out[chart.name] = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("version: "))
    return out


def _registry_host_path(registry: str) -> str:
    return registry.removeprefix("oci://")


def chart_application_set(fleet: Fleet, chart, version: str) -> dict:
    """One chart from the registry, in every cluster that installs it: an Application per cluster with two sources,
    the chart at its version and the Git repository its values file is read from (`$values`). RollingSync takes the
    regions in order, as for the overlays."""
    appset = application_set(fleet)
    d = fleet.delivery
    cluster = CLUSTER_OF_SECRET
    base = "" if d.path == "." else f"{d.path}/"
    spec = appset["spec"]
    appset["metadata"] = {**appset["metadata"], "name": f"{fleet.name}-{chart.key}"}
    spec["generators"][0]["clusters"]["selector"]["matchExpressions"][0]["values"] = list(chart.clusters)
    template = spec["template"]
    template["metadata"]["name"] = f"{chart.name}-{cluster}"
    template["metadata"]["labels"]["chart"] = chart.name
    del template["spec"]["source"]
    helm = {"releaseName": release_name(fleet, chart.key),
            "valueFiles": [f"$values/{base}charts/{chart.name}/values-{cluster}.yaml"],
            # The CRDs come once per cluster from their own ApplicationSet (several charts ship the same one).
            "skipCrds": True}
    if chart.model is not None:
        helm["valuesObject"] = GITOPS_VALUES
    template["spec"]["sources"] = [
        {"repoURL": _registry_host_path(d.chart_registry), "chart": chart.name, "targetRevision": version, "helm": helm},
        {"repoURL": d.repo_url, "targetRevision": d.revision, "ref": "values"},
    ]
    # A chart leaves the namespace to its installer: Argo CD creates it (every chart of the fleet shares it).
    template["spec"]["syncPolicy"]["syncOptions"] = [*template["spec"]["syncPolicy"]["syncOptions"], "CreateNamespace=true"]
    return appset


# What a serving chart needs where a GitOps tool renders it: the weights loader as an ordinary object (sync wave,
# depends-on) instead of Helm hooks Argo CD would re-create on every sync, and no `helm test` Pod, which Config Sync
# would apply with everything else (it fails before the server is up and stays failed).
GITOPS_VALUES = {"weights": {"helmHooks": False}, "tests": {"enabled": False}}


def crds_application_set(fleet: Fleet) -> dict:
    """The CRDs the overlays ship (overlays/<cluster>/crds, from Git), once per cluster: with charts from a registry,
    several charts carry the same CRD, and one owner per object is all Argo CD and Config Sync allow."""
    appset = application_set(fleet)
    cluster = CLUSTER_OF_SECRET
    appset["metadata"] = {**appset["metadata"], "name": f"{fleet.name}-crds"}
    template = appset["spec"]["template"]
    template["metadata"]["name"] = f"{fleet.name}-crds-{cluster}"
    template["spec"]["source"]["path"] = f"{fleet.delivery.overlay_dir('CLUSTER').replace('CLUSTER', cluster)}/crds"
    return appset


def crds_root_sync(fleet: Fleet, cluster) -> dict:
    rs = root_sync(fleet, cluster)
    rs["metadata"] = {**rs["metadata"], "name": f"{fleet.name}-crds"}
    rs["spec"]["git"]["dir"] = f"{fleet.delivery.overlay_dir(cluster.name)}/crds"
    rs["spec"].pop("override", None)
    return rs


def chart_root_sync(fleet: Fleet, cluster, chart, version: str) -> dict:
    """One chart from the registry in one cluster: Config Sync renders it with the cluster's values (inline: the same
    overrides as values-<cluster>.yaml) and its CRDs, and creates the namespace its objects name."""
    d = fleet.delivery
    # A pinned version is fetched once (no period: Config Sync re-fetches only ranges); the CRDs come from their own
    # RootSync; the reconciler pulls as its own service account (infra/ grants it Artifact Registry read).
    helm = {"repo": d.chart_registry, "chart": chart.name, "version": version,
            "releaseName": release_name(fleet, chart.key), "namespace": fleet.namespace, "includeCRDs": False,
            "auth": d.chart_registry_auth}
    if d.chart_registry_auth == "gcpserviceaccount":
        helm["gcpServiceAccountEmail"] = d.gcp_service_account_email
    values = chart.cluster_overrides(cluster)
    if chart.model is not None:
        values = merge(values, GITOPS_VALUES)
    if values:
        helm["values"] = values
    spec = {"sourceType": "helm", "sourceFormat": "unstructured", "helm": helm}
    if chart.model is not None:
        spec["override"] = {"reconcileTimeout": f"{timeline.timeout(reconcile_seconds(fleet, cluster)) // 60}m"}
    return {"apiVersion": "configsync.gke.io/v1beta1", "kind": "RootSync",
            "metadata": {**_metadata(fleet, "config-management-system"), "name": f"{fleet.name}-{chart.key}"},
            "spec": spec}


def _delivery_objects(plan: Plan) -> dict[str, list[dict]]:
    fleet = plan.fleet
    out: dict[str, list[dict]] = {}
    registry = bool(fleet.delivery.chart_registry)
    versions = chart_versions(plan) if registry else {}
    if fleet.delivery.argocd and registry:
        out["delivery/argocd/applicationset.yaml"] = [crds_application_set(fleet)] + [
            chart_application_set(fleet, chart, versions[chart.name]) for chart in plan.charts]
    elif fleet.delivery.argocd:
        out["delivery/argocd/applicationset.yaml"] = [application_set(fleet)]
    if fleet.delivery.argocd:
        out["delivery/argocd/appproject.yaml"] = [app_project(fleet, plan)]
        out["delivery/argocd/argocd-cm-health.yaml"] = [health_checks(fleet, plan)]
        out["delivery/argocd/infra-application.yaml"] = [infra_application(fleet)]
        out["delivery/argocd/infra-appproject.yaml"] = [infra_project(fleet, plan.infra())]
    if fleet.delivery.config_sync:
        for c in fleet.clusters:
            out[f"delivery/config-sync/{c.name}/rootsync.yaml"] = (
                [crds_root_sync(fleet, c)] + [chart_root_sync(fleet, c, chart, versions[chart.name]) for chart in plan.charts_for(c)]
                if registry else [root_sync(fleet, c)])
        out["delivery/config-sync/infra/rootsync.yaml"] = [infra_root_sync(fleet)]
    return out


def cluster_secrets_doc(fleet: Fleet) -> str:
    lines = ["Label each Argo CD cluster Secret of this fleet (in namespace "
             f"{fleet.delivery.argocd_namespace}) exactly so; the ApplicationSet selects on these labels:", ""]
    for name, labels in cluster_secret_labels(fleet).items():
        lines.append(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in labels.items()))
    return "\n".join(lines)
