"""The GKE fleet: a global membership per cluster, and the two fleet features the multi-cluster Inference Gateway
needs — multi-cluster service discovery (pools are exported and imported as services) and multi-cluster ingress
with the config cluster's membership as its config membership.

There is no fleet field on ContainerCluster in Config Connector, so GKEHubMembership is the route; ``authority``
turns on fleet Workload Identity for the membership (gcloud ``--enable-workload-identity``). Both features are
singletons of the project: one fleet of this tool per project."""

from __future__ import annotations

from ..config.model import Fleet
from .common import obj, project_ref, ref

API = "gkehub.cnrm.cloud.google.com/v1beta1"


def objects(fleet: Fleet) -> list[dict]:
    p = fleet.project.id
    out = [obj(fleet, API, "GKEHubMembership", c.name, {
        "location": "global",
        "endpoint": {"gkeCluster": {"resourceRef": ref(c.name)}},
        "authority": {"issuer": f"https://container.googleapis.com/v1/projects/{p}/locations/{c.region}/clusters/{c.name}"},
    }) for c in fleet.clusters]
    out.append(obj(fleet, API, "GKEHubFeature", f"{fleet.name}-multiclusterservicediscovery", {
        "location": "global", "projectRef": project_ref(fleet), "resourceID": "multiclusterservicediscovery"},
        project_annotation=False))
    out.append(obj(fleet, API, "GKEHubFeature", f"{fleet.name}-multiclusteringress", {
        "location": "global", "projectRef": project_ref(fleet), "resourceID": "multiclusteringress",
        "spec": {"multiclusteringress": {"configMembershipRef": ref(fleet.gateway.config_cluster)}}},
        project_annotation=False))
    return out
