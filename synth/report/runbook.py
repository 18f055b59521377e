"""The operator runbook as a timeline: the steps Config Connector cannot take, in order, with the fleet's real names;
each step with the condition it waits for (and the commands that wait, with a timeout), its expected duration and
the checks a Google-run lab of this scenario makes between steps; then the teardown, in the order that leaves
nothing behind. Every command is consistent with the generated objects (cluster names, regions, namespace, node
service account, ComputeClass, Secret names); shell variables are only values the operator alone has (their
account, a token)."""

from __future__ import annotations

import re

from ..bringup import timeline as tl
from ..bringup.phases import PHASE_LABEL, PHASES
from ..bringup.timeline import Step, Wait
from ..config import catalog
from ..config.model import Fleet, HuggingFaceSource
from ..plan import release_name, serving_key
from .capacity import max_replicas, rollout_of

# Roles Config Connector's service account needs to manage everything in infra/ (clusters, network, buckets and
# their IAM, service accounts and project IAM grants, fleet features, DNS).
CONFIG_CONNECTOR_ROLES = ("roles/editor", "roles/resourcemanager.projectIamAdmin", "roles/storage.admin")
OPERATOR_ROLES = ("roles/container.admin", "roles/iam.serviceAccountAdmin", "roles/resourcemanager.projectIamAdmin",
                  "roles/serviceusage.serviceUsageAdmin")


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
    """The timeline and the teardown as text lines (plan prints them; plan --json carries them as data too)."""
    out: list[str] = []
    for n, step in enumerate(bring_up(fleet), 1):
        out += render(n, step)
    out += ["", "Teardown (gateway first, so the load balancer is released before the clusters that back it):"]
    for n, step in enumerate(teardown(fleet), 1):
        out += render(n, step, prefix="T")
    return out


def render(n: int, step: Step, prefix: str = "") -> list[str]:
    took = f" [~{tl.minutes(step.expected_s)}]" if step.expected_s else ""
    out = [f"{prefix}{n}. {step.title}{took}"]
    out += [f"  {c}" for c in step.commands]
    if step.wait:
        out.append(f"  wait until {step.wait.condition} (timeout {tl.minutes(step.wait.timeout_s)}):")
        out += [f"    {c}" for c in step.wait.commands]
    if step.checks:
        out.append("  check:")
        out += [f"    {c}" for c in step.checks]
    return out


def _wait(condition: str, commands: list[str], expected_s: int) -> Wait:
    return Wait(condition, tuple(commands), tl.timeout(expected_s))


def bring_up(fleet: Fleet) -> list[Step]:
    p, ns, dl = fleet.project.id, fleet.namespace, fleet.delivery
    cfg = fleet.config_cluster
    cc_name = f"{fleet.name}-config"
    steps: list[Step] = []
    gke = fleet.gke
    regions = sorted({c.region for c in fleet.clusters})

    version = [catalog.SERVER_CONFIG.format(region=r, project=p, channel=gke.release_channel) for r in regions]
    steps.append(Step(
        f"The {gke.release_channel} channel's default version is at least {gke.floor.version} in every region "
        f"(the floor of {gke.floor.feature}; clusters are created at the channel default"
        + (f", pinned to {gke.min_version} by gke.minVersion" if gke.min_version else "") + "):",
        tuple(version), expected_s=60))
    quota = []
    for m in fleet.models:
        for place in m.placements:
            c = place.cluster
            acc = m.server.accelerator
            n = max_replicas(m, place) + rollout_of(m, place).max_surge
            devices = n * (m.server.tpu.chips if m.server.tpu else acc.count)
            spot = any(o.type == "spot" for o in place.capacity)
            kind = "TPU v6e chips" if m.server.tpu else f"{acc.type} GPUs"
            quota.append(f"gcloud compute regions describe {c.region} --project={p} --flatten=quotas "
                         f"--filter=\"quotas.metric~{'V6E' if m.server.tpu else 'GPU'}\" --format=\"table(quotas.metric,quotas.limit,quotas.usage)\""
                         f"   # {c.zone}: {devices} {kind} for {n} replicas of {m.model.name}"
                         + (" (and as many preemptible: the spot priority)" if spot else ""))
    steps.append(Step("The accelerator quota the ComputeClasses will ask for (the lab states the chip budget first):",
                      tuple(dict.fromkeys(quota)), expected_s=60))
    steps.append(Step("Your account can create the management cluster and grant roles (once per project):", tuple(
        f'gcloud projects add-iam-policy-binding {p} --member="user:$(gcloud config get-value account)" --role={role}'
        for role in OPERATOR_ROLES)))
    steps.append(Step(
        f"A Config Controller instance runs Config Connector for the fleet (namespace {fleet.infra.namespace}):",
        (f"gcloud services enable krmapihosting.googleapis.com container.googleapis.com cloudresourcemanager.googleapis.com "
         f"serviceusage.googleapis.com --project={p}",
         f"gcloud anthos config controller create {cc_name} --location={cfg.region} --full-management --project={p}",
         f"gcloud anthos config controller get-credentials {cc_name} --location={cfg.region} --project={p}"),
        _wait("the instance is RUNNING (create returns when it is)",
              [f"gcloud anthos config controller describe {cc_name} --location={cfg.region} --project={p} --format='value(state)'"],
              tl.CONFIG_CONTROLLER_S), tl.CONFIG_CONTROLLER_S))
    steps.append(Step("Let Config Connector manage the project's resources:", (
        f"SA=$(kubectl get ConfigConnectorContext -n {fleet.infra.namespace} -o jsonpath='{{.items[0].spec.googleServiceAccount}}')",
        *(f'gcloud projects add-iam-policy-binding {p} --member="serviceAccount:${{SA}}" --role={role}'
          for role in CONFIG_CONNECTOR_ROLES))))
    infra = []
    if dl.config_sync:
        infra += [c.strip() for c in _git_secret(fleet, None)]
        infra.append(f"kubectl apply -f delivery/config-sync/infra/rootsync.yaml    # Config Sync reads {dl.infra_dir} from {dl.repo_url}")
    infra.append("kubectl apply -k infra/" + ("    # or directly, without Git" if dl.config_sync else ""))
    steps.append(Step(
        "Create the GCP side from infra/ (APIs, VPC, proxy-only subnets, firewall, NAT, clusters, system pools, fleet, "
        "buckets and grants, gateway addresses, DNS)" + (", through Git or directly" if dl.config_sync else "") + ":",
        tuple(infra),
        _wait("every Config Connector object is Ready (clusters take longest)",
              [f"kubectl wait -n {fleet.infra.namespace} --for=create containercluster/{c.name} --timeout=10m"
               for c in fleet.clusters] +
              [f"kubectl wait -n {fleet.infra.namespace} --for=condition=Ready containercluster,containernodepool,"
               "gkehubmembership,gkehubfeature,storagebucket,computeaddress --all --timeout="
               f"{tl.timeout(tl.CLUSTER_S) // 60}m"], tl.CLUSTER_S), tl.CLUSTER_S))
    steps.append(Step("The HPA performance profile, which AutoscalingMetric needs (not a Config Connector field), and "
                      "kubectl contexts for every cluster:", tuple(
        [f"gcloud container clusters update {c.name} --location={c.region} --hpa-profile=performance --project={p}"
         for c in fleet.clusters]
        + [f"gcloud container clusters get-credentials {c.name} --location={c.region} --project={p}" for c in fleet.clusters]),
        expected_s=300))
    gc = fleet.gateway.class_name
    dranet = [c for c in fleet.serving_clusters if any(m.server.dranet.enabled for m in fleet.models_in(c))]
    steps.append(Step(
        "What the platform creates after the clusters, asynchronously: the multi-cluster GatewayClass (fleet ingress) "
        "and DRANET's DeviceClass:", (),
        _wait(f"GatewayClass {gc} exists on the config cluster {cfg.name}",
              [f"kubectl --context={context(fleet, cfg)} wait --for=create gatewayclass/{gc} --timeout={tl.timeout(tl.FLEET_FEATURE_S) // 60}m"],
              tl.FLEET_FEATURE_S), tl.FLEET_FEATURE_S,
        tuple([f"kubectl --context={context(fleet, c)} get deviceclass netdev.google.com   # managed DRANET in {c.name}"
               for c in dranet]
              + [f"gcloud container fleet ingress describe --project={p}   # if the GatewayClass never appears: "
                 f"config membership {cfg.name}, re-enable fleet ingress"])))
    hf = [m for m in fleet.models if m.model.loader and isinstance(m.model.source, HuggingFaceSource)]
    ns_cmds = []
    for c in fleet.clusters:
        ctx = context(fleet, c)
        ns_cmds.append(f"kubectl --context={ctx} create namespace {ns} --dry-run=client -o yaml | kubectl --context={ctx} apply -f -")
        for m in hf:
            if m.placement(c):
                src = m.model.source
                ns_cmds.append(f'kubectl --context={ctx} -n {ns} create secret generic {src.token_secret} --from-literal={src.token_key}="${{HF_TOKEN}}"')
    title = f"The namespace {ns} in every cluster (the charts do not render it: Helm adopts nothing it did not create)"
    if hf:
        repos = ", ".join(dict.fromkeys(m.model.source.repo for m in hf))
        title += f", and the weights loader's Hugging Face token (export HF_TOKEN first: a token with access to {repos}; never in Git)"
    steps.append(Step(title + ":", tuple(dict.fromkeys(ns_cmds))))
    lora = [m for m in fleet.models if m.model.lora]
    if lora:
        cmds = []
        for m in lora:
            for a in m.model.lora.adapters:
                var = re.sub(r"[^A-Z0-9]+", "_", a.name.upper()).strip("_") + "_DIR"
                for bucket in dict.fromkeys(place.cluster.bucket for place in m.placements):
                    cmds.append(f'gcloud storage rsync --recursive "${{{var}}}" gs://{bucket}/{a.path} --project={p}')
        steps.append(Step("The LoRA adapters, into each region's bucket (the weights loader copies base models only; the "
                          "model server waits for every adapter). Export each folder's local path first:", tuple(cmds)))
    steps += _manual_pools(fleet)
    steps += _deliver(fleet)
    steps += _serve(fleet)
    return steps


def _expected_workloads(fleet: Fleet) -> tuple[int, int]:
    """(weights copy, time to serve once copied): the slowest model of the fleet; clusters proceed in parallel."""
    copy = max((tl.weights_copy_seconds(m) for m in fleet.models), default=0)
    serve = max((tl.time_to_serve(m) for m in fleet.models), default=0)
    return copy, serve


def _deliver(fleet: Fleet) -> list[Step]:
    dl, ns = fleet.delivery, fleet.namespace
    copy, serve = _expected_workloads(fleet)
    total = copy + serve
    phases = " -> ".join(f"{ph.name} (wave {ph.wave})" for ph in PHASES)
    out: list[Step] = []
    if dl.argocd:
        apps = [f"{fleet.name}-{c.name}" for c in fleet.clusters]
        argo_s = total * max(1, len(dl.region_order))
        out.append(Step(
            f"Argo CD: the health checks for kinds it does not know, then the fleet's objects. Every Application syncs its "
            f"phases in waves ({phases}); RollingSync takes one region per step and waits for its Applications to be healthy:",
            (f"kubectl -n {dl.argocd_namespace} patch configmap argocd-cm --type merge --patch-file delivery/argocd/argocd-cm-health.yaml",
             f"kubectl -n {dl.argocd_namespace} apply -f delivery/argocd/appproject.yaml -f delivery/argocd/applicationset.yaml"
             "   # label each cluster Secret as applicationset.yaml says; progressive syncs on"),
            _wait("every Application is Healthy (the weights Job complete, the servers available, the pool accepted)",
                  [f"kubectl -n {dl.argocd_namespace} wait application/{a} --for=create --timeout=10m" for a in apps]
                  + [f"kubectl -n {dl.argocd_namespace} wait application/{a} --for=jsonpath='{{.status.health.status}}'=Healthy "
                     f"--timeout={tl.timeout(argo_s) // 60}m" for a in apps], argo_s),
            argo_s))
    if dl.config_sync:
        cmds = [f"gcloud beta container fleet config-management enable --project={fleet.project.id}",
                "printf 'applySpecVersion: 1\\nspec:\\n  configSync:\\n    enabled: true\\n' > config-sync.yaml"]
        cmds += [f"gcloud beta container fleet config-management apply --membership={c.name} --config=config-sync.yaml "
                 f"--project={fleet.project.id}" for c in fleet.clusters]
        for c in fleet.clusters:
            cmds += [x.strip() for x in _git_secret(fleet, c)]
            cmds.append(f"kubectl --context={context(fleet, c)} apply -f delivery/config-sync/{c.name}/rootsync.yaml")
        out.append(Step(
            "Config Sync: CRDs and the namespace apply first; config.kubernetes.io/depends-on holds the servers until the "
            "weights Job is complete and the pool until its servers are available:", tuple(cmds),
            _wait("every cluster's ResourceGroup reports every object Current (the Job complete, the servers available)",
                  [f"nomos status --contexts={','.join(context(fleet, c) for c in fleet.clusters)}"]
                  + [cmd for c in fleet.clusters for cmd in _resource_group_wait(fleet, c, tl.timeout(total))], total), total))
    helm = []
    for c in fleet.clusters:
        for key in [serving_key(fleet, m) for m in fleet.models_in(c)]:  # the gateway chart once the imports exist
            helm.append(f"helm --kube-context={context(fleet, c)} install {release_name(fleet, key)} charts/{fleet.name}-{key} "
                        f"-n {ns} -f charts/{fleet.name}-{key}/values-{c.name}.yaml --wait --wait-for-jobs "
                        f"--timeout={tl.timeout(max(copy, serve)) // 60}m   # per operation: the hook Job, then the servers")
    out.append(Step(
        "Helm (one of the ways): each serving chart, its CRDs first, the weights loader as a pre-install hook Helm waits "
        "for, then the servers, waited for until available (the gateway chart follows the imports below):", tuple(helm),
        _wait("every release is deployed (helm install returns only then, or fails at the timeout)",
              [f"helm --kube-context={context(fleet, c)} -n {ns} status {release_name(fleet, serving_key(fleet, m))}"
               for c in fleet.serving_clusters for m in fleet.models_in(c)], total),
        total))
    kubectl = []
    for c in fleet.clusters:
        ctx = context(fleet, c)
        for ph in PHASES:
            if ph.name not in _phases_in(fleet, c) or ph.name in ("gateway", "checks"):
                continue  # kubectl apply -l refuses a selector that matches nothing; the gateway follows the imports
            kubectl.append(f"kubectl --context={ctx} apply --server-side -k overlays/{c.name} -l {PHASE_LABEL}={ph.name}"
                           f"   # then: {ph.wait}")
            if ph.name == "crds":
                kubectl.append(f"kubectl --context={ctx} wait --for=condition=Established crd -l {PHASE_LABEL}=crds --timeout=2m")
            elif ph.name == "weights" and c.serving:
                kubectl.append(f"kubectl --context={ctx} -n {ns} wait --for=condition=complete job -l "
                               f"app.kubernetes.io/component=weights-loader --timeout={tl.timeout(copy) // 60}m")
            elif ph.name == "serving" and c.serving:
                kubectl += [f"kubectl --context={ctx} -n {ns} rollout status deployment/{m.server_name} --timeout={tl.timeout(serve) // 60}m"
                            for m in fleet.models_in(c)]
    out.append(Step("kubectl alone (one of the ways): each overlay phase by phase, waiting between them:", tuple(kubectl),
                    expected_s=total))
    return out


def _resource_group_wait(fleet: Fleet, cluster, timeout_s: int) -> list[str]:
    """Wait until the RootSync's ResourceGroup exists and lists objects, every one of them Current (kstatus)."""
    ctx, name = context(fleet, cluster), fleet.name
    get = (f"kubectl --context={ctx} -n config-management-system get resourcegroup {name} "
           "-o jsonpath='{.status.resourceStatuses[*].status}'")
    return [f"kubectl --context={ctx} -n config-management-system wait --for=create resourcegroup/{name} --timeout=10m",
            f"timeout {timeout_s // 60}m sh -c 'until s=$({get.replace(chr(39), chr(34))}) && [ -n \"$s\" ] && "
            f"[ -z \"$(echo $s | tr \" \" \"\\n\" | grep -v ^Current$)\" ]; do sleep 30; done'"]


def _phases_in(fleet: Fleet, cluster) -> set[str]:
    """The bring-up phases that hold objects in ``cluster``'s overlay."""
    out = {"base"}
    if cluster.serving:
        out |= {"crds", "serving", "routing"}
        if any(m.model.loader and m.model.source is not None for m in fleet.models_in(cluster)):
            out.add("weights")
    if cluster.name == fleet.gateway.config_cluster:
        out.add("gateway")
    return out


def _serve(fleet: Fleet) -> list[Step]:
    ns, cfg, gw = fleet.namespace, fleet.config_cluster, fleet.gateway
    ctx = context(fleet, cfg)
    pools = [m.pool for m in fleet.models]
    nics = [f"kubectl --context={context(fleet, c)} -n {ns} exec deployment/{m.server_name} -c vllm -- ls /sys/class/net"
            f"   # the extra NICs managed DRANET attached in {c.name}"
            for c in fleet.serving_clusters for m in fleet.models_in(c) if m.server.dranet.enabled]
    out = [Step(
        "The config cluster imports every exported pool (GKE creates one GCPInferencePoolImport per pool):", (),
        _wait("each pool's import exists",
              [f"kubectl --context={ctx} -n {ns} wait --for=create gcpinferencepoolimports.networking.gke.io/{pool} "
               f"--timeout={tl.timeout(tl.IMPORT_S) // 60}m" for pool in pools], tl.IMPORT_S), tl.IMPORT_S, tuple(nics))]
    checks = [f"kubectl --context={ctx} -n {ns} get gateway {gw.name} -o jsonpath='{{.status.addresses}}'"]
    if fleet.dns.enabled:
        checks.append(f"gcloud dns record-sets describe {fleet.dns.fqdn} --type=A --zone={fleet.dns.zone} --project={fleet.project.id}"
                      f"   # clients see a change within the TTL, {fleet.dns.ttl} s")
    gateway = [f"helm --kube-context={ctx} install {release_name(fleet, 'gateway')} charts/{fleet.name}-gateway -n {ns} "
               f"-f charts/{fleet.name}-gateway/values-{cfg.name}.yaml   # (Helm)",
               f"kubectl --context={ctx} apply --server-side -k overlays/{cfg.name} -l {PHASE_LABEL}=gateway   # (kubectl)"]
    out.append(Step(
        f"The gateway on the config cluster, once the imports exist (Argo CD and Config Sync deliver it themselves, in its "
        f"phase); it is programmed when the load balancer answers on every region's address:", tuple(gateway),
        _wait(f"Gateway {gw.name} is Programmed",
              [f"kubectl --context={ctx} -n {ns} wait gateway/{gw.name} --for=condition=Programmed "
               f"--timeout={tl.timeout(tl.GATEWAY_S) // 60}m"], tl.GATEWAY_S), tl.GATEWAY_S + (fleet.dns.ttl if fleet.dns.enabled else 0),
        tuple(checks)))
    return out


def _manual_pools(fleet: Fleet) -> list[Step]:
    out: list[Step] = []
    for m in fleet.models:
        srv = m.server
        if srv.tpu is None:
            continue
        cmds = []
        for place in m.placements:
            c = place.cluster
            reservation = next((o for o in place.capacity if o.type == "reservation"), None)
            extra = (f" --reservation-affinity=specific --reservation={reservation.reservation}" if reservation else
                     " --spot" if place.capacity and place.capacity[0].type == "spot" else "")
            surge = rollout_of(m, place).max_surge
            cmds.append(f"gcloud beta container node-pools create {m.pool}-tpu --cluster={c.name} --location={c.region} "
                        f"--node-locations={c.zone} --machine-type={srv.tpu.machine_type} --tpu-topology={srv.tpu.topology} "
                        f"--enable-autoscaling --total-min-nodes=0 --total-max-nodes={max_replicas(m, place) + surge} "
                        f"--workload-metadata=GKE_METADATA --service-account={fleet.node_service_account}"
                        f"{' --accelerator-network-profile=auto' if srv.dranet.enabled else ''} "
                        f"--node-labels=cloud.google.com/compute-class={m.compute_class}"
                        f"{',cloud.google.com/gke-networking-dra-driver=true' if srv.dranet.enabled else ''} "
                        f"--node-taints=cloud.google.com/compute-class={m.compute_class}:NoSchedule{extra} --project={fleet.project.id}")
        out.append(Step("Only for clusters older than the ComputeClass DRANET fields (Rapid 1.35), before delivering: create "
                        f"the TPU pool yourself, joined to ComputeClass {m.compute_class} by its label and taint:", tuple(cmds)))
    return out


def teardown(fleet: Fleet) -> list[Step]:
    p, ns, dl, gw = fleet.project.id, fleet.namespace, fleet.delivery, fleet.gateway
    cfg = fleet.config_cluster
    ctx = context(fleet, cfg)
    out = []
    stop = []
    if dl.config_sync:
        stop.append(f"kubectl -n config-management-system delete rootsync {fleet.name}-infra --ignore-not-found   # (Config Sync, on the "
                    "management cluster) orphans what it applied")
    if dl.argocd:
        stop.append(f"kubectl -n {dl.argocd_namespace} delete application {fleet.name}-infra --ignore-not-found   # (Argo CD) no "
                    "finalizer: the objects stay")
    out.append(Step("Stop delivering infra/ first, so nothing re-creates what the next steps delete (the fleet features, "
                    "the firewall rules):", tuple(stop) or ("# infra/ was applied with kubectl: nothing to stop",)))
    remove = []
    if dl.argocd:
        remove.append(f"kubectl -n {dl.argocd_namespace} delete applicationset {fleet.name} --ignore-not-found   # (Argo CD) Applications go in reverse "
                      "step order (deletionOrder: Reverse); their objects stay (preserveResourcesOnDeletion): delete them below")
    if dl.config_sync:
        remove += [f"kubectl --context={context(fleet, c)} -n config-management-system annotate rootsync {fleet.name} "
                   f"configsync.gke.io/deletion-propagation-policy=Foreground && kubectl --context={context(fleet, c)} "
                   f"-n config-management-system delete rootsync {fleet.name}   # (Config Sync) Foreground: deletes what it applied"
                   for c in [cfg]]
    remove.append(f"helm --kube-context={ctx} -n {ns} uninstall {release_name(fleet, 'gateway')} --ignore-not-found --wait   # (Helm)")
    remove.append(f"kubectl --context={ctx} -n {ns} delete httproute,healthcheckpolicy,gcpbackendpolicy,gateway "
                  f"-l app.kubernetes.io/part-of={fleet.name} --ignore-not-found --wait   # (kubectl, or what the tools left)")
    out.append(Step(f"The gateway objects on the config cluster {cfg.name}, first: the load balancer goes with them:",
                    tuple(remove),
                    _wait(f"Gateway {gw.name} is gone (GKE has deleted the load balancer)",
                          [f"kubectl --context={ctx} -n {ns} wait --for=delete gateway/{gw.name} --timeout={tl.timeout(tl.GATEWAY_S) // 60}m"
                           "   # returns at once if it is already gone"],
                          tl.GATEWAY_S), tl.GATEWAY_S))
    work = []
    for c in fleet.clusters:
        cctx = context(fleet, c)
        if dl.config_sync and c is not cfg:
            work.append(f"kubectl --context={cctx} -n config-management-system annotate rootsync {fleet.name} "
                        f"configsync.gke.io/deletion-propagation-policy=Foreground && kubectl --context={cctx} "
                        f"-n config-management-system delete rootsync {fleet.name}   # (Config Sync)")
        for m in fleet.models_in(c):
            work.append(f"helm --kube-context={cctx} -n {ns} uninstall {release_name(fleet, serving_key(fleet, m))} --ignore-not-found "
                        "--wait   # (Helm)")
        work.append(f"kubectl --context={cctx} delete namespace {ns} --ignore-not-found --wait   # pools, objectives, servers, the "
                    "loader's hook objects")
    out.append(Step("The workloads in every cluster (routing, then servers; the exported pools leave the import):", tuple(work),
                    _wait(f"namespace {ns} is gone in every cluster",
                          [f"kubectl --context={context(fleet, c)} wait --for=delete namespace/{ns} --timeout={tl.timeout(300) // 60}m"
                           for c in fleet.clusters], 300), 300))
    out.append(Step(
        "The fleet's multi-cluster features (infra/ holds them; Config Connector deletes them):",
        (f"kubectl -n {fleet.infra.namespace} delete gkehubfeature {fleet.name}-multiclusteringress "
         f"{fleet.name}-multiclusterservicediscovery --ignore-not-found --wait --timeout=10m",),
        _wait("fleet ingress is disabled",
              [f"timeout 10m sh -c 'while gcloud container fleet ingress describe --project={p} >/dev/null 2>&1; do sleep 20; done'"], 300),
        300))
    out.append(Step(
        "What the load balancer leaves behind: GKE's firewall rules for the gateway and service discovery:",
        (f"gcloud compute firewall-rules list --project={p} --filter=\"network~{fleet.network.name} AND (name~^k8s-fw-l7 OR name~mcsd)\" "
         "--format='value(name)'",
         f"gcloud compute firewall-rules list --project={p} --filter=\"network~{fleet.network.name} AND (name~^k8s-fw-l7 OR name~mcsd)\" "
         f"--format='value(name)' | xargs -r gcloud compute firewall-rules delete --quiet --project={p}"), expected_s=120))
    abandoned = ", ".join(("clusters", "the VPC", "buckets (with the weights)", "enabled APIs"))
    out.append(Step(
        f"The infrastructure: the clusters first (Config Connector abandons them, and their subnets cannot go while they "
        f"run), then what infra/ holds (Config Connector deletes it, except what it abandons: {abandoned}), then the rest:",
        (*(f"gcloud container clusters delete {c.name} --location={c.region} --project={p} --quiet" for c in fleet.clusters),
         "kubectl delete -k infra/ --ignore-not-found --wait --timeout=30m",
         f"gcloud compute networks subnets list --project={p} --network={fleet.network.name} --format='value(name,region.basename())'"
         f" | while read n r; do gcloud compute networks subnets delete \"$n\" --region=\"$r\" --project={p} --quiet; done",
         f"gcloud compute networks delete {fleet.network.name} --project={p} --quiet",
         *(f"gcloud storage rm --recursive gs://{b}   # the weights; keep it to skip the copy next time"
           for b in dict.fromkeys(c.bucket for c in fleet.serving_clusters if c.bucket)),
         f"gcloud anthos config controller delete {fleet.name}-config --location={cfg.region} --project={p} --quiet"),
        expected_s=tl.CLUSTER_S))
    return out
