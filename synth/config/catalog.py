"""Facts the fleet file is checked against: where TPU v6e exists, what each machine type holds, and the
pinned images of each routing profile. Update here when Google publishes new zones or releases."""

from __future__ import annotations

# Zones that offer TPU v6e (Cloud TPU "regions and zones" page).
TPU_V6E_ZONES = frozenset(
    {
        "us-central1-b",
        "us-east1-d",
        "us-east5-a",
        "us-east5-b",
        "europe-west4-a",
        "asia-northeast1-b",
        "southamerica-east1-c",
    }
)

# Single-host v6e machine types: chips per node, and the topology that fills the node.
MACHINE_CHIPS = {"ct6e-standard-1t": 1, "ct6e-standard-4t": 4, "ct6e-standard-8t": 8}
TOPOLOGY_CHIPS = {"1x1": 1, "2x2": 4, "2x4": 8}
TPU_ACCELERATOR = "tpu-v6e-slice"

# Host resources of each machine type (for request sanity checks).
MACHINE_CPU = {"ct6e-standard-1t": 44, "ct6e-standard-4t": 180, "ct6e-standard-8t": 180}
MACHINE_MEMORY_GI = {"ct6e-standard-1t": 176, "ct6e-standard-4t": 720, "ct6e-standard-8t": 1440}

# Routing API profiles: InferenceObjective group/version and the endpoint picker that reads it.
PROFILES = {
    "gke": {
        "objective_api_version": "inference.networking.x-k8s.io/v1alpha2",
        "objective_group": "inference.networking.x-k8s.io",
        "picker_image": "registry.k8s.io/gateway-api-inference-extension/epp:v1.5.0",
        "config_api_version": "inference.networking.x-k8s.io/v1alpha1",
    },
    "llm-d": {
        "objective_api_version": "llm-d.ai/v1alpha2",
        "objective_group": "llm-d.ai",
        "picker_image": "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0",
        "config_api_version": "llm-d.ai/v1alpha1",
    },
}

# GKE floor for the whole stack (managed DRANET on Standard).
GKE_MIN_VERSION = "1.34.1-gke.1829001"
