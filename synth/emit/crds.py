"""CRDs a fleet needs that GKE does not install, shipped with the workloads from their pinned upstream files.

GKE installs the InferencePool CRD, the Gateway API CRDs and its own policy CRDs (installing upstream copies over
them is refused advice); it does not install InferenceObjective. So the serving charts carry that CRD in ``crds/``
(Helm installs it before the templates) and every overlay in ``crds/`` (phase ``crds``: Argo CD sync wave -2,
Config Sync applies CRDs first, ``kubectl apply -k -l inference-fleet.dev/phase=crds`` first). The bytes come from
schemas/crds.json's pinned URL (mirror or cache), checked against its sha256; only the phase label and wave are
added."""

from __future__ import annotations

import yaml

from ..bringup import phases
from ..plan import ChartPlan
from ..upstream import crd_sources, crd_text

# Kinds the charts may emit whose CRD GKE does not install.
SHIPPED = ("InferenceObjective",)


def chart_crd_sources(chart: ChartPlan) -> list[dict]:
    """The pinned sources of the CRDs ``chart``'s templates need (whatever its values), in a stable order."""
    wanted = {(t.obj["apiVersion"].rpartition("/")[0], t.obj["apiVersion"].rpartition("/")[2], t.obj["kind"])
              for t in chart.templates if t.obj["kind"] in SHIPPED}
    sources = crd_sources()
    return [sources[key] for key in sorted(wanted)]


def cluster_crds(plan, cluster) -> list[tuple[str, dict]]:
    """(file name, CRD object) of every CRD ``cluster``'s overlay ships, once each (built once per plan)."""
    def build():
        sources = {file_name(src): src for chart in plan.charts_for(cluster) for src in chart_crd_sources(chart)}
        return [(f, crd_object(src)) for f, src in sorted(sources.items())]

    return plan.memo(f"crds:{cluster.name}", build)


def file_name(source: dict) -> str:
    return source["mirror"].rpartition("/")[2]


def crd_object(source: dict) -> dict:
    obj = yaml.load(crd_text(source), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    obj.pop("status", None)
    phases.stamp(obj)
    return obj


def provenance(source: dict) -> str:
    return f"From {source['url']} ({source['tag']}, sha256 {source['sha256']}); synth adds only the bring-up phase."
