"""Which metric feeds which policy.

* ``metrics-export``: the load balancer balances a GCPInferencePoolImport on ``gke.named_metrics.<X>`` (GCPBackendPolicy
  ``customMetrics``); GKE reads ``<X>`` only from an AutoscalingMetric that exports it (``exportName`` in the endpoints
  shape, ``gauge.name`` in the pod shape). Every serving cluster that exports the pool needs one, selecting the pool's
  pods on a port their container declares; a region without it gives the load balancer no signal.
* ``metrics-hpa-source``: every metric a HorizontalPodAutoscaler scales on has a source: a Managed Prometheus metric
  (``prometheus.googleapis.com|<name>|<kind>``) needs a PodMonitoring scraping the target's pods on a declared port;
  a custom metric needs an AutoscalingMetric exporting it for those pods; CPU and memory come from metrics-server."""

from __future__ import annotations

from ..problems import Problem, iter_objects, labels, matches, name, namespace, oid
from ..view import FleetView

RULES = {
    "metrics-export": "every gke.named_metrics.X a GCPBackendPolicy balances on is exported as X by an AutoscalingMetric in every serving cluster, selecting the pool's pods on a declared port",
    "metrics-hpa-source": "every HPA metric has a source (PodMonitoring for Managed Prometheus metrics, AutoscalingMetric for custom ones)",
}
PREFIX = "gke.named_metrics."


def _exports(metric: dict) -> list[tuple[str, dict, object]]:
    """(exported name, selector matchLabels, port) of an AutoscalingMetric, in either shape."""
    spec = metric.get("spec") or {}
    out = []
    for ep in spec.get("endpoints") or []:
        for m in ep.get("metrics") or []:
            out.append((m.get("exportName"), (spec.get("selector") or {}).get("matchLabels") or {}, ep.get("port")))
    for m in spec.get("metrics") or []:
        pod = m.get("pod") or {}
        for c in pod.get("containers") or []:
            for g in c.get("metrics") or []:
                out.append(((g.get("gauge") or {}).get("name"), (pod.get("selector") or {}).get("matchLabels") or {},
                            (c.get("endpoint") or {}).get("port")))
    return out


def _declares(template: dict, port) -> bool:
    for c in (template.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if port in (p.get("containerPort"), p.get("name")):
                return True
    return False


def _templates(docs) -> list[tuple[dict, dict]]:
    return [(o, (o.get("spec") or {}).get("template") or {}) for _, o in iter_objects(docs)
            if o.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job")]


def _metrics_by_namespace(docs) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for _, am in iter_objects(docs):
        if am.get("kind") == "AutoscalingMetric":
            out.setdefault(namespace(am), []).append(am)
    return out


def _exported_by(metrics: dict[str, list[dict]], ns: str, targets: list[dict], metric_name: str) -> bool:
    """Some AutoscalingMetric of ``ns`` exports ``metric_name`` selecting every pod template in ``targets`` on a port
    they declare."""
    if not targets:
        return False
    for am in metrics.get(ns, []):
        for exported, selector, port in _exports(am):
            if exported == metric_name and all(matches(selector, labels(t)) and _declares(t, port) for t in targets):
                return True
    return False


def check(view: FleetView) -> list[Problem]:
    problems: list[Problem] = []
    pools: dict[tuple[str, str], list[tuple[str, str, dict]]] = {}  # (ns, pool) → [(cluster, file, pool)]
    for cluster, docs in view.clusters.items():
        for f, o in iter_objects(docs):
            if o.get("kind") == "InferencePool":
                pools.setdefault((namespace(o), name(o)), []).append((cluster, f, o))
    templates_of: dict[str, dict[str, list[tuple[dict, dict]]]] = {}  # cluster → namespace → (workload, pod template)
    for cluster, docs in view.clusters.items():
        by_ns = templates_of.setdefault(cluster, {})
        for o, t in _templates(docs):
            by_ns.setdefault(namespace(o), []).append((o, t))
    metrics_of = {cluster: _metrics_by_namespace(docs) for cluster, docs in view.clusters.items()}
    for cluster, docs in view.clusters.items():
        for f, policy in iter_objects(docs):
            if policy.get("kind") != "GCPBackendPolicy":
                continue
            spec = policy.get("spec") or {}
            target = spec.get("targetRef") or {}
            wanted = [m.get("name", "")[len(PREFIX):] for m in (spec.get("default") or {}).get("customMetrics") or []
                      if str(m.get("name", "")).startswith(PREFIX)]
            for metric_name in wanted:
                for serving, pf, pool in pools.get((namespace(policy), target.get("name")), []):
                    sel = ((pool.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
                    targets = [t for _, t in templates_of[serving].get(namespace(pool), []) if matches(sel, labels(t))]
                    if not _exported_by(metrics_of[serving], namespace(pool), targets, metric_name):
                        problems.append(Problem(pf, oid(pool), "", "metrics-export",
                                                f"{oid(policy)} (in {cluster}) balances on {PREFIX}{metric_name}, but no AutoscalingMetric "
                                                f"here exports {metric_name} for this pool's pods on a port they declare: the load "
                                                "balancer gets no signal from this region", serving))
    for cluster, docs in view.clusters.items():
        templates = templates_of[cluster]
        monitors: dict[str, list[dict]] = {}
        for _, pm in iter_objects(docs):
            if pm.get("kind") == "PodMonitoring":
                monitors.setdefault(namespace(pm), []).append(pm)
        for f, hpa in iter_objects(docs):
            if hpa.get("kind") != "HorizontalPodAutoscaler":
                continue
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            target = next((t for o, t in templates.get(namespace(hpa), []) if o.get("kind") == ref.get("kind")
                           and name(o) == ref.get("name")), None)
            if target is None:
                problems.append(Problem(f, oid(hpa), "spec.scaleTargetRef", "metrics-hpa-source",
                                        f"scales {ref.get('kind')}/{ref.get('name')}, which is not in this cluster's manifests", cluster))
                continue
            for i, m in enumerate((hpa.get("spec") or {}).get("metrics") or []):
                if m.get("type") != "Pods":
                    continue
                metric = ((m.get("pods") or {}).get("metric") or {}).get("name", "")
                at = f"spec.metrics[{i}].pods.metric.name"
                if metric.startswith("prometheus.googleapis.com|"):
                    ok = any(matches(((pm.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}, labels(target))
                             and any(_declares(target, ep.get("port")) for ep in (pm.get("spec") or {}).get("endpoints") or [])
                             for pm in monitors.get(namespace(hpa), []))
                    if not ok:
                        problems.append(Problem(f, oid(hpa), at, "metrics-hpa-source",
                                                f"{metric} comes from Managed Prometheus, but no PodMonitoring scrapes "
                                                f"{ref.get('name')}'s pods on a port they declare", cluster))
                elif not _exported_by(metrics_of[cluster], namespace(hpa), [target], metric):
                    problems.append(Problem(f, oid(hpa), at, "metrics-hpa-source",
                                            f"no AutoscalingMetric exports {metric} for {ref.get('name')}'s pods", cluster))
    return problems
