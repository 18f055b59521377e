"""ModelServerNetworkPolicy, PickerNetworkPolicy and the helm-test pod."""

from tests.constructs.helpers import objects, plan

HEALTH = [{"ipBlock": {"cidr": "35.191.0.0/16"}}, {"ipBlock": {"cidr": "130.211.0.0/22"}}]
PROXIES = [{"ipBlock": {"cidr": "10.129.0.0/23"}}, {"ipBlock": {"cidr": "10.130.0.0/23"}}]
TCP = lambda port: [{"port": port, "protocol": "TCP"}]  # noqa: E731


def test_model_server_admits_health_checks_proxies_picker_and_scrapers():
    pol = objects()[("NetworkPolicy", "gemma3-27b-vllm")]
    gateway, picker, scrapers = pol["spec"]["ingress"]
    # The load balancer's probes and every serving region's proxies (a region's proxies may pick any region's pod).
    assert gateway == {"from": HEALTH + PROXIES, "ports": TCP(8000)}
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "endpoint-picker",
                                            "app.kubernetes.io/instance": "gemma3-27b"}}} in picker["from"]
    assert {"podSelector": {"matchLabels": {"inference-fleet.dev/model-client": "true"}}} in picker["from"]
    # Both namespaces GKE's managed collectors are documented in (sources disagree), never just one.
    assert scrapers["from"][0] == {"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                                                              "values": ["gmp-system", "gke-gmp-system"]}]},
                                   "podSelector": {"matchLabels": {"app.kubernetes.io/name": "collector"}}}
    assert pol["spec"]["policyTypes"] == ["Ingress"]
    assert ("NetworkPolicy", "gemma3-27b-vllm") not in objects(networkPolicy={"enabled": False})


def test_metrics_agents_only_when_the_kv_cache_gauge_is_exported():
    on = objects()[("NetworkPolicy", "gemma3-27b-vllm")]["spec"]["ingress"][2]["from"]
    off = objects(routing={"exportKvCacheMetric": False})[("NetworkPolicy", "gemma3-27b-vllm")]["spec"]["ingress"][2]["from"]
    assert len(on) == 2 and len(off) == 1


def test_picker_admits_ext_proc_health_and_metrics_only():
    pol = objects()[("NetworkPolicy", "gemma3-27b-epp")]
    assert pol["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "endpoint-picker",
                                                          "app.kubernetes.io/instance": "gemma3-27b"}}
    ext_proc, health, metrics = pol["spec"]["ingress"]
    assert ext_proc == {"from": PROXIES, "ports": TCP(9002)}
    assert health == {"from": HEALTH + PROXIES, "ports": TCP(9003)}
    assert metrics["ports"] == TCP(9090) and len(metrics["from"]) == 1
    for rule in pol["spec"]["ingress"]:  # never an ipBlock and a selector in one peer
        for peer in rule["from"]:
            assert not ("ipBlock" in peer and len(peer) > 1)


def test_helm_test_is_chart_only():
    chart = next(c for c in plan().charts if c.key == "serving")
    tests = [t for t in chart.templates if t.helm_only]
    assert [t.file for t in tests] == ["tests/completion-test.yaml"]
    assert tests[0].obj["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert not [k for k in objects() if k[0] == "Pod"]
