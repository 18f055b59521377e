"""Security posture: what every emitted manifest must hold, as rules with ids (same Problem format)."""

from __future__ import annotations

import re

from ..config.catalog import image_pin_problem
from .problems import Problem, at_cluster, pod_specs
from .view import FleetView

RULES = {
    "no-secrets": "no Secrets or secret material; Secret references only for the weights loader's Hugging Face token",
    "workload-identity": "Workload Identity principals only (no key files, no GSA impersonation)",
    "namespaced-rbac": "namespaced Roles only, no wildcards",
    "sa-token": "service-account tokens only where the Kubernetes API is used",
    "host-namespaces": "no host network, PID, IPC or hostPath",
    "privileged": "no privileged containers",
    "privilege-escalation": "allowPrivilegeEscalation: false",
    "capabilities": "all capabilities dropped, none added",
    "seccomp": "seccompProfile RuntimeDefault",
    "image-pinned": "images pinned by release tag or digest",
    "network-policy": "every pod is selected by an ingress NetworkPolicy",
}
# A third-party credential Workload Identity cannot replace, read by name from a Secret the user creates.
SECRET_REFERENCE_ALLOWED = {("weights-loader", "HF_TOKEN")}

SECRETISH_ENV = re.compile(r"(TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.I)
SECRETISH_VALUE = re.compile(r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|\"private_key\"|AKIA[0-9A-Z]{16}|ya29\.|ghp_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,})")


def _name(o: dict) -> str:
    return (o.get("metadata") or {}).get("name", "")


def security_rules(objs: list[tuple[str, dict]]) -> list[Problem]:
    problems: list[Problem] = []

    def bad(f: str, o: dict, path: str, rule: str, msg: str) -> None:
        problems.append(Problem(f, f"{o.get('kind')}/{_name(o)}", path, rule, msg))

    bound_accounts = {(s.get("namespace") or (b.get("metadata") or {}).get("namespace"), s.get("name"))
                      for _, b in objs if b.get("kind") == "RoleBinding" for s in b.get("subjects") or []
                      if s.get("kind") == "ServiceAccount"}
    for f, o in objs:
        kind = o.get("kind")
        if kind == "Secret":
            bad(f, o, "", "no-secrets", "no Secret objects: identities come from Workload Identity, credentials stay out of Git")
        if kind in ("ClusterRole", "ClusterRoleBinding"):
            bad(f, o, "", "namespaced-rbac", f"no {kind}: grant namespaced Roles only")
        if kind == "Role":
            for i, rule in enumerate(o.get("rules") or []):
                if "*" in (rule.get("verbs") or []) or "*" in (rule.get("resources") or []) or "*" in (rule.get("apiGroups") or []):
                    bad(f, o, f"rules[{i}]", "namespaced-rbac", "no wildcards in Role rules: list the resources and verbs used")
        if kind == "ServiceAccount":
            ann = (o.get("metadata") or {}).get("annotations") or {}
            if "iam.gke.io/gcp-service-account" in ann:
                bad(f, o, "metadata.annotations", "workload-identity",
                    "use a direct Workload Identity principal binding, not GSA impersonation (iam.gke.io/gcp-service-account)")

    networked = []
    policies = [o for _, o in objs if o.get("kind") == "NetworkPolicy"]
    for f, o, meta, pod, prefix in pod_specs(objs):
        labels = meta.get("labels") or {}
        ns = (o.get("metadata") or {}).get("namespace")
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(key):
                bad(f, o, f"{prefix}.{key}", "host-namespaces", f"{key} must be false")
        psc = pod.get("securityContext") or {}
        sa = pod.get("serviceAccountName") or "default"
        if pod.get("automountServiceAccountToken") is not False and (ns, sa) not in bound_accounts:
            bad(f, o, f"{prefix}.automountServiceAccountToken", "sa-token",
                "mount a service-account token only where the pod calls the Kubernetes API (set false)")
        for v, vol in enumerate(pod.get("volumes") or []):
            if "secret" in vol or "hostPath" in vol:
                bad(f, o, f"{prefix}.volumes[{v}]", "no-secrets" if "secret" in vol else "host-namespaces",
                    "no Secret volumes (use Workload Identity)" if "secret" in vol else "no hostPath volumes")
        containers = [("containers", i, c) for i, c in enumerate(pod.get("containers") or [])] + \
                     [("initContainers", i, c) for i, c in enumerate(pod.get("initContainers") or [])]
        for group, i, c in containers:
            cp = f"{prefix}.{group}[{i}]"
            sc = c.get("securityContext") or {}
            if sc.get("privileged"):
                bad(f, o, f"{cp}.securityContext.privileged", "privileged", "containers must not be privileged")
            if sc.get("allowPrivilegeEscalation") is not False:
                bad(f, o, f"{cp}.securityContext.allowPrivilegeEscalation", "privilege-escalation", "set allowPrivilegeEscalation: false")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                bad(f, o, f"{cp}.securityContext.capabilities", "capabilities", "drop all capabilities (capabilities.drop: [ALL])")
            if (sc.get("capabilities") or {}).get("add"):
                bad(f, o, f"{cp}.securityContext.capabilities.add", "capabilities", "add no capabilities")
            seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
            if seccomp != "RuntimeDefault":
                bad(f, o, f"{prefix}.securityContext.seccompProfile", "seccomp", "use seccompProfile type RuntimeDefault")
            problem = image_pin_problem(str(c.get("image", "")))
            if problem:
                bad(f, o, f"{cp}.image", "image-pinned", problem)
            for e, env in enumerate(c.get("env") or []):
                value = env.get("value")
                if env.get("name") == "GOOGLE_APPLICATION_CREDENTIALS":
                    bad(f, o, f"{cp}.env[{e}]", "workload-identity", "no key files: use Workload Identity")
                elif isinstance(value, str) and (SECRETISH_VALUE.search(value) or (SECRETISH_ENV.search(env.get("name", "")) and value)):
                    bad(f, o, f"{cp}.env[{e}]", "no-secrets", f"{env.get('name')} carries secret material in the manifest")
                if (env.get("valueFrom") or {}).get("secretKeyRef") and \
                        (labels.get("app.kubernetes.io/component"), env.get("name")) not in SECRET_REFERENCE_ALLOWED:
                    bad(f, o, f"{cp}.env[{e}]", "no-secrets", "no Secret references: use Workload Identity")
        if o.get("kind") != "Pod" or "helm.sh/hook" not in ((o.get("metadata") or {}).get("annotations") or {}):
            networked.append((f, o, labels, prefix))
    by_ns: dict = {}
    for p in policies:
        by_ns.setdefault((p.get("metadata") or {}).get("namespace"), []).append(p)
    for f, o, labels, prefix in networked:
        covered = any("Ingress" in ((p.get("spec") or {}).get("policyTypes") or [])
                      and all(labels.get(k) == v for k, v in (((p.get("spec") or {}).get("podSelector") or {}).get("matchLabels") or {}).items())
                      for p in by_ns.get((o.get("metadata") or {}).get("namespace"), []))
        if not covered:
            where = "metadata.labels" if prefix == "spec" else "spec.template.metadata.labels"
            bad(f, o, where, "network-policy",
                "no NetworkPolicy selects these pods, so every pod and address may reach them (Dataplane V2 enforces "
                "policies only on selected pods); add one admitting only the paths they serve")
    return problems


def check(view: FleetView) -> list[Problem]:
    problems: list[Problem] = []
    for cluster, docs in view.clusters.items():
        problems += [at_cluster(p, cluster) for p in security_rules(docs)]
    return problems
