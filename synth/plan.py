"""Fleet → plan: which charts exist, which cluster gets which chart with which values, and the objects each
cluster receives. Synthesizes every chart once (cdk8s, one jsii session) and stamps clusters from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .config.model import Cluster, Fleet
from .template import Conditions, Template
from .values import ValuesSpec, overrides


@dataclass(frozen=True)
class ChartPlan:
    key: str  # "serving" | "gateway"
    name: str  # chart name, e.g. gemma3-serving
    description: str
    spec: ValuesSpec
    defaults: dict
    templates: tuple[Template, ...]
    conds: Conditions
    values_for: Callable[[Cluster], dict]
    clusters: tuple[str, ...]  # clusters that install it

    def cluster_values(self, cluster: Cluster) -> dict:
        return self.values_for(cluster)

    def cluster_overrides(self, cluster: Cluster) -> dict:
        return overrides(self.defaults, self.values_for(cluster))

    def render(self, values: dict) -> list[tuple[str, list[dict]]]:
        """(template file, objects) for the values, in template order; helm-only templates excluded."""
        out = []
        for t in self.templates:
            objs = t.render(values, self.conds)
            if objs:
                out.append((t.file, objs))
        return out


@dataclass(frozen=True)
class Plan:
    fleet: Fleet
    charts: tuple[ChartPlan, ...]
    _rendered: dict = field(default_factory=dict, compare=False, repr=False)

    def memo(self, key: str, build: Callable[[], object]) -> object:
        """Something derived from the plan, built once (files and validation read the same objects)."""
        if key not in self._rendered:
            self._rendered[key] = build()
        return self._rendered[key]

    def charts_for(self, cluster: Cluster) -> list[ChartPlan]:
        return [c for c in self.charts if cluster.name in c.clusters]

    def cluster_objects(self, cluster: Cluster) -> list[tuple[ChartPlan, str, list[dict]]]:
        """Everything ``cluster`` receives, rendered once (files and validation read the same objects)."""
        return self.memo(f"cluster:{cluster.name}", lambda: [
            (chart, file, objs) for chart in self.charts_for(cluster)
            for file, objs in chart.render(chart.cluster_values(cluster))])


def build_plan(fleet: Fleet) -> Plan:
    from .tools import ensure_node

    ensure_node()
    import cdk8s

    from .charts import gateway, serving

    app = cdk8s.App()
    serving_chart = serving.build(app, fleet)
    gateway_chart = gateway.build(app, fleet)
    charts = []
    for key, module, chart, members, what in (
        ("serving", serving, serving_chart, tuple(c.name for c in fleet.serving_clusters),
         f"Serves {fleet.model.name} with vLLM on TPU and exports the inference pool to the fleet."),
        ("gateway", gateway, gateway_chart, (fleet.gateway.config_cluster,),
         "Multi-cluster Inference Gateway of the fleet's config cluster: routes to every region's exported pool."),
    ):
        defaults = module.values(fleet, None)
        module.SPEC.check_complete(defaults)
        charts.append(ChartPlan(
            key=key,
            name=f"{fleet.name}-{key}",
            description=what,
            spec=module.SPEC,
            defaults=defaults,
            templates=tuple(chart.templates()),
            conds=chart.conds,
            values_for=(lambda c, m=module: m.values(fleet, c)),
            clusters=members,
        ))
    return Plan(fleet=fleet, charts=tuple(charts))
