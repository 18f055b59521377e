"""Fleet → plan: which charts exist, which cluster gets which chart with which values, and the objects each
cluster receives. Synthesizes every chart once (cdk8s, one jsii session) and stamps clusters from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .config.model import Cluster, Fleet, ServedModel
from .template import Conditions, Template
from .values import ValuesSpec, overrides


@dataclass(frozen=True)
class ChartPlan:
    key: str  # "serving" (one model), the model's pool name (several models), or "gateway"
    name: str  # chart name, e.g. gemma3-serving
    description: str
    spec: ValuesSpec
    defaults: dict
    templates: tuple[Template, ...]
    conds: Conditions
    values_for: Callable[[Cluster], dict]
    clusters: tuple[str, ...]  # clusters that install it
    model: ServedModel | None  # the model a serving chart serves (None: the gateway chart)

    def cluster_values(self, cluster: Cluster) -> dict:
        return self.values_for(cluster)

    def cluster_overrides(self, cluster: Cluster) -> dict:
        return overrides(self.defaults, self.values_for(cluster))

    def render(self, values: dict, helm: bool = False) -> list[tuple[str, list[dict]]]:
        """(template file, objects) for the values, in template order; helm-only templates (tests) excluded.
        ``helm``: as Helm installs them, with the Helm-only annotations (the loader's hooks)."""
        out = []
        for t in self.templates:
            objs = t.render(values, self.conds, helm=helm)
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

    def infra(self) -> dict[str, list[dict]]:
        """infra/ file → its Config Connector objects (files, the infra AppProject and validation read these)."""
        from .infra import infra_objects

        return self.memo("infra", lambda: infra_objects(self.fleet))

    def drill(self) -> dict[str, list[dict]]:
        """drill/<cluster>/client.yaml → the drill's client objects."""
        from .report import drill_objects

        return self.memo("drill", lambda: drill_objects(self.fleet))

    def charts_for(self, cluster: Cluster) -> list[ChartPlan]:
        return [c for c in self.charts if cluster.name in c.clusters]

    def cluster_objects(self, cluster: Cluster) -> list[tuple[ChartPlan, str, list[dict]]]:
        """Everything ``cluster`` receives, rendered once (files and validation read the same objects)."""
        return self.memo(f"cluster:{cluster.name}", lambda: [
            (chart, file, objs) for chart in self.charts_for(cluster)
            for file, objs in chart.render(self.overlay_values(chart, cluster))])

    def overlay_values(self, chart: ChartPlan, cluster: Cluster) -> dict:
        """The values an overlay renders with: the chart's, plus the Namespace from the cluster's first chart (a chart
        renders none by default, since the Helm runbook creates it; an overlay is the whole cluster and carries it)."""
        values = chart.cluster_values(cluster)
        owner = self.charts_for(cluster)[0] is chart
        return {**values, "namespace": {**values["namespace"], "create": owner}}


def serving_key(fleet: Fleet, served: ServedModel) -> str:
    """A model's chart key: ``serving`` for the only model (chart <fleet>-serving), else its pool (chart <fleet>-<pool>)."""
    return fleet.chart_key(served)


def release_name(fleet: Fleet, key: str) -> str:
    """The Helm release a chart is installed as: the fleet's name for the only model, else the chart's name."""
    return fleet.name if key == "serving" else f"{fleet.name}-{key}"


def build_plan(fleet: Fleet) -> Plan:
    from .tools import ensure_node

    ensure_node()
    import cdk8s

    from .charts import gateway, serving

    app = cdk8s.App()
    charts = []
    for served in fleet.models:
        # One model keeps the chart name <fleet>-serving; with several, each is <fleet>-<pool>.
        key = serving_key(fleet, served)
        chart = serving.build(app, fleet, served)
        spec = serving.spec_for(served.server.accelerator.kind)
        defaults = serving.values(fleet, served, None)
        spec.check_complete(defaults)
        acc = served.server.accelerator
        on = ("TPU" if acc.kind == "tpu" else f"{acc.count} x {acc.type}")
        charts.append(ChartPlan(
            key=key, name=f"{fleet.name}-{key}",
            description=f"Serves {served.model.name} with vLLM on {on} and exports the inference pool to the fleet.",
            spec=spec, defaults=defaults, templates=tuple(chart.templates()), conds=chart.conds,
            values_for=(lambda c, m=served: serving.values(fleet, m, c)),
            clusters=tuple(p.cluster.name for p in served.placements), model=served,
        ))
    chart = gateway.build(app, fleet)
    defaults = gateway.values(fleet, None)
    gateway.SPEC.check_complete(defaults)
    charts.append(ChartPlan(
        key="gateway", name=f"{fleet.name}-gateway",
        description="Multi-cluster Inference Gateway of the fleet's config cluster: routes to every region's exported pool.",
        spec=gateway.SPEC, defaults=defaults, templates=tuple(chart.templates()), conds=chart.conds,
        values_for=(lambda c: gateway.values(fleet, c)), clusters=(fleet.gateway.config_cluster,), model=None,
    ))
    return Plan(fleet=fleet, charts=tuple(charts))
