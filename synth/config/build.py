"""Fleet file (schema-checked, defaults applied) → frozen ``Fleet``. Defaults that depend on other values
(server size by machine type, the GKE version floor, names derived from the fleet name) are filled here first,
so rules and objects see every field set."""

from __future__ import annotations

from . import catalog
from .model import (
    Adapter,
    Autoscaling,
    Capacity,
    Cluster,
    Delivery,
    Extensions,
    Dns,
    Dranet,
    Fleet,
    GcsFuse,
    GcsSource,
    Gateway,
    Gpu,
    Gke,
    HuggingFaceSource,
    Infra,
    Lora,
    Model,
    Network,
    Objective,
    Placement,
    Project,
    Rollout,
    Routing,
    Scope,
    ServedModel,
    Server,
    Subnets,
    SystemPool,
    Tpu,
)


def model_entries(data: dict) -> list[tuple[str, dict]]:
    """(config path prefix, entry) of every model: the single-model form (model, server, routing at the top, cluster
    overrides in clusters[]) is a list of one."""
    if "models" in data:
        return [(f"models[{i}].", m) for i, m in enumerate(data["models"])]
    return [("", {"model": data["model"], "server": data["server"], "routing": data["routing"]})]


def required_floors(data: dict) -> list:
    """The version floors (catalog.Floor) of the features the fleet uses, highest first."""
    return catalog.floors_for(any(e["routing"]["metricShape"] == "pod" for _, e in model_entries(data)))


def pool_slug(model_name: str) -> str:
    """A pool name from a model name: its last path segment as a DNS label (google/gemma-3-4b-it -> gemma-3-4b-it)."""
    import re

    slug = re.sub(r"[^a-z0-9-]+", "-", model_name.rsplit("/", 1)[-1].lower()).strip("-")
    return slug[:40].rstrip("-") or "model"


def derive_defaults(data: dict, root: dict) -> dict:
    from .defaults import defaults_of

    several = "models" in data
    serving_regions = list(dict.fromkeys(c["region"] for c in data["clusters"] if c["serving"]))
    for _, entry in model_entries(data):
        srv, model, rt = entry["server"], entry["model"], entry["routing"]
        if "gpu" in srv:
            gpu = srv["gpu"]
            gpu.setdefault("machineType", catalog.default_gpu_machine(gpu["type"], gpu["count"]))
            srv.setdefault("image", catalog.GPU_SERVER_IMAGE)
            cpu, memory = catalog.gpu_server_defaults(gpu["machineType"])
        else:
            srv.setdefault("tpu", defaults_of(root, "definitions", "server", "tpu"))
            srv.setdefault("image", catalog.TPU_SERVER_IMAGE)
            cpu, memory = catalog.SERVER_DEFAULTS[srv["tpu"]["machineType"]]
        srv.setdefault("cpu", cpu)
        srv.setdefault("memory", memory)
        srv["dranet"].setdefault("enabled", "gpu" not in srv)
        model.setdefault("sizeGi", catalog.model_size_gi(model["name"]))
        hf = (model.get("source") or {}).get("huggingface")
        if hf is not None:
            hf.setdefault("repo", model["name"])
        lora = model.get("lora")
        if lora is not None:
            lora.setdefault("maxLoras", min(len(lora["adapters"]), 8))
        rt.setdefault("poolName", pool_slug(model["name"]) if several else data["name"])
        rt.setdefault("pickerImage", catalog.PROFILES[rt["apiProfile"]]["picker_image"])
        if several:
            entry.setdefault("regions", serving_regions)
            entry.setdefault("expectedPeakRps", data["gateway"]["expectedPeakRps"])
    data["network"].setdefault("name", f"{data['name']}-vpc")
    data["dns"].setdefault("domain", f"{data['name']}.internal.")
    data["gateway"].setdefault("staticAddresses", data["dns"]["enabled"])
    dl = data.get("delivery")
    if dl is not None:
        cs = dl["configSync"]
        cs.setdefault("auth", "gcpserviceaccount" if google_hosted(dl["repoURL"]) else "token")
    return data


def google_hosted(url: str) -> bool:
    """Repositories Config Sync can read with a Google service account."""
    import re

    return re.match(r"^https://(source\.developers\.google\.com|[a-z0-9-]+\.sourcemanager\.dev)/", url) is not None


def _rollout(r: dict) -> Rollout | None:
    if not r:
        return None
    return Rollout(max_surge=r.get("maxSurge", 0), max_unavailable=r.get("maxUnavailable", 0))


def _capacity(options: list[dict]) -> tuple[Capacity, ...]:
    return tuple(Capacity(type=o["type"], reservation=o.get("reservation"), project=o.get("project"), create=o.get("create"))
                 for o in options)


def _source(model: dict) -> HuggingFaceSource | GcsSource | None:
    source = model.get("source") or {}
    if "huggingface" in source:
        hf = source["huggingface"]
        return HuggingFaceSource(repo=hf["repo"], revision=hf["revision"], token_secret=hf["tokenSecret"]["name"],
                                 token_key=hf["tokenSecret"]["key"])
    if "gcs" in source:
        return GcsSource(uri=source["gcs"]["uri"].rstrip("/"))
    return None


def _server(srv: dict) -> Server:
    auto = srv["autoscaling"]
    if "gpu" in srv:
        g = srv["gpu"]
        accelerator: Tpu | Gpu = Gpu(type=g["type"], count=g["count"], machine_type=g["machineType"],
                                     driver_version=g["driverVersion"], capacity=_capacity(g["capacity"]))
    else:
        machine, topo = srv["tpu"]["machineType"], srv["tpu"]["topology"]
        accelerator = Tpu(machine_type=machine, topology=topo, accelerator=catalog.TPU_ACCELERATOR,
                          chips=catalog.TOPOLOGY_CHIPS[topo], capacity=_capacity(srv["tpu"]["capacity"]))
    return Server(
        image=srv["image"],
        accelerator=accelerator,
        replicas=srv["replicas"],
        cpu=srv["cpu"],
        memory=srv["memory"],
        gpu_memory_utilization=float(srv["gpuMemoryUtilization"]),
        startup_timeout_seconds=srv["startupTimeoutSeconds"],
        termination_grace_period_seconds=srv["terminationGracePeriodSeconds"],
        extra_args=tuple(srv["extraArgs"]),
        requests_per_second_per_replica=float(srv["requestsPerSecondPerReplica"]),
        autoscaling=Autoscaling(enabled=auto["enabled"], min_replicas=auto["minReplicas"],
                                max_replicas=auto["maxReplicas"], queue_depth_target=auto["queueDepthTarget"]),
        dranet=Dranet(enabled=srv["dranet"]["enabled"], device_class=srv["dranet"]["deviceClass"]),
        gcs_fuse=GcsFuse(cpu_limit=srv["gcsFuse"]["cpuLimit"], memory_limit=srv["gcsFuse"]["memoryLimit"],
                         ephemeral_storage_limit=srv["gcsFuse"]["ephemeralStorageLimit"]),
        rollout=_rollout(srv["rollout"]),
        extensions=Extensions.of(srv.get("extensions") or {}),
    )


def _routing(rt: dict) -> Routing:
    return Routing(
        api_profile=rt["apiProfile"],
        pool_name=rt["poolName"],
        failure_mode=rt["failureMode"],
        picker_image=rt["pickerImage"],
        picker_replicas=rt["pickerReplicas"],
        picker_cpu=rt["pickerResources"]["cpu"],
        picker_memory=rt["pickerResources"]["memory"],
        picker_rollout=_rollout(rt["pickerRollout"]),
        metric_shape=rt["metricShape"],
        objectives=tuple(Objective(o["name"], o["priority"]) for o in rt["objectives"]),
    )


def _model(model: dict) -> Model:
    lora = model.get("lora")
    return Model(name=model["name"], bucket=model.get("bucket"), path=model["path"], max_model_len=model["maxModelLen"],
                 size_gi=model["sizeGi"], source=_source(model), loader=model["loader"],
                 lora=None if lora is None else Lora(adapters=tuple(Adapter(a["name"], a["path"]) for a in lora["adapters"]),
                                                     max_loras=lora["maxLoras"], max_rank=lora["maxRank"]))


def _served(at: str, entry: dict, data: dict, clusters: tuple[Cluster, ...]) -> ServedModel:
    srv = _server(entry["server"])
    auto = entry["server"]["autoscaling"]
    # Per-cluster overrides: in clusters[] for the single-model form, in models[i].clusters[] otherwise.
    overrides = ({c["name"]: c for c in data["clusters"]} if at == "" else {o["name"]: o for o in entry.get("clusters", [])})
    placements = []
    for c in clusters:
        if not c.serving or c.region not in entry.get("regions", [c.region]):
            continue
        o = overrides.get(c.name, {})
        placements.append(Placement(
            cluster=c,
            replicas=o.get("replicas", srv.replicas),
            min_replicas=o.get("minReplicas", auto["minReplicas"]),
            max_replicas=o.get("maxReplicas", auto["maxReplicas"]),
            capacity=_capacity(o["capacity"]) if "capacity" in o else srv.accelerator.capacity,
        ))
    return ServedModel(model=_model(entry["model"]), server=srv, routing=_routing(entry["routing"]),
                       placements=tuple(placements),
                       expected_peak_rps=float(entry.get("expectedPeakRps", data["gateway"]["expectedPeakRps"])), at=at)


def build(data: dict) -> Fleet:
    gw = data["gateway"]
    dl = data.get("delivery") or {"methods": [], "repoURL": "", "revision": "main", "path": ".",
                                  "argocd": {"namespace": "argocd", "managementServer": "https://kubernetes.default.svc"},
                                  "configSync": {"auth": "none", "secretName": "git-creds", "period": "60s"}}
    regions = list(dict.fromkeys(c["region"] for c in data["clusters"]))
    serving_regions = list(dict.fromkeys(c["region"] for c in data["clusters"] if c["serving"]))
    cs = dl["configSync"]
    dns = data["dns"]
    fleet_bucket = model_entries(data)[0][1]["model"].get("bucket") if "models" not in data else None
    clusters = tuple(
        Cluster(
            name=c["name"],
            region=c["region"],
            zone=c["zone"],
            serving=c["serving"],
            bucket=c.get("bucket", fleet_bucket or ""),
            subnets=Subnets(nodes=c["subnets"]["nodes"], pods=c["subnets"]["pods"],
                            services=c["subnets"]["services"], proxy_only=c["subnets"].get("proxyOnly")),
        )
        for c in data["clusters"]
    )
    return Fleet(
        name=data["name"],
        project=Project(id=data["project"]["id"], number=data["project"]["number"]),
        namespace=data["namespace"],
        models=tuple(_served(at, entry, data, clusters) for at, entry in model_entries(data)),
        gateway=Gateway(
            config_cluster=gw["configCluster"],
            name=gw["name"],
            class_name=gw["className"],
            port=gw["port"],
            path_prefix=gw["pathPrefix"],
            timeout_sec=gw["timeoutSec"],
            balancing_mode=gw["balancingMode"],
            max_utilization_percent=gw["maxUtilizationPercent"],
            max_in_flight_requests_per_endpoint=gw["maxInFlightRequestsPerEndpoint"],
            expected_peak_rps=float(gw["expectedPeakRps"]),
            scopes=tuple(Scope(sc["region"], sc.get("capacityScalerPercent"), sc.get("backendPreference"))
                         for sc in gw["scopes"]),
            static_addresses=gw["staticAddresses"],
        ),
        clusters=clusters,
        delivery=Delivery(
            methods=tuple(dl["methods"]),
            repo_url=dl["repoURL"],
            revision=dl["revision"],
            path=dl["path"],
            argocd_namespace=dl["argocd"]["namespace"],
            region_order=tuple(dl["argocd"].get("regionOrder") or regions),
            config_sync_auth=cs["auth"],
            gcp_service_account_email=cs.get("gcpServiceAccountEmail") or f"config-sync@{data['project']['id']}.iam.gserviceaccount.com",
            secret_name=cs["secretName"],
            period=cs["period"],
            management_server=dl["argocd"]["managementServer"],
            chart_registry=(dl.get("charts") or {}).get("registry", ""),
            chart_registry_auth=(dl.get("charts") or {}).get("auth") or
            ("k8sserviceaccount" if ".pkg.dev/" in (dl.get("charts") or {}).get("registry", "") else "none"),
        ),
        gke=Gke(release_channel=data["gke"]["releaseChannel"], min_version=data["gke"].get("minVersion"),
                floors=tuple(required_floors(data))),
        network=Network(name=data["network"]["name"], mtu=data["network"]["mtu"],
                        private_nodes=data["network"]["privateNodes"], cloud_nat=data["network"]["cloudNat"]),
        system_pool=SystemPool(name=data["systemPool"]["name"], machine_type=data["systemPool"]["machineType"],
                               min_nodes=data["systemPool"]["minNodes"], max_nodes=data["systemPool"]["maxNodes"],
                               disk_size_gb=data["systemPool"]["diskSizeGb"]),
        dns=Dns(enabled=dns["enabled"], zone=f"{data['name']}-inference", domain=dns["domain"], host=dns["host"],
                ttl=dns["ttl"], policy=dns["policy"], primary_region=dns.get("primaryRegion") or serving_regions[0]),
        infra=Infra(namespace=data["infra"]["namespace"]),
    )

