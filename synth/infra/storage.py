"""The weights buckets, one per serving region, and who may touch them.

Each bucket: in its region (the model servers there read it at start-up), uniform bucket-level access, public
access prevention enforced, kept when its object is removed. Grants (IAMPolicyMember on exactly that bucket, to
Workload Identity principals of Kubernetes service accounts, no Google service accounts or keys):
  the model server      roles/storage.objectViewer (the FUSE mount reads)
  the weights loader    roles/storage.objectViewer + roles/storage.objectCreator (it lists, checks and adds objects;
                        it never overwrites, so it needs no delete)
  a Cloud Storage source: the loader gets roles/storage.objectViewer on the source bucket."""

from __future__ import annotations

from ..config.model import Fleet, GcsSource
from .common import ABANDON, kube_name, obj

API = "storage.cnrm.cloud.google.com/v1beta1"
IAM = "iam.cnrm.cloud.google.com/v1beta1"


def grant(fleet: Fleet, name: str, bucket_ref: dict, role: str, member: str) -> dict:
    return obj(fleet, IAM, "IAMPolicyMember", name, {
        "resourceRef": {"kind": "StorageBucket", **bucket_ref}, "role": role, "member": member})


def objects(fleet: Fleet) -> list[dict]:
    out = []
    ns = fleet.namespace
    reader = fleet.workload_identity_member(ns)
    loader = fleet.workload_identity_member(ns, fleet.loader_name)
    for bucket, region in fleet.buckets.items():
        name = kube_name(bucket)
        out.append(obj(fleet, API, "StorageBucket", name, {
            "resourceID": bucket, "location": region.upper(), "storageClass": "STANDARD",
            "uniformBucketLevelAccess": True, "publicAccessPrevention": "enforced",
        }, annotations={**ABANDON, "cnrm.cloud.google.com/force-destroy": "false"}))
        out.append(grant(fleet, f"{name}-server-read", {"name": name}, "roles/storage.objectViewer", reader))
        if fleet.model.loader and fleet.model.source is not None:
            out.append(grant(fleet, f"{name}-loader-read", {"name": name}, "roles/storage.objectViewer", loader))
            out.append(grant(fleet, f"{name}-loader-create", {"name": name}, "roles/storage.objectCreator", loader))
    src = fleet.model.source
    if fleet.model.loader and isinstance(src, GcsSource) and src.bucket not in fleet.buckets:
        out.append(grant(fleet, f"{kube_name(src.bucket)}-loader-source-read", {"external": src.bucket},
                         "roles/storage.objectViewer", loader))
    return out
