"""The GCP side of the fleet as Config Connector objects: one module per concept, each a function of the
``Fleet`` returning plain objects (no cdk8s: nothing here is a Helm template). ``infra_objects`` gathers them into
the files of the ``infra/`` Kustomize root, which the management (Config Controller) cluster syncs.

What Config Connector cannot express (the HPA performance profile, the managed-DRANET accelerator network profile
of a node pool, CRDs on the target clusters, the Hugging Face token Secret) is in FLEET.md's runbook instead."""

from __future__ import annotations

from ..config.model import Fleet
from . import addresses, clusters, dns, hub, identity, network, reservations, services, storage

# Output file (under infra/) → builder. Order is the order resources are listed in the kustomization.
FILES = (
    ("services.yaml", services.objects),
    ("network.yaml", network.objects),
    ("identity.yaml", identity.objects),
    ("clusters.yaml", clusters.objects),
    ("fleet.yaml", hub.objects),
    ("storage.yaml", storage.objects),
    ("addresses.yaml", addresses.objects),
    ("dns.yaml", dns.objects),
    ("reservations.yaml", reservations.objects),
)


def infra_objects(fleet: Fleet) -> dict[str, list[dict]]:
    """``infra/<file>`` → objects; files without objects are left out."""
    out = {}
    for file, build in FILES:
        objs = build(fleet)
        if objs:
            out[f"infra/{file}"] = objs
    return out
