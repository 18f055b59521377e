"""The fleet file as typed, immutable objects. Defaults live in schemas/fleet.schema.json and are applied by
the loader before these are built, so every field here is always set."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Project:
    id: str
    number: str


@dataclass(frozen=True)
class Model:
    name: str
    bucket: str
    path: str
    max_model_len: int


@dataclass(frozen=True)
class Tpu:
    machine_type: str
    topology: str
    accelerator: str  # node label value, e.g. tpu-v6e-slice
    chips: int


@dataclass(frozen=True)
class Autoscaling:
    enabled: bool
    min_replicas: int
    max_replicas: int
    queue_depth_target: int


@dataclass(frozen=True)
class Dranet:
    enabled: bool
    device_class: str


@dataclass(frozen=True)
class GcsFuse:
    cpu_limit: str
    memory_limit: str
    ephemeral_storage_limit: str


@dataclass(frozen=True)
class Server:
    image: str
    tpu: Tpu
    replicas: int
    cpu: str
    memory: str
    gpu_memory_utilization: float
    startup_timeout_seconds: int
    termination_grace_period_seconds: int
    extra_args: tuple[str, ...]
    requests_per_second_per_replica: float
    autoscaling: Autoscaling
    dranet: Dranet
    gcs_fuse: GcsFuse


@dataclass(frozen=True)
class Objective:
    name: str
    priority: int


@dataclass(frozen=True)
class Routing:
    api_profile: str  # "gke" | "llm-d"
    pool_name: str
    failure_mode: str
    picker_image: str
    picker_replicas: int
    objectives: tuple[Objective, ...]


@dataclass(frozen=True)
class Scope:
    region: str
    capacity_scaler_percent: int | None
    backend_preference: str | None


@dataclass(frozen=True)
class Gateway:
    config_cluster: str
    name: str
    class_name: str
    port: int
    path_prefix: str
    timeout_sec: int
    balancing_mode: str
    max_utilization_percent: int
    max_in_flight_requests_per_endpoint: int
    expected_peak_rps: float
    scopes: tuple[Scope, ...]


@dataclass(frozen=True)
class Cluster:
    name: str
    region: str
    zone: str
    serving: bool
    replicas: int  # effective (override or server.replicas)
    max_replicas: int  # effective autoscaling ceiling
    bucket: str  # effective (override or model.bucket)
    proxy_subnet: str | None


@dataclass(frozen=True)
class Delivery:
    repo_url: str
    revision: str
    path: str
    argocd_namespace: str
    region_order: tuple[str, ...]
    config_sync_auth: str
    gcp_service_account_email: str
    secret_name: str
    period: str

    def overlay_dir(self, cluster: str) -> str:
        return f"overlays/{cluster}" if self.path == "." else f"{self.path}/overlays/{cluster}"


@dataclass(frozen=True)
class Fleet:
    name: str
    project: Project
    namespace: str
    model: Model
    server: Server
    routing: Routing
    gateway: Gateway
    clusters: tuple[Cluster, ...]
    delivery: Delivery

    @property
    def serving_clusters(self) -> tuple[Cluster, ...]:
        return tuple(c for c in self.clusters if c.serving)

    @property
    def serving_regions(self) -> tuple[str, ...]:
        seen: list[str] = []
        for c in self.serving_clusters:
            if c.region not in seen:
                seen.append(c.region)
        return tuple(seen)

    @property
    def config_cluster(self) -> Cluster:
        return next(c for c in self.clusters if c.name == self.gateway.config_cluster)

    def roles(self, cluster: Cluster) -> tuple[str, ...]:
        return (("serving",) if cluster.serving else ()) + (("config",) if cluster.name == self.gateway.config_cluster else ())

    @property
    def server_name(self) -> str:
        """Name of the model-server Deployment, Service and Kubernetes service account."""
        return f"{self.routing.pool_name}-vllm"

    def workload_identity_member(self, namespace: str) -> str:
        """The IAM principal of the model server's Kubernetes service account (no Google service account)."""
        return (f"principal://iam.googleapis.com/projects/{self.project.number}/locations/global/workloadIdentityPools/"
                f"{self.project.id}.svc.id.goog/subject/ns/{namespace}/sa/{self.server_name}")
