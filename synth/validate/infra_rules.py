"""The GCP side against itself and against the clusters' objects: Config Connector references resolve, each
cluster has the features its workloads use, every bucket a pod mounts exists with a grant for exactly that pod's
identity, TPU ComputeClasses match the model servers, gateway addresses and proxy-only subnets are the ones the
Gateway and the NetworkPolicies name, and the DNS name health-checks every gateway region. These rules run when the
validation input holds Config Connector objects (the infra root)."""

from __future__ import annotations

from ..config import catalog
from .behaviour.limits import gateway_regions
from .problems import Problem, annotations, iter_objects, name, namespace, oid, pod_specs
from .view import FleetView

RULES = {
    "kcc-refs": "every Config Connector reference by name (networkRef, subnetworkRef, clusterRef, configMembershipRef, resourceRef, routerRef, serviceAccountRef, serviceIdentityRef, managedZoneRef, ipAddressRef) resolves",
    "cluster-features": "each cluster's ContainerCluster has what its workloads use: Dataplane V2 and the DRANET version floor, the GCS FUSE driver, Workload Identity, the Gateway API, Managed Prometheus",
    "fleet-features": "every cluster is a fleet member, and the multi-cluster service discovery and ingress features exist with the Gateway's cluster as config membership",
    "bucket-grants": "every bucket a pod mounts or loads is a StorageBucket with a grant to exactly that pod's Workload Identity principal",
    "compute-class-shape": "the ComputeClass a model server selects exists and its TPU shape (chips, accelerator, topology) or GPU shape (type, count, machine) equals the server's",
    "gateway-addresses": "every reserved Gateway address is an internal SHARED_LOADBALANCER_VIP ComputeAddress in its region",
    "proxy-subnets-match": "the NetworkPolicies admit exactly the infra's proxy-only subnets",
    "dns-zone": "the DNS zone of health-checked records is private and attached to the clusters' VPC",
    "dns-geo": "the record has exactly one routing item per gateway region",
    "dns-target": "each health-checked target is a reserved address the Gateway uses, on its listener port, in the clusters' VPC, of the cross-region internal load balancer type",
}

REF_KINDS = {
    "networkRef": "ComputeNetwork", "subnetworkRef": "ComputeSubnetwork", "clusterRef": "ContainerCluster",
    "configMembershipRef": "GKEHubMembership", "routerRef": "ComputeRouter", "serviceAccountRef": "IAMServiceAccount",
    "serviceIdentityRef": "ServiceIdentity", "managedZoneRef": "DNSManagedZone", "ipAddressRef": "ComputeAddress",
    "targetServiceAccounts": "IAMServiceAccount", "sourceServiceAccounts": "IAMServiceAccount",
}
READ_ROLES = {"roles/storage.objectViewer", "roles/storage.objectUser", "roles/storage.objectAdmin", "roles/storage.admin"}
WRITE_ROLES = {"roles/storage.objectCreator", "roles/storage.objectUser", "roles/storage.objectAdmin", "roles/storage.admin"}


def _refs(node, path: str):
    """(path, field, reference) of every reference inside ``node``."""
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{path}.{k}" if path else k
            if k in REF_KINDS and isinstance(v, dict):
                yield here, k, v
            elif k in REF_KINDS and isinstance(v, list):
                for i, r in enumerate(v):
                    if isinstance(r, dict):
                        yield f"{here}[{i}]", k, r
            elif k == "resourceRef" and isinstance(v, dict):
                yield here, k, v
            else:
                yield from _refs(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _refs(v, f"{path}[{i}]")


def _kcc_refs(view: FleetView) -> list[Problem]:
    out = []
    for f, o in view.infra:
        for path, key, ref in _refs(o.get("spec") or {}, "spec"):
            if "name" not in ref or "external" in ref:
                continue
            if key == "resourceRef":
                kind = ref.get("kind") or ("ContainerCluster" if "gkeCluster" in path else "")
            else:
                kind = REF_KINDS[key]
            if (kind, ref["name"]) not in view.kcc_index:
                out.append(Problem(f, oid(o), path, "kcc-refs", f"names {kind} {ref['name']!r}, which the infra does not hold; "
                                   "add it or reference an existing resource with external"))
    return out


def _version_ok(version: str | None, floor: str) -> bool:
    return bool(version) and catalog.version_key(version) >= catalog.version_key(floor)


def _cluster_features(view: FleetView) -> list[Problem]:
    out = []
    for cluster, docs in view.clusters.items():
        objs = list(iter_objects(docs))
        if not objs:
            continue
        cc = view.managed_clusters.get(cluster)
        if cc is None:
            out.append(Problem("", f"cluster/{cluster}", "", "cluster-features",
                               "the infra holds no ContainerCluster of this name: the cluster's objects have no cluster to run on", cluster))
            continue
        spec, ccf = cc.get("spec") or {}, next((f for f, o in view.infra if o is cc), "")
        kinds = {o.get("kind") for _, o in objs}
        pods = list(pod_specs(objs))

        def need(cond: bool, path: str, msg: str) -> None:
            if not cond:
                out.append(Problem(ccf, oid(cc), path, "cluster-features", msg, cluster))

        if any(p.get("resourceClaims") for *_, p, _ in pods):
            need(spec.get("datapathProvider") == "ADVANCED_DATAPATH", "spec.datapathProvider",
                 "pods claim DRANET devices: managed DRANET needs Dataplane V2 (ADVANCED_DATAPATH, set at creation)")
            pinned = spec.get("minMasterVersion")
            need(pinned is None or _version_ok(pinned, catalog.GKE_MIN_VERSION), "spec.minMasterVersion",
                 f"managed DRANET needs GKE >= {catalog.GKE_MIN_VERSION}")
        if "NetworkPolicy" in kinds:
            need(spec.get("datapathProvider") == "ADVANCED_DATAPATH" or ((spec.get("addonsConfig") or {}).get("networkPolicyConfig") or {}).get("disabled") is False,
                 "spec.datapathProvider", "NetworkPolicies are enforced only with Dataplane V2 (or the network policy add-on)")
        if any((v.get("csi") or {}).get("driver") == "gcsfuse.csi.storage.gke.io" for *_, p, _ in pods for v in p.get("volumes") or []):
            need(((spec.get("addonsConfig") or {}).get("gcsFuseCsiDriverConfig") or {}).get("enabled") is True,
                 "spec.addonsConfig.gcsFuseCsiDriverConfig", "pods mount Cloud Storage FUSE volumes: enable the GCS FUSE CSI driver")
        project = annotations(cc).get("cnrm.cloud.google.com/project-id", "")
        need((spec.get("workloadIdentityConfig") or {}).get("workloadPool") == f"{project}.svc.id.goog",
             "spec.workloadIdentityConfig.workloadPool", f"workloads use Workload Identity principals: set the pool {project}.svc.id.goog")
        if "Gateway" in kinds:
            need((spec.get("gatewayApiConfig") or {}).get("channel") in ("CHANNEL_STANDARD", "CHANNEL_EXPERIMENTAL"),
                 "spec.gatewayApiConfig.channel", "the cluster holds a Gateway: turn on the Gateway API (CHANNEL_STANDARD)")
            need(((spec.get("addonsConfig") or {}).get("httpLoadBalancing") or {}).get("disabled") is not True,
                 "spec.addonsConfig.httpLoadBalancing", "the GKE Gateway controller needs the HTTP load balancing add-on")
        if "PodMonitoring" in kinds:
            need(((spec.get("monitoringConfig") or {}).get("managedPrometheus") or {}).get("enabled") is True,
                 "spec.monitoringConfig.managedPrometheus", "PodMonitorings need Managed Prometheus")
    return out


def _fleet_features(view: FleetView) -> list[Problem]:
    out = []
    members = {}
    for f, m in view.kcc("GKEHubMembership"):
        ref = ((m.get("spec") or {}).get("endpoint") or {}).get("gkeCluster", {}).get("resourceRef") or {}
        cc = view.resolve("ContainerCluster", ref)
        if cc is not None:
            members[(cc.get("spec") or {}).get("resourceID") or name(cc)] = m
    routed = [c for c in view.clusters if view.has(c, "InferencePool") or view.has(c, "Gateway")]
    for c in routed:
        if c in view.managed_clusters and c not in members:
            out.append(Problem("", f"cluster/{c}", "", "fleet-features",
                               "no GKEHubMembership registers this cluster to the fleet: its pool is never imported", c))
    features = {(o.get("spec") or {}).get("resourceID") or name(o): (f, o) for f, o in view.kcc("GKEHubFeature")}
    if routed and view.managed_clusters:
        if "multiclusterservicediscovery" not in features:
            out.append(Problem("", "GKEHubFeature/multiclusterservicediscovery", "", "fleet-features",
                               "the fleet needs the multi-cluster service discovery feature (pools are exported as services)"))
        mci = features.get("multiclusteringress")
        holders = [c for c in view.clusters if view.has(c, "Gateway")]
        if mci is None:
            out.append(Problem("", "GKEHubFeature/multiclusteringress", "", "fleet-features",
                               "the fleet needs the multi-cluster ingress feature with the config cluster's membership"))
        elif holders:
            ref = (((mci[1].get("spec") or {}).get("spec") or {}).get("multiclusteringress") or {}).get("configMembershipRef") or {}
            target = view.resolve("GKEHubMembership", ref)
            if target is None or target is not members.get(holders[0]):
                out.append(Problem(mci[0], oid(mci[1]), "spec.spec.multiclusteringress.configMembershipRef", "fleet-features",
                                   f"the config membership must be the membership of {holders[0]}, the cluster holding the Gateway"))
    return out


def _principal_matches(member: str, ns: str, sa: str, pool: str) -> bool:
    return member.endswith(f"/workloadIdentityPools/{pool}/subject/ns/{ns}/sa/{sa}") and member.startswith("principal://")


def _bucket_grants(view: FleetView) -> list[Problem]:
    out = []
    buckets = {(o.get("spec") or {}).get("resourceID") or name(o): o for _, o in view.kcc("StorageBucket")}
    grants = [o for _, o in view.kcc("IAMPolicyMember")]
    for cluster, docs in view.clusters.items():
        cc = view.managed_clusters.get(cluster)
        pool = ((cc or {}).get("spec") or {}).get("workloadIdentityConfig", {}).get("workloadPool", "")
        for f, o, meta, pod, prefix in pod_specs(list(iter_objects(docs))):
            ns, sa = namespace(o), pod.get("serviceAccountName", "default")
            wanted = [(v.get("csi", {}).get("volumeAttributes", {}).get("bucketName"), READ_ROLES, "read")
                      for v in pod.get("volumes") or [] if (v.get("csi") or {}).get("driver") == "gcsfuse.csi.storage.gke.io"]
            if (meta.get("labels") or {}).get("app.kubernetes.io/component") == "weights-loader":
                for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
                    for e in c.get("env") or []:
                        if e.get("name") == "BUCKET" and e.get("value"):
                            wanted += [(e["value"], READ_ROLES, "read"), (e["value"], WRITE_ROLES, "write")]
            for bucket, roles, what in dict.fromkeys((b, frozenset(r), w) for b, r, w in wanted):
                if not bucket:
                    continue
                obj = buckets.get(bucket)
                if obj is None:
                    out.append(Problem(f, oid(o), prefix, "bucket-grants",
                                       f"uses bucket {bucket}, which the infra holds no StorageBucket for", cluster))
                    continue
                ok = any((g.get("spec") or {}).get("role") in roles
                         and view.resolve("StorageBucket", (g.get("spec") or {}).get("resourceRef")) is obj
                         and _principal_matches(str((g.get("spec") or {}).get("member", "")), ns, sa, pool)
                         for g in grants)
                if not ok:
                    out.append(Problem(f, oid(o), prefix, "bucket-grants",
                                       f"no IAMPolicyMember grants {what} access to bucket {bucket} to this pod's identity "
                                       f"(Workload Identity principal ns/{ns}/sa/{sa} of pool {pool or '?'})", cluster))
    return out


def _compute_class_shape(view: FleetView) -> list[Problem]:
    out = []
    for cluster, docs in view.clusters.items():
        classes = {name(o): (f, o) for f, o in iter_objects(docs) if o.get("kind") == "ComputeClass"}
        for f, o, meta, pod, prefix in pod_specs(list(iter_objects(docs))):
            sel = pod.get("nodeSelector") or {}
            cls = sel.get("cloud.google.com/compute-class")
            if not cls:
                continue
            if cls not in classes:
                out.append(Problem(f, oid(o), f"{prefix}.nodeSelector", "compute-class-shape",
                                   f"selects ComputeClass {cls}, which this cluster does not receive", cluster))
                continue
            chips = sum(int((c.get("resources") or {}).get("requests", {}).get("google.com/tpu", 0) or 0) for c in pod.get("containers") or [])
            gpus = sum(int((c.get("resources") or {}).get("requests", {}).get("nvidia.com/gpu", 0) or 0) for c in pod.get("containers") or [])
            cf, cc = classes[cls]
            for i, p in enumerate((cc.get("spec") or {}).get("priorities") or []):
                tpu = p.get("tpu") or {}
                gpu = p.get("gpu") or {}
                wrong = []
                if tpu or chips:
                    machine_chips = catalog.MACHINE_CHIPS.get(p.get("machineType", ""), tpu.get("count", 0))
                    if chips and tpu.get("count") != chips:
                        wrong.append(f"tpu.count {tpu.get('count')} is not the {chips} chips the server requests")
                    if tpu and machine_chips != tpu.get("count"):
                        wrong.append(f"{p.get('machineType')} has {machine_chips} chips, not {tpu.get('count')}")
                    for label, key in (("cloud.google.com/gke-tpu-accelerator", "type"), ("cloud.google.com/gke-tpu-topology", "topology")):
                        if label in sel and tpu.get(key) != sel[label]:
                            wrong.append(f"tpu.{key} {tpu.get(key)} is not the server's {label}={sel[label]}")
                if gpu or gpus:
                    machine = catalog.GPU_MACHINES.get(p.get("machineType", ""))
                    if gpus and gpu.get("count") != gpus:
                        wrong.append(f"gpu.count {gpu.get('count')} is not the {gpus} GPUs the server requests")
                    if gpu and machine != (gpu.get("type"), gpu.get("count")):
                        have = f"{machine[1]} x {machine[0]}" if machine else "no GPUs this tool knows of"
                        wrong.append(f"{p.get('machineType')} carries {have}, not {gpu.get('count')} x {gpu.get('type')}")
                    label = "cloud.google.com/gke-accelerator"
                    if label in sel and gpu.get("type") != sel[label]:
                        wrong.append(f"gpu.type {gpu.get('type')} is not the server's {label}={sel[label]}")
                if wrong:
                    out.append(Problem(cf, oid(cc), f"spec.priorities[{i}]", "compute-class-shape", "; ".join(wrong), cluster))
    return out


def _gateway_addresses(view: FleetView) -> list[Problem]:
    out = []
    addresses = {(o.get("spec") or {}).get("resourceID") or name(o): o for _, o in view.kcc("ComputeAddress")}
    for cluster, docs in view.clusters.items():
        for f, gw in iter_objects(docs):
            if gw.get("kind") != "Gateway":
                continue
            for i, a in enumerate((gw.get("spec") or {}).get("addresses") or []):
                if a.get("type") != "networking.gke.io/named-address-with-region":
                    continue
                parts = str(a.get("value", "")).split("/")
                region, addr = (parts[1], parts[3]) if len(parts) == 4 else ("", "")
                obj = addresses.get(addr)
                spec = (obj or {}).get("spec") or {}
                if obj is None or spec.get("location") != region or spec.get("purpose") != "SHARED_LOADBALANCER_VIP" \
                        or spec.get("addressType") != "INTERNAL":
                    out.append(Problem(f, oid(gw), f"spec.addresses[{i}]", "gateway-addresses",
                                       f"{a.get('value')} must be an INTERNAL SHARED_LOADBALANCER_VIP ComputeAddress in {region or '?'} "
                                       "in the infra (Config Connector reserves it before the Gateway takes it)", cluster))
    return out


def _proxy_subnets_match(view: FleetView) -> list[Problem]:
    out = []
    proxies = set(view.proxy_only_cidrs())
    health = set(catalog.HEALTH_CHECK_RANGES)
    for cluster, docs in view.clusters.items():
        for f, np in iter_objects(docs):
            if np.get("kind") != "NetworkPolicy":
                continue
            blocks = {(peer.get("ipBlock") or {}).get("cidr") for r in (np.get("spec") or {}).get("ingress") or []
                      for peer in r.get("from") or [] if "ipBlock" in peer}
            blocks = {b for b in blocks if b and b not in health}
            if not blocks:
                continue
            if blocks != proxies:
                extra, missing = sorted(blocks - proxies), sorted(proxies - blocks)
                detail = "; ".join(x for x in (f"not proxy-only subnets: {', '.join(extra)}" if extra else "",
                                               f"missing: {', '.join(missing)}" if missing else "") if x)
                out.append(Problem(f, oid(np), "spec.ingress", "proxy-subnets-match",
                                   f"admits address ranges that are not exactly the fleet's proxy-only subnets ({detail})", cluster))
    return out


def _dns(view: FleetView) -> list[Problem]:
    out = []
    regions = gateway_regions(view)
    if not regions:
        return out  # the Gateway's cluster is not part of this validation: nothing to hold the record against
    networks = {((o.get("spec") or {}).get("networkRef") or {}).get("name") for o in view.managed_clusters.values()}
    listener = {}
    addresses_used = set()
    for region, (cluster, f, gw) in regions.items():
        for lst in (gw.get("spec") or {}).get("listeners") or []:
            listener.setdefault(region, str(lst.get("port")))
        for a in (gw.get("spec") or {}).get("addresses") or []:
            if a.get("type") == "networking.gke.io/named-address-with-region":
                addresses_used.add(str(a.get("value", "")).rpartition("/")[2])
    cross_region = any((gw.get("spec") or {}).get("gatewayClassName") == "gke-l7-cross-regional-internal-managed-mc"
                       for _, _, gw in regions.values())
    for f, rs in view.kcc("DNSRecordSet"):
        spec = rs.get("spec") or {}
        policy = spec.get("routingPolicy") or {}
        items: list[tuple[str, str, dict]] = []  # (path, region, healthCheckedTargets)
        for i, g in enumerate(policy.get("geo") or []):
            items.append((f"spec.routingPolicy.geo[{i}]", g.get("location", ""), g.get("healthCheckedTargets") or {}))
        pb = policy.get("primaryBackup") or {}
        if pb:
            primary = pb.get("primary") or {}
            prim_region = next((view.resolve("ComputeAddress", t.get("ipAddressRef")) or {}).get("spec", {}).get("location", "")
                               for t in primary.get("internalLoadBalancers") or [{}]) if primary.get("internalLoadBalancers") else ""
            items.append(("spec.routingPolicy.primaryBackup.primary", prim_region, primary))
            for i, g in enumerate(pb.get("backupGeo") or []):
                items.append((f"spec.routingPolicy.primaryBackup.backupGeo[{i}]", g.get("location", ""), g.get("healthCheckedTargets") or {}))
        if not any(t.get("internalLoadBalancers") for _, _, t in items):
            continue
        zone = view.resolve("DNSManagedZone", spec.get("managedZoneRef"))
        if zone is not None:
            zspec = zone.get("spec") or {}
            attached = {(n.get("networkRef") or {}).get("name") for n in (zspec.get("privateVisibilityConfig") or {}).get("networks") or []}
            if zspec.get("visibility") != "private" or not networks <= attached:
                out.append(Problem(f, oid(zone), "spec.privateVisibilityConfig", "dns-zone",
                                   "health-checked internal load balancer targets work only in a private zone attached to "
                                   f"the clusters' VPC ({', '.join(sorted(n for n in networks if n)) or '?'})"))
        seen: dict[str, str] = {}
        for path, region, _ in items:
            if region in seen:
                out.append(Problem(f, oid(rs), path, "dns-geo", f"{region} already has an item ({seen[region]})"))
            seen.setdefault(region, path)
        for region in sorted(set(regions) - set(seen)):
            out.append(Problem(f, oid(rs), "spec.routingPolicy", "dns-geo",
                               f"no item for gateway region {region}: its clients are not sent to its address, nor away from it when it fails"))
        for region in sorted(set(seen) - set(regions)):
            out.append(Problem(f, oid(rs), seen[region], "dns-geo", f"{region} has no gateway address"))
        for path, region, targets in items:
            for j, t in enumerate(targets.get("internalLoadBalancers") or []):
                at = f"{path}{'' if path.endswith('primary') else '.healthCheckedTargets'}.internalLoadBalancers[{j}]"
                addr = view.resolve("ComputeAddress", t.get("ipAddressRef"))
                wrong = []
                if addr is None or ((addr.get("spec") or {}).get("resourceID") or name(addr)) not in addresses_used:
                    wrong.append("ipAddressRef is not a reserved address the Gateway uses")
                elif (addr.get("spec") or {}).get("location") != region:
                    wrong.append(f"the address is in {(addr.get('spec') or {}).get('location')}, not {region}")
                if region in listener and str(t.get("port")) != listener[region]:
                    wrong.append(f"port {t.get('port')} is not the Gateway's listener port {listener[region]}")
                if (t.get("networkRef") or {}).get("name") not in networks:
                    wrong.append("networkRef is not the clusters' VPC")
                if cross_region and t.get("loadBalancerType") != "globalL7ilb":
                    wrong.append(f"loadBalancerType {t.get('loadBalancerType')} is not globalL7ilb (cross-region internal Application Load Balancer)")
                if t.get("ipProtocol") != "tcp":
                    wrong.append("ipProtocol must be tcp for an HTTP listener")
                if wrong:
                    out.append(Problem(f, oid(rs), at, "dns-target", "; ".join(wrong)))
    return out


def check(view: FleetView) -> list[Problem]:
    if not view.infra:
        return []
    return (_kcc_refs(view) + _cluster_features(view) + _fleet_features(view) + _bucket_grants(view)
            + _compute_class_shape(view) + _gateway_addresses(view) + _proxy_subnets_match(view) + _dns(view))
