"""Preconditions of the objects a cluster receives, at the moment each delivery method applies them."""

from __future__ import annotations

from ..problems import Problem, iter_objects, labels, matches, name, namespace, oid, pod_specs
from ..view import FleetView
from .order import after, group_of

RULES = {
    "bringup-crd": "a custom resource whose CRD GKE does not install arrives with that CRD, applied no later",
    "bringup-namespace": "every namespaced object's Namespace is delivered to the same cluster, applied no later",
    "bringup-serviceaccount": "every pod's ServiceAccount is delivered to the same cluster, applied no later",
    "bringup-compute-class": "a pod that selects a ComputeClass finds it delivered to the same cluster, applied no later",
    "bringup-secret": "every Secret a pod needs is delivered, created by a runbook step, or optional",
    "bringup-weights": "a model server mounting a weights folder starts only after the Job that copies it completed",
    "bringup-weights-marker": "a model server's weights wait is keyed to the loader's completion marker of the same source",
    "bringup-routing": "an InferencePool applies after the servers it selects are available, objectives after their pool",
}

# API groups GKE installs (or Kubernetes serves) itself: their CRDs are never delivered with the workloads.
PLATFORM_GROUPS = {
    "configsync.gke.io", "argoproj.io",  # installed with the delivery tools themselves
    "gateway.networking.k8s.io",  # GKE-managed Gateway API CRDs
    "networking.gke.io",  # GKE's Gateway policies, GCPInferencePoolImport
    "inference.networking.k8s.io",  # InferencePool (GKE installs it)
    "cloud.google.com",  # ComputeClass
    "monitoring.googleapis.com",  # Managed Service for Prometheus
    "autoscaling.gke.io",  # AutoscalingMetric
}
SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}
WEIGHTS_DRIVER = "gcsfuse.csi.storage.gke.io"


def _needs_crd(group: str) -> bool:
    """A custom group the platform does not serve: Kubernetes' own groups are ``*.k8s.io`` or dotless; SIG projects'
    ``*.x-k8s.io`` groups are CRDs."""
    if "." not in group or group in PLATFORM_GROUPS:
        return False
    return not group.endswith(".k8s.io") or group.endswith(".x-k8s.io")



def _env(container: dict) -> dict[str, str]:
    return {e.get("name"): e.get("value") for e in container.get("env") or [] if isinstance(e, dict) and "value" in e}


def check(view: FleetView) -> list[Problem]:
    out: list[Problem] = []
    for cluster, docs in view.clusters.items():
        objs = list(iter_objects(docs))

        def report(f: str, o: dict, path: str, rule: str, msg: str) -> None:
            out.append(Problem(f, oid(o), path, rule, msg, cluster))

        def present(f: str, o: dict, path: str, rule: str, what: str, target: dict | None, missing: str) -> None:
            """``what`` (``target``) is delivered to this cluster and applied no later than ``o``."""
            if target is None:
                report(f, o, path, rule, f"{what} is not delivered to this cluster: {missing}")
            else:
                for why in after(o, target, waits=False):
                    report(f, o, path, rule, f"may be applied before {what}: {why}")

        by_kind: dict[str, list[tuple[str, dict]]] = {}
        for f, o in objs:
            by_kind.setdefault(o.get("kind", ""), []).append((f, o))
        namespaces = {name(o): o for _, o in by_kind.get("Namespace", [])}
        crds = {}
        for _, c in by_kind.get("CustomResourceDefinition", []):
            spec = c.get("spec") or {}
            for v in spec.get("versions") or []:
                if v.get("served"):
                    crds[(spec.get("group"), v.get("name"), (spec.get("names") or {}).get("kind"))] = c
        # A cluster's input is a whole delivery of a namespace when it carries that Namespace: only then can a missing
        # CRD, Namespace, ServiceAccount or ComputeClass be told apart from one created some other way.
        for f, o in objs:
            if namespace(o) and namespace(o) not in namespaces and namespaces and namespace(o) not in SYSTEM_NAMESPACES:
                report(f, o, "metadata.namespace", "bringup-namespace",
                       f"namespace {namespace(o)} is not delivered to this cluster (it delivers {', '.join(sorted(namespaces))}): "
                       "applying fails until someone creates it")
            if namespace(o) not in namespaces:
                continue
            group = group_of(o)
            if _needs_crd(group):
                version = (o.get("apiVersion") or "").rpartition("/")[2]
                crd = crds.get((group, version, o.get("kind")))
                if crd is None:
                    report(f, o, "apiVersion", "bringup-crd",
                           f"no CRD serving {group}/{version} {o.get('kind')} is delivered to this cluster and GKE does not "
                           "install it: the sync stalls on an unknown kind (ship the pinned CRD with the workloads)")
                else:
                    for why in after(o, crd, waits=False):
                        report(f, o, "metadata", "bringup-crd", f"may be applied before its CRD: {why}")
            ns = namespace(o)
            for why in after(o, namespaces[ns], waits=False):
                report(f, o, "metadata.namespace", "bringup-namespace", f"may be applied before namespace {ns}: {why}")
        service_accounts = {(namespace(o), name(o)): o for _, o in by_kind.get("ServiceAccount", [])}
        classes = {name(o): o for _, o in by_kind.get("ComputeClass", [])}
        secrets = {(namespace(o), name(o)) for _, o in by_kind.get("Secret", [])}
        for f, o, _meta, spec, prefix in pod_specs(objs):
            if "helm.sh/hook" in ((o.get("metadata") or {}).get("annotations") or {}):
                continue  # a helm test pod is no step of the bring-up
            ns = namespace(o)
            if ns not in namespaces:
                continue
            sa = spec.get("serviceAccountName") or "default"
            if sa != "default":
                present(f, o, f"{prefix}.serviceAccountName", "bringup-serviceaccount", f"ServiceAccount {sa}",
                        service_accounts.get((ns, sa)), "no pod is created until it exists")
            wanted = (spec.get("nodeSelector") or {}).get("cloud.google.com/compute-class")
            if wanted:
                present(f, o, f"{prefix}.nodeSelector", "bringup-compute-class", f"ComputeClass {wanted}",
                        classes.get(wanted), "the pods stay Pending")
            for path, secret in _secret_refs(spec, prefix):
                if (ns, secret) not in secrets and (ns, secret) not in view.runbook_secrets:
                    report(f, o, path, "bringup-secret",
                           f"Secret {secret} is neither delivered nor created by a runbook step, and the reference is not "
                           "optional: the pod cannot start")
        out += _weights(cluster, by_kind)
        out += _routing(cluster, by_kind)
    return out


def _secret_refs(spec: dict, prefix: str):
    for kind in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(kind) or []):
            for j, e in enumerate(c.get("env") or []):
                ref = ((e.get("valueFrom") or {}).get("secretKeyRef")) or {}
                if ref.get("name") and not ref.get("optional"):
                    yield f"{prefix}.{kind}[{i}].env[{j}]", ref["name"]
            for j, e in enumerate(c.get("envFrom") or []):
                ref = e.get("secretRef") or {}
                if ref.get("name") and not ref.get("optional"):
                    yield f"{prefix}.{kind}[{i}].envFrom[{j}]", ref["name"]
    for i, v in enumerate(spec.get("volumes") or []):
        s = v.get("secret") or {}
        if s.get("secretName") and not s.get("optional"):
            yield f"{prefix}.volumes[{i}]", s["secretName"]


def _loader_target(job: dict) -> tuple[str, str, str] | None:
    """(bucket, folder, source) a Job writes weights to: its containers' BUCKET, MODEL_PATH and SOURCE_ID."""
    spec = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        env = _env(c)
        if env.get("BUCKET") and env.get("MODEL_PATH"):
            return env["BUCKET"], env["MODEL_PATH"].strip("/"), env.get("SOURCE_ID") or ""
    return None


def _mounted_weights(spec: dict) -> list[tuple[int, str, str]]:
    """(volume index, bucket, folder) of every Cloud Storage FUSE volume of a pod."""
    out = []
    for i, v in enumerate(spec.get("volumes") or []):
        csi = v.get("csi") or {}
        attrs = csi.get("volumeAttributes") or {}
        if csi.get("driver") == WEIGHTS_DRIVER and attrs.get("bucketName"):
            opts = dict(o.partition("=")[::2] for o in str(attrs.get("mountOptions", "")).split(",") if "=" in o)
            out.append((i, attrs["bucketName"], opts.get("only-dir", "").strip("/")))
    return out


def _weights(cluster: str, by_kind: dict) -> list[Problem]:
    out = []
    # One delivery orders one namespace's objects (an Application, a RootSync's depends-on): a loader of another
    # namespace is not this server's to wait for.
    loaders: dict[str, list] = {}
    for f, j in by_kind.get("Job", []):
        target = _loader_target(j)
        if target:
            loaders.setdefault(namespace(j), []).append((f, j, target))
    for f, d in by_kind.get("Deployment", []):
        spec = ((d.get("spec") or {}).get("template") or {}).get("spec") or {}
        for index, bucket, folder in _mounted_weights(spec):
            for _, job, (jb, jf, source) in loaders.get(namespace(d), []):
                if jb != bucket or not (folder == jf or folder.startswith(jf + "/") or jf.startswith(folder + "/") or not folder):
                    continue
                for why in after(d, job, waits=True):
                    out.append(Problem(f, oid(d), f"spec.template.spec.volumes[{index}]", "bringup-weights",
                                       f"mounts gs://{bucket}/{folder} that Job/{name(job)} is still copying: {why}. The mount "
                                       "keeps the listing it took at start, so vLLM would load a partial model", cluster))
                waits = [c for c in spec.get("initContainers") or [] if source and _env(c).get("SOURCE_ID") == source]
                if source and not waits:
                    out.append(Problem(f, oid(d), "spec.template.spec.initContainers", "bringup-weights-marker",
                                       f"no init container waits for the marker of {source} that Job/{name(job)} writes last: "
                                       "on a change of weights the server could start on the previous folder's state", cluster))
    return out


def _routing(cluster: str, by_kind: dict) -> list[Problem]:
    out = []
    deployments: dict[str, list] = {}
    for _, d in by_kind.get("Deployment", []):
        deployments.setdefault(namespace(d), []).append(d)
    pools = {(namespace(p), name(p)): p for _, p in by_kind.get("InferencePool", [])}
    for f, pool in by_kind.get("InferencePool", []):
        selector = (((pool.get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}
        for d in deployments.get(namespace(pool), []):
            pod_labels = labels(((d.get("spec") or {}).get("template") or {}))
            if selector and matches(selector, pod_labels):
                for why in after(pool, d, waits=True):
                    out.append(Problem(f, oid(pool), "spec.selector", "bringup-routing",
                                       f"routes to Deployment/{name(d)} before it is available: {why}", cluster))
    for f, obj in by_kind.get("InferenceObjective", []):
        ref = ((obj.get("spec") or {}).get("poolRef") or {}).get("name")
        pool = pools.get((namespace(obj), ref))
        if pool is not None:
            for why in after(obj, pool, waits=False):
                out.append(Problem(f, oid(obj), "spec.poolRef", "bringup-routing", f"may be applied before InferencePool/{ref}: {why}", cluster))
    return out
