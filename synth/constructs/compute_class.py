"""Accelerator capacity as a GKE ComputeClass: GKE creates the TPU v6e (or GPU) node pools itself, trying each
capacity option in order (reservation, on-demand, Spot, flex-start), with managed DRANET on TPU nodes.

Why a ComputeClass and not a Config Connector node pool: the managed-DRANET accelerator network profile
(gcloud --accelerator-network-profile=auto) is not a field of Config Connector's ContainerNodePool (v1.155.1); a
ComputeClass sets it per priority (``acceleratorNetworkProfile: auto``) with ``nodePoolConfig.dra.networking``.
Field paths: GoogleCloudPlatform/compute-class-api (types.go at 8067eae); the DRANET sample
kubernetes-engine-samples ai-ml/gke-ray/rayserve/llm/tpu/networking/dranet-compute-class.yaml. Custom ComputeClasses
are GA on Standard from 1.30.3-gke.1451000 and create pools per class without cluster-wide node auto-provisioning
from 1.33.3-gke.1136000; the DRANET fields are absent from the API types of the 1.34.0 tag, so expect a Rapid 1.35
cluster. On older clusters, create the pool with gcloud instead (FLEET.md runbook) and give it the class's label and
taint.

GPU priorities carry ``gpu{type, count, driverVersion}`` with the machine type; GKE installs the NVIDIA driver on the
nodes it creates (``driverVersion`` default, latest or autoinstall-disabled: compute-class-api types.go) and taints
them ``nvidia.com/gpu=present:NoSchedule`` when the cluster has non-GPU pools (GKE "Run GPUs in Standard node
pools")."""

from __future__ import annotations

import copy

from constructs import Construct

from .base import ManifestChart, raw_object
from ..template import Cond, splice


class AcceleratorComputeClass(Construct):
    """Props:
      name: value reference; the class name pods select with ``cloud.google.com/compute-class``.
      labels: labels of the object.
      priorities_path: values path of the cluster's priorities, already shaped (one per capacity option: machine
        type, ``tpu{type, count, topology}``, Spot / flex-start / a Specific reservation, the zone).
      service_account: value reference; the least-privilege node service account (it writes the metrics
        CUSTOM_METRICS balancing reads).
      dranet: condition under which nodes get managed DRANET.
      when: condition under which the class exists (a cluster may use a pre-created pool instead).
      description: what the class is for (shown by kubectl describe).

    ``whenUnsatisfiable: DoNotScaleUp`` is explicit: with no option available GKE waits rather than placing
    model servers elsewhere (the field is required by the CRD). ``activeMigration`` stays off: moving a serving pod
    back to a preferred option would evict it."""

    def __init__(self, scope: Construct, id: str, *, name: str, labels: dict, priorities_path: str,
                 service_account: str, dranet: Cond, when: Cond,
                 description: str = "TPU v6e capacity for the model servers, tried in order.") -> None:
        super().__init__(scope, id)
        chart = ManifestChart.of(self)
        obj = raw_object(self, "class", api_version="cloud.google.com/v1", kind="ComputeClass", name=name, labels=labels,
                         body={"spec": {
                             "description": description,
                             "priorities": [splice(priorities_path)],
                             "nodePoolAutoCreation": {"enabled": True},
                             "nodePoolConfig": {
                                 "serviceAccount": service_account,
                                 "workloadMetadata": "GKE_METADATA",
                                 chart.conds.when(dranet): {"dra": {"networking": {"enabled": True}}},
                             },
                             "whenUnsatisfiable": "DoNotScaleUp",
                         }})
        chart.emit(obj, "computeclass.yaml", when=when,
                   comment=f"Cluster-scoped: GKE creates the {'TPU' if 'TPU' in description else 'GPU'} node pools from this class (no node pool object).")


def priorities(*, machine_type: str, accelerator: str, chips: int, topology: str, zone: str, project: str,
               capacity, dranet: bool) -> list[dict]:
    """The TPU ComputeClass priorities of one cluster, one per capacity option in order."""
    shape: dict = {"machineType": machine_type, "tpu": {"type": accelerator, "count": chips, "topology": topology}}
    if dranet:
        shape["acceleratorNetworkProfile"] = "auto"
    return _options(shape, zone=zone, project=project, capacity=capacity)


def gpu_priorities(*, machine_type: str, gpu_type: str, count: int, driver_version: str, zone: str, project: str,
                   capacity) -> list[dict]:
    """The GPU ComputeClass priorities of one cluster, one per capacity option in order."""
    shape = {"machineType": machine_type, "gpu": {"type": gpu_type, "count": count, "driverVersion": driver_version}}
    return _options(shape, zone=zone, project=project, capacity=capacity)


def _options(shape: dict, *, zone: str, project: str, capacity) -> list[dict]:
    """One priority per capacity option. Reservations name their zone inside ``reservations.specific[].zones`` (GKE
    refuses ``location.zones`` together with a Specific reservation); the other options pin ``location.zones`` to the
    cluster's accelerator zone."""
    out = []
    for opt in capacity:
        p = copy.deepcopy(shape)  # no shared nodes: the YAML would alias them
        if opt.type == "reservation":
            p["reservations"] = {"affinity": "Specific", "specific": [
                {"name": opt.reservation, "project": opt.project or project, "zones": [zone]}]}
        else:
            p["location"] = {"zones": [zone]}
            if opt.type == "spot":
                p["spot"] = True
            elif opt.type == "flexStart":
                p["flexStart"] = {"enabled": True}
        out.append(p)
    return out
