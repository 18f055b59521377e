"""Cloud Storage FUSE model volume and the Workload Identity service account that reads it."""

from __future__ import annotations

import cdk8s
import cdk8s_plus_30 as kplus
from constructs import Construct

from .base import ManifestChart

# Mount options for reading large, immutable safetensors once at start-up:
# only-dir            mount just the model folder (faster listing, nothing else of the bucket is visible)
# implicit-dirs       folders that exist only as object prefixes are listed
# metadata-cache:*    the bucket does not change under a running server, so metadata never expires
# file-cache:*        RAM file cache (the gke-gcsfuse-cache volume) with parallel downloads of each file
_MOUNT_OPTIONS = ",".join(
    [
        "only-dir={path}",
        "implicit-dirs",
        "metadata-cache:ttl-secs:-1",
        "metadata-cache:negative-ttl-secs:0",
        "metadata-cache:stat-cache-max-size-mb:-1",
        "metadata-cache:type-cache-max-size-mb:-1",
        "file-system:kernel-list-cache-ttl-secs:-1",
        "file-cache:max-size-mb:-1",
        "file-cache:cache-file-for-range-read:true",
        "file-cache:enable-parallel-downloads:true",
    ]
)


def adapter_mount_options(path: str) -> str:
    """Mount options of a LoRA adapter folder: small files read once at start-up, so no file cache, and no metadata
    cache either (ttl 0): an adapter copied again in place is read as it is now when vLLM restarts in the pod."""
    return ",".join([f"only-dir={path}", "implicit-dirs", "metadata-cache:ttl-secs:0"])


class GcsFuseModelVolume(Construct):
    """The model weights as a read-only CSI ephemeral volume, read through the GKE FUSE sidecar.

    Props:
      name: ServiceAccount name (Workload Identity subject ``ns/<namespace>/sa/<name>``). No default: the IAM
        binding names it.
      namespace: namespace of the ServiceAccount (value reference).
      bucket, path: bucket and folder (value references; ``path`` is mounted alone with ``only-dir``).
      sidecar_limits: ``gke-gcsfuse/*-limit`` annotation values (value references). Default none: the caller
        decides, because ``"0"`` (unlimited) is only valid on GKE Standard.
      labels: labels of the ServiceAccount.

    Exposes ``volume`` (mount it read-only), ``cache_volume`` (the reserved ``gke-gcsfuse-cache`` name makes
    the sidecar keep its file cache in RAM, Google's recommendation for TPU hosts), ``pod_annotations``, and
    ``service_account``.
    """

    MOUNT_PATH = "/model"

    def __init__(self, scope: Construct, id: str, *, name: str, namespace: str, bucket: str, path: str,
                 sidecar_limits: dict[str, str], labels: dict[str, str], iam_member: str) -> None:
        super().__init__(scope, id)
        chart = ManifestChart.of(self)
        self.service_account = kplus.ServiceAccount(
            self,
            "service-account",
            metadata=cdk8s.ApiObjectMetadata(
                name=name,
                namespace=namespace,
                labels=labels,
                annotations={
                    # Stated for the operator: the one IAM binding this identity needs (no keys, no Secrets).
                    "inference-fleet.dev/iam-binding": f"{iam_member} roles/storage.objectViewer on gs://{bucket}",
                },
            ),
            automount_token=False,
        )
        chart.emit(cdk8s.ApiObject.of(self.service_account), "serviceaccount.yaml",
                   comment="Workload Identity: grant this service account read access to the model bucket; the\n"
                           "annotation inference-fleet.dev/iam-binding below names the exact member and bucket.")
        self.volume = kplus.Volume.from_csi(
            self,
            "model",
            "gcsfuse.csi.storage.gke.io",
            name="model",
            read_only=True,
            attributes={
                "bucketName": bucket,
                "mountOptions": _MOUNT_OPTIONS.format(path=path),
                "skipCSIBucketAccessCheck": "true",
                "gcsfuseMetadataPrefetchOnMount": "true",
            },
        )
        self.cache_volume = kplus.Volume.from_empty_dir(
            self, "cache", "gke-gcsfuse-cache", medium=kplus.EmptyDirMedium.MEMORY
        )
        self.pod_annotations = {
            "gke-gcsfuse/volumes": "true",
            "gke-gcsfuse/cpu-limit": sidecar_limits["cpu"],
            "gke-gcsfuse/memory-limit": sidecar_limits["memory"],
            "gke-gcsfuse/ephemeral-storage-limit": sidecar_limits["ephemeral-storage"],
        }
