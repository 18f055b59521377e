"""The validation input as the rules read it: what each cluster receives, and the fleet's infra (the Config
Connector objects of the management cluster, from whatever input they came in)."""

from __future__ import annotations

from functools import cached_property

from .problems import is_infra, iter_objects, name

Docs = list[tuple[str, dict]]


class FleetView:
    def __init__(self, inputs: dict[str, Docs], delivery: Docs = (), releases: dict[str, Docs] | None = None,
                 runbook_secrets: frozenset = frozenset()) -> None:
        """``delivery``: the Argo CD / Config Sync objects that deliver the clusters' objects; ``releases``: Helm
        releases as Helm installs them (label → objects, hooks included); ``runbook_secrets``: (namespace, name) of
        the Secrets a runbook step creates."""
        self.inputs = inputs
        self.delivery = list(delivery)
        self.releases = dict(releases or {})
        self.runbook_secrets = frozenset(runbook_secrets)
        self.clusters: dict[str, Docs] = {}
        self.infra: Docs = []
        for cluster, docs in inputs.items():
            kept = []
            for f, o in iter_objects(docs):
                (self.infra if is_infra(o) else kept).append((f, o))
            if kept or not any(is_infra(o) for _, o in iter_objects(docs)):
                self.clusters[cluster] = kept

    def objects(self, cluster: str, kind: str) -> Docs:
        return [(f, o) for f, o in self.clusters.get(cluster, []) if o.get("kind") == kind]

    def kcc(self, kind: str) -> Docs:
        return [(f, o) for f, o in self.infra if o.get("kind") == kind]

    @cached_property
    def kcc_index(self) -> dict[tuple[str, str], tuple[str, dict]]:
        """(kind, name) → object, for resolving Config Connector references by name."""
        return {(o.get("kind"), name(o)): (f, o) for f, o in self.infra}

    def resolve(self, kind: str, ref: dict | None) -> dict | None:
        if not isinstance(ref, dict) or "name" not in ref:
            return None
        hit = self.kcc_index.get((kind, ref["name"]))
        return hit[1] if hit else None

    @cached_property
    def managed_clusters(self) -> dict[str, dict]:
        """GKE cluster name (resourceID or name) → its ContainerCluster."""
        return {(o.get("spec") or {}).get("resourceID") or name(o): o for _, o in self.kcc("ContainerCluster")}

    @cached_property
    def proxy_only_subnets(self) -> dict[str, list[tuple[str, dict]]]:
        """Region → the GLOBAL_MANAGED_PROXY subnets in it."""
        out: dict[str, list[tuple[str, dict]]] = {}
        for f, o in self.kcc("ComputeSubnetwork"):
            spec = o.get("spec") or {}
            if spec.get("purpose") == "GLOBAL_MANAGED_PROXY":
                out.setdefault(spec.get("region", ""), []).append((f, o))
        return out

    def proxy_only_cidrs(self) -> list[str]:
        return [(o.get("spec") or {}).get("ipCidrRange", "") for subs in self.proxy_only_subnets.values() for _, o in subs]

    def has(self, cluster: str, kind: str) -> bool:
        return any(o.get("kind") == kind for _, o in self.clusters.get(cluster, []))

