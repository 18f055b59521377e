"""Google identities: the nodes' least-privilege service account, and the grants GKE's fleet service agents need.

* Node service account (system pool and the TPU nodes the ComputeClass creates): roles/container.defaultNodeServiceAccount
  (logs, metrics, the minimum GKE recommends instead of the Compute Engine default account) and
  roles/autoscaling.metricsWriter (the node's agent writes the AutoscalingMetric gauges CUSTOM_METRICS balances on).
* Multi Cluster Ingress service agent: roles/container.admin and roles/multiclusteringress.serviceAgent on the
  project; without them the GatewayClass or the pool import may never appear.
* The MCS importer (gke-mcs/gke-mcs-importer, a Workload Identity principal of the fleet's pool):
  roles/compute.networkViewer, to read the VPC of imported services.
Workloads get no Google service account: their Kubernetes service accounts are granted directly (storage.yaml)."""

from __future__ import annotations

from ..config.model import Fleet
from .common import obj, project_ref

IAM = "iam.cnrm.cloud.google.com/v1beta1"
NODE_ROLES = ("roles/container.defaultNodeServiceAccount", "roles/autoscaling.metricsWriter")
MCI_AGENT_ROLES = ("roles/container.admin", "roles/multiclusteringress.serviceAgent")


def _short(role: str) -> str:
    return role.rpartition("/")[2].lower().replace(".", "-")


def project_resource(fleet: Fleet) -> dict:
    return {"kind": "Project", "external": f"projects/{fleet.project.id}"}


def objects(fleet: Fleet) -> list[dict]:
    sa = fleet.node_service_account_id
    out = [obj(fleet, IAM, "IAMServiceAccount", sa, {
        "displayName": f"{fleet.name} GKE nodes", "description": "Least-privilege node service account of the inference fleet"})]
    for role in NODE_ROLES:
        out.append(obj(fleet, IAM, "IAMPolicyMember", f"{sa}-{_short(role)}", {
            "resourceRef": project_resource(fleet), "role": role, "memberFrom": {"serviceAccountRef": {"name": sa}}}))
    agent = "multiclusteringress.googleapis.com"
    out.append(obj(fleet, "serviceusage.cnrm.cloud.google.com/v1beta1", "ServiceIdentity", f"{fleet.name}-mci-agent",
                   {"resourceID": agent, "projectRef": project_ref(fleet)}, project_annotation=False))
    for role in MCI_AGENT_ROLES:
        out.append(obj(fleet, IAM, "IAMPolicyMember", f"{fleet.name}-mci-agent-{_short(role)}", {
            "resourceRef": project_resource(fleet), "role": role,
            "memberFrom": {"serviceIdentityRef": {"name": f"{fleet.name}-mci-agent"}}}))
    d = fleet.delivery
    if d.chart_registry and d.config_sync and d.chart_registry_auth == "k8sserviceaccount":
        # Config Sync's reconciler of each chart RootSync pulls from Artifact Registry as its own Kubernetes service
        # account (root-reconciler-<RootSync name>), through Workload Identity: read access, nothing else.
        names = sorted({n for c in fleet.clusters for n in fleet.registry_root_syncs(c)})
        for name in names:
            out.append(obj(fleet, IAM, "IAMPolicyMember", f"{name}-registry-reader", {
                "resourceRef": project_resource(fleet), "role": "roles/artifactregistry.reader",
                "member": fleet.workload_identity_member("config-management-system", f"root-reconciler-{name}")}))
    out.append(obj(fleet, IAM, "IAMPolicyMember", f"{fleet.name}-mcs-importer-networkviewer", {
        "resourceRef": project_resource(fleet), "role": "roles/compute.networkViewer",
        "member": f"serviceAccount:{fleet.project.id}.svc.id.goog[gke-mcs/gke-mcs-importer]"}))
    return out
