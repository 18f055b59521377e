"""The APIs the scenario uses, enabled in the fleet's project (serviceusage ``Service``).

The union of the multi-cluster Inference Gateway setup guide's list (Compute Engine, Kubernetes Engine, Network
Services, Autoscaling, GKE Hub) and what a working lab of this scenario enabled (multi-cluster ingress and service
discovery, Traffic Director, Cloud DNS, Connect gateway, IAM, Cloud Storage). Model Armor, also in the guide's list,
is left out: it is not available to multi-cluster gateways and nothing here uses it."""

from __future__ import annotations

from ..config.model import Fleet
from .common import ABANDON, obj, project_ref

APIS = (
    "autoscaling.googleapis.com",  # the custom metrics CUSTOM_METRICS balancing reads
    "cloudresourcemanager.googleapis.com",
    "compute.googleapis.com",
    "connectgateway.googleapis.com",  # Argo CD reaches the clusters through Connect gateway
    "container.googleapis.com",
    "dns.googleapis.com",
    "gkehub.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",  # Managed Prometheus
    "multiclusteringress.googleapis.com",
    "multiclusterservicediscovery.googleapis.com",
    "networkservices.googleapis.com",
    "storage.googleapis.com",
    "trafficdirector.googleapis.com",
)


def objects(fleet: Fleet) -> list[dict]:
    # Never disable an API (or the APIs depending on it) because its object left Git.
    annotations = {**ABANDON, "cnrm.cloud.google.com/disable-dependent-services": "false"}
    return [obj(fleet, "serviceusage.cnrm.cloud.google.com/v1beta1", "Service", api,
                {"resourceID": api, "projectRef": project_ref(fleet)}, project_annotation=False, annotations=annotations)
            for api in APIS]
