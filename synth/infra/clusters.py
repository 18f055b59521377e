"""One GKE Standard cluster per fleet cluster, and its system node pool.

Cluster (ContainerCluster, Config Connector v1.155.1 field paths): regional, on the fleet VPC (VPC-native, the
cluster's subnet and its pods/services ranges), Dataplane V2 (``ADVANCED_DATAPATH``, creation-time only; managed
DRANET needs it), Workload Identity, Gateway API standard channel with the HTTP load balancing add-on, the GCS FUSE
CSI driver, Managed Prometheus, private nodes, the release channel and minimum version of the fleet file. The
default node pool is removed (``cnrm.cloud.google.com/remove-default-node-pool``): nodes come from the system pool
below and the TPU ComputeClass. Not expressible here, so in FLEET.md's runbook: the HPA performance profile
(``--hpa-profile=performance``, which AutoscalingMetric needs) and fleet registration (GKEHubMembership, fleet.yaml).

System pool (ContainerNodePool): in the cluster's TPU zone, autoscaled between the fleet file's bounds, the least
privilege node service account, GKE metadata server. It holds the endpoint picker, the weights loader and GKE's
system pods; the TPU nodes are tainted and hold only model servers."""

from __future__ import annotations

from ..config.model import Fleet
from .common import ABANDON, network_name, node_subnet, obj, ref

API = "container.cnrm.cloud.google.com/v1beta1"


def pool_object_name(cluster: str, pool: str) -> str:
    return f"{cluster}-{pool}"


def objects(fleet: Fleet) -> list[dict]:
    out = []
    sa = ref(fleet.node_service_account_id)
    node_config = {"serviceAccountRef": sa, "workloadMetadataConfig": {"mode": "GKE_METADATA"},
                   "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
                   "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True}}
    for c in fleet.clusters:
        spec: dict = {
            "location": c.region,
            "releaseChannel": {"channel": fleet.gke.release_channel},
            "initialNodeCount": 1,
            "nodeConfig": {"machineType": fleet.system_pool.machine_type, **node_config},
            "datapathProvider": "ADVANCED_DATAPATH",
            "networkingMode": "VPC_NATIVE",
            "networkRef": ref(network_name(fleet)),
            "subnetworkRef": ref(node_subnet(c.name)),
            "ipAllocationPolicy": {"clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"},
            "workloadIdentityConfig": {"workloadPool": f"{fleet.project.id}.svc.id.goog"},
            "gatewayApiConfig": {"channel": "CHANNEL_STANDARD"},
            "addonsConfig": {"httpLoadBalancing": {"disabled": False}, "horizontalPodAutoscaling": {"disabled": False},
                             "gcsFuseCsiDriverConfig": {"enabled": True}},
            "monitoringConfig": {"enableComponents": ["SYSTEM_COMPONENTS"], "managedPrometheus": {"enabled": True}},
            "loggingConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "WORKLOADS"]},
            "enableShieldedNodes": True,
        }
        if fleet.gke.min_version:  # an explicit pin of the user's; by default the channel chooses
            spec["minMasterVersion"] = fleet.gke.min_version
        if fleet.network.private_nodes:
            spec["privateClusterConfig"] = {"enablePrivateNodes": True, "enablePrivateEndpoint": False}
        out.append(obj(fleet, API, "ContainerCluster", c.name, spec, annotations={
            **ABANDON, "cnrm.cloud.google.com/remove-default-node-pool": "true"}))
        pool = fleet.system_pool
        out.append(obj(fleet, API, "ContainerNodePool", pool_object_name(c.name, pool.name), {
            "resourceID": pool.name,
            "clusterRef": ref(c.name),
            "location": c.region,
            "nodeLocations": [c.zone],
            "initialNodeCount": pool.min_nodes,
            "autoscaling": {"minNodeCount": pool.min_nodes, "maxNodeCount": pool.max_nodes},
            "management": {"autoRepair": True, "autoUpgrade": True},
            "nodeConfig": {"machineType": pool.machine_type, "diskSizeGb": pool.disk_size_gb, "diskType": "pd-balanced",
                           **node_config},
        }))
    return out
