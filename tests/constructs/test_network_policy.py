"""ModelServerNetworkPolicy and the helm-test pod."""

from tests.constructs.helpers import objects, plan


def test_admits_proxy_subnets_picker_and_scraping_only():
    pol = objects()[("NetworkPolicy", "gemma3-27b-vllm")]
    peers = pol["spec"]["ingress"][0]["from"]
    assert {"ipBlock": {"cidr": "10.129.0.0/23"}} in peers and {"ipBlock": {"cidr": "10.130.0.0/23"}} in peers
    assert pol["spec"]["ingress"][0]["ports"] == [{"port": 8000, "protocol": "TCP"}]
    assert pol["spec"]["policyTypes"] == ["Ingress"]
    assert ("NetworkPolicy", "gemma3-27b-vllm") not in objects(networkPolicy={"enabled": False})


def test_helm_test_is_chart_only():
    chart = next(c for c in plan().charts if c.key == "serving")
    tests = [t for t in chart.templates if t.helm_only]
    assert [t.file for t in tests] == ["tests/completion-test.yaml"]
    assert tests[0].obj["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert not [k for k in objects() if k[0] == "Pod"]
