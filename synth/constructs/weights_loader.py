"""The weights loader: a Job that copies the model at its pinned revision into the cluster's bucket, once.

Three containers in one pod, on the system node pool:
  check    (Cloud SDK image)  reads the marker object ``<path>/.inference-fleet-weights``: when it names this source,
                              the bucket is complete and nothing else runs; when it names another source the Job
                              fails (a new revision gets a new model.path: the loader never overwrites weights)
  download (vLLM image)       Hugging Face sources only: ``huggingface_hub.snapshot_download`` of the pinned revision
                              into a scratch volume sized from the model (the vLLM image already carries
                              huggingface_hub, so no package is installed at run time)
  upload   (Cloud SDK image)  ``gcloud storage rsync --no-clobber`` into the bucket, then fails unless config.json and
                              every shard the safetensors index lists are there; only then writes the marker

Identity: its own Kubernetes service account, granted (Workload Identity principal, Config Connector
IAMPolicyMember in infra/) objectCreator and objectViewer on exactly this bucket, and read access to a Cloud
Storage source. The Hugging Face token comes from a Secret the user creates (name and key in the fleet file); it is
referenced, never emitted, and optional so public repositories need none.

The Job's name carries a hash of (source, bucket, path): a new revision is a new Job, which GitOps tools create
beside the finished one instead of trying to mutate an immutable pod template."""

from __future__ import annotations

from constructs import Construct

from ..bringup.phases import HELM_HOOKS
from .base import ManifestChart, raw_object
from ..template import Cond, Equals

CHECK = r"""set -eu
dest="gs://${BUCKET}/${MODEL_PATH}"
have=$(gcloud storage cat "${dest}/.inference-fleet-weights" 2>/dev/null || true)
if [ "${have}" = "${SOURCE_ID}" ]; then
  echo "${dest} already holds ${SOURCE_ID}: nothing to copy"
  touch /work/complete
elif [ -n "${have}" ]; then
  echo "${dest} holds ${have}, not ${SOURCE_ID}: give the new weights their own model.path (the loader never overwrites)" >&2
  exit 1
else
  echo "${dest} does not hold ${SOURCE_ID} yet: copying"
fi
"""

DOWNLOAD = r"""import os, sys
if os.path.exists("/work/complete"):
    sys.exit(0)
from huggingface_hub import snapshot_download
path = snapshot_download(repo_id=os.environ["REPO"], revision=os.environ["REVISION"], local_dir="/work/model",
                         ignore_patterns=["*.bin", "*.pt", "*.pth", "*.gguf", "original/*"])
print("downloaded %s at %s to %s" % (os.environ["REPO"], os.environ["REVISION"], path), flush=True)
"""

UPLOAD = r"""set -eu
if [ -e /work/complete ]; then exit 0; fi
dest="gs://${BUCKET}/${MODEL_PATH}"
src="${SOURCE_URI:-/work/model}"
gcloud storage rsync --recursive --no-clobber --exclude='^\.cache/' "${src}" "${dest}"
listing=$(gcloud storage ls "${dest}/")
need="config.json"
if echo "${listing}" | grep -q "/model.safetensors.index.json$"; then
  need="${need} $(gcloud storage cat "${dest}/model.safetensors.index.json" | grep -o '"[^"]*\.safetensors"' | tr -d '"' | sort -u | tr '\n' ' ')"
else
  need="${need} model.safetensors"
fi
missing=""
for f in ${need}; do
  echo "${listing}" | grep -q "/${f}$" || missing="${missing} ${f}"
done
if [ -n "${missing}" ]; then
  echo "incomplete: ${dest} lacks${missing}" >&2
  exit 1
fi
printf '%s\n' "${SOURCE_ID}" | gcloud storage cp - "${dest}/.inference-fleet-weights"
echo "weights complete in ${dest}: ${need}"
"""


class WeightsLoader(Construct):
    """Props (value references unless noted):
      name: the loader's service account name (constant; the IAM grant in infra/ names it). The Job is
        ``<name>-<jobId>``.
      namespace, labels.
      job_id: hash of (source, bucket, path).
      bucket, model_path: the destination.
      source_id: what the marker records (``hf://repo@revision`` or the ``gs://`` URI).
      source_kind_path: values path of "huggingface" or "gcs".
      repo, revision, token_secret, token_key: Hugging Face source.
      source_uri: Cloud Storage source ("" for Hugging Face).
      sdk_image: pinned Cloud SDK image; server_image: the pinned vLLM image.
      scratch: size of the scratch volume (the weights plus headroom).
      node_pool: the system node pool.
      when: the chart's weights.loader.enabled.
      hooks: when the chart's templates make the service account and Job Helm pre-install/pre-upgrade hooks (true
        for `helm install`; false where a GitOps tool renders the chart, which orders them by sync wave or
        depends-on instead: Argo CD would re-create hooks on every sync). Default: always."""

    COMPONENT = "weights-loader"

    def __init__(self, scope: Construct, id: str, *, name: str, namespace: str, labels: dict, job_id: str,
                 bucket: str, model_path: str, source_id: str, source_kind_path: str, repo: str, revision: str,
                 token_secret: str, token_key: str, source_uri: str, sdk_image: str, server_image: str,
                 scratch: str, node_pool: str, when: Cond, hooks: Cond | None = None) -> None:
        super().__init__(scope, id)
        chart = ManifestChart.of(self)
        sa = raw_object(self, "sa", api_version="v1", kind="ServiceAccount", name=name, namespace=namespace,
                        labels=labels, body={"automountServiceAccountToken": False})
        chart.emit(sa, "weights-serviceaccount.yaml", when=when, helm_annotations=HELM_HOOKS["ServiceAccount"], helm_annotations_when=hooks,
                   comment="Workload Identity: infra/ grants this service account write access to this cluster's bucket only.\n"
                           "Under Helm it is a hook, created before the loader Job that needs it.")
        hugging_face = Equals(source_kind_path, "huggingface")
        env = [
            {"name": "BUCKET", "value": bucket},
            {"name": "MODEL_PATH", "value": model_path},
            {"name": "SOURCE_ID", "value": source_id},
            {"name": "HOME", "value": "/work/home"},
            {"name": "CLOUDSDK_CONFIG", "value": "/work/gcloud"},
        ]
        secure = {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                  "capabilities": {"drop": ["ALL"]}}
        mounts = [{"name": "work", "mountPath": "/work"}, {"name": "tmp", "mountPath": "/tmp"}]
        small = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
        pod_labels = {**labels, "app.kubernetes.io/name": "weights-loader", "app.kubernetes.io/component": self.COMPONENT}
        job = raw_object(self, "job", api_version="batch/v1", kind="Job", name=f"{name}-{job_id}", namespace=namespace,
                         labels=pod_labels, body={"spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": 6 * 3600,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    "restartPolicy": "Never",
                    "nodeSelector": {"cloud.google.com/gke-nodepool": node_pool},
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "initContainers": [
                        {"name": "check", "image": sdk_image, "imagePullPolicy": "IfNotPresent",
                         "command": ["sh", "-c", CHECK], "env": env, "resources": small,
                         "securityContext": secure, "volumeMounts": mounts},
                        chart.conds.only_if(hugging_face, {
                            "name": "download", "image": server_image, "imagePullPolicy": "IfNotPresent",
                            "command": ["python3", "-c", DOWNLOAD],
                            "env": [
                                {"name": "REPO", "value": repo},
                                {"name": "REVISION", "value": revision},
                                {"name": "HF_HOME", "value": "/work/hf-home"},
                                {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
                                # A Secret the user creates; optional, so public repositories need none.
                                {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
                                    "name": token_secret, "key": token_key, "optional": True}}},
                            ],
                            "resources": {"requests": {"cpu": "2", "memory": "4Gi", "ephemeral-storage": scratch},
                                          "limits": {"memory": "8Gi", "ephemeral-storage": scratch}},
                            "securityContext": secure, "volumeMounts": mounts,
                        }),
                    ],
                    "containers": [{
                        "name": "upload", "image": sdk_image, "imagePullPolicy": "IfNotPresent",
                        "command": ["sh", "-c", UPLOAD],
                        "env": [*env, {"name": "SOURCE_URI", "value": source_uri}],
                        "resources": {"requests": {"cpu": "2", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
                        "securityContext": secure, "volumeMounts": mounts,
                    }],
                    "volumes": [{"name": "work", "emptyDir": {"sizeLimit": scratch}},
                                {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
                },
            },
        }})
        chart.emit(job, "weights-job.yaml", when=when, helm_annotations=HELM_HOOKS["Job"], helm_annotations_when=hooks,
                   comment="Copies the weights into this cluster's bucket once; follow it with kubectl logs -f job/NAME --all-containers.\n"
                           "It completes before any model server starts: Argo CD sync wave, Config Sync depends-on on the\n"
                           "Deployment, and under Helm a pre-install/pre-upgrade hook that Helm waits for.")
        # Nothing connects to the loader: it only calls out (Hugging Face, Cloud Storage).
        isolate = raw_object(self, "policy", api_version="networking.k8s.io/v1", kind="NetworkPolicy", name=f"{name}-loader",
                             namespace=namespace, labels=labels, body={"spec": {
                                 "podSelector": {"matchLabels": {"app.kubernetes.io/component": self.COMPONENT}},
                                 "policyTypes": ["Ingress"],
                             }})
        chart.emit(isolate, "weights-networkpolicy.yaml", when=when)
