"""The kube-apiserver's native validation beyond OpenAPI, for the built-in kinds we emit.

The published schemas say little more than field names and types; the API server also runs Go validation after
defaulting and refuses what it finds. This layer mirrors the functions below (Kubernetes 1.34:
kubernetes/kubernetes pkg/apis/{core,apps,batch,policy,autoscaling,networking,rbac,resource}/validation and
kubernetes/apimachinery pkg/util/validation), one rule id per concern. ``api-target-ports`` is the one rule the API
server does not run itself: a Service or probe naming a port no container declares is accepted and then never
connects, so it is checked here with the same port-name grammar."""

from __future__ import annotations

import ipaddress
import re

from .problems import Problem, at_cluster, iter_objects, labels, matches, oid, pod_specs
from .syntax import DNS1123_LABEL, DNS1123_SUBDOMAIN, LABEL_VALUE, QUALIFIED_NAME
from .view import FleetView

RULES = {
    "api-pods": "topologySpreadConstraints maxSkew >= 1 with a known whenUnsatisfiable, runAsUser/runAsGroup/fsGroup >= 0, node-affinity operators known (validateTopologySpreadConstraints, ValidatePodSecurityContext, ValidateNodeSelectorRequirement)",
    "api-containers": "a pod has at least one container; container names are unique DNS-1123 labels, images are set, only init containers set restartPolicy (ValidatePodSpec, validateContainers, validateInitContainers)",
    "api-container-ports": "container ports 1-65535 with IANA_SVC_NAME names unique in the container, valid protocols (validateContainerPorts, IsValidPortName)",
    "api-volumes": "volume names are unique DNS-1123 labels with exactly one source; mounts name a declared volume at a unique, absolute path (ValidateVolumes, ValidateVolumeMounts)",
    "api-resources": "quantities parse, requests <= limits, extended resources are whole, with limits equal to requests (validateResourceRequirements, ValidateResourceQuantityValue)",
    "api-probes": "each probe has exactly one handler, valid ports, an HTTP or HTTPS scheme and HTTP header names, and successThreshold 1 for liveness and startup (validateProbe, validateHandler, validateHTTPGetAction)",
    "api-env": "env names are set and printable without '=', valueFrom has exactly one source and no value (ValidateEnv, validateEnvVarValueFrom)",
    "api-tolerations": "toleration keys, operators, values and effects are valid (ValidateTolerations)",
    "api-services": "Service type known, ports 1-65535, named when several, unique by name and by protocol/port; target ports valid (ValidateService, validateServicePort)",
    "api-target-ports": "named Service target ports and probe ports are ports the selected containers declare",
    "api-network-policies": "NetworkPolicy ports 1-65535 or IANA names, endPort only with a numeric port, each peer sets a selector or an ipBlock (never both), valid CIDRs with strict-subset excepts (ValidateNetworkPolicyPort, ValidateNetworkPolicyPeer, ValidateIPBlock)",
    "api-deployments": "replicas, minReadySeconds and revisionHistoryLimit >= 0, RollingUpdate surge/unavailable not both 0 and <= 100%, Recreate without rollingUpdate, progressDeadlineSeconds > minReadySeconds, restartPolicy Always (ValidateDeploymentSpec, ValidateRollingUpdateDeployment)",
    "api-jobs": "Jobs restart OnFailure or Never, carry no hand-written selector, have names that fit the job-name label (ValidateJob, validateGeneratedSelector)",
    "api-pdbs": "minAvailable and maxUnavailable are exclusive, non-negative, percentages <= 100% (ValidatePodDisruptionBudgetSpec)",
    "api-hpas": "minReplicas >= 1, maxReplicas >= minReplicas, each metric sets only its source, metric names are path segments (ValidateHorizontalPodAutoscalerSpec)",
    "api-resource-claims": "claim requests are unique DNS labels with exactly one of exactly/firstAvailable, allocationMode All without count; pod claims name one template (ValidateResourceClaimTemplate, validatePodResourceClaim)",
    "api-rbac": "rules have verbs, API groups and resources (ClusterRoles: or only non-resource URLs); bindings reference rbac.authorization.k8s.io (a ClusterRoleBinding only a ClusterRole) and subjects are ServiceAccounts (with a namespace in a ClusterRoleBinding), Users or Groups (ValidatePolicyRule, ValidateRoleBinding, ValidateClusterRoleBinding, ValidateRoleBindingSubject)",
    "api-metadata": "a manifest to be created carries no resourceVersion (storage ErrResourceVersionSetOnCreate)",
    "api-config-maps": "ConfigMap keys are valid and values total <= 1 MiB (ValidateConfigMap, IsConfigMapKey)",
    "api-selectors": "label selector requirements: In/NotIn with values, Exists/DoesNotExist without (ValidateLabelSelectorRequirement)",
}

QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
PERCENT = re.compile(r"^[0-9]+%$")
FIELD_PATHS = {"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
               "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
STANDARD_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
PROTOCOLS = {"TCP", "UDP", "SCTP"}
EFFECTS = {"NoSchedule", "PreferNoSchedule", "NoExecute"}


def is_port_name(name) -> bool:
    """IsValidPortName (IANA_SVC_NAME): <= 15 characters of [-a-z0-9], a letter, no '--', no '-' at either end."""
    return (isinstance(name, str) and 0 < len(name) <= 15 and re.fullmatch(r"[-a-z0-9]+", name) is not None
            and re.search(r"[a-z]", name) is not None and "--" not in name and not name.startswith("-")
            and not name.endswith("-"))


def _port_ok(port) -> bool:
    return isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535


_SUFFIX = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(value) -> float | None:
    """A Kubernetes quantity as a number (None when it does not parse as the API server's decoder would)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or not QUANTITY.fullmatch(value):
        return None
    m = re.fullmatch(r"([+-]?[0-9]*\.?[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]|[eE][-+]?[0-9]+)?", value)
    if not m:
        return None
    number, suffix = float(m.group(1)), m.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return number * 10 ** int(suffix[1:])
    return number * _SUFFIX[suffix]


def _int_or_percent(value) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or \
        (isinstance(value, str) and PERCENT.fullmatch(value) is not None and int(value[:-1]) <= 100)


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def bad(self, f: str, o: dict, path: str, rule: str, msg: str, warning: bool = False) -> None:
        self.problems.append(Problem(f, oid(o), path, rule, msg, warning=warning))

    def unique_label(self, f: str, o: dict, at: str, n, seen: dict[str, str], rule: str, what: str) -> None:
        """``n`` (the name at ``at``) is a DNS-1123 label (IsDNS1123Label: the pattern and <= 63 characters) not
        already in ``seen`` (name → where it was declared), which it joins."""
        if not isinstance(n, str) or not DNS1123_LABEL.fullmatch(n) or len(n) > 63:
            self.bad(f, o, f"{at}.name", rule, f"{what} name {n!r} is not a DNS-1123 label")
        elif n in seen:
            self.bad(f, o, f"{at}.name", rule, f"{what} name {n!r} is also {seen[n]}")
        else:
            seen[n] = at

    # ---- pods ------------------------------------------------------------------------------------

    def pod(self, f: str, o: dict, meta: dict, pod: dict, prefix: str) -> None:
        containers = [("containers", i, c) for i, c in enumerate(pod.get("containers") or [])]
        inits = [("initContainers", i, c) for i, c in enumerate(pod.get("initContainers") or [])]
        volumes = pod.get("volumes") or []
        seen: dict[str, str] = {}
        if not containers:  # ValidatePodSpec: at least one (the OpenAPI "required" is not what rejects it)
            self.bad(f, o, f"{prefix}.containers", "api-containers", "at least one container is required")
        for group, i, c in inits + containers:
            cp = f"{prefix}.{group}[{i}]"
            self.unique_label(f, o, cp, c.get("name"), seen, "api-containers", "container")
            if not c.get("image"):
                self.bad(f, o, f"{cp}.image", "api-containers", "image is required")
            if "imagePullPolicy" in c and c["imagePullPolicy"] not in ("Always", "IfNotPresent", "Never"):
                self.bad(f, o, f"{cp}.imagePullPolicy", "api-containers",
                         f"{c['imagePullPolicy']!r} is not Always, IfNotPresent or Never (validatePullPolicy)")
            if group == "containers" and "restartPolicy" in c:
                self.bad(f, o, f"{cp}.restartPolicy", "api-containers", "only init containers may set restartPolicy")
            if group == "initContainers" and c.get("restartPolicy") != "Always":
                for probe in ("livenessProbe", "readinessProbe", "startupProbe", "lifecycle"):
                    if probe in c:
                        self.bad(f, o, f"{cp}.{probe}", "api-containers", f"init containers may not set {probe} (unless restartPolicy Always)")
            self.ports(f, o, cp, c)
            self.mounts(f, o, cp, c, volumes)
            self.resources(f, o, cp, c)
            self.env(f, o, cp, c)
            for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
                if kind in c:
                    self.probe(f, o, f"{cp}.{kind}", kind, c[kind], c)
        self.volumes(f, o, prefix, volumes)
        for i, t in enumerate(pod.get("tolerations") or []):
            self.toleration(f, o, f"{prefix}.tolerations[{i}]", t)
        self.claims(f, o, prefix, pod)
        self.pod_fields(f, o, prefix, pod, inits + containers)
        for k, v in (pod.get("nodeSelector") or {}).items():
            if not QUALIFIED_NAME.fullmatch(str(k)) or not isinstance(v, str) or not LABEL_VALUE.fullmatch(v) or len(v) > 63:
                self.bad(f, o, f"{prefix}.nodeSelector", "api-selectors", f"node selector {k}={v!r} is not a valid label")

    def pod_fields(self, f, o, prefix: str, pod: dict, containers: list) -> None:
        for i, t in enumerate(pod.get("topologySpreadConstraints") or []):
            at = f"{prefix}.topologySpreadConstraints[{i}]"
            if not isinstance(t.get("maxSkew"), int) or t["maxSkew"] < 1:
                self.bad(f, o, f"{at}.maxSkew", "api-pods", f"maxSkew {t.get('maxSkew')!r} must be greater than 0")
            if t.get("whenUnsatisfiable") not in ("DoNotSchedule", "ScheduleAnyway"):
                self.bad(f, o, f"{at}.whenUnsatisfiable", "api-pods", f"{t.get('whenUnsatisfiable')!r} is not DoNotSchedule or ScheduleAnyway")
        contexts = [(f"{prefix}.securityContext", pod.get("securityContext") or {})]
        contexts += [(f"{prefix}.{group}[{i}].securityContext", c.get("securityContext") or {}) for group, i, c in containers]
        for at, sc in contexts:
            for key in ("runAsUser", "runAsGroup", "fsGroup"):
                if isinstance(sc.get(key), int) and sc[key] < 0:
                    self.bad(f, o, f"{at}.{key}", "api-pods", f"{sc[key]} must be between 0 and 2147483647")
        required = ((((pod.get("affinity") or {}).get("nodeAffinity") or {})
                     .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
        preferred = [p.get("preference") or {} for p in ((pod.get("affinity") or {}).get("nodeAffinity") or {})
                     .get("preferredDuringSchedulingIgnoredDuringExecution") or []]
        for i, term in enumerate(required + preferred):
            for j, req in enumerate((term.get("matchExpressions") or []) + (term.get("matchFields") or [])):
                op = req.get("operator")
                if op not in ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"):
                    self.bad(f, o, f"{prefix}.affinity.nodeAffinity", "api-pods", f"unknown node selector operator {op!r}")
                elif op in ("Exists", "DoesNotExist") and req.get("values"):
                    self.bad(f, o, f"{prefix}.affinity.nodeAffinity", "api-pods", f"{op} takes no values")
                elif op in ("In", "NotIn") and not req.get("values"):
                    self.bad(f, o, f"{prefix}.affinity.nodeAffinity", "api-pods", f"{op} needs values")

    def ports(self, f, o, cp, c) -> None:
        names: dict[str, int] = {}
        numbers: set[tuple] = set()
        for j, p in enumerate(c.get("ports") or []):
            at = f"{cp}.ports[{j}]"
            if not _port_ok(p.get("containerPort")):
                self.bad(f, o, f"{at}.containerPort", "api-container-ports", f"{p.get('containerPort')!r} is not a port number 1-65535")
            if "hostPort" in p and not _port_ok(p["hostPort"]):
                self.bad(f, o, f"{at}.hostPort", "api-container-ports", f"{p['hostPort']!r} is not a port number 1-65535")
            if p.get("protocol", "TCP") not in PROTOCOLS:
                self.bad(f, o, f"{at}.protocol", "api-container-ports", "protocol must be one of TCP, UDP, SCTP")
            if "name" in p:
                if not is_port_name(p["name"]):
                    self.bad(f, o, f"{at}.name", "api-container-ports", f"{p['name']!r} is not an IANA_SVC_NAME (<= 15 of a-z0-9-, with a letter)")
                elif p["name"] in names:
                    self.bad(f, o, f"{at}.name", "api-container-ports", f"port name {p['name']!r} is also ports[{names[p['name']]}]")
                else:
                    names[p["name"]] = j
            key = (p.get("containerPort"), p.get("protocol", "TCP"))
            if key in numbers:  # accepted, with a warning (pkg/api/pod/warnings.go: duplicate port definition)
                self.bad(f, o, f"{at}.containerPort", "api-container-ports", f"{key[1]} {key[0]} is declared twice", warning=True)
            numbers.add(key)

    def mounts(self, f, o, cp, c, volumes) -> None:
        declared = {v.get("name") for v in volumes}
        paths: dict[str, int] = {}
        for j, m in enumerate(c.get("volumeMounts") or []):
            at = f"{cp}.volumeMounts[{j}]"
            if m.get("name") not in declared:
                self.bad(f, o, f"{at}.name", "api-volumes", f"mounts {m.get('name')!r}, which is not a volume of the pod")
            path = m.get("mountPath")
            if not path:
                self.bad(f, o, f"{at}.mountPath", "api-volumes", "mountPath is required")
            elif path in paths:
                self.bad(f, o, f"{at}.mountPath", "api-volumes", f"{path} is also volumeMounts[{paths[path]}]")
            else:
                paths[path] = j
            sub = m.get("subPath")
            if sub and (sub.startswith("/") or ".." in sub.split("/")):
                self.bad(f, o, f"{at}.subPath", "api-volumes", "subPath must be relative without '..'")

    def volumes(self, f, o, prefix, volumes) -> None:
        seen: dict[str, str] = {}
        for i, v in enumerate(volumes):
            at = f"{prefix}.volumes[{i}]"
            self.unique_label(f, o, at, v.get("name"), seen, "api-volumes", "volume")
            sources = [k for k in v if k != "name"]
            if len(sources) != 1:
                self.bad(f, o, at, "api-volumes", "a volume has exactly one source" + (f" (has {', '.join(sorted(sources))})" if sources else ""))
            limit = (v.get("emptyDir") or {}).get("sizeLimit")
            if limit is not None and (quantity(limit) is None or quantity(limit) < 0):
                self.bad(f, o, f"{at}.emptyDir.sizeLimit", "api-volumes", f"{limit!r} is not a non-negative quantity")

    def resources(self, f, o, cp, c) -> None:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for part, values in (("requests", req), ("limits", lim)):
            for k, v in values.items():
                at = f"{cp}.resources.{part}.{k}"
                q = quantity(v)
                if q is None:
                    self.bad(f, o, at, "api-resources", f"{v!r} is not a quantity")
                elif q < 0:
                    self.bad(f, o, at, "api-resources", "quantities may not be negative")
                if "/" not in k and k not in STANDARD_RESOURCES and not k.startswith("hugepages-"):
                    self.bad(f, o, at, "api-resources", f"{k} is not a standard resource; extended resources have a domain prefix")
        for k, v in req.items():
            q, ql = quantity(v), quantity(lim.get(k)) if k in lim else None
            at = f"{cp}.resources.requests.{k}"
            extended = "/" in k and not k.startswith("kubernetes.io/")
            if extended or k.startswith("hugepages-"):
                if k not in lim:
                    self.bad(f, o, at, "api-resources", f"{k} cannot be overcommitted: set a limit equal to the request")
                elif q is not None and ql is not None and q != ql:
                    self.bad(f, o, at, "api-resources", f"{k} request {v} must equal its limit {lim[k]}")
                if extended and q is not None and q != int(q):
                    self.bad(f, o, at, "api-resources", f"{k} must be a whole number")
            elif q is not None and ql is not None and q > ql:
                self.bad(f, o, at, "api-resources", f"request {v} is above the limit {lim[k]}")

    def env(self, f, o, cp, c) -> None:
        for j, e in enumerate(c.get("env") or []):
            at = f"{cp}.env[{j}]"
            n = e.get("name")
            if not n or not isinstance(n, str) or "=" in n or not n.isprintable() or not n.isascii():
                self.bad(f, o, f"{at}.name", "api-env", f"env name {n!r} must be printable ASCII without '='")
            vf = e.get("valueFrom")
            if vf is not None:
                sources = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef") if k in vf]
                if len(sources) != 1:
                    self.bad(f, o, f"{at}.valueFrom", "api-env", "valueFrom needs exactly one source")
                if e.get("value"):
                    self.bad(f, o, f"{at}.value", "api-env", "value and valueFrom are exclusive")
                path = (vf.get("fieldRef") or {}).get("fieldPath")
                if path is not None and path not in FIELD_PATHS and not re.fullmatch(r"metadata\.(labels|annotations)\['[^']+'\]", path):
                    self.bad(f, o, f"{at}.valueFrom.fieldRef.fieldPath", "api-env", f"{path} is not a supported field path")

    def probe(self, f, o, at, kind, probe, container) -> None:
        handlers = [k for k in ("exec", "httpGet", "tcpSocket", "grpc") if k in probe]
        if len(handlers) != 1:
            self.bad(f, o, at, "api-probes", "a probe has exactly one handler (exec, httpGet, tcpSocket or grpc)")
        if kind in ("livenessProbe", "startupProbe") and probe.get("successThreshold", 1) != 1:
            self.bad(f, o, f"{at}.successThreshold", "api-probes", f"{kind} successThreshold must be 1")
        for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
            if key in probe and (not isinstance(probe[key], int) or probe[key] < 0):
                self.bad(f, o, f"{at}.{key}", "api-probes", f"{key} must be a non-negative integer")
        for h in ("httpGet", "tcpSocket"):
            if h in probe:
                port = probe[h].get("port")
                if isinstance(port, str):
                    if not is_port_name(port):
                        self.bad(f, o, f"{at}.{h}.port", "api-probes", f"{port!r} is neither a port number nor an IANA_SVC_NAME")
                    elif port not in {p.get("name") for p in container.get("ports") or []}:
                        self.bad(f, o, f"{at}.{h}.port", "api-target-ports", f"port {port!r} is not a port of this container")
                elif not _port_ok(port):
                    self.bad(f, o, f"{at}.{h}.port", "api-probes", f"{port!r} is not a port number 1-65535")
        if "grpc" in probe and not _port_ok(probe["grpc"].get("port")):
            self.bad(f, o, f"{at}.grpc.port", "api-probes", "grpc.port must be a number 1-65535")
        get = probe.get("httpGet")
        if isinstance(get, dict):
            # validateHTTPGetAction, after SetDefaults_HTTPGetAction (path "/", scheme HTTP): the path is only
            # required, the scheme HTTP or HTTPS, header names HTTP tokens.
            if get.get("scheme", "HTTP") not in ("HTTP", "HTTPS"):
                self.bad(f, o, f"{at}.httpGet.scheme", "api-probes", f"scheme {get.get('scheme')!r} is not HTTP or HTTPS")
            for i, header in enumerate(get.get("httpHeaders") or []):
                if not re.fullmatch(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+", str(header.get("name", ""))):
                    self.bad(f, o, f"{at}.httpGet.httpHeaders[{i}].name", "api-probes",
                             f"{header.get('name')!r} is not an HTTP header name")

    def toleration(self, f, o, at, t) -> None:
        key, op = t.get("key", ""), t.get("operator", "Equal")
        if key and not QUALIFIED_NAME.fullmatch(key):
            self.bad(f, o, f"{at}.key", "api-tolerations", f"{key!r} is not a qualified name")
        if not key and op != "Exists":
            self.bad(f, o, f"{at}.operator", "api-tolerations", "an empty key needs operator Exists")
        if op not in ("Exists", "Equal"):
            self.bad(f, o, f"{at}.operator", "api-tolerations", f"operator must be Exists or Equal, got {op!r}")
        if op == "Exists" and t.get("value"):
            self.bad(f, o, f"{at}.value", "api-tolerations", "operator Exists takes no value")
        if op == "Equal" and not LABEL_VALUE.fullmatch(str(t.get("value", ""))):
            self.bad(f, o, f"{at}.value", "api-tolerations", f"{t.get('value')!r} is not a valid label value")
        if "effect" in t and t["effect"] not in EFFECTS:
            self.bad(f, o, f"{at}.effect", "api-tolerations", f"effect must be one of {', '.join(sorted(EFFECTS))}")
        if "tolerationSeconds" in t and t.get("effect") != "NoExecute":
            self.bad(f, o, f"{at}.tolerationSeconds", "api-tolerations", "tolerationSeconds only applies to effect NoExecute")

    def claims(self, f, o, prefix, pod) -> None:
        names: dict[str, str] = {}
        for i, c in enumerate(pod.get("resourceClaims") or []):
            at = f"{prefix}.resourceClaims[{i}]"
            self.unique_label(f, o, at, c.get("name"), names, "api-resource-claims", "claim")
            if isinstance(c.get("name"), str):
                names.setdefault(c["name"], at)  # containers may name it even when it is malformed
            if ("resourceClaimName" in c) == ("resourceClaimTemplateName" in c):
                self.bad(f, o, at, "api-resource-claims", "give exactly one of resourceClaimName and resourceClaimTemplateName")
        for group in ("containers", "initContainers"):
            for i, c in enumerate(pod.get(group) or []):
                for j, cl in enumerate((c.get("resources") or {}).get("claims") or []):
                    if cl.get("name") not in names:
                        self.bad(f, o, f"{prefix}.{group}[{i}].resources.claims[{j}]", "api-resource-claims",
                                 f"claim {cl.get('name')!r} is not in spec.resourceClaims")

    # ---- other kinds -----------------------------------------------------------------------------

    def service(self, f, o, pods) -> None:
        spec = o.get("spec") or {}
        if "type" in spec and spec["type"] not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            self.bad(f, o, "spec.type", "api-services", f"{spec['type']!r} is not ClusterIP, NodePort, LoadBalancer or ExternalName")
        ports = spec.get("ports") or []
        names: dict[str, int] = {}
        pairs: dict[tuple, int] = {}
        selected = [t for t in pods if matches(spec.get("selector") or {}, labels(t))]
        declared = {p.get("name") for t in selected for c in (t.get("spec") or {}).get("containers") or [] for p in c.get("ports") or []}
        for j, p in enumerate(ports):
            at = f"spec.ports[{j}]"
            if not _port_ok(p.get("port")):
                self.bad(f, o, f"{at}.port", "api-services", f"{p.get('port')!r} is not a port number 1-65535")
            n = p.get("name")
            if len(ports) > 1 and not n:
                self.bad(f, o, f"{at}.name", "api-services", "ports need names when a Service has more than one")
            if n:
                if not DNS1123_LABEL.fullmatch(n) or len(n) > 63:
                    self.bad(f, o, f"{at}.name", "api-services", f"{n!r} is not a DNS-1123 label")
                elif n in names:
                    self.bad(f, o, f"{at}.name", "api-services", f"port name {n!r} is also ports[{names[n]}]")
                names.setdefault(n, j)
            if p.get("protocol", "TCP") not in PROTOCOLS:
                self.bad(f, o, f"{at}.protocol", "api-services", "protocol must be one of TCP, UDP, SCTP")
            pair = (p.get("protocol", "TCP"), p.get("port"))
            if pair in pairs:
                self.bad(f, o, f"{at}.port", "api-services", f"{pair[0]} {pair[1]} is also ports[{pairs[pair]}]")
            pairs.setdefault(pair, j)
            tp = p.get("targetPort")
            if isinstance(tp, str):
                if not is_port_name(tp):
                    self.bad(f, o, f"{at}.targetPort", "api-services", f"{tp!r} is neither a port number nor an IANA_SVC_NAME")
                elif selected and tp not in declared:
                    self.bad(f, o, f"{at}.targetPort", "api-target-ports", f"no container the Service selects declares a port named {tp!r}")
            elif tp is not None and not _port_ok(tp):
                self.bad(f, o, f"{at}.targetPort", "api-services", f"{tp!r} is not a port number 1-65535")
        if spec.get("type", "ClusterIP") == "ClusterIP" and any("nodePort" in p for p in ports):
            self.bad(f, o, "spec.ports", "api-services", "nodePort is not allowed for type ClusterIP")

    def network_policy(self, f, o) -> None:
        spec = o.get("spec") or {}
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(spec.get(direction) or []):
                for j, port in enumerate(rule.get("ports") or []):
                    at = f"spec.{direction}[{i}].ports[{j}]"
                    p, end = port.get("port"), port.get("endPort")
                    if port.get("protocol", "TCP") not in PROTOCOLS:
                        self.bad(f, o, f"{at}.protocol", "api-network-policies", "protocol must be one of TCP, UDP, SCTP")
                    if isinstance(p, str) and not is_port_name(p):
                        self.bad(f, o, f"{at}.port", "api-network-policies", f"{p!r} is neither a port number nor an IANA_SVC_NAME")
                    elif p is not None and not isinstance(p, str) and not _port_ok(p):
                        self.bad(f, o, f"{at}.port", "api-network-policies", f"{p!r} is not a port number 1-65535")
                    if end is not None and (not isinstance(p, int) or not _port_ok(end) or end < p):
                        self.bad(f, o, f"{at}.endPort", "api-network-policies", "endPort needs a numeric port and lies between it and 65535")
                for j, peer in enumerate(rule.get(peers_key) or []):
                    at = f"spec.{direction}[{i}].{peers_key}[{j}]"
                    selectors = [k for k in ("podSelector", "namespaceSelector") if k in peer]
                    if not selectors and "ipBlock" not in peer:
                        self.bad(f, o, at, "api-network-policies", "a peer sets podSelector, namespaceSelector or ipBlock")
                    if selectors and "ipBlock" in peer:
                        self.bad(f, o, at, "api-network-policies", "ipBlock may not be combined with a selector in one peer")
                    if "ipBlock" in peer:
                        self.ip_block(f, o, f"{at}.ipBlock", peer["ipBlock"])
                    for k in selectors:
                        self.selector(f, o, f"{at}.{k}", peer[k])
        self.selector(f, o, "spec.podSelector", spec.get("podSelector") or {})
        types = spec.get("policyTypes") or []
        if len(types) > 2 or any(t not in ("Ingress", "Egress") for t in types):
            self.bad(f, o, "spec.policyTypes", "api-network-policies", "policyTypes holds Ingress and/or Egress")

    def ip_block(self, f, o, at, block) -> None:
        try:
            cidr = ipaddress.ip_network(block.get("cidr", ""), strict=False)
        except ValueError:
            self.bad(f, o, f"{at}.cidr", "api-network-policies", f"{block.get('cidr')!r} is not a CIDR")
            return
        for k, ex in enumerate(block.get("except") or []):
            try:
                net = ipaddress.ip_network(ex, strict=False)
            except ValueError:
                self.bad(f, o, f"{at}.except[{k}]", "api-network-policies", f"{ex!r} is not a CIDR")
                continue
            if net.version != cidr.version or not net.subnet_of(cidr) or net.prefixlen <= cidr.prefixlen:
                self.bad(f, o, f"{at}.except[{k}]", "api-network-policies", f"{ex} must be a strict subset of {block.get('cidr')}")

    def selector(self, f, o, at, sel) -> None:
        for i, e in enumerate((sel or {}).get("matchExpressions") or []):
            op, values = e.get("operator"), e.get("values") or []
            if op in ("In", "NotIn") and not values:
                self.bad(f, o, f"{at}.matchExpressions[{i}]", "api-selectors", f"operator {op} needs values")
            elif op in ("Exists", "DoesNotExist") and values:
                self.bad(f, o, f"{at}.matchExpressions[{i}]", "api-selectors", f"operator {op} takes no values")
            elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
                self.bad(f, o, f"{at}.matchExpressions[{i}]", "api-selectors", f"unknown operator {op!r}")

    def deployment(self, f, o) -> None:
        spec = o.get("spec") or {}
        for key in ("replicas", "minReadySeconds", "revisionHistoryLimit"):  # ValidateNonnegativeField
            if isinstance(spec.get(key), int) and spec[key] < 0:
                self.bad(f, o, f"spec.{key}", "api-deployments", f"{spec[key]} must be greater than or equal to 0")
        strategy = spec.get("strategy") or {}
        kind = strategy.get("type", "RollingUpdate")
        ru = strategy.get("rollingUpdate")
        if kind == "Recreate" and ru is not None:
            self.bad(f, o, "spec.strategy.rollingUpdate", "api-deployments", "Recreate takes no rollingUpdate")
        if kind == "RollingUpdate" and ru is not None:
            surge, unavail = ru.get("maxSurge", "25%"), ru.get("maxUnavailable", "25%")
            for key, v in (("maxSurge", surge), ("maxUnavailable", unavail)):
                if not _int_or_percent(v):
                    self.bad(f, o, f"spec.strategy.rollingUpdate.{key}", "api-deployments", f"{v!r} is not an integer >= 0 or a percentage <= 100%")
            if str(surge) in ("0", "0%") and str(unavail) in ("0", "0%"):
                self.bad(f, o, "spec.strategy.rollingUpdate.maxUnavailable", "api-deployments", "may not be 0 when maxSurge is 0")
        if kind not in ("RollingUpdate", "Recreate"):
            self.bad(f, o, "spec.strategy.type", "api-deployments", f"{kind!r} is not RollingUpdate or Recreate")
        if spec.get("progressDeadlineSeconds", 600) <= spec.get("minReadySeconds", 0):
            self.bad(f, o, "spec.progressDeadlineSeconds", "api-deployments", "must be greater than minReadySeconds")
        restart = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy", "Always")
        if restart != "Always":
            self.bad(f, o, "spec.template.spec.restartPolicy", "api-deployments", "Deployments' pods restart Always")
        self.selector(f, o, "spec.selector", spec.get("selector") or {})

    def job(self, f, o) -> None:
        spec = o.get("spec") or {}
        n = (o.get("metadata") or {}).get("name", "")
        if len(n) > 63:
            self.bad(f, o, "metadata.name", "api-jobs", f"{len(n)} characters: the job-name label on its pods takes at most 63")
        if "selector" in spec and not spec.get("manualSelector"):
            self.bad(f, o, "spec.selector", "api-jobs", "leave the selector to the Job controller (it must match controller-uid)")
        restart = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
        if restart not in ("OnFailure", "Never"):
            self.bad(f, o, "spec.template.spec.restartPolicy", "api-jobs", "Job pods restart OnFailure or Never")
        for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
            if key in spec and (not isinstance(spec[key], int) or spec[key] < 0):
                self.bad(f, o, f"spec.{key}", "api-jobs", f"{key} must be a non-negative integer")

    def pdb(self, f, o) -> None:
        spec = o.get("spec") or {}
        if "minAvailable" in spec and "maxUnavailable" in spec:
            self.bad(f, o, "spec", "api-pdbs", "minAvailable and maxUnavailable cannot both be set")
        for key in ("minAvailable", "maxUnavailable"):
            if key in spec and not _int_or_percent(spec[key]):
                self.bad(f, o, f"spec.{key}", "api-pdbs", f"{spec[key]!r} is not an integer >= 0 or a percentage <= 100%")
        policy = spec.get("unhealthyPodEvictionPolicy")
        if policy is not None and policy not in ("IfHealthyBudget", "AlwaysAllow"):
            self.bad(f, o, "spec.unhealthyPodEvictionPolicy", "api-pdbs", "must be IfHealthyBudget or AlwaysAllow")

    def hpa(self, f, o) -> None:
        spec = o.get("spec") or {}
        lo, hi = spec.get("minReplicas", 1), spec.get("maxReplicas")
        if not isinstance(lo, int) or lo < 1:
            self.bad(f, o, "spec.minReplicas", "api-hpas", "minReplicas must be >= 1")
        if not isinstance(hi, int) or hi < 1 or (isinstance(lo, int) and hi < lo):
            self.bad(f, o, "spec.maxReplicas", "api-hpas", "maxReplicas must be >= 1 and >= minReplicas")
        blocks = {"Pods": "pods", "Resource": "resource", "Object": "object", "External": "external", "ContainerResource": "containerResource"}
        for i, m in enumerate(spec.get("metrics") or []):
            at = f"spec.metrics[{i}]"
            t = m.get("type")
            if t not in blocks:
                self.bad(f, o, f"{at}.type", "api-hpas", f"type must be one of {', '.join(blocks)}")
                continue
            others = [b for b in blocks.values() if b in m and b != blocks[t]]
            if blocks[t] not in m or others:
                self.bad(f, o, at, "api-hpas", f"type {t} must populate only {blocks[t]}")
            metric = ((m.get(blocks[t]) or {}).get("metric") or {}).get("name")
            if metric is not None and ("/" in metric or "%" in metric or metric in (".", "..")):
                self.bad(f, o, f"{at}.{blocks[t]}.metric.name", "api-hpas", f"{metric!r} is not a path segment (use | for / in Cloud Monitoring names)")
            target = (m.get(blocks[t]) or {}).get("target") or {}
            for key in ("value", "averageValue"):
                if key in target and (quantity(target[key]) is None or quantity(target[key]) <= 0):
                    self.bad(f, o, f"{at}.{blocks[t]}.target.{key}", "api-hpas", f"{key} must be a positive quantity")

    def claim_template(self, f, o) -> None:
        requests = (((o.get("spec") or {}).get("spec") or {}).get("devices") or {}).get("requests") or []
        seen: dict[str, str] = {}
        v1beta1 = o.get("apiVersion") == "resource.k8s.io/v1beta1"
        for i, r in enumerate(requests):
            at = f"spec.spec.devices.requests[{i}]"
            if v1beta1 and isinstance(r, dict):
                # v1beta1 has the request's fields inline; the server converts them to v1's `exactly` before
                # validating (pkg/apis/resource/v1beta1/conversion.go), beside firstAvailable when both are given.
                inline = {k: v for k, v in r.items() if k not in ("name", "firstAvailable")}
                if "firstAvailable" not in r or inline:
                    r = {"name": r.get("name"), "exactly": inline,
                         **({"firstAvailable": r["firstAvailable"]} if "firstAvailable" in r else {})}
            self.unique_label(f, o, at, r.get("name"), seen, "api-resource-claims", "request")
            if ("exactly" in r) == ("firstAvailable" in r):
                self.bad(f, o, at, "api-resource-claims", "exactly one of exactly or firstAvailable is required")
            ex = r.get("exactly") or {}
            if ex.get("allocationMode") == "All" and ex.get("count"):
                self.bad(f, o, f"{at}.exactly.count", "api-resource-claims", "allocationMode All takes no count")
            if "exactly" in r and not ex.get("deviceClassName"):
                self.bad(f, o, f"{at}.exactly.deviceClassName", "api-resource-claims", "deviceClassName is required")

    def rbac(self, f, o) -> None:
        kind = o.get("kind")
        if kind in ("Role", "ClusterRole"):
            namespaced = kind == "Role"
            for i, rule in enumerate(o.get("rules") or []):
                at = f"rules[{i}]"
                if not rule.get("verbs"):
                    self.bad(f, o, f"{at}.verbs", "api-rbac", "a rule needs at least one verb")
                if rule.get("nonResourceURLs"):
                    if namespaced:
                        self.bad(f, o, f"{at}.nonResourceURLs", "api-rbac", "namespaced Roles may not use nonResourceURLs")
                    elif rule.get("apiGroups") or rule.get("resources"):
                        self.bad(f, o, at, "api-rbac", "a rule applies to resources or to non-resource URLs, not both")
                    elif rule.get("resourceNames"):
                        self.bad(f, o, f"{at}.resourceNames", "api-rbac", "resourceNames do not apply to non-resource URLs")
                    continue
                if not rule.get("apiGroups"):
                    self.bad(f, o, f"{at}.apiGroups", "api-rbac", 'a resource rule needs apiGroups (use "" for the core group)')
                if not rule.get("resources"):
                    self.bad(f, o, f"{at}.resources", "api-rbac", "a resource rule needs resources")
            aggregation = o.get("aggregationRule")
            if kind == "ClusterRole" and isinstance(aggregation, dict) and not aggregation.get("clusterRoleSelectors"):
                self.bad(f, o, "aggregationRule.clusterRoleSelectors", "api-rbac",
                         "an aggregationRule needs at least one clusterRoleSelector (ValidateClusterRole)")
        else:
            ref = o.get("roleRef") or {}
            kinds = ("Role", "ClusterRole") if kind == "RoleBinding" else ("ClusterRole",)
            if ref.get("name") and (str(ref["name"]) in (".", "..") or "/" in str(ref["name"]) or "%" in str(ref["name"])):
                self.bad(f, o, "roleRef.name", "api-rbac", f"{ref['name']!r} is not a valid role name (ValidateRBACName)")
            # The defaulter sets an absent apiGroup (SetDefaults_RoleBinding): only a wrong one is refused.
            if (ref.get("apiGroup") or "rbac.authorization.k8s.io") != "rbac.authorization.k8s.io" or ref.get("kind") not in kinds or not ref.get("name"):
                self.bad(f, o, "roleRef", "api-rbac", f"roleRef needs apiGroup rbac.authorization.k8s.io, kind "
                                                      f"{' or '.join(kinds)} and a name (ValidateRoleRef)")
            for i, s in enumerate(o.get("subjects") or []):
                if not s.get("name"):
                    self.bad(f, o, f"subjects[{i}].name", "api-rbac", "subjects need a name")
                if s.get("kind") not in ("ServiceAccount", "User", "Group"):
                    self.bad(f, o, f"subjects[{i}].kind", "api-rbac", f"subject kind {s.get('kind')!r} is not ServiceAccount, User or Group")
                if s.get("kind") == "ServiceAccount" and s.get("name") and not DNS1123_SUBDOMAIN.fullmatch(str(s["name"])):
                    self.bad(f, o, f"subjects[{i}].name", "api-rbac", f"{s['name']!r} is not a ServiceAccount name "
                                                                      "(a DNS-1123 subdomain; ValidateServiceAccountName)")
                if s.get("kind") == "ServiceAccount" and kind == "ClusterRoleBinding" and not s.get("namespace"):
                    self.bad(f, o, f"subjects[{i}].namespace", "api-rbac", "a ClusterRoleBinding's ServiceAccount subject needs "
                                                                           "its namespace (ValidateRoleBindingSubject)")
                if s.get("kind") == "ServiceAccount" and s.get("apiGroup"):
                    self.bad(f, o, f"subjects[{i}].apiGroup", "api-rbac", "ServiceAccount subjects take no apiGroup")
                if s.get("kind") in ("User", "Group") and (s.get("apiGroup") or "rbac.authorization.k8s.io") != "rbac.authorization.k8s.io":
                    self.bad(f, o, f"subjects[{i}].apiGroup", "api-rbac", "User and Group subjects need apiGroup rbac.authorization.k8s.io")

    def create_metadata(self, f, o) -> None:
        """A create with metadata.resourceVersion set fails (the storage layer's ErrResourceVersionSetOnCreate: an
        object exported with `kubectl get -o yaml` carries its cluster's); on apply it is a stale precondition. The
        other server fields (uid, timestamps) are overwritten on create, so they pass, as the server lets them."""
        meta = o.get("metadata") or {}
        if meta.get("resourceVersion") not in (None, "", "0"):  # "0" reads as unset
            self.bad(f, o, "metadata.resourceVersion", "api-metadata", "resourceVersion must not be set on an object to be "
                                                                       "created (strip it: it is another cluster's copy's)")

    def config_map(self, f, o) -> None:
        total = 0
        for part in ("data", "binaryData"):
            for k, v in (o.get(part) or {}).items():
                if not CONFIG_KEY.fullmatch(k) or k in (".", "..") or k.startswith("..") or len(k) > 253:
                    self.bad(f, o, f"{part}.{k}", "api-config-maps", f"key {k!r} must be [-._a-zA-Z0-9]+ (not . or ..)")
                total += len(str(v).encode())
        if set(o.get("data") or {}) & set(o.get("binaryData") or {}):
            self.bad(f, o, "binaryData", "api-config-maps", "a key may not be in both data and binaryData")
        if total > 1 << 20:
            self.bad(f, o, "data", "api-config-maps", f"{total} bytes; a ConfigMap holds at most 1 MiB")


def cluster_checks(docs) -> list[Problem]:
    c = _Checker()
    objs = list(iter_objects(docs))
    templates: dict[str, list[dict]] = {}
    for _, o in objs:
        if o.get("kind") in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            templates.setdefault((o.get("metadata") or {}).get("namespace", ""), []).append((o.get("spec") or {}).get("template") or {})
    for f, o, meta, pod, prefix in pod_specs(objs):
        c.pod(f, o, meta, pod, prefix)
    handlers = {"Service": lambda f, o: c.service(f, o, templates.get((o.get("metadata") or {}).get("namespace", ""), [])),
                "NetworkPolicy": c.network_policy,
                "Deployment": c.deployment, "Job": c.job, "PodDisruptionBudget": c.pdb, "HorizontalPodAutoscaler": c.hpa,
                "ResourceClaimTemplate": c.claim_template, "Role": c.rbac, "RoleBinding": c.rbac, "ClusterRole": c.rbac,
                "ClusterRoleBinding": c.rbac, "ConfigMap": c.config_map}
    for f, o in objs:
        c.create_metadata(f, o)
        if o.get("kind") in handlers and str(o.get("apiVersion", "")).partition("/")[0] in ("v1", "apps", "batch", "policy",
                                                                                         "autoscaling", "networking.k8s.io",
                                                                                         "resource.k8s.io", "rbac.authorization.k8s.io"):
            handlers[o["kind"]](f, o)
        if o.get("kind") == "PodDisruptionBudget":
            c.selector(f, o, "spec.selector", (o.get("spec") or {}).get("selector") or {})
    return c.problems


def check(view: FleetView) -> list[Problem]:
    problems: list[Problem] = []
    for cluster, docs in view.clusters.items():
        problems += [at_cluster(p, cluster) for p in cluster_checks(docs)]
    return problems
