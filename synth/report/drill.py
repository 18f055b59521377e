"""The failover drill: client pods in every serving region, requests through the fleet's DNS name (or each region's
address), draining a region's backends and then its front end, reading which region served from the per-region vLLM
request counters in Managed Prometheus, and the restore. ``plan``'s failover table says what to expect.

The client pods (``drill/<cluster>/``) are validated with everything else: pinned image, non-root, no token, on the
system pool, isolated by a NetworkPolicy; they carry the opt-in model-client label, so they may also read a model
server's /metrics directly."""

from __future__ import annotations

from ..bringup import phases

import json

from ..config.catalog import CURL_IMAGE, MODEL_CLIENT_LABEL
from ..config.model import Fleet
from .capacity import failover, front_end_failover
from .runbook import context

CLIENT = "drill-client"
REQUESTS = 10


def client_objects(fleet: Fleet) -> list[dict]:
    labels = {"app.kubernetes.io/name": CLIENT, "app.kubernetes.io/part-of": fleet.name,
              "inference-fleet.dev/generated-by": "inference-fleet"}
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": CLIENT, "namespace": fleet.namespace, "labels": {**labels, MODEL_CLIENT_LABEL: "true"}},
           "spec": {
               "restartPolicy": "Never",
               "automountServiceAccountToken": False,
               "nodeSelector": {"cloud.google.com/gke-nodepool": fleet.system_pool.name},
               "securityContext": {"runAsNonRoot": True, "runAsUser": 100, "runAsGroup": 101,
                                   "seccompProfile": {"type": "RuntimeDefault"}},
               "containers": [{
                   "name": "client", "image": CURL_IMAGE, "imagePullPolicy": "IfNotPresent",
                   "command": ["sleep", "86400"],
                   "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                   "securityContext": {"allowPrivilegeEscalation": False, "privileged": False,
                                       "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
               }],
           }}
    isolate = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": CLIENT, "namespace": fleet.namespace, "labels": labels},
               "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": CLIENT}}, "policyTypes": ["Ingress"]}}
    return [pod, isolate]


def drill_objects(fleet: Fleet) -> dict[str, list[dict]]:
    """``drill/<cluster>/client.yaml`` → objects, for every serving cluster."""
    out = {}
    for c in fleet.serving_clusters:
        objs = client_objects(fleet)
        for o in objs:
            phases.stamp(o)
        out[f"drill/{c.name}/client.yaml"] = objs
    return out


def _url(fleet: Fleet, host: str) -> str:
    port = "" if fleet.gateway.port == 80 else f":{fleet.gateway.port}"
    return f"http://{host}{port}{fleet.gateway.path_prefix.rstrip('/')}/completions"


def drill_lines(fleet: Fleet, markdown: bool = False) -> list[str]:
    ns, p = fleet.namespace, fleet.project.id
    serving = fleet.serving_clusters
    host = fleet.dns.fqdn.rstrip(".") if fleet.dns.enabled else None
    h = "### " if markdown else ""
    lost = serving[0].region
    # With several models the drill sends each model its requests (with the routing header) and checks each one.
    models = [m for m in fleet.models if lost in m.regions] or [fleet.models[0]]
    rows = {(m.pool, r.region): r for m in models for r in failover(fleet, m)}
    front = {r.region: r for r in front_end_failover(fleet, models[0])}
    out = [f"{h}Failover drill", ""]
    out.append(f"Drains {lost}'s backends, then its front end, and restores both. Needs the fleet up (runbook) and "
               f"kubectl contexts for every cluster.")
    out.append("")

    def send(c, target: str, model_name: str) -> str:
        body = json.dumps({"model": model_name, "prompt": "Say hello.", "max_tokens": 8})
        header = f"-H \"X-Gateway-Model-Name: {model_name}\" " if fleet.several else ""
        return (f"kubectl --context={context(fleet, c)} -n {ns} exec {CLIENT} -- sh -c 'for i in $(seq {REQUESTS}); do "
                f"curl -s -o /dev/null -w \"%{{http_code}} \" -H \"Content-Type: application/json\" {header}-d {json.dumps(body)!s} "
                f"{target}; done; echo'")

    targets = {c.name: _url(fleet, host) for c in serving} if host else {}
    out.append("1. A client pod in every serving region:")
    for c in serving:
        out.append(f"  kubectl --context={context(fleet, c)} apply -k drill/{c.name}")
    out.append(f"2. Baseline: {REQUESTS} requests from each region's client" +
               (f" through {host}" if host else " to its region's gateway address") + ", then which region served them:")
    for c in serving:
        if not host:
            out.append(f"  ADDR=$(kubectl --context={context(fleet, fleet.config_cluster)} -n {ns} get gateway {fleet.gateway.name} "
                       f"-o jsonpath='{{.status.addresses[{fleet.serving_regions.index(c.region)}].value}}')")
        for m in models:
            target = targets[c.name] if host else f"http://${{ADDR}}{fleet.gateway.path_prefix.rstrip('/')}/completions"
            # Every name the model answers to, its LoRA adapters' too (each is its own route match).
            for model_name in m.model.served_names:
                out.append("  " + send(c, target, model_name))
    by = "cluster, model_name" if fleet.several else "cluster"
    query = f'sum by ({by}) (increase(vllm:request_success_total{{namespace="{ns}"}}[10m]))'
    out.append("  Requests served per cluster (vLLM's counters in Managed Prometheus; expect each region's own):")
    out.append(f'  curl -s -H "Authorization: Bearer $(gcloud auth print-access-token)" '
               f'"https://monitoring.googleapis.com/v1/projects/{p}/location/global/prometheus/api/v1/query" '
               f"--data-urlencode 'query={query}'")
    out.append(f"3. Layer 1, {lost}'s backends lost. Drain it through Git: add to the fleet file")
    out.append(f"     gateway.scopes: [{{region: {lost}, capacityScalerPercent: 0}}]")
    out.append("   then `make synth`, commit, and let the config cluster sync (its GCPBackendPolicy changes). Or stop its servers "
               "(pause GitOps for that cluster first, or it puts the replicas back):")
    for c in serving:
        if c.region == lost:
            for m in models:
                if m.placement(c):
                    out.append(f"  kubectl --context={context(fleet, c)} -n {ns} scale deployment/{m.server_name} --replicas=0")
    for m in models:
        r = rows[(m.pool, lost)]
        of = f" for {m.model.name}" if fleet.several else ""
        if not r.targets and fleet.several:
            out.append(f"   {m.model.name} is served only in {lost}: its requests fail until the region is restored "
                       "(plan lists it as not covered).")
            continue
        out.append(f"   Repeat step 2{of}: every request answers 200 and the counters rise only in {', '.join(r.targets) or '(none)'}. "
                   f"plan predicts {r.capacity:g} rps left for a {r.peak:g} rps peak ({'covered' if r.covered else 'NOT covered'}).")
    cfg = fleet.config_cluster
    if fleet.dns.enabled:
        index = fleet.serving_regions.index(lost)
        out.append(f"4. Layer 2, {lost}'s front end lost. Take its address off the Gateway with a patch in the config cluster's "
                   f"component overlays/{cfg.name}/local/kustomization.yaml:")
        out.append(f"     patches: [{{target: {{kind: Gateway, name: {fleet.gateway.name}}}, "
                   f"patch: '[{{\"op\": \"remove\", \"path\": \"/spec/addresses/{index}\"}}]'}}]")
        out.append(f"   Cloud DNS's health check of that address fails; within the {fleet.dns.ttl} s TTL the name answers "
                   f"{lost}'s client with {', '.join(front[lost].targets) or 'another region'}'s address:")
        for c in serving:
            if c.region == lost:
                out.append(f"  kubectl --context={context(fleet, c)} -n {ns} exec {CLIENT} -- nslookup {host}")
        out.append("   Repeat step 2: every request answers 200.")
    n = 5 if fleet.dns.enabled else 4
    out.append(f"{n}. Restore: remove the scope (or scale back to the fleet file's replicas)"
               + (", remove the Gateway patch" if fleet.dns.enabled else "") +
               ", sync; repeat step 2: the counters rise in every region again.")
    out.append(f"{n + 1}. Clean up:")
    for c in serving:
        out.append(f"  kubectl --context={context(fleet, c)} delete -k drill/{c.name}")
    if markdown:
        return out[:3] + ["```"] + out[3:] + ["```"]
    return out
