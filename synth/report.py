"""The readable side of a fleet: plan, failover table, GCP prerequisites, and a picture of the topology.
All derived from the same ``Fleet`` the manifests come from."""

from __future__ import annotations

import math
from dataclasses import dataclass

from synth.config import catalog
from synth.config.model import Cluster, Fleet

# Approximate locations of regions that offer TPU v6e, to order failover targets nearest first.
REGION_COORDS = {
    "us-central1": (41.26, -95.86),
    "us-east1": (33.20, -80.01),
    "us-east5": (39.96, -83.00),
    "us-south1": (32.78, -96.80),
    "europe-west4": (53.44, 6.84),
    "asia-northeast1": (35.69, 139.69),
    "southamerica-east1": (-23.55, -46.63),
}


def _distance(a: str, b: str) -> float:
    if a not in REGION_COORDS or b not in REGION_COORDS:
        return math.inf
    (la1, lo1), (la2, lo2) = (tuple(map(math.radians, REGION_COORDS[r])) for r in (a, b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def max_replicas(fleet: Fleet, c: Cluster) -> int:
    return c.max_replicas if fleet.server.autoscaling.enabled else c.replicas


def region_capacity(fleet: Fleet) -> dict[str, float]:
    cap: dict[str, float] = {}
    for c in fleet.serving_clusters:
        cap[c.region] = cap.get(c.region, 0.0) + max_replicas(fleet, c) * fleet.server.requests_per_second_per_replica
    return cap


@dataclass(frozen=True)
class FailoverRow:
    lost: str
    targets: tuple[str, ...]  # nearest first
    surviving_capacity: float
    peak: float

    @property
    def covered(self) -> bool:
        return self.surviving_capacity >= self.peak


def failover(fleet: Fleet) -> list[FailoverRow]:
    cap = region_capacity(fleet)
    order = list(fleet.serving_regions)
    rows = []
    for lost in order:
        survivors = sorted((r for r in order if r != lost), key=lambda r: (_distance(lost, r), order.index(r)))
        rows.append(FailoverRow(lost, tuple(survivors), sum(cap[r] for r in survivors), fleet.gateway.expected_peak_rps))
    return rows


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"] + \
               ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return ["  " + fmt.format(*header).rstrip()] + ["  " + fmt.format(*r).rstrip() for r in rows]


def prerequisites(fleet: Fleet) -> list[str]:
    srv, gw = fleet.server, fleet.gateway
    p = fleet.project
    lines = [
        f"GKE Standard >= {catalog.GKE_MIN_VERSION} with Dataplane V2 (managed DRANET and resource.k8s.io/v1 need it); every cluster in one VPC:",
    ]
    for c in fleet.clusters:
        lines.append(f"  gcloud container clusters create {c.name} --location={c.region} --cluster-version={catalog.GKE_MIN_VERSION} "
                     f"--enable-dataplane-v2 --gateway-api=standard --workload-pool={p.id}.svc.id.goog "
                     f"--addons=GcsFuseCsiDriver,HttpLoadBalancing --enable-managed-prometheus --project={p.id}")
    lines.append(f"TPU v6e node pool ({srv.tpu.machine_type}, {srv.tpu.topology}) with DRANET in each serving cluster:")
    for c in fleet.serving_clusters:
        lines.append(f"  gcloud beta container node-pools create tpu-v6e --cluster={c.name} --location={c.region} "
                     f"--node-locations={c.zone} --machine-type={srv.tpu.machine_type} --tpu-topology={srv.tpu.topology} "
                     f"--enable-autoscaling --total-min-nodes=0 --total-max-nodes={max_replicas(fleet, c)} "
                     f"--workload-metadata=GKE_METADATA --accelerator-network-profile=auto "
                     f"--node-labels=cloud.google.com/gke-networking-dra-driver=true")
    lines.append("Fleet membership and the config cluster:")
    for c in fleet.clusters:
        lines.append(f"  gcloud container fleet memberships register {c.name} --gke-cluster={c.region}/{c.name} --location=global --project={p.id}")
    lines.append(f"  gcloud container fleet ingress enable --config-membership=projects/{p.id}/locations/global/memberships/{gw.config_cluster} --project={p.id}")
    lines.append("One GLOBAL_MANAGED_PROXY proxy-only subnet per serving region (fails if a REGIONAL_MANAGED_PROXY subnet exists there):")
    for region in fleet.serving_regions:
        cidr = next((c.proxy_subnet for c in fleet.clusters if c.region == region and c.proxy_subnet), "CIDR/23")
        lines.append(f"  gcloud compute networks subnets create proxy-{region} --purpose=GLOBAL_MANAGED_PROXY --role=ACTIVE "
                     f"--region={region} --network=VPC --range={cidr} --project={p.id}")
    crd = ("https://github.com/kubernetes-sigs/gateway-api-inference-extension/raw/v1.5.0/config/crd/bases/"
           "inference.networking.x-k8s.io_inferenceobjectives.yaml") if fleet.routing.api_profile == "gke" else \
          ("https://github.com/llm-d/llm-d-router/raw/v0.10.0/config/crd/bases/llm-d.ai_inferenceobjectives.yaml")
    lines.append(f"InferenceObjective CRD on each serving cluster (GKE does not install it): kubectl apply -f {crd}")
    lines.append("Read access to the model bucket for the model server's Kubernetes service account (Workload Identity, no keys):")
    member = fleet.workload_identity_member(fleet.namespace)
    for bucket in dict.fromkeys(c.bucket for c in fleet.serving_clusters):
        lines.append(f"  gcloud storage buckets add-iam-policy-binding gs://{bucket} --member={member} --role=roles/storage.objectViewer")
    if gw.balancing_mode == "CUSTOM_METRICS":
        lines.append("CUSTOM_METRICS balancing: node service accounts may write metrics to the Autoscaling API (autoscaling.googleapis.com).")
    return lines


def plan_lines(fleet: Fleet, markdown: bool = False) -> list[str]:
    srv, gw = fleet.server, fleet.gateway
    h = "## " if markdown else ""
    out = [f"{'# ' if markdown else ''}Fleet {fleet.name}: {fleet.model.name} on TPU v6e {srv.tpu.machine_type} "
           f"({srv.tpu.topology}, {srv.tpu.chips} chips per replica), namespace {fleet.namespace}", ""]
    out.append(f"{h}Clusters")
    out.append("")
    rows = []
    for c in fleet.clusters:
        if c.serving:
            cap = max_replicas(fleet, c) * srv.requests_per_second_per_replica
            reps = f"{srv.autoscaling.min_replicas}-{c.max_replicas}" if srv.autoscaling.enabled else str(c.replicas)
            rows.append([c.name, c.region, c.zone, "+".join(fleet.roles(c)), reps, f"{cap:g}", c.bucket])
        else:
            rows.append([c.name, c.region, c.zone, "+".join(fleet.roles(c)), "-", "-", "-"])
    out += _table(["cluster", "region", "zone", "role", "replicas", "max rps", "model bucket"], rows, markdown)
    out += ["", f"{h}Gateway", ""]
    out.append(f"{gw.name} ({gw.class_name}) in {gw.config_cluster}, namespace {fleet.namespace}, HTTP :{gw.port}{gw.path_prefix}")
    out.append(f"routes to GCPInferencePoolImport {fleet.routing.pool_name}, the pool every serving cluster exports")
    for region in fleet.serving_regions:
        out.append(f"{'- ' if markdown else '  '}address in {region}: networking.gke.io/ephemeral-ipv4-address/{region}")
    if gw.balancing_mode == "CUSTOM_METRICS":
        full = f"a region is full at {gw.max_utilization_percent}% KV-cache utilisation"
    else:
        full = f"a pod is full at {gw.max_in_flight_requests_per_endpoint} in-flight requests"
    out.append(f"balancing {gw.balancing_mode}: {full}; then traffic spills to the next-nearest region (WATERFALL_BY_REGION)")
    for sc in gw.scopes:
        parts = [f"capacity scaler {sc.capacity_scaler_percent}%" if sc.capacity_scaler_percent is not None else "",
                 f"{sc.backend_preference.lower()} backend" if sc.backend_preference else ""]
        out.append(f"{'- ' if markdown else '  '}scope {sc.region}: " + ", ".join(p for p in parts if p))
    out += ["", f"{h}Failover (expected peak {gw.expected_peak_rps:g} rps, {srv.requests_per_second_per_replica:g} rps per replica)", ""]
    rows, warnings = [], []
    for r in failover(fleet):
        verdict = "yes" if r.covered else f"NO, short by {r.peak - r.surviving_capacity:g} rps"
        rows.append([r.lost, " > ".join(r.targets) or "(none)", f"{r.surviving_capacity:g}", verdict])
        if not r.covered:
            warnings.append(f"WARNING: losing {r.lost} leaves {r.surviving_capacity:g} rps for a {r.peak:g} rps peak; "
                            f"raise replicas (or autoscaling maxReplicas) in the surviving regions")
    out += _table(["region lost", "traffic goes to (nearest first)", "surviving max rps", "covers peak"], rows, markdown)
    if warnings:
        out.append("")
        out += warnings
    out.append("")
    out.append(f"Losing the config cluster ({gw.config_cluster}) stops configuration changes, not traffic. A client pinned to a "
               "dead region's address needs DNS failover to another region's address.")
    out += ["", f"{h}GCP prerequisites", ""]
    pre = prerequisites(fleet)
    out += (["```", *pre, "```"] if markdown else pre)
    return out


def mermaid(fleet: Fleet) -> str:
    gw = fleet.gateway
    pool = fleet.routing.pool_name
    lines = ["flowchart LR", "  clients([clients in the VPC])"]
    cfg = fleet.config_cluster
    lines.append(f'  subgraph cfg["{cfg.name} · config cluster"]')
    lines.append(f'    gw["Gateway {gw.name}<br/>{gw.class_name}"]')
    lines.append(f'    route["HTTPRoute {pool}"]')
    lines.append(f'    imp["GCPInferencePoolImport {pool}<br/>{gw.balancing_mode}"]')
    lines.append("  end")
    lines.append("  clients --> gw --> route --> imp")
    for i, c in enumerate(fleet.serving_clusters):
        reps = f"{fleet.server.autoscaling.min_replicas}-{c.max_replicas}" if fleet.server.autoscaling.enabled else str(c.replicas)
        lines.append(f'  subgraph s{i}["{c.name} · {c.region}"]')
        lines.append(f'    pool{i}["InferencePool {pool}<br/>exported"]')
        lines.append(f'    epp{i}["endpoint picker"]')
        lines.append(f'    vllm{i}["vLLM × {reps}<br/>{fleet.server.tpu.machine_type} {fleet.server.tpu.topology}"]')
        lines.append(f'    gcs{i}[("gs://{c.bucket}")]')
        lines.append("  end")
        lines.append(f"  imp --> pool{i}")
        lines.append(f"  pool{i} -.-> epp{i}")
        lines.append(f"  pool{i} --> vllm{i}")
        lines.append(f"  vllm{i} -.-> gcs{i}")
    return "\n".join(lines) + "\n"


def dot(fleet: Fleet) -> str:
    gw = fleet.gateway
    pool = fleet.routing.pool_name
    cfg = fleet.config_cluster
    out = ["digraph fleet {", "  rankdir=LR; node [shape=box, fontname=Helvetica, fontsize=10];",
           '  clients [shape=oval, label="clients in the VPC"];',
           f'  subgraph cluster_cfg {{ label="{cfg.name} (config)"; gw [label="Gateway {gw.name}\\n{gw.class_name}"]; '
           f'route [label="HTTPRoute {pool}"]; imp [label="GCPInferencePoolImport {pool}\\n{gw.balancing_mode}"]; }}',
           "  clients -> gw -> route -> imp;"]
    for i, c in enumerate(fleet.serving_clusters):
        out.append(f'  subgraph cluster_{i} {{ label="{c.name} ({c.region})"; pool{i} [label="InferencePool {pool}"]; '
                   f'epp{i} [label="endpoint picker"]; vllm{i} [label="vLLM x{c.replicas}\\n{fleet.server.tpu.machine_type}"]; '
                   f'gcs{i} [shape=cylinder, label="gs://{c.bucket}"]; }}')
        out.append(f"  imp -> pool{i}; pool{i} -> epp{i} [style=dashed]; pool{i} -> vllm{i}; vllm{i} -> gcs{i} [style=dashed];")
    out.append("}")
    return "\n".join(out) + "\n"


def fleet_markdown(fleet: Fleet, head: str) -> str:
    lines = ["<!-- " + head.replace("\n", " ") + " -->", ""]
    lines += plan_lines(fleet, markdown=True)
    lines += ["", "## Topology", "", "```mermaid", mermaid(fleet).rstrip(), "```", ""]
    return "\n".join(lines)
