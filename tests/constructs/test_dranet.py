"""DranetClaim: resource.k8s.io/v1 ResourceClaimTemplate claimed by pod and container."""

from tests.constructs.helpers import objects, pod_spec


def test_claim_template_v1_shape():
    rct = objects()[("ResourceClaimTemplate", "gemma3-27b-netdevs")]
    assert rct["apiVersion"] == "resource.k8s.io/v1"
    assert rct["spec"]["spec"]["devices"]["requests"] == [
        {"name": "nics", "exactly": {"deviceClassName": "netdev.google.com", "allocationMode": "All"}}]


def test_pod_and_container_claim_it():
    dep = objects()[("Deployment", "gemma3-27b-vllm")]
    spec = pod_spec(dep)
    assert spec["resourceClaims"] == [{"name": "netdevs", "resourceClaimTemplateName": "gemma3-27b-netdevs"}]
    assert spec["containers"][0]["resources"]["claims"] == [{"name": "netdevs"}]
    assert all("source" not in c for c in spec["resourceClaims"])  # the pre-1.31 shape a 1.34 API server rejects


def test_disabled_removes_template_and_references():
    objs = objects(server={"dranet": {"enabled": False}})
    assert ("ResourceClaimTemplate", "gemma3-27b-netdevs") not in objs
    spec = pod_spec(objs[("Deployment", "gemma3-27b-vllm")])
    assert "resourceClaims" not in spec and "claims" not in spec["containers"][0]["resources"]
