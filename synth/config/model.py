"""The fleet file as typed, immutable objects. Defaults live in schemas/fleet.schema.json and are applied by
the loader before these are built, so every field here is always set."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Project:
    id: str
    number: str


@dataclass(frozen=True)
class HuggingFaceSource:
    repo: str
    revision: str
    token_secret: str
    token_key: str


@dataclass(frozen=True)
class GcsSource:
    uri: str

    @property
    def bucket(self) -> str:
        return self.uri[len("gs://"):].split("/", 1)[0]

    @property
    def prefix(self) -> str:
        rest = self.uri[len("gs://"):].partition("/")[2]
        return rest.strip("/")


@dataclass(frozen=True)
class Adapter:
    """A LoRA adapter: a model name clients send, served by its base model's pool from a folder in the bucket."""

    name: str
    path: str


@dataclass(frozen=True)
class Lora:
    adapters: tuple[Adapter, ...]
    max_loras: int
    max_rank: int


@dataclass(frozen=True)
class Model:
    name: str
    bucket: str | None  # fleet-wide bucket (clusters may name their own)
    path: str
    max_model_len: int
    size_gi: int
    source: HuggingFaceSource | GcsSource | None
    loader: bool
    lora: Lora | None

    @property
    def served_names(self) -> tuple[str, ...]:
        """Every model name clients may send to this model's pool: its own and its adapters'."""
        return (self.name,) + tuple(a.name for a in (self.lora.adapters if self.lora else ()))


@dataclass(frozen=True)
class Capacity:
    """One ComputeClass priority: where TPU nodes come from."""

    type: str  # reservation | onDemand | spot | flexStart
    reservation: str | None = None
    project: str | None = None
    create: int | None = None  # nodes to reserve with Config Connector


@dataclass(frozen=True)
class Tpu:
    machine_type: str
    topology: str
    accelerator: str  # node label value, e.g. tpu-v6e-slice
    chips: int
    capacity: tuple[Capacity, ...]

    kind = "tpu"

    @property
    def devices(self) -> int:
        """Accelerator devices per replica (--tensor-parallel-size)."""
        return self.chips


@dataclass(frozen=True)
class Gpu:
    type: str  # node label cloud.google.com/gke-accelerator, e.g. nvidia-l4
    count: int
    machine_type: str
    driver_version: str
    capacity: tuple[Capacity, ...]

    kind = "gpu"

    @property
    def devices(self) -> int:
        return self.count


@dataclass(frozen=True)
class Rollout:
    max_surge: int
    max_unavailable: int

    @staticmethod
    def automatic(replicas: int) -> "Rollout":
        """One pod at a time while others serve; with a single replica, the new pod first."""
        return Rollout(0, 1) if replicas >= 2 else Rollout(1, 0)


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
class Extensions:
    """Additions to the model server's pods (fleet file ``server.extensions``), as the chart's values hold them. Each
    field is JSON text of plain data, so the configuration stays immutable and hashable; ``values()`` gives the data."""

    pod_annotations: str = "{}"
    pod_labels: str = "{}"
    tolerations: str = "[]"
    env: str = "[]"
    volumes: str = "[]"
    volume_mounts: str = "[]"
    sidecars: str = "[]"

    FIELDS = (("podAnnotations", "pod_annotations"), ("podLabels", "pod_labels"), ("tolerations", "tolerations"),
              ("env", "env"), ("volumes", "volumes"), ("volumeMounts", "volume_mounts"), ("sidecars", "sidecars"))

    @staticmethod
    def of(data: dict) -> "Extensions":
        import json

        return Extensions(**{attr: json.dumps(data.get(key, {} if key.startswith("pod") else []), sort_keys=True)
                             for key, attr in Extensions.FIELDS})

    def values(self) -> dict:
        """The chart values ``server.extensions``: sidecars locked down as every container of the chart is (no
        privilege escalation, all capabilities dropped, RuntimeDefault seccomp), whatever else they set."""
        import json

        out = {key: json.loads(getattr(self, attr)) for key, attr in self.FIELDS}
        for c in out["sidecars"]:
            c["securityContext"] = {**c.get("securityContext", {}), "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
        return out


@dataclass(frozen=True)
class Server:
    image: str
    accelerator: Tpu | Gpu
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
    rollout: Rollout | None  # None: Rollout.automatic per cluster
    extensions: Extensions = Extensions()

    @property
    def tpu(self) -> Tpu | None:
        return self.accelerator if isinstance(self.accelerator, Tpu) else None

    @property
    def gpu(self) -> Gpu | None:
        return self.accelerator if isinstance(self.accelerator, Gpu) else None


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
    picker_cpu: str
    picker_memory: str
    picker_rollout: Rollout | None  # None: Rollout.automatic
    metric_shape: str  # "endpoints" | "pod" (AutoscalingMetric shape)
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
    static_addresses: bool

    def scope(self, region: str) -> Scope | None:
        return next((s for s in self.scopes if s.region == region), None)

    def capacity_scaler(self, region: str) -> int:
        """Share (percent) of a region's capacity the load balancer may use."""
        sc = self.scope(region)
        return 100 if sc is None or sc.capacity_scaler_percent is None else sc.capacity_scaler_percent


@dataclass(frozen=True)
class Subnets:
    nodes: str
    pods: str
    services: str
    proxy_only: str | None


@dataclass(frozen=True)
class Cluster:
    name: str
    region: str
    zone: str
    serving: bool
    bucket: str  # effective (override or model.bucket): the region's bucket, holding every model it serves
    subnets: Subnets

    @property
    def proxy_subnet(self) -> str | None:
        return self.subnets.proxy_only


@dataclass(frozen=True)
class Placement:
    """One model in one serving cluster, with that cluster's effective numbers (overrides applied)."""

    cluster: Cluster
    replicas: int  # fixed replicas (autoscaling off)
    min_replicas: int  # autoscaling floor
    max_replicas: int  # autoscaling ceiling
    capacity: tuple[Capacity, ...]  # where the accelerator nodes come from, in order

    def fewest_replicas(self, autoscaled: bool) -> int:
        """The fewest model-server replicas the cluster runs (its HPA floor when autoscaled)."""
        return self.min_replicas if autoscaled else self.replicas

    def most_replicas(self, autoscaled: bool) -> int:
        return self.max_replicas if autoscaled else self.replicas


@dataclass(frozen=True)
class Gke:
    """The release channel chooses each cluster's version; ``min_version`` is an explicit pin of the user's (None by
    default: a pinned patch leaves the channel within months and Config Connector would create clusters at it)."""

    release_channel: str
    min_version: str | None
    floors: tuple  # catalog.Floor of every feature the fleet uses, highest first

    @property
    def floor(self):
        return self.floors[0]


@dataclass(frozen=True)
class Network:
    name: str
    mtu: int
    private_nodes: bool
    cloud_nat: bool


@dataclass(frozen=True)
class SystemPool:
    name: str
    machine_type: str
    min_nodes: int
    max_nodes: int
    disk_size_gb: int


@dataclass(frozen=True)
class Dns:
    enabled: bool
    zone: str  # DNSManagedZone name
    domain: str  # zone DNS name, trailing dot
    host: str
    ttl: int
    policy: str  # geo | primaryBackup
    primary_region: str

    @property
    def fqdn(self) -> str:
        return f"{self.host}.{self.domain}"


@dataclass(frozen=True)
class Infra:
    namespace: str


@dataclass(frozen=True)
class Delivery:
    methods: tuple[str, ...]  # "argocd", "config-sync"; empty when the fleet file has no delivery
    repo_url: str
    revision: str
    path: str
    argocd_namespace: str
    region_order: tuple[str, ...]
    config_sync_auth: str
    gcp_service_account_email: str
    secret_name: str
    period: str
    management_server: str
    chart_registry: str = ""  # oci://HOST/PATH the clusters install the charts from; "" = the overlays in Git
    chart_registry_auth: str = "none"

    def overlay_dir(self, cluster: str) -> str:
        return f"overlays/{cluster}" if self.path == "." else f"{self.path}/overlays/{cluster}"

    @property
    def argocd(self) -> bool:
        return "argocd" in self.methods

    @property
    def config_sync(self) -> bool:
        return "config-sync" in self.methods

    @property
    def infra_dir(self) -> str:
        return "infra" if self.path == "." else f"{self.path}/infra"


@dataclass(frozen=True)
class ServedModel:
    """One model of the fleet: its weights, server, routing, and the serving clusters that run it. A fleet file
    with ``model`` is a fleet of one; with ``models`` each entry is one of these, in file order."""

    model: Model
    server: Server
    routing: Routing
    placements: tuple[Placement, ...]  # in cluster order
    expected_peak_rps: float
    at: str  # config path prefix of its keys: "" (model, server, routing) or "models[i]."

    @property
    def pool(self) -> str:
        """InferencePool name, identical in every region; every per-model object name starts with it."""
        return self.routing.pool_name

    @property
    def server_name(self) -> str:
        """Name of the model-server Deployment, Service and Kubernetes service account."""
        return f"{self.pool}-vllm"

    @property
    def loader_name(self) -> str:
        """Name of the weights loader's Kubernetes service account (and the prefix of its Job)."""
        return f"{self.pool}-weights"

    @property
    def compute_class(self) -> str:
        """Name of the ComputeClass the model servers' accelerator nodes come from."""
        return f"{self.pool}-{self.server.accelerator.kind}"

    @property
    def autoscaled(self) -> bool:
        return self.server.autoscaling.enabled

    def placement(self, cluster: Cluster) -> Placement | None:
        return next((p for p in self.placements if p.cluster.name == cluster.name), None)

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.cluster.region for p in self.placements))


@dataclass(frozen=True)
class Fleet:
    name: str
    project: Project
    namespace: str
    models: tuple[ServedModel, ...]
    gateway: Gateway
    clusters: tuple[Cluster, ...]
    delivery: Delivery
    gke: Gke
    network: Network
    system_pool: SystemPool
    dns: Dns
    infra: Infra

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
    def several(self) -> bool:
        """More than one model: routes match the model name (header X-Gateway-Model-Name)."""
        return len(self.models) > 1

    @property
    def node_service_account_id(self) -> str:
        """Account id of the least-privilege Google service account of every node (6-30 characters)."""
        return f"{self.name[:24]}-nodes"

    @property
    def node_service_account(self) -> str:
        return f"{self.node_service_account_id}@{self.project.id}.iam.gserviceaccount.com"

    @property
    def buckets(self) -> dict[str, str]:
        """Bucket name → the region of the serving clusters that read it."""
        out: dict[str, str] = {}
        for c in self.serving_clusters:
            out.setdefault(c.bucket, c.region)
        return out

    def objective_names(self, served: ServedModel) -> tuple[str, ...]:
        """The InferenceObjective names of a model's pool, as clients send them (x-gateway-inference-objective).
        Objectives are namespaced objects: with several pools in one namespace each pool's are prefixed with it."""
        return tuple(f"{served.pool}-{o.name}" if self.several else o.name for o in served.routing.objectives)

    def models_in(self, cluster: Cluster) -> tuple[ServedModel, ...]:
        """The models ``cluster`` serves, in fleet order."""
        return tuple(m for m in self.models if m.placement(cluster) is not None)

    def chart_key(self, served: ServedModel) -> str:
        """A model's chart key: ``serving`` for the only model (chart <fleet>-serving), else its pool (chart <fleet>-<pool>)."""
        return served.pool if self.several else "serving"

    def registry_root_syncs(self, cluster: Cluster) -> tuple[str, ...]:
        """The RootSyncs that install charts from ``delivery.charts.registry`` in ``cluster`` (Config Sync)."""
        keys = [self.chart_key(m) for m in self.models_in(cluster)]
        if cluster.name == self.gateway.config_cluster:
            keys.append("gateway")
        return tuple(f"{self.name}-{k}" for k in keys)

    def workload_identity_member(self, namespace: str, service_account: str) -> str:
        """The IAM principal of a Kubernetes service account; no Google service account."""
        return (f"principal://iam.googleapis.com/projects/{self.project.number}/locations/global/workloadIdentityPools/"
                f"{self.project.id}.svc.id.goog/subject/ns/{namespace}/sa/{service_account}")
