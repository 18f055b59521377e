"""What every Config Connector object here shares: namespace, labels, the project annotation, references."""

from __future__ import annotations

from ..config.model import Fleet

PROJECT_ANNOTATION = "cnrm.cloud.google.com/project-id"
# Keep the GCP resource when its object is deleted: clusters, the VPC, buckets of weights and enabled APIs outlive a
# mistaken removal from Git.
ABANDON = {"cnrm.cloud.google.com/deletion-policy": "abandon"}


def obj(fleet: Fleet, api_version: str, kind: str, name: str, spec: dict, *, project_annotation: bool = True,
        annotations: dict | None = None) -> dict:
    """A Config Connector object in the fleet's infra namespace. Kinds without ``spec.projectRef`` take their project
    from the ``cnrm.cloud.google.com/project-id`` annotation."""
    ann = dict(annotations or {})
    if project_annotation:
        ann[PROJECT_ANNOTATION] = fleet.project.id
    meta: dict = {"name": name, "namespace": fleet.infra.namespace,
                  "labels": {"app.kubernetes.io/part-of": fleet.name, "inference-fleet.dev/generated-by": "inference-fleet"}}
    if ann:
        meta["annotations"] = dict(sorted(ann.items()))
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec}


def ref(name: str) -> dict:
    return {"name": name}


def project_ref(fleet: Fleet) -> dict:
    return {"external": fleet.project.id}


def network_name(fleet: Fleet) -> str:
    return fleet.network.name


def node_subnet(cluster_name: str) -> str:
    return f"{cluster_name}-nodes"


def proxy_subnet(fleet: Fleet, region: str) -> str:
    return f"{fleet.network.name}-proxy-{region}"


def address_name(fleet: Fleet, region: str) -> str:
    """The reserved gateway address of ``region`` (the Gateway names it regions/<region>/addresses/<name>)."""
    return f"{fleet.name}-gateway-{region}"


def kube_name(text: str) -> str:
    """A Kubernetes object name for a GCP name that may hold characters object names refuse (bucket names)."""
    return text.lower().replace("_", "-")
