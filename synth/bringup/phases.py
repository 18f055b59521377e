"""Phases of a cluster's bring-up, in order, and the phase of each kind.

Every delivered object carries its phase twice: the label ``inference-fleet.dev/phase`` (so ``kubectl apply -k DIR
-l inference-fleet.dev/phase=NAME`` applies one phase at a time) and the Argo CD sync wave of that phase (Argo CD
starts a wave only once every object of the earlier waves is healthy; a Job is healthy when it has completed).
Config Sync orders by ``config.kubernetes.io/depends-on`` instead (``depends_on``), and Helm by hooks
(``HELM_HOOKS``): neither reads waves."""

from __future__ import annotations

from dataclasses import dataclass

PHASE_LABEL = "inference-fleet.dev/phase"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
DEPENDS_ON = "config.kubernetes.io/depends-on"


@dataclass(frozen=True)
class Phase:
    name: str
    wave: int  # the Argo CD sync wave
    what: str  # what the phase holds, as the runbook says it
    wait: str  # what must hold before the next phase starts


PHASES = (
    Phase("crds", -2, "CustomResourceDefinitions GKE does not install", "every CRD Established"),
    Phase("base", -1, "namespace, identities, RBAC, policies, Services, ComputeClass, claim templates, monitoring",
          "objects exist (nothing to become ready)"),
    Phase("weights", 0, "the weights loader Job", "the Job Complete: the bucket holds every shard and the marker"),
    Phase("serving", 1, "model servers, endpoint picker, autoscaler", "Deployments Available"),
    Phase("routing", 2, "InferencePool, InferenceObjectives, the load balancer's custom metric",
          "the pool exists (and is exported)"),
    Phase("gateway", 3, "Gateway, HTTPRoute and their policies (config cluster)", "Gateway Programmed"),
    Phase("checks", 4, "the failover drill's client, applied by hand once the fleet serves", "the client pod Ready"),
)
BY_NAME = {p.name: p for p in PHASES}

KIND_PHASE = {
    "CustomResourceDefinition": "crds",
    **dict.fromkeys(("Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
                     "ConfigMap", "NetworkPolicy", "Service", "PodDisruptionBudget", "ComputeClass",
                     "ResourceClaimTemplate", "PodMonitoring"), "base"),
    "Job": "weights",
    **dict.fromkeys(("Deployment", "HorizontalPodAutoscaler"), "serving"),
    **dict.fromkeys(("InferencePool", "InferenceObjective", "AutoscalingMetric"), "routing"),
    **dict.fromkeys(("Gateway", "HTTPRoute", "HealthCheckPolicy", "GCPBackendPolicy"), "gateway"),
    "Pod": "checks",
}


def phase_of(kind: str) -> Phase:
    """The phase of ``kind``; a kind nobody placed is an error (a new kind must be given its place)."""
    try:
        return BY_NAME[KIND_PHASE[kind]]
    except KeyError:
        raise KeyError(f"kind {kind} has no bring-up phase: add it to synth/bringup/phases.py KIND_PHASE") from None


def stamp(obj: dict) -> None:
    """Put ``obj``'s phase label and sync wave on it (in place)."""
    phase = phase_of(obj["kind"])
    meta = obj.setdefault("metadata", {})
    meta.setdefault("labels", {})[PHASE_LABEL] = phase.name
    meta.setdefault("annotations", {})[SYNC_WAVE] = str(phase.wave)


def depends_on_ref(api_version: str, kind: str, name: str, namespace: str | None) -> str:
    """One entry of ``config.kubernetes.io/depends-on``: ``<group>/namespaces/<ns>/<Kind>/<name>`` (core group empty;
    cluster-scoped objects ``<group>/<Kind>/<name>``)."""
    group = api_version.rpartition("/")[0]
    return f"{group}/namespaces/{namespace}/{kind}/{name}" if namespace else f"{group}/{kind}/{name}"


# Helm runs hooks, and waits for hook Jobs to complete, before it installs or upgrades the release's other objects.
# The loader's ServiceAccount comes first (weight -1): hooks run before the release's own objects exist. Hook objects
# are not part of the release: before-hook-creation replaces them on the next install or upgrade.
HELM_HOOKS = {
    "ServiceAccount": {"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-1",
                       "helm.sh/hook-delete-policy": "before-hook-creation"},
    "Job": {"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "0",
            "helm.sh/hook-delete-policy": "before-hook-creation"},
}
