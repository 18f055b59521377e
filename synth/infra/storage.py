"""The weights buckets, one per serving region, and who may touch them.

Each bucket: in its region (the model servers there read it at start-up; with several models it holds each under
its own path), uniform bucket-level access, public access prevention enforced, kept when its object is removed.
Grants, for every model served in the bucket's region (IAMPolicyMember on exactly that bucket, to
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
    for bucket, region in fleet.buckets.items():
        name = kube_name(bucket)
        out.append(obj(fleet, API, "StorageBucket", name, {
            "resourceID": bucket, "location": region.upper(), "storageClass": "STANDARD",
            "uniformBucketLevelAccess": True, "publicAccessPrevention": "enforced",
        }, annotations={**ABANDON, "cnrm.cloud.google.com/force-destroy": "false"}))
        for m in fleet.models:
            if not any(p.cluster.bucket == bucket for p in m.placements):
                continue
            prefix = f"{name}-{m.pool}" if fleet.several else name
            reader = fleet.workload_identity_member(ns, m.server_name)
            loader = fleet.workload_identity_member(ns, m.loader_name)
            out.append(grant(fleet, f"{prefix}-server-read", {"name": name}, "roles/storage.objectViewer", reader))
            if m.model.loader and m.model.source is not None:
                out.append(grant(fleet, f"{prefix}-loader-read", {"name": name}, "roles/storage.objectViewer", loader))
                out.append(grant(fleet, f"{prefix}-loader-create", {"name": name}, "roles/storage.objectCreator", loader))
    for m in fleet.models:
        src = m.model.source
        if m.model.loader and isinstance(src, GcsSource) and src.bucket not in fleet.buckets:
            suffix = f"-{m.pool}" if fleet.several else ""
            out.append(grant(fleet, f"{kube_name(src.bucket)}{suffix}-loader-source-read", {"external": src.bucket},
                             "roles/storage.objectViewer", fleet.workload_identity_member(ns, m.loader_name)))
    return out
