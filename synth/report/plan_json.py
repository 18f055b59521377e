"""`inference-fleet plan --json`: the plan as data for other tools. The shape is stable within a ``version``: fields
are only added; a rename or removal raises the version.

    version: 1
    fleet, project {id, number}, namespace
    model {name, path, sizeGi, source, tpu {machineType, topology, chips} | gpu {type, count, machineType}}: the first model
    models[] {name, pool, servedNames[], path, sizeGi, source, tpu | gpu, regions[], expectedPeakRps,
              placements[] {cluster, replicas {min, max}, maxRps, capacity[], rollout}}: every model
    clusters[] {name, region, zone, roles[], replicas {min, max}, maxRps, bucket, capacity[] {type, reservation?},
                rollout {maxSurge, maxUnavailable}, subnets {nodes, pods, services, proxyOnly?}} (serving fields: the
                first model the cluster serves)
    gke {releaseChannel, pinnedVersion (null: the channel chooses), floors[] {feature, version, source, checked},
         serverConfig {region: the command that shows what the channel offers there today}}
    systemPool {name, machineType, minNodes, maxNodes}
    gateway {name, className, configCluster, port, pathPrefix, balancingMode, addresses[] {region, type, value}}
    dns {enabled, name, policy, ttl}
    failover[] {event: "backends lost" | "front end lost" | "upgrading", region, targets[], rpsLeft, peakRps,
                coversPeak, note, model}
    runbook[]: the operator steps, one string per line
    timeline[], teardown[] {title, commands[], expectedSeconds, wait {condition, commands[], timeoutSeconds} | null,
                            checks[]}: the same steps as data (durations are estimates from the fleet)
    timeToServe {afterRegionReturns[] {model, seconds, parts {nodes, weights, compile}}, note}"""

from __future__ import annotations

from ..bringup import timeline as tl
from ..config import catalog

from ..config.model import Fleet, GcsSource, Placement, ServedModel
from .capacity import all_rows, max_replicas, rollout_of
from .runbook import bring_up, runbook, teardown

VERSION = 1


def _source(served: ServedModel) -> dict | None:
    src = served.model.source
    return (None if src is None else {"gcs": src.uri} if isinstance(src, GcsSource)
            else {"huggingface": src.repo, "revision": src.revision})


def _accelerator(served: ServedModel) -> dict:
    acc = served.server.accelerator
    if acc.kind == "tpu":
        return {"tpu": {"machineType": acc.machine_type, "topology": acc.topology, "chips": acc.chips}}
    return {"gpu": {"type": acc.type, "count": acc.count, "machineType": acc.machine_type}}


def _placement(served: ServedModel, p: Placement) -> dict:
    lo = p.fewest_replicas(served.autoscaled)
    r = rollout_of(served, p)
    return {"replicas": {"min": lo, "max": max_replicas(served, p)},
            "maxRps": max_replicas(served, p) * served.server.requests_per_second_per_replica,
            "capacity": [{"type": o.type, **({"reservation": o.reservation} if o.reservation else {})} for o in p.capacity],
            "rollout": {"maxSurge": r.max_surge, "maxUnavailable": r.max_unavailable}}


def plan_json(fleet: Fleet) -> dict:
    from ..infra.addresses import gateway_addresses

    gw = fleet.gateway
    first = fleet.models[0]
    clusters = []
    for c in fleet.clusters:
        entry = {"name": c.name, "region": c.region, "zone": c.zone, "roles": list(fleet.roles(c)),
                 "subnets": {k: v for k, v in (("nodes", c.subnets.nodes), ("pods", c.subnets.pods),
                                               ("services", c.subnets.services), ("proxyOnly", c.subnets.proxy_only)) if v}}
        served = fleet.models_in(c)
        if served:
            m = served[0]
            place = _placement(m, m.placement(c))
            entry.update({"replicas": place["replicas"], "maxRps": place["maxRps"], "bucket": c.bucket,
                          "capacity": place["capacity"], "rollout": place["rollout"]})
        clusters.append(entry)
    addresses = []
    for a, region in zip(gateway_addresses(fleet), fleet.serving_regions):
        addresses.append({"region": region, "type": a["type"], "value": a["value"]})
    return {
        "version": VERSION,
        "fleet": fleet.name,
        "project": {"id": fleet.project.id, "number": fleet.project.number},
        "namespace": fleet.namespace,
        "model": {"name": first.model.name, "path": first.model.path, "sizeGi": first.model.size_gi, "source": _source(first),
                  **_accelerator(first)},
        "models": [{"name": m.model.name, "pool": m.pool, "servedNames": list(m.model.served_names), "path": m.model.path,
                    "sizeGi": m.model.size_gi, "source": _source(m), **_accelerator(m), "regions": list(m.regions),
                    "expectedPeakRps": m.expected_peak_rps,
                    "placements": [{"cluster": p.cluster.name, **_placement(m, p)} for p in m.placements]}
                   for m in fleet.models],
        "clusters": clusters,
        "gke": {"releaseChannel": fleet.gke.release_channel, "pinnedVersion": fleet.gke.min_version,
                "floors": [{"feature": f.feature, "version": f.version, "source": f.source, "checked": f.checked}
                           for f in fleet.gke.floors],
                "serverConfig": {region: catalog.SERVER_CONFIG.format(region=region, project=fleet.project.id,
                                                                      channel=fleet.gke.release_channel)
                                 for region in sorted({c.region for c in fleet.clusters})}},
        "systemPool": {"name": fleet.system_pool.name, "machineType": fleet.system_pool.machine_type,
                       "minNodes": fleet.system_pool.min_nodes, "maxNodes": fleet.system_pool.max_nodes},
        "gateway": {"name": gw.name, "className": gw.class_name, "configCluster": gw.config_cluster, "port": gw.port,
                    "pathPrefix": gw.path_prefix, "balancingMode": gw.balancing_mode, "addresses": addresses},
        "dns": {"enabled": fleet.dns.enabled, "name": fleet.dns.fqdn, "policy": fleet.dns.policy, "ttl": fleet.dns.ttl},
        "failover": [{"event": r.event, "region": r.region, "targets": list(r.targets), "rpsLeft": r.capacity,
                      "peakRps": r.peak, "coversPeak": r.covered, "note": r.note, "model": m.model.name}
                     for m in fleet.models for r in all_rows(fleet, m)],
        "runbook": runbook(fleet),
        "timeline": [_step(st) for st in bring_up(fleet)],
        "teardown": [_step(st) for st in teardown(fleet)],
        "timeToServe": {"afterRegionReturns": tl.region_return(fleet), "note": tl.COMPILE_CACHE},
    }


def _step(st) -> dict:
    return {"title": st.title, "commands": list(st.commands), "expectedSeconds": st.expected_s,
            "wait": ({"condition": st.wait.condition, "commands": list(st.wait.commands), "timeoutSeconds": st.wait.timeout_s}
                     if st.wait else None),
            "checks": list(st.checks)}
