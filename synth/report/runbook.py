"""The operator runbook: the steps Config Connector cannot take, in order, with the fleet's real names. Every
command here is consistent with the generated objects (cluster names, regions, namespace, node service account,
ComputeClass, Secret names); shell variables are only values the operator alone has (their account, a token)."""

from __future__ import annotations

import re

from ..config.model import Fleet, HuggingFaceSource
from ..plan import release_name, serving_key
from .capacity import max_replicas, rollout_of

# Roles Config Connector's service account needs to manage everything in infra/ (clusters, network, buckets and
# their IAM, service accounts and project IAM grants, fleet features, DNS).
CONFIG_CONNECTOR_ROLES = ("roles/editor", "roles/resourcemanager.projectIamAdmin", "roles/storage.admin")
OPERATOR_ROLES = ("roles/container.admin", "roles/iam.serviceAccountAdmin", "roles/resourcemanager.projectIamAdmin",
                  "roles/serviceusage.serviceUsageAdmin")
OBJECTIVE_CRDS = {
    "gke": "https://github.com/kubernetes-sigs/gateway-api-inference-extension/raw/v1.5.0/config/crd/bases/"
           "inference.networking.x-k8s.io_inferenceobjectives.yaml",
    "llm-d": "https://github.com/llm-d/llm-d-router/raw/v0.10.0/config/crd/bases/llm-d.ai_inferenceobjectives.yaml",
}


def context(fleet: Fleet, cluster) -> str:
    """The kubectl context gcloud's get-credentials creates."""
    return f"gke_{fleet.project.id}_{cluster.region}_{cluster.name}"


def _git_secret(fleet: Fleet, cluster) -> list[str]:
    """The Git credentials Secret Config Sync reads for token auth (export GIT_USER and GIT_TOKEN first)."""
    d = fleet.delivery
    if d.config_sync_auth != "token":
        return []
    ctx = f" --context={context(fleet, cluster)}" if cluster is not None else ""
    return [f'  kubectl{ctx} -n config-management-system create secret generic {d.secret_name} '
            f'--from-literal=username="${{GIT_USER}}" --from-literal=token="${{GIT_TOKEN}}"   # a read-only token for {d.repo_url}']


def runbook(fleet: Fleet) -> list[str]:
    p, ns, dl = fleet.project.id, fleet.namespace, fleet.delivery
    cfg = fleet.config_cluster
    cc_region = cfg.region
    cc_name = f"{fleet.name}-config"
    out: list[str] = []
    step = 0

    def section(title: str) -> None:
        nonlocal step
        step += 1
        out.append(f"{step}. {title}")

    section("Your account can create the management cluster and grant roles (once per project):")
    for role in OPERATOR_ROLES:
        out.append(f'  gcloud projects add-iam-policy-binding {p} --member="user:$(gcloud config get-value account)" --role={role}')
    section(f"A Config Controller instance runs Config Connector for the fleet (namespace {fleet.infra.namespace}):")
    out.append(f"  gcloud services enable krmapihosting.googleapis.com container.googleapis.com cloudresourcemanager.googleapis.com "
               f"serviceusage.googleapis.com --project={p}")
    out.append(f"  gcloud anthos config controller create {cc_name} --location={cc_region} --full-management --project={p}")
    out.append(f"  gcloud anthos config controller get-credentials {cc_name} --location={cc_region} --project={p}")
    section("Let Config Connector manage the project's resources:")
    out.append(f"  SA=$(kubectl get ConfigConnectorContext -n {fleet.infra.namespace} -o jsonpath='{{.items[0].spec.googleServiceAccount}}')")
    for role in CONFIG_CONNECTOR_ROLES:
        out.append(f'  gcloud projects add-iam-policy-binding {p} --member="serviceAccount:${{SA}}" --role={role}')
    section("Create the GCP side from infra/ (APIs, VPC, proxy-only subnets, firewall, NAT, clusters, system pools, fleet, "
            "buckets and grants, gateway addresses, DNS)" + (", through Git or directly," if dl.config_sync else "") + " and wait for it:")
    if dl.config_sync:
        out += _git_secret(fleet, None)
        out.append(f"  kubectl apply -f delivery/config-sync/infra/rootsync.yaml    # Config Sync reads {dl.infra_dir} from {dl.repo_url}")
    out.append("  kubectl apply -k infra/" + ("                                      # or directly, without Git" if dl.config_sync else ""))
    out.append(f"  kubectl wait -n {fleet.infra.namespace} --for=condition=Ready containercluster,containernodepool,gkehubmembership,"
               "gkehubfeature,storagebucket,computeaddress --all --timeout=60m")
    section("The HPA performance profile, which AutoscalingMetric needs (not a Config Connector field):")
    for c in fleet.clusters:
        out.append(f"  gcloud container clusters update {c.name} --location={c.region} --hpa-profile=performance --project={p}")
    section("kubectl contexts for every cluster:")
    for c in fleet.clusters:
        out.append(f"  gcloud container clusters get-credentials {c.name} --location={c.region} --project={p}")
    section("The InferenceObjective CRD on each serving cluster (GKE installs only the InferencePool CRD):")
    for c in fleet.serving_clusters:
        for profile in dict.fromkeys(m.routing.api_profile for m in fleet.models_in(c)):
            out.append(f"  kubectl --context={context(fleet, c)} apply --server-side -f {OBJECTIVE_CRDS[profile]}")
    hf = [m for m in fleet.models if m.model.loader and isinstance(m.model.source, HuggingFaceSource)]
    if hf:
        repos = ", ".join(dict.fromkeys(m.model.source.repo for m in hf))
        section(f"The Hugging Face token of the weights loader (export HF_TOKEN first: a token with access to {repos}), "
                "in each serving cluster; it is never written to Git:")
        for c in fleet.serving_clusters:
            secrets = dict.fromkeys((m.model.source.token_secret, m.model.source.token_key) for m in hf if m.placement(c))
            if not secrets:
                continue
            ctx = context(fleet, c)
            out.append(f"  kubectl --context={ctx} create namespace {ns} --dry-run=client -o yaml | kubectl --context={ctx} apply -f -")
            for secret, key in secrets:
                out.append(f'  kubectl --context={ctx} -n {ns} create secret generic {secret} --from-literal={key}="${{HF_TOKEN}}"')
    lora = [m for m in fleet.models if m.model.lora]
    if lora:
        section("The LoRA adapters, into each region's bucket (the weights loader copies base models only; the model server "
                "waits for every adapter's adapter_config.json and weights). Export each folder's local path first:")
        for m in lora:
            for a in m.model.lora.adapters:
                var = re.sub(r"[^A-Z0-9]+", "_", a.name.upper()).strip("_") + "_DIR"
                for bucket in dict.fromkeys(place.cluster.bucket for place in m.placements):
                    out.append(f'  gcloud storage rsync --recursive "${{{var}}}" gs://{bucket}/{a.path} --project={p}')
    section("Deliver the workloads, " + ("one of:" if dl.methods else "with Helm (the fleet file names no GitOps delivery):"))
    if dl.argocd:
        out.append(f"  Argo CD: kubectl -n {dl.argocd_namespace} apply -f delivery/argocd/ (label each cluster Secret as "
                   "delivery/argocd/applicationset.yaml says; enable progressive syncs)")
    if dl.config_sync:
        out.append("  Config Sync: turn it on for the fleet's memberships, then give each cluster its RootSync:")
        out.append(f"  gcloud beta container fleet config-management enable --project={p}")
        out.append("  printf 'applySpecVersion: 1\\nspec:\\n  configSync:\\n    enabled: true\\n' > config-sync.yaml")
        for c in fleet.clusters:
            out.append(f"  gcloud beta container fleet config-management apply --membership={c.name} --config=config-sync.yaml --project={p}")
        for c in fleet.clusters:
            out += _git_secret(fleet, c)
            out.append(f"  kubectl --context={context(fleet, c)} apply -f delivery/config-sync/{c.name}/rootsync.yaml")
    for c in fleet.clusters:
        keys = [serving_key(fleet, m) for m in fleet.models_in(c)] + (["gateway"] if c.name == fleet.gateway.config_cluster else [])
        for key in keys:
            out.append(f"  Helm: helm --kube-context={context(fleet, c)} install {release_name(fleet, key)} charts/{fleet.name}-{key} "
                       f"-f charts/{fleet.name}-{key}/values-{c.name}.yaml")
    section("Watch the weights arrive, the servers start and the gateway come up:")
    for c in fleet.serving_clusters:
        ctx = context(fleet, c)
        out.append(f"  kubectl --context={ctx} -n {ns} wait --for=condition=complete job -l app.kubernetes.io/component=weights-loader --timeout=3h")
        for m in fleet.models_in(c):
            out.append(f"  kubectl --context={ctx} -n {ns} rollout status deployment/{m.server_name} --timeout=90m")
    out.append(f"  kubectl --context={context(fleet, cfg)} -n {ns} get gateway {fleet.gateway.name} -o jsonpath='{{.status.addresses}}'")
    if fleet.dns.enabled:
        out.append(f"  gcloud dns record-sets describe {fleet.dns.fqdn} --type=A --zone={fleet.dns.zone} --project={p}")
    for m in fleet.models:
        srv = m.server
        if srv.tpu is None:
            continue
        section("Only for clusters older than the ComputeClass DRANET fields (Rapid 1.35): create the TPU pool yourself, joined "
                f"to ComputeClass {m.compute_class} by its label and taint:")
        for place in m.placements:
            c = place.cluster
            reservation = next((o for o in place.capacity if o.type == "reservation"), None)
            extra = (f" --reservation-affinity=specific --reservation={reservation.reservation}" if reservation else
                     " --spot" if place.capacity and place.capacity[0].type == "spot" else "")
            surge = rollout_of(m, place).max_surge
            out.append(f"  gcloud beta container node-pools create {m.pool}-tpu --cluster={c.name} --location={c.region} "
                       f"--node-locations={c.zone} --machine-type={srv.tpu.machine_type} --tpu-topology={srv.tpu.topology} "
                       f"--enable-autoscaling --total-min-nodes=0 --total-max-nodes={max_replicas(m, place) + surge} "
                       f"--workload-metadata=GKE_METADATA --service-account={fleet.node_service_account}"
                       f"{' --accelerator-network-profile=auto' if srv.dranet.enabled else ''} "
                       f"--node-labels=cloud.google.com/compute-class={m.compute_class}"
                       f"{',cloud.google.com/gke-networking-dra-driver=true' if srv.dranet.enabled else ''} "
                       f"--node-taints=cloud.google.com/compute-class={m.compute_class}:NoSchedule{extra} --project={p}")
    return out
