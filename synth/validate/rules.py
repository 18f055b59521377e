"""Fleet wiring rules: what schemas cannot see. Each problem names its rule id and how to fix it."""

from __future__ import annotations

from .problems import Problem, at_cluster, iter_objects
from .problems import args as flag_values
from .syntax import DNS1035_LABEL, DNS1123_LABEL, DNS1123_SUBDOMAIN, LABEL_VALUE, QUALIFIED_NAME
from .view import FleetView

RULES = {
    "name-dns1035": "Service names are DNS-1035 labels",
    "name-dns1123": "Namespace names are DNS-1123 labels",
    "name-subdomain": "other names are DNS-1123 subdomains",
    "label-syntax": "label keys are qualified names and values at most 63 characters of the label alphabet",
    "selector-labels": "a Deployment's selector matches its pod template",
    "pdb-coverage": "a PodDisruptionBudget covers every Deployment's pods",
    "fuse-annotation": "pods with Cloud Storage FUSE volumes ask for the sidecar",
    "fuse-model-path": "--model reads from a Cloud Storage FUSE mount",
    "dra-claim": "claim templates exist and each claim is used by a container",
    "tpu-chips": "topology chips = google.com/tpu = --tensor-parallel-size",
    "startup-budget": "TPU servers get >= 600 s to start",
    "pool-selector": "the InferencePool selects model-server pods",
    "pool-ports": "pool target ports are container ports",
    "pool-exported": "the pool is exported to the fleet",
    "picker-service": "the picker Service exists, serves the referenced port and selects picker pods",
    "picker-pool-name": "the picker runs for the pool that references it",
    "scope-fields": "no backend-policy field in both default and a scope",
    "config-cluster": "exactly one cluster holds the Gateway",
    "pools-identical": "the pool has the same name, namespace and spec in every serving cluster",
    "route-import": "routes point at imports of exported pools",
    "policy-target": "health-check and backend policies target the import",
}

FUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
MIN_STARTUP_SECONDS = 600
LABEL_NAMED = {"Service"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}  # kinds whose names must be DNS-1035 labels


def _name(o: dict) -> str:
    return (o.get("metadata") or {}).get("name", "")


def _ns(o: dict) -> str:
    return (o.get("metadata") or {}).get("namespace", "")


def _oid(o: dict) -> str:
    return f"{o.get('kind')}/{_name(o)}"


def _matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def has_routing(docs) -> bool:
    """Fleet rules apply once any cluster holds a pool or a Gateway."""
    return any(o.get("kind") in ("Gateway", "InferencePool") for _, o in iter_objects(docs))


def cluster_rules(docs: list[tuple[str, dict]]) -> list[Problem]:
    """Rules within one cluster. References (pool → pods → picker Service, PDBs, claims, policies) resolve
    inside one namespace, as the API server resolves them."""
    objs = list(iter_objects(docs))
    by_ns: dict[str, list[tuple[str, dict]]] = {}
    for f, o in objs:
        by_ns.setdefault(_ns(o), []).append((f, o))
    problems: list[Problem] = []
    for group in by_ns.values():
        problems += _namespace_rules(group)
    return problems


def _namespace_rules(objs: list[tuple[str, dict]]) -> list[Problem]:
    problems: list[Problem] = []
    by_kind: dict[str, list[tuple[str, dict]]] = {}
    for f, o in objs:
        by_kind.setdefault(o.get("kind", ""), []).append((f, o))

    def bad(f: str, o: dict, path: str, rule: str, msg: str) -> None:
        problems.append(Problem(f, _oid(o), path, rule, msg))

    for f, o in objs:
        name = _name(o)
        kind = o.get("kind")
        if kind in LABEL_NAMED:
            if not (DNS1035_LABEL.match(name) and len(name) <= 63):
                bad(f, o, "metadata.name", "name-dns1035", f"{name!r} must be a DNS-1035 label (a-z0-9-, starts with a letter, <= 63)")
        elif kind == "Namespace":
            if not (DNS1123_LABEL.match(name) and len(name) <= 63):
                bad(f, o, "metadata.name", "name-dns1123", f"{name!r} must be a DNS-1123 label (<= 63)")
        elif not (DNS1123_SUBDOMAIN.match(name) and len(name) <= 253):
            bad(f, o, "metadata.name", "name-subdomain", f"{name!r} must be a DNS-1123 subdomain (a-z0-9-., <= 253)")
        label_sets = [("metadata.labels", (o.get("metadata") or {}).get("labels") or {})]
        if kind in WORKLOADS:
            label_sets.append(("spec.template.metadata.labels",
                               (((o.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}))
        for where, labels in label_sets:
            for k, v in labels.items():
                if not QUALIFIED_NAME.match(str(k)) or len(str(k).rpartition("/")[2]) > 63:
                    bad(f, o, where, "label-syntax", f"label key {k!r} is not a qualified name")
                if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v):
                    bad(f, o, where, "label-syntax", f"label {k}={v!r}: values are <= 63 characters of [A-Za-z0-9-_.]")

    claim_templates = {_name(o) for _, o in by_kind.get("ResourceClaimTemplate", [])}
    pdbs = [o for _, o in by_kind.get("PodDisruptionBudget", [])]
    services = [o for _, o in by_kind.get("Service", [])]
    workloads = by_kind.get("Deployment", [])

    for f, d in workloads:
        spec = d.get("spec") or {}
        sel = ((spec.get("selector") or {}).get("matchLabels")) or {}
        tmpl = spec.get("template") or {}
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        pod = tmpl.get("spec") or {}
        annotations = (tmpl.get("metadata") or {}).get("annotations") or {}
        if not _matches(sel, labels):
            bad(f, d, "spec.selector.matchLabels", "selector-labels",
                "the selector must match the pod template labels (the API server rejects it otherwise)")
        if not any(_matches(((p.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}, labels) for p in pdbs):
            bad(f, d, "spec.template.metadata.labels", "pdb-coverage", "no PodDisruptionBudget selects these pods; add one")
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        fuse_volumes = {n for n, v in volumes.items() if (v.get("csi") or {}).get("driver") == FUSE_DRIVER}
        if fuse_volumes and annotations.get("gke-gcsfuse/volumes") != "true":
            bad(f, d, "spec.template.metadata.annotations", "fuse-annotation",
                'pods with Cloud Storage FUSE volumes need the annotation gke-gcsfuse/volumes: "true" (the sidecar is not injected otherwise)')
        pod_claims = {c.get("name"): c for c in pod.get("resourceClaims") or []}
        for i, c in enumerate(pod.get("resourceClaims") or []):
            t = c.get("resourceClaimTemplateName")
            if t and t not in claim_templates:
                bad(f, d, f"spec.template.spec.resourceClaims[{i}]", "dra-claim", f"ResourceClaimTemplate '{t}' is not in this cluster's manifests")
        claimed = set()
        for ci, c in enumerate(pod.get("containers") or []):
            res = c.get("resources") or {}
            for cl in res.get("claims") or []:
                claimed.add(cl.get("name"))
                if cl.get("name") not in pod_claims:
                    bad(f, d, f"spec.template.spec.containers[{ci}].resources.claims", "dra-claim",
                        f"claim '{cl.get('name')}' is not declared in spec.resourceClaims")
            tpu_req = (res.get("requests") or {}).get("google.com/tpu")
            tpu_lim = (res.get("limits") or {}).get("google.com/tpu")
            args = flag_values(c)
            if tpu_req is not None or tpu_lim is not None:
                cpath = f"spec.template.spec.containers[{ci}]"
                if str(tpu_req) != str(tpu_lim):
                    bad(f, d, f"{cpath}.resources", "tpu-chips", "google.com/tpu requests and limits must be equal")
                topo = (pod.get("nodeSelector") or {}).get("cloud.google.com/gke-tpu-topology", "")
                if topo:
                    chips = 1
                    for dim in topo.split("x"):
                        chips *= int(dim) if dim.isdigit() else 0
                    if str(chips) != str(tpu_req):
                        bad(f, d, f"{cpath}.resources.requests", "tpu-chips",
                            f"topology {topo} has {chips} chips but the pod requests google.com/tpu: {tpu_req}; request every chip of the node")
                if "--tensor-parallel-size" in args and args["--tensor-parallel-size"] != str(tpu_req):
                    bad(f, d, f"{cpath}.args", "tpu-chips",
                        f"--tensor-parallel-size={args['--tensor-parallel-size']} must equal google.com/tpu ({tpu_req})")
                startup = c.get("startupProbe") or {}
                budget = int(startup.get("failureThreshold", 3)) * int(startup.get("periodSeconds", 10)) + int(startup.get("initialDelaySeconds", 0))
                if budget < MIN_STARTUP_SECONDS:
                    bad(f, d, f"{cpath}.startupProbe", "startup-budget",
                        f"start-up budget is {budget}s; TPU servers need >= {MIN_STARTUP_SECONDS}s to load weights and compile XLA")
                if "--model" in args:
                    mounts = [m for m in c.get("volumeMounts") or [] if m.get("name") in fuse_volumes]
                    model = args["--model"]
                    if not any(model == m["mountPath"] or model.startswith(m["mountPath"].rstrip("/") + "/") for m in mounts):
                        bad(f, d, f"{cpath}.args", "fuse-model-path", f"--model={model} is not inside a Cloud Storage FUSE mount")
        unclaimed = set(pod_claims) - claimed
        for n in sorted(unclaimed):
            bad(f, d, "spec.template.spec.resourceClaims", "dra-claim", f"claim '{n}' is declared but no container uses it")

    pods = [(f, d, ((d.get("spec") or {}).get("template") or {})) for f, d in workloads]
    for f, pool in by_kind.get("InferencePool", []):
        spec = pool.get("spec") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        targets = [(f2, d, t) for f2, d, t in pods if _matches(sel, (t.get("metadata") or {}).get("labels") or {})]
        if not targets:
            bad(f, pool, "spec.selector.matchLabels", "pool-selector", "selects no model-server pods in this cluster")
        for i, tp in enumerate(spec.get("targetPorts") or []):
            for _, d, t in targets:
                ports = {p.get("containerPort") for c in (t.get("spec") or {}).get("containers") or [] for p in c.get("ports") or []}
                if tp.get("number") not in ports:
                    bad(f, pool, f"spec.targetPorts[{i}]", "pool-ports", f"port {tp.get('number')} is not a container port of {_oid(d)}")
        if (pool.get("metadata") or {}).get("annotations", {}).get("networking.gke.io/export") != "True":
            bad(f, pool, "metadata.annotations", "pool-exported", 'annotate networking.gke.io/export: "True" so the fleet imports it')
        ref = spec.get("endpointPickerRef") or {}
        svc = next((s for s in services if _name(s) == ref.get("name")), None)
        if svc is None:
            bad(f, pool, "spec.endpointPickerRef.name", "picker-service", f"Service '{ref.get('name')}' is not in this cluster's manifests")
            continue
        port = (ref.get("port") or {}).get("number")
        if port not in {p.get("port") for p in (svc.get("spec") or {}).get("ports") or []}:
            bad(f, pool, "spec.endpointPickerRef.port", "picker-service", f"Service {_name(svc)} does not serve port {port}")
        ssel = (svc.get("spec") or {}).get("selector") or {}
        pickers = [d for _, d, t in pods if _matches(ssel, (t.get("metadata") or {}).get("labels") or {})]
        if not pickers:
            bad(f, pool, "spec.endpointPickerRef", "picker-service", f"Service {_name(svc)} selects no picker pods")
        for d in pickers:
            args = {k: v for c in d["spec"]["template"]["spec"].get("containers") or [] for k, v in flag_values(c).items()}
            if args.get("--pool-name") != _name(pool):
                bad(f, pool, "spec.endpointPickerRef", "picker-pool-name",
                    f"{_oid(d)} runs with --pool-name={args.get('--pool-name')}, not {_name(pool)}")
    for f, o in by_kind.get("GCPBackendPolicy", []):
        default = (o.get("spec") or {}).get("default") or {}
        for i, scope in enumerate(default.get("scopes") or []):
            both = sorted(set(scope) - {"selector"} & set(default))
            if both:
                bad(f, o, f"spec.default.scopes[{i}]", "scope-fields",
                    f"{', '.join(both)} set both in default and in a scope: GKE rejects the policy; set it in one place")
    return problems


def check(view: FleetView) -> list[Problem]:
    problems: list[Problem] = []
    for cluster, docs in view.clusters.items():
        problems += [at_cluster(p, cluster) for p in cluster_rules(docs)]
    if any(has_routing(d) for d in view.clusters.values()):
        problems += fleet_rules(view.clusters)
    return problems


def fleet_rules(clusters: dict[str, list[tuple[str, dict]]]) -> list[Problem]:
    problems: list[Problem] = []
    pools: dict[str, dict] = {}
    gateways = []
    for cluster, docs in clusters.items():
        for f, o in iter_objects(docs):
            if o.get("kind") == "InferencePool":
                pools.setdefault(cluster, {})[(_ns(o), _name(o))] = (f, o)
            if o.get("kind") == "Gateway":
                gateways.append((cluster, f, o))
    # One cluster validated on its own need not be the config cluster; a fleet needs exactly one.
    holders = sorted({c for c, _, _ in gateways})
    if len(holders) > 1 or (not holders and len(clusters) > 1):
        where = ", ".join(holders) or "none"
        problems.append(Problem("", "Gateway", "", "config-cluster", f"exactly one config cluster must hold the Gateway (found: {where})"))
    shapes = {}
    for cluster, ps in pools.items():
        for key, (f, o) in ps.items():
            shapes.setdefault(key, {})[cluster] = (f, o.get("spec"))
    for key, per in shapes.items():
        specs = list(per.values())
        if len(per) != len(pools) or any(s[1] != specs[0][1] for s in specs):
            problems.append(Problem(specs[0][0], f"InferencePool/{key[1]}", "spec", "pools-identical",
                                    f"pool {key[0]}/{key[1]} must exist with the same spec in every serving cluster ({', '.join(sorted(per))} of {', '.join(sorted(pools))})"))
    exported = {k for ps in pools.values() for k, (f, o) in ps.items()
                if (o.get("metadata") or {}).get("annotations", {}).get("networking.gke.io/export") == "True"}
    for cluster in holders:
        for rf, route in iter_objects(clusters[cluster]):
            if route.get("kind") == "HTTPRoute":
                for i, rule in enumerate((route.get("spec") or {}).get("rules") or []):
                    for j, b in enumerate(rule.get("backendRefs") or []):
                        if b.get("kind") != "GCPInferencePoolImport" or b.get("group") != "networking.gke.io":
                            problems.append(Problem(rf, _oid(route), f"spec.rules[{i}].backendRefs[{j}]", "route-import",
                                                    "multi-cluster routes must point at networking.gke.io GCPInferencePoolImport"))
                        elif (b.get("namespace") or _ns(route), b.get("name")) not in exported:
                            problems.append(Problem(rf, _oid(route), f"spec.rules[{i}].backendRefs[{j}]", "route-import",
                                                    f"no serving cluster exports pool {b.get('name')} in namespace {_ns(route)}"))
            if route.get("kind") in ("HealthCheckPolicy", "GCPBackendPolicy"):
                t = (route.get("spec") or {}).get("targetRef") or {}
                if t.get("kind") != "GCPInferencePoolImport" or (_ns(route), t.get("name")) not in exported:
                    problems.append(Problem(rf, _oid(route), "spec.targetRef", "policy-target",
                                            "policies of a multi-cluster pool must target its GCPInferencePoolImport"))
    return problems
