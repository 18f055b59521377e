"""`helm test`: a pod that asks the model for a short completion through the model-server Service."""

from __future__ import annotations

import json

from constructs import Construct

from ..config import catalog

from .base import ManifestChart, raw_object
from .network_policy import MODEL_CLIENT_LABEL
from ..template import Cond

CURL_IMAGE = catalog.CURL_IMAGE


class CompletionTest(Construct):
    """Props: name, namespace, labels, service (model-server Service), port, model (value reference), when."""

    def __init__(self, scope: Construct, id: str, *, name: str, namespace: str, labels: dict, service: str,
                 port: int, model: str, when: Cond) -> None:
        super().__init__(scope, id)
        body = json.dumps({"model": "MODEL", "prompt": "Say hello.", "max_tokens": 8}).replace("MODEL", "%s")
        script = (
            f"body=$(printf '{body}' \"$MODEL\") && "
            f"curl --fail --silent --show-error --max-time 120 -H 'Content-Type: application/json' "
            f"-d \"$body\" http://{service}:{port}/v1/completions | grep -q '\"choices\"'"
        )
        obj = raw_object(self, "pod", api_version="v1", kind="Pod", name=f"{name}-test", namespace=namespace,
                         labels={**labels, MODEL_CLIENT_LABEL: "true"},
                         annotations={"helm.sh/hook": "test", "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"},
                         body={"spec": {
                             "restartPolicy": "Never",
                             "automountServiceAccountToken": False,
                             "securityContext": {"runAsNonRoot": True, "runAsUser": 100, "seccompProfile": {"type": "RuntimeDefault"}},
                             "containers": [{
                                 "name": "completion",
                                 "image": CURL_IMAGE,
                                 "imagePullPolicy": "IfNotPresent",
                                 "command": ["sh", "-c", script],
                                 "env": [{"name": "MODEL", "value": model}],
                                 "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                                 "securityContext": {"allowPrivilegeEscalation": False, "privileged": False,
                                                     "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
                             }],
                         }})
        ManifestChart.of(self).emit(obj, "tests/completion-test.yaml", when=when, helm_only=True)
