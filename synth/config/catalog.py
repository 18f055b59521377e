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

# Container image references: [registry[:port]/]path[:tag][@sha256:digest]. One definition for the loader, the
# charts' values schema and the security rule.
IMAGE_PATTERN = (r"^(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9._/-]+(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
                 r"(?:@sha256:[a-f0-9]{64})?$")
# Tags that move under a running fleet: regions could run different code.
MOVING_TAGS = frozenset({"latest", "nightly", "main", "master", "edge", "dev", "stable"})


def image_pin_problem(image: str) -> str | None:
    """Why ``image`` is not a pinned reference, or None when it is."""
    import re

    if not re.fullmatch(IMAGE_PATTERN[1:-1], image):
        return f"{image!r} is not an image reference (registry/repository:tag or @sha256:digest)"
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    if not tag:
        return f"{image!r} has no tag; pin a release tag or a digest"
    if tag in MOVING_TAGS:
        return f"{image!r} uses the moving tag {tag!r}; pin a release tag or a digest so regions cannot drift"
    return None
