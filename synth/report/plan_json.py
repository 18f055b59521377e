"""`inference-fleet plan --json`: the plan as data for other tools. The shape is stable within a ``version``: fields
are only added; a rename or removal raises the version.

    version: 1
    fleet, project {id, number}, namespace
    model {name, path, sizeGi, source, tpu {machineType, topology, chips}}
    clusters[] {name, region, zone, roles[], replicas {min, max}, maxRps, bucket, capacity[] {type, reservation?},
                rollout {maxSurge, maxUnavailable}, subnets {nodes, pods, services, proxyOnly?}}
    systemPool {name, machineType, minNodes, maxNodes}
    gateway {name, className, configCluster, port, pathPrefix, balancingMode, addresses[] {region, type, value}}
    dns {enabled, name, policy, ttl}
    failover[] {event: "backends lost" | "front end lost" | "upgrading", region, targets[], rpsLeft, peakRps,
                coversPeak, note}
    runbook[]: the operator steps, one string per line"""

from __future__ import annotations

from ..config.model import Fleet, GcsSource
from .capacity import failover, front_end_failover, max_replicas, rollout_of, upgrade_rows
from .runbook import runbook

VERSION = 1


def plan_json(fleet: Fleet) -> dict:
    from ..infra.addresses import gateway_addresses

    srv, gw = fleet.server, fleet.gateway
    src = fleet.model.source
    source = (None if src is None else {"gcs": src.uri} if isinstance(src, GcsSource)
              else {"huggingface": src.repo, "revision": src.revision})
    clusters = []
    for c in fleet.clusters:
        entry = {"name": c.name, "region": c.region, "zone": c.zone, "roles": list(fleet.roles(c)),
                 "subnets": {k: v for k, v in (("nodes", c.subnets.nodes), ("pods", c.subnets.pods),
                                               ("services", c.subnets.services), ("proxyOnly", c.subnets.proxy_only)) if v}}
        if c.serving:
            lo = c.min_replicas if srv.autoscaling.enabled else c.replicas
            r = rollout_of(fleet, c)
            entry.update({"replicas": {"min": lo, "max": max_replicas(fleet, c)},
                          "maxRps": max_replicas(fleet, c) * srv.requests_per_second_per_replica,
                          "bucket": c.bucket,
                          "capacity": [{"type": o.type, **({"reservation": o.reservation} if o.reservation else {})} for o in c.capacity],
                          "rollout": {"maxSurge": r.max_surge, "maxUnavailable": r.max_unavailable}})
        clusters.append(entry)
    addresses = []
    for a, region in zip(gateway_addresses(fleet), fleet.serving_regions):
        addresses.append({"region": region, "type": a["type"], "value": a["value"]})
    return {
        "version": VERSION,
        "fleet": fleet.name,
        "project": {"id": fleet.project.id, "number": fleet.project.number},
        "namespace": fleet.namespace,
        "model": {"name": fleet.model.name, "path": fleet.model.path, "sizeGi": fleet.model.size_gi, "source": source,
                  "tpu": {"machineType": srv.tpu.machine_type, "topology": srv.tpu.topology, "chips": srv.tpu.chips}},
        "clusters": clusters,
        "systemPool": {"name": fleet.system_pool.name, "machineType": fleet.system_pool.machine_type,
                       "minNodes": fleet.system_pool.min_nodes, "maxNodes": fleet.system_pool.max_nodes},
        "gateway": {"name": gw.name, "className": gw.class_name, "configCluster": gw.config_cluster, "port": gw.port,
                    "pathPrefix": gw.path_prefix, "balancingMode": gw.balancing_mode, "addresses": addresses},
        "dns": {"enabled": fleet.dns.enabled, "name": fleet.dns.fqdn, "policy": fleet.dns.policy, "ttl": fleet.dns.ttl},
        "failover": [{"event": r.event, "region": r.region, "targets": list(r.targets), "rpsLeft": r.capacity,
                      "peakRps": r.peak, "coversPeak": r.covered, "note": r.note}
                     for r in failover(fleet) + front_end_failover(fleet) + upgrade_rows(fleet)],
        "runbook": runbook(fleet),
    }
