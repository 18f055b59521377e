"""Fleet wiring rules: what schemas cannot see. Each problem names its rule id and how to fix it."""

from __future__ import annotations

from .problems import Problem, at_cluster, iter_objects
from .problems import args as flag_values
from .syntax import DNS1035_LABEL, DNS1123_LABEL, DNS1123_SUBDOMAIN, LABEL_VALUE, QUALIFIED_NAME
from .view import FleetView

RULES = {
    "object-identity": "no two objects a cluster receives share group, kind, namespace and name",
    "name-dns1035": "Service names are DNS-1035 labels",
    "name-dns1123": "Namespace names are DNS-1123 labels",
    "name-subdomain": "other names are DNS-1123 subdomains (RBAC objects: path segments, as ValidateRBACName)",
    "label-syntax": "label keys are qualified names and values at most 63 characters of the label alphabet",
    "selector-labels": "a Deployment's selector matches its pod template",
    "pdb-coverage": "a PodDisruptionBudget covers every Deployment's pods",
    "fuse-annotation": "pods with Cloud Storage FUSE volumes ask for the sidecar",
    "fuse-model-path": "--model reads from a Cloud Storage FUSE mount",
    "dra-claim": "claim templates exist and each claim is used by a container",
    "tpu-chips": "topology chips = google.com/tpu = --tensor-parallel-size",
    "gpu-devices": "nvidia.com/gpu requests = limits = --tensor-parallel-size, and GPU servers select their GPU type",
    "startup-budget": "TPU and GPU servers get >= 600 s to start",
    "pool-selector": "the InferencePool selects model-server pods",
    "pool-ports": "pool target ports are container ports",
    "pool-exported": "the pool is exported to the fleet",
    "pools-disjoint": "no pod is selected by two InferencePools (each model's pods belong to its own pool)",
    "picker-service": "the picker Service exists, serves the referenced port and selects picker pods",
    "picker-pool-name": "the picker runs for the pool that references it",
    "scope-fields": "no backend-policy field in both default and a scope",
    "config-cluster": "exactly one cluster holds the Gateway",
    "pools-identical": "a pool has the same spec in every serving cluster that exports it (pools match by name and namespace)",
    "route-import": "routes point at imports of exported pools",
    "policy-target": "health-check and backend policies target the import",
    "model-routes": "every model and adapter name a pool serves is routed exactly once, by the X-Gateway-Model-Name header, "
                    "to that pool's import; with several pools no rule takes every model's requests",
}

MODEL_HEADER = "x-gateway-model-name"  # HTTP header names are case-insensitive

FUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
MIN_STARTUP_SECONDS = 600
LABEL_NAMED = {"Service"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}  # kinds whose names must be DNS-1035 labels


def _name(o: dict) -> str:
    return (o.get("metadata") or {}).get("name", "")


def _ns(o: dict) -> str:
    return (o.get("metadata") or {}).get("namespace", "")


PATH_SEGMENT_NAMED = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


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
    seen: dict[tuple[str, str, str, str], str] = {}
    for f, o in objs:
        key = ((o.get("apiVersion") or "").rpartition("/")[0], o.get("kind", ""), _ns(o), _name(o))
        if key in seen:
            problems.append(Problem(f, _oid(o), "metadata.name", "object-identity",
                                    f"{_oid(o)} is also in {seen[key]}: a cluster holds one object of a kind, namespace "
                                    "and name, so one would replace the other (kustomize refuses the overlay)"))
        seen.setdefault(key, f)
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
        elif kind in PATH_SEGMENT_NAMED and (o.get("apiVersion") or "").startswith("rbac.authorization.k8s.io/"):
            # RBAC validates names as path segments only (ValidateRBACName = path.ValidatePathSegmentName): system:foo is legal.
            if not name or name in (".", "..") or "/" in name or "%" in name:
                bad(f, o, "metadata.name", "name-subdomain", f"{name!r} must be a path segment (not '.', '..', no '/' or '%')")
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
            gpu_req = (res.get("requests") or {}).get("nvidia.com/gpu")
            gpu_lim = (res.get("limits") or {}).get("nvidia.com/gpu")
            args = flag_values(c)
            cpath = f"spec.template.spec.containers[{ci}]"
            if tpu_req is not None or tpu_lim is not None:
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
            if gpu_req is not None or gpu_lim is not None:
                if str(gpu_req) != str(gpu_lim):
                    bad(f, d, f"{cpath}.resources", "gpu-devices", "nvidia.com/gpu requests and limits must be equal")
                if "--tensor-parallel-size" in args and args["--tensor-parallel-size"] != str(gpu_req):
                    bad(f, d, f"{cpath}.args", "gpu-devices",
                        f"--tensor-parallel-size={args['--tensor-parallel-size']} must equal nvidia.com/gpu ({gpu_req}): "
                        "vLLM shards the model over exactly the GPUs it is given")
                if "cloud.google.com/gke-accelerator" not in (pod.get("nodeSelector") or {}):
                    bad(f, d, "spec.template.spec.nodeSelector", "gpu-devices",
                        "a GPU server must select its GPU type (cloud.google.com/gke-accelerator), or it may land on any GPU")
            if any(x is not None for x in (tpu_req, tpu_lim, gpu_req, gpu_lim)):
                what = "TPU" if tpu_req is not None or tpu_lim is not None else "GPU"
                startup = c.get("startupProbe") or {}
                budget = int(startup.get("failureThreshold", 3)) * int(startup.get("periodSeconds", 10)) + int(startup.get("initialDelaySeconds", 0))
                if budget < MIN_STARTUP_SECONDS:
                    bad(f, d, f"{cpath}.startupProbe", "startup-budget",
                        f"start-up budget is {budget}s; {what} servers need >= {MIN_STARTUP_SECONDS}s to load weights"
                        + (" and compile XLA" if what == "TPU" else " and capture CUDA graphs"))
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
    owner: dict[tuple[str, str], str] = {}  # (namespace, workload) → the pool that selects its pods
    for f, pool in by_kind.get("InferencePool", []):
        sel = ((pool.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        for _, d, tmpl in pods:
            if _ns(d) == _ns(pool) and _matches(sel, (tmpl.get("metadata") or {}).get("labels") or {}):
                key = (_ns(d), _name(d))
                if key in owner and owner[key] != _name(pool):
                    bad(f, pool, "spec.selector", "pools-disjoint",
                        f"selects the pods of {_oid(d)}, which pool {owner[key]} already selects: the two pickers would "
                        "route each other's requests; give each pool its own pod labels")
                owner.setdefault(key, _name(pool))
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
        # A pool need not run everywhere (a model may serve some regions only), but the clusters that export it
        # form one backend service and must agree on its spec.
        if any(s[1] != specs[0][1] for s in specs):
            problems.append(Problem(specs[0][0], f"InferencePool/{key[1]}", "spec", "pools-identical",
                                    f"pool {key[0]}/{key[1]} must have the same spec in every cluster that exports it ({', '.join(sorted(per))})"))
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
    if len(holders) == 1:  # with none or several, config-cluster has said what is wrong
        problems += _model_routes(clusters, pools, holders[0])
    return problems


def served_names(container: dict) -> list[str]:
    """The model names a vLLM container answers to: --served-model-name (space-separated values after the flag or
    one ``=`` value) and the names of --lora-modules (``name=path`` or JSON entries)."""
    argv = [a for a in (container.get("command") or []) + (container.get("args") or []) if isinstance(a, str)]
    names: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        flag, eq, value = a.partition("=")
        if flag in ("--served-model-name", "--lora-modules"):
            values = [value] if eq else []
            j = i + 1
            if not eq:
                while j < len(argv) and not argv[j].startswith("--"):
                    values.append(argv[j])
                    j += 1
            for v in values:
                if flag == "--served-model-name":
                    names += v.split()
                elif v.startswith("{"):
                    import json

                    try:
                        names.append(json.loads(v).get("name", ""))
                    except ValueError:
                        pass
                else:
                    names.append(v.partition("=")[0])
            i = j if not eq else i + 1
            continue
        i += 1
    return [n for n in names if n]


def _model_routes(clusters: dict, pools: dict, config: str) -> list[Problem]:
    """Names each pool serves (from its pods, in every cluster) against the config cluster's routes."""
    problems: list[Problem] = []
    served: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}  # pool → name → (cluster, file)
    for cluster, docs in clusters.items():
        workloads: dict[str, list[tuple[str, dict]]] = {}
        for f, d in iter_objects(docs):
            if d.get("kind") in WORKLOADS:
                workloads.setdefault(_ns(d), []).append((f, d))
        for key, (pf, pool) in pools.get(cluster, {}).items():
            sel = ((pool.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            for f, d in workloads.get(key[0], []):
                tmpl = (d.get("spec") or {}).get("template") or {}
                if not _matches(sel, (tmpl.get("metadata") or {}).get("labels") or {}):
                    continue
                for c in (tmpl.get("spec") or {}).get("containers") or []:
                    for n in served_names(c):
                        served.setdefault(key, {}).setdefault(n, (cluster, f))
    routes: list[tuple[str, dict, int, tuple[str, str], list]] = []  # (file, route, rule index, import, header values | None)
    for rf, route in iter_objects(clusters[config]):
        if route.get("kind") != "HTTPRoute":
            continue
        for i, rule in enumerate((route.get("spec") or {}).get("rules") or []):
            targets = [(b.get("namespace") or _ns(route), b.get("name")) for b in rule.get("backendRefs") or []
                       if b.get("kind") == "GCPInferencePoolImport"]
            if not targets:
                continue
            values: list | None = []
            for m in rule.get("matches") or [{}]:
                header = [h for h in m.get("headers") or [] if str(h.get("name", "")).lower() == MODEL_HEADER
                          and h.get("type", "Exact") == "Exact"]
                if not header:
                    values = None  # this match takes requests whatever model they name
                    break
                values.append(header[0].get("value"))
            for target in targets:
                routes.append((rf, route, i, target, values))
    routed_pools = {r[3] for r in routes}
    for rf, route, i, target, values in routes:
        if values is None and len(routed_pools) > 1:
            problems.append(Problem(rf, _oid(route), f"spec.rules[{i}].matches", "model-routes",
                                    f"routes every request under its path to pool {target[1]} whatever model it names, "
                                    f"beside routes to other pools; match the header X-Gateway-Model-Name", config))
        for v in values or []:
            if v not in served.get(target, {}):
                problems.append(Problem(rf, _oid(route), f"spec.rules[{i}].matches", "model-routes",
                                        f"sends model {v!r} to pool {target[1]}, whose servers do not serve it "
                                        f"(they serve: {', '.join(sorted(served.get(target, {}))) or 'nothing'})", config))
    for pool, names in sorted(served.items()):
        for n, (cluster, f) in sorted(names.items()):
            hits = [r for r in routes if r[4] is not None and n in r[4]]
            catch = [r for r in routes if r[4] is None and r[3] == pool]
            if not hits and not catch:
                problems.append(Problem(f, f"InferencePool/{pool[1]}", "", "model-routes",
                                        f"model {n!r} is served by pool {pool[1]} but no route on the config cluster sends it "
                                        "there: clients asking for it get 404", cluster))
            elif len(hits) > 1:
                where = ", ".join(f"{_oid(r[1])} rule {r[2]}" for r in hits)
                problems.append(Problem(hits[1][0], _oid(hits[1][1]), f"spec.rules[{hits[1][2]}].matches", "model-routes",
                                        f"model {n!r} is matched by more than one route ({where}); route each name once", config))
            elif hits and hits[0][3] != pool:
                problems.append(Problem(hits[0][0], _oid(hits[0][1]), f"spec.rules[{hits[0][2]}].matches", "model-routes",
                                        f"sends model {n!r} to pool {hits[0][3][1]}, but pool {pool[1]} serves it", config))
    return problems
