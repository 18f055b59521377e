"""GKE managed DRANET: a resource.k8s.io/v1 ResourceClaimTemplate for the node's extra NICs."""

from __future__ import annotations

from constructs import Construct

from .base import ManifestChart, raw_object
from ..template import Cond


class DranetClaim(Construct):
    """Claims every extra NIC of the node (``allocationMode: All``) from a GKE-installed DeviceClass.

    cdk8s-plus-30 only knows the pre-1.31 DRA shape (``resource.k8s.io/v1alpha2``, ``source:``), which a 1.34
    API server rejects, so the template and the pod references are emitted raw.

    Props:
      name, namespace, labels: of the template (namespace must be the pod's).
      device_class: value reference to the DeviceClass (``netdev.google.com`` for TPU hosts).
      when: condition under which the claim exists (``server.dranet.enabled``).

    Exposes ``pod_claim`` (for ``spec.resourceClaims``) and ``container_claim`` (for ``resources.claims``).
    """

    CLAIM = "netdevs"

    def __init__(self, scope: Construct, id: str, *, name: str, namespace: str, labels: dict,
                 device_class: str, when: Cond) -> None:
        super().__init__(scope, id)
        obj = raw_object(
            self, "template", api_version="resource.k8s.io/v1", kind="ResourceClaimTemplate", name=name,
            namespace=namespace, labels=labels,
            body={"spec": {"spec": {"devices": {"requests": [
                {"name": "nics", "exactly": {"deviceClassName": device_class, "allocationMode": "All"}}
            ]}}}},
        )
        ManifestChart.of(self).emit(obj, "resourceclaimtemplate.yaml", when=when)
        self.pod_claim = {"name": self.CLAIM, "resourceClaimTemplateName": name}
        self.container_claim = {"name": self.CLAIM}
