"""Pictures of the fleet: a Mermaid flowchart for FLEET.md and Graphviz DOT for `make diagram`."""

from __future__ import annotations

from ..config.model import Fleet


def mermaid(fleet: Fleet) -> str:
    gw = fleet.gateway
    pool = fleet.routing.pool_name
    lines = ["flowchart LR", "  clients([clients in the VPC])"]
    if fleet.dns.enabled:
        lines.append(f'  dns{{{{"{fleet.dns.fqdn}<br/>Cloud DNS {fleet.dns.policy}, health-checked"}}}}')
    cfg = fleet.config_cluster
    lines.append(f'  subgraph cfg["{cfg.name} · config cluster"]')
    lines.append(f'    gw["Gateway {gw.name}<br/>{gw.class_name}"]')
    lines.append(f'    route["HTTPRoute {pool}"]')
    lines.append(f'    imp["GCPInferencePoolImport {pool}<br/>{gw.balancing_mode}"]')
    lines.append("  end")
    lines.append("  clients --> dns --> gw --> route --> imp" if fleet.dns.enabled else "  clients --> gw --> route --> imp")
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
