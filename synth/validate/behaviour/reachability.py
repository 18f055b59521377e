"""Who reaches which pod: the emitted NetworkPolicies evaluated as Dataplane V2 enforces them, by IBM's
network-config-analyzer (NCA, PyPI ``network-config-analyzer``), not by hand-written semantics.

Kubernetes NetworkPolicy semantics (what NCA implements and GKE Dataplane V2 enforces): a pod no policy selects
accepts everything; a selected pod accepts the union of its policies' rules; ipBlock/except, pod and namespace
selectors, named ports and endPort. Kubelet probes come from the pod's own node and are exempt, so they are not
paths here.

For each cluster two configurations are compared, over the cluster's namespaces and workloads plus stand-in peers
(a Managed Prometheus collector in gmp-system and in gke-gmp-system, a metrics agent in kube-system and gke-managed-system, an opt-in
model client, and an arbitrary pod in the fleet namespace and in another namespace):

* **required** — the paths the architecture needs, derived from the objects, not from the policies: the health-check
  ranges and every proxy-only subnet (infra ComputeSubnetworks) to each InferencePool's target ports; the proxy-only
  subnets to the picker's ext-proc port (the Service port the pool references) and the health-check ranges to its
  gRPC health port; the picker to the pool's pods (metrics scrape); Managed Prometheus to what each PodMonitoring
  scrapes; the AutoscalingMetric agent to the exported port. ``reachability-required`` fails for every required
  connection the emitted policies do not admit (NCA's ``permits`` query).
* **allowed** — the required paths plus what is optional (opt-in model clients of the namespace, the proxy-only
  subnets on the picker's health port), and nothing else for every pod we run. ``reachability-exposed`` fails for
  every connection the emitted policies admit beyond that (NCA's ``containment`` query): a pod reachable from any pod
  or any address fails here.

Verdicts are cached by a hash of both configurations (``.cache/reachability``)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import json
import os
import re
import tempfile
from pathlib import Path

import yaml

from ...config import catalog
from ..problems import Problem, iter_objects, labels, matches, name, namespace
from ..verdicts import VerdictStore
from ..view import FleetView

RULES = {
    "reachability-required": "every path the architecture needs is admitted (health checks, proxy-only subnets, picker, metrics scrapers), evaluated by network-config-analyzer",
    "reachability-exposed": "no pod accepts connections beyond those paths and opt-in clients (never any pod or any address), evaluated by network-config-analyzer",
}

# Managed Prometheus collectors: sources disagree on gmp-system or gke-gmp-system, so a scrape must be admitted from both.
GMP_NAMESPACES = ("gmp-system", "gke-gmp-system")
GMP_LABELS = {"app.kubernetes.io/name": "collector"}
AGENT_NAMESPACES = ("kube-system", "gke-managed-system")
CLIENT_LABEL = "inference-fleet.dev/model-client"
_WORKLOADS = ("Deployment", "Job", "StatefulSet", "DaemonSet", "ReplicaSet")
VERSION = "1"


def _policy(ns: str, policy_name: str, selector: dict, rules: list[dict]) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": policy_name, "namespace": ns},
            "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"], "ingress": rules}}


def _rule(peers: list[dict], port: int) -> dict:
    return {"from": peers, "ports": [{"port": port, "protocol": "TCP"}]}


def _cidrs(cidrs) -> list[dict]:
    return [{"ipBlock": {"cidr": c}} for c in cidrs]


def _in_namespace(ns: str, pod_labels: dict) -> dict:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}, "podSelector": {"matchLabels": pod_labels}}


def _container_port(templates: list[dict], port) -> int | None:
    """A port number given as a number or a container port name of the selected pods."""
    if isinstance(port, int):
        return port
    for t in templates:
        for c in (t.get("spec") or {}).get("containers") or []:
            for p in c.get("ports") or []:
                if p.get("name") == port:
                    return p.get("containerPort")
    return None


class _Requirements:
    """The required and allowed ingress of one cluster, as NetworkPolicies over the same pods."""

    def __init__(self, docs, proxies: list[str]) -> None:
        self.docs = docs
        self.proxies = proxies
        self.must: dict[tuple[str, str], dict] = {}  # (ns, selector key) → policy
        self.may: dict[tuple[str, str], dict] = {}
        self.templates = [(o, t) for _, o in iter_objects(docs) if o.get("kind") in _WORKLOADS
                          for t in [(o.get("spec") or {}).get("template") or {}]]

    def _selected(self, ns: str, selector: dict) -> list[dict]:
        return [t for o, t in self.templates if namespace(o) == ns and matches(selector, labels(t))]

    def add(self, ns: str, selector: dict, peers: list[dict], port: int | None, required: bool = True) -> None:
        if not selector or not isinstance(port, int) or not 1 <= port <= 65535 or not peers:
            return  # an invalid port is the API-server layer's problem
        key = (ns, json.dumps(selector, sort_keys=True))
        targets = [self.may] + ([self.must] if required else [])
        for book in targets:
            policy = book.setdefault(key, _policy(ns, f"{'must' if book is self.must else 'may'}-{len(book)}", selector, []))
            policy["spec"]["ingress"].append(_rule(peers, port))

    def build(self) -> None:
        by_kind: dict[str, list[dict]] = {}
        for _, o in iter_objects(self.docs):
            by_kind.setdefault(o.get("kind", ""), []).append(o)
        services = {(namespace(s), name(s)): s for s in by_kind.get("Service", [])}
        health = list(catalog.HEALTH_CHECK_RANGES)
        for pool in by_kind.get("InferencePool", []):
            ns, spec = namespace(pool), pool.get("spec") or {}
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            ref = spec.get("endpointPickerRef") or {}
            svc = services.get((ns, ref.get("name")))
            picker_sel = ((svc or {}).get("spec") or {}).get("selector") or {}
            for tp in spec.get("targetPorts") or []:
                port = tp.get("number")
                self.add(ns, selector, _cidrs(health + self.proxies), port)
                if picker_sel:
                    self.add(ns, selector, [{"podSelector": {"matchLabels": picker_sel}}], port)
                self.add(ns, selector, [{"podSelector": {"matchLabels": {CLIENT_LABEL: "true"}}}], port, required=False)
            if svc is None:
                continue
            pickers = self._selected(ns, picker_sel)
            for sp in (svc.get("spec") or {}).get("ports") or []:
                if sp.get("port") == (ref.get("port") or {}).get("number"):
                    self.add(ns, picker_sel, _cidrs(self.proxies), _container_port(pickers, sp.get("targetPort", sp.get("port"))))
            for t in pickers:
                for c in (t.get("spec") or {}).get("containers") or []:
                    grpc = ((c.get("readinessProbe") or {}).get("grpc") or (c.get("livenessProbe") or {}).get("grpc") or {})
                    if grpc.get("port"):
                        self.add(ns, picker_sel, _cidrs(health), grpc["port"])
                        self.add(ns, picker_sel, _cidrs(self.proxies), grpc["port"], required=False)
        for pm in by_kind.get("PodMonitoring", []):
            ns, spec = namespace(pm), pm.get("spec") or {}
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            for ep in spec.get("endpoints") or []:
                for gmp in GMP_NAMESPACES:
                    self.add(ns, selector, [_in_namespace(gmp, GMP_LABELS)], _container_port(self._selected(ns, selector), ep.get("port")))
        for am in by_kind.get("AutoscalingMetric", []):
            ns, spec = namespace(am), am.get("spec") or {}
            agents = [{"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                                                   "values": list(AGENT_NAMESPACES)}]}}]
            for ep in spec.get("endpoints") or []:
                self.add(ns, (spec.get("selector") or {}).get("matchLabels") or {}, agents, ep.get("port"))
            for m in spec.get("metrics") or []:
                pod = m.get("pod") or {}
                for c in pod.get("containers") or []:
                    self.add(ns, (pod.get("selector") or {}).get("matchLabels") or {}, agents, (c.get("endpoint") or {}).get("port"))
        # Every other pod we run accepts nothing.
        covered = [(ns, json.loads(sel)) for ns, sel in self.may]
        for o, t in self.templates:
            lbls = labels(t)
            if not any(namespace(o) == ns and matches(sel, lbls) for ns, sel in covered):
                key = (namespace(o), json.dumps(lbls, sort_keys=True))
                self.may.setdefault(key, {**_policy(namespace(o), f"may-{len(self.may)}", lbls, []),
                                          "spec": {"podSelector": {"matchLabels": lbls}, "policyTypes": ["Ingress"]}})


UNDER = "namespace-under-analysis"  # the analysed namespace's name inside NCA (equal namespaces share a verdict)
ELSEWHERE = "another-namespace"


def _peers() -> list[dict]:
    """Namespaces (with the label the API server adds) and the stand-in pods connections are asked about."""
    ours = [UNDER]
    out = []
    for ns in sorted(set(ours) | {*GMP_NAMESPACES, *AGENT_NAMESPACES, ELSEWHERE}):
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}})

    def pod(pod_name: str, ns: str, lbls: dict) -> dict:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, "namespace": ns, "labels": lbls},
                "spec": {"containers": [{"name": "c", "image": "stand-in"}]}}

    for gmp in GMP_NAMESPACES:
        out.append(pod("prometheus-collector", gmp, GMP_LABELS))
    for ns in AGENT_NAMESPACES:
        out.append(pod("metrics-agent", ns, {"k8s-app": "metrics-agent"}))
    out.append(pod("any-pod", ELSEWHERE, {"app": "anything"}))
    for ns in ours:
        out.append(pod("any-neighbour", ns, {"app": "anything"}))
        out.append(pod("model-client", ns, {CLIENT_LABEL: "true"}))
    return out


def _workloads(docs) -> tuple[list[dict], list[dict]]:
    """(workload objects NCA reads pods from, emitted NetworkPolicies). Namespaces are given by ``_peers``;
    helm test hooks never run in an overlay."""
    pods, policies = [], []
    for _, o in iter_objects(docs):
        kind = o.get("kind")
        if kind == "NetworkPolicy":
            policies.append(o)
        elif kind in _WORKLOADS or (kind == "Pod" and "helm.sh/hook" not in ((o.get("metadata") or {}).get("annotations") or {})):
            pods.append(o)
    return pods, policies


@contextlib.contextmanager
def _silenced():
    """NCA prints parser warnings about our synthetic inputs to streams it bound at import: mute both descriptors."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


_RANGE = re.compile(r"^(\d+\.\d+\.\d+\.\d+)-(\d+\.\d+\.\d+\.\d+)$")


def _readable(peer: str) -> str:
    """NCA's peer list in words: CIDRs instead of address ranges, the stand-ins by what they stand for."""
    parts: list[str] = []
    for chunk in (c.strip() for c in peer.split(",")):
        m = _RANGE.match(chunk)
        if m:
            nets = ipaddress.summarize_address_range(ipaddress.ip_address(m.group(1)), ipaddress.ip_address(m.group(2)))
            parts += [str(n) for n in nets]
            continue
        ns, _, pod = chunk.partition("/")
        parts.append({"any-pod": "any pod of any namespace", "any-neighbour": f"any pod of {ns}",
                      "prometheus-collector": "the Managed Prometheus collectors", "metrics-agent": f"pods of {ns}",
                      "model-client": f"opt-in model clients of {ns}"}.get(pod, chunk))
    if "0.0.0.0/0" in parts:
        return "any address" + (" and any pod" if "any pod of any namespace" in parts else "")
    if "any pod of any namespace" in parts:
        return "any pod of any namespace"
    return ", ".join(dict.fromkeys(parts))


def _conns(props) -> str:
    try:
        text = props.get_simplified_connections_representation(True)
    except Exception:  # noqa: BLE001 - older NCA releases: fall back to the plain form
        text = str(props)
    if text in ("All connections", "all connections"):
        return "all ports"
    return str(text).replace("{protocols:TCP,dst_ports:", "TCP ").replace("protocols:", "").strip("{}")


def _analyse(resources: list[dict], emitted: list[dict], must: list[dict], may: list[dict]) -> dict:
    """NCA's answers: connections required but not admitted, and admitted but not allowed."""
    from nca.NetworkConfig.NetworkConfigQuery import ContainmentQuery, PermitsQuery
    from nca.NetworkConfig.ResourcesHandler import ResourcesHandler
    from nca.Utils.NcaLogger import NcaLogger
    from nca.Utils.OutputConfiguration import OutputConfiguration

    # NCA's parser warnings (a selector matching no stand-in pod, ...) are about our synthetic inputs, not the user's.
    NcaLogger().log_message = lambda *args, **kwargs: None

    with tempfile.TemporaryDirectory(prefix="inference-fleet-nca-") as tmp:
        root = Path(tmp)
        for folder, docs in (("resources", resources), ("emitted", emitted), ("must", must), ("may", may)):
            (root / folder).mkdir()
            (root / folder / "objects.yaml").write_text(yaml.safe_dump_all(docs or [], sort_keys=True))
        with _silenced():
            handler = ResourcesHandler()
            res = [str(root / "resources")]
            configs = {k: handler.get_network_config([str(root / k)], None, None, res, k) for k in ("emitted", "must", "may")}
            out = OutputConfiguration({"fullExplanation": True})
            blocked = PermitsQuery(configs["must"], configs["emitted"], out).exec(cmd_line_flag=False) if must else None
            exposed = ContainmentQuery(configs["emitted"], configs["may"], out).exec(cmd_line_flag=False)

    def diffs(answer) -> list[list[str]]:
        rows = []
        for e in (answer.output_explanation or []) if answer is not None and not answer.bool_result else []:
            for d in getattr(e, "peers_diff_connections_list", []) or []:
                conns = getattr(d, "conns1", None)
                other = getattr(d, "conns2", None)
                if conns is not None and other is not None:
                    conns = conns - other  # what the first configuration allows beyond the second
                rows.append([", ".join(map(str, d.src_peer)) if isinstance(d.src_peer, list) else str(d.src_peer),
                             ", ".join(map(str, d.dst_peer)) if isinstance(d.dst_peer, list) else str(d.dst_peer),
                             _conns(conns) if conns is not None else ""])
        return sorted(rows)

    return {"blocked": diffs(blocked), "exposed": diffs(exposed)}


def _cache_file() -> Path:
    from ..schemas import cache_dir

    try:
        from importlib.metadata import version

        nca_version = version("network-config-analyzer")
    except Exception:  # noqa: BLE001
        nca_version = "unknown"
    return cache_dir() / "reachability" / f"verdicts-{VERSION}-nca-{nca_version}.json"


_VERDICTS = VerdictStore(_cache_file)  # saved with the CEL verdicts after validation


def _cached(key: str, compute) -> dict:
    verdicts = _VERDICTS.load()
    if key not in verdicts:
        verdicts[key] = compute()
    return verdicts[key]


def _pod_stand_in(pod_name: str, o: dict) -> dict:
    """A pod with the workload's labels and container ports, nothing else."""
    t = o if o.get("kind") == "Pod" else (o.get("spec") or {}).get("template") or {}
    ports = [[{k: p[k] for k in ("name", "containerPort", "protocol") if k in p} for p in c.get("ports") or []]
             for c in (t.get("spec") or {}).get("containers") or []]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, "namespace": namespace(o), "labels": labels(t)},
            "spec": {"containers": [{"name": f"c{i}", "image": "stand-in", **({"ports": p} if p else {})}
                                    for i, p in enumerate(ports)] or [{"name": "c0", "image": "stand-in"}]}}


def _pod_owner(peer: str, docs) -> tuple[str, str]:
    """NCA names a workload's pod ``namespace/<workload>-<n>``: map it back to the object."""
    ns, _, pod_name = peer.partition("/")
    for f, o in iter_objects(docs):
        if namespace(o) == ns and o.get("kind") in (*_WORKLOADS, "Pod") and \
                (pod_name == name(o) or re.fullmatch(re.escape(name(o)) + r"-[0-9a-z]+", pod_name)):
            return f, f"{o.get('kind')}/{name(o)}"
    return "", peer


def check(view: FleetView) -> list[Problem]:
    problems: list[Problem] = []
    proxies = sorted(set(view.proxy_only_cidrs()))
    for cluster, docs in view.clusters.items():
        pods, policies = _workloads(docs)
        if not pods:
            continue
        if not view.infra and any(o.get("kind") == "InferencePool" for _, o in iter_objects(docs)):
            problems.append(Problem("", f"cluster/{cluster}", "", "reachability-required",
                                    "the gateway's proxy-only subnets are unknown without the infra root (its "
                                    "ComputeSubnetworks), so the paths from them cannot be checked: validate with --infra "
                                    "or --overlays DIR beside infra/", cluster, unchecked=True))
            continue
        by_ns: dict[str, list] = {}
        for f, o in iter_objects(docs):
            by_ns.setdefault(namespace(o), []).append((f, o))
        for ns in sorted({namespace(o) for o in pods}):
            problems += _check_namespace(cluster, by_ns[ns], ns, proxies)
    return problems


def _rename(value, ns: str):
    """``value`` with the namespace's name replaced by a fixed one (as a whole JSON string only)."""
    return json.loads(json.dumps(value).replace(json.dumps(ns), json.dumps(UNDER)))


def _check_namespace(cluster: str, docs, ns: str, proxies: list[str]) -> list[Problem]:
    """One namespace's pods against its policies; other namespaces appear as stand-ins (policies are namespaced, so
    this is exact for every path but one naming a specific other namespace of ours)."""
    problems: list[Problem] = []
    pods, policies = _workloads(docs)
    req = _Requirements(docs, proxies)
    req.build()
    # Only what connectivity depends on reaches NCA (labels, container ports, policy specs), under stable names: the
    # clusters of a fleet then share one verdict.
    owners = sorted(pods, key=lambda o: (o.get("kind", ""), name(o)))
    stand_ins = [_pod_stand_in(f"workload-{i}", o) for i, o in enumerate(owners)]
    resources = _peers() + _rename(stand_ins, ns)
    policies = _rename([{"apiVersion": p.get("apiVersion"), "kind": "NetworkPolicy",
                         "metadata": {"name": f"policy-{i}", "namespace": namespace(p)}, "spec": p.get("spec") or {}}
                        for i, p in enumerate(sorted(policies, key=name))], ns)
    must, may = _rename(list(req.must.values()), ns), _rename(list(req.may.values()), ns)
    key = hashlib.sha256(json.dumps([resources, policies, must, may], sort_keys=True).encode()).hexdigest()
    try:
        verdict = _cached(key, lambda: _analyse(resources, policies, must, may))
    except Exception as exc:  # noqa: BLE001 - NCA refuses malformed policies with several exception types
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [Problem("", f"cluster/{cluster}", "", "reachability-required",
                        f"network-config-analyzer cannot evaluate the NetworkPolicies of namespace {ns} ({detail}); "
                        "fix the problems reported for them", cluster)]
    text = re.sub(UNDER + r"/workload-(\d+)", lambda m: f"{ns}/{name(owners[int(m.group(1))])}", json.dumps(verdict))
    verdict = json.loads(text.replace(UNDER + "/", ns + "/").replace(f"pods of {UNDER}", f"pods of {ns}"))
    says = {
        "blocked": ("reachability-required", "the NetworkPolicies do not admit {conns} from {src}, a path the architecture "
                                             "needs; admit it in the policy that selects these pods"),
        "exposed": ("reachability-exposed", "accepts {conns} from {src}, which no path of the architecture needs; narrow "
                                            "the NetworkPolicy that selects these pods"),
    }
    seen: set = set()
    for key, (rule, message) in says.items():
        for src, dst, conns in verdict[key]:
            for peer in dst.split(", "):
                f, obj = _pod_owner(peer, docs)
                p = Problem(f, obj, "", rule, message.format(conns=conns, src=_readable(src)), cluster)
                if p not in seen:
                    seen.add(p)
                    problems.append(p)
    return problems
