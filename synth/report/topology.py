"""Pictures of the fleet: a Mermaid flowchart for FLEET.md and Graphviz DOT for `make diagram`."""

from __future__ import annotations

from ..config.model import Fleet, Placement, ServedModel


def _replicas(served: ServedModel, place: Placement) -> str:
    return f"{place.min_replicas}-{place.max_replicas}" if served.autoscaled else str(place.replicas)


def _shape(served: ServedModel) -> str:
    acc = served.server.accelerator
    return f"{acc.machine_type} {acc.topology}" if acc.kind == "tpu" else f"{acc.machine_type} {acc.count}x {acc.type}"


def mermaid(fleet: Fleet) -> str:
    gw = fleet.gateway
    several = fleet.several
    lines = ["flowchart LR", "  clients([clients in the VPC])"]
    if fleet.dns.enabled:
        lines.append(f'  dns{{{{"{fleet.dns.fqdn}<br/>Cloud DNS {fleet.dns.policy}, health-checked"}}}}')
    cfg = fleet.config_cluster
    lines.append(f'  subgraph cfg["{cfg.name} · config cluster"]')
    lines.append(f'    gw["Gateway {gw.name}<br/>{gw.class_name}"]')
    for k, m in enumerate(fleet.models):
        s = f"_{k}" if several else ""
        lines.append(f'    route{s}["HTTPRoute {m.pool}"]')
        lines.append(f'    imp{s}["GCPInferencePoolImport {m.pool}<br/>{gw.balancing_mode}"]')
    lines.append("  end")
    entry = "  clients --> dns --> gw" if fleet.dns.enabled else "  clients --> gw"
    if several:
        lines.append(entry)
        lines += [f'  gw -- "{m.model.name}" --> route_{k} --> imp_{k}' for k, m in enumerate(fleet.models)]
    else:
        lines.append(entry + " --> route --> imp")
    for i, c in enumerate(fleet.serving_clusters):
        lines.append(f'  subgraph s{i}["{c.name} · {c.region}"]')
        for k, m in enumerate(fleet.models_in(c)):
            s = f"{i}_{fleet.models.index(m)}" if several else f"{i}"
            place = m.placement(c)
            lines.append(f'    pool{s}["InferencePool {m.pool}<br/>exported"]')
            lines.append(f'    epp{s}["endpoint picker"]')
            lines.append(f'    vllm{s}["vLLM × {_replicas(m, place)}<br/>{_shape(m)}"]')
        lines.append(f'    gcs{i}[("gs://{c.bucket}")]')
        lines.append("  end")
        for m in fleet.models_in(c):
            s = f"{i}_{fleet.models.index(m)}" if several else f"{i}"
            imp = f"imp_{fleet.models.index(m)}" if several else "imp"
            lines.append(f"  {imp} --> pool{s}")
            lines.append(f"  pool{s} -.-> epp{s}")
            lines.append(f"  pool{s} --> vllm{s}")
            lines.append(f"  vllm{s} -.-> gcs{i}")
    return "\n".join(lines) + "\n"


def dot(fleet: Fleet) -> str:
    gw = fleet.gateway
    several = fleet.several
    cfg = fleet.config_cluster
    routes = " ".join(
        f'route{f"_{k}" if several else ""} [label="HTTPRoute {m.pool}"]; '
        f'imp{f"_{k}" if several else ""} [label="GCPInferencePoolImport {m.pool}\\n{gw.balancing_mode}"];'
        for k, m in enumerate(fleet.models))
    out = ["digraph fleet {", "  rankdir=LR; node [shape=box, fontname=Helvetica, fontsize=10];",
           '  clients [shape=oval, label="clients in the VPC"];',
           f'  subgraph cluster_cfg {{ label="{cfg.name} (config)"; gw [label="Gateway {gw.name}\\n{gw.class_name}"]; '
           f'{routes} }}']
    if several:
        out.append("  clients -> gw;")
        out += [f'  gw -> route_{k} [label="{m.model.name}"]; route_{k} -> imp_{k};' for k, m in enumerate(fleet.models)]
    else:
        out.append("  clients -> gw -> route -> imp;")
    for i, c in enumerate(fleet.serving_clusters):
        nodes = []
        edges = []
        for m in fleet.models_in(c):
            s = f"{i}_{fleet.models.index(m)}" if several else f"{i}"
            imp = f"imp_{fleet.models.index(m)}" if several else "imp"
            place = m.placement(c)
            nodes.append(f'pool{s} [label="InferencePool {m.pool}"]; epp{s} [label="endpoint picker"]; '
                         f'vllm{s} [label="vLLM x{place.replicas}\\n{m.server.accelerator.machine_type}"];')
            edges.append(f"  {imp} -> pool{s}; pool{s} -> epp{s} [style=dashed]; pool{s} -> vllm{s}; vllm{s} -> gcs{i} [style=dashed];")
        out.append(f'  subgraph cluster_{i} {{ label="{c.name} ({c.region})"; {" ".join(nodes)} '
                   f'gcs{i} [shape=cylinder, label="gs://{c.bucket}"]; }}')
        out += edges
    out.append("}")
    return "\n".join(out) + "\n"
