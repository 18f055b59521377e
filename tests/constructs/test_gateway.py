"""MultiClusterGateway: Gateway, HTTPRoute to the imported pool, and policies on the import."""

from tests.constructs.helpers import REPO, objects, plan

IMPORT = {"group": "networking.gke.io", "kind": "GCPInferencePoolImport", "name": "gemma3-27b"}


def test_gateway_has_one_address_per_serving_region():
    gw = objects("gateway")[("Gateway", "inference-gateway")]
    assert gw["spec"]["gatewayClassName"] == "gke-l7-cross-regional-internal-managed-mc"
    # DNS failover is on by default, so the Gateway takes the reserved addresses infra/ creates.
    assert gw["spec"]["addresses"] == [
        {"type": "networking.gke.io/named-address-with-region", "value": "regions/us-east5/addresses/gemma3-gateway-us-east5"},
        {"type": "networking.gke.io/named-address-with-region", "value": "regions/europe-west4/addresses/gemma3-gateway-europe-west4"}]


def test_ephemeral_addresses_without_static_ones():
    from synth.infra.addresses import gateway_addresses
    from synth.config.loader import load_fleet
    import dataclasses

    fleet = load_fleet(REPO / "fleet.yaml")
    fleet = dataclasses.replace(fleet, gateway=dataclasses.replace(fleet.gateway, static_addresses=False))
    assert gateway_addresses(fleet) == [
        {"type": "networking.gke.io/ephemeral-ipv4-address/us-east5", "value": "us-east5"},
        {"type": "networking.gke.io/ephemeral-ipv4-address/europe-west4", "value": "europe-west4"}]


def test_route_and_policies_target_the_import():
    objs = objects("gateway")
    route = objs[("HTTPRoute", "gemma3-27b")]
    assert route["spec"]["rules"][0]["backendRefs"] == [IMPORT]
    hc = objs[("HealthCheckPolicy", "gemma3-27b")]
    assert hc["spec"]["targetRef"] == IMPORT
    assert hc["spec"]["default"]["config"]["httpHealthCheck"] == {"portSpecification": "USE_FIXED_PORT", "port": 8000, "requestPath": "/health"}
    bp = objs[("GCPBackendPolicy", "gemma3-27b")]
    assert bp["spec"]["targetRef"] == IMPORT
    assert bp["spec"]["default"]["timeoutSec"] == 600


def test_balancing_modes_are_exclusive():
    custom = objects("gateway")[("GCPBackendPolicy", "gemma3-27b")]["spec"]["default"]
    assert custom["balancingMode"] == "CUSTOM_METRICS"
    assert custom["customMetrics"] == [{"name": "gke.named_metrics.kv-cache", "dryRun": False, "maxUtilizationPercent": 60}]
    assert "maxInFlightRequestsPerEndpoint" not in custom
    inflight = objects("gateway", backend={"balancingMode": "IN_FLIGHT"})[("GCPBackendPolicy", "gemma3-27b")]["spec"]["default"]
    assert inflight["maxInFlightRequestsPerEndpoint"] == 1000 and "customMetrics" not in inflight


def test_namespace_is_rendered_by_the_charts_only_on_request_and_once_per_overlay():
    # Helm: the runbook creates the namespace before `helm install`, so no chart renders it by default.
    assert ("Namespace", "llm-serving") not in objects("gateway")
    assert ("Namespace", "llm-serving") not in objects("serving")
    assert objects("gateway", namespace={"create": True})[("Namespace", "llm-serving")]
    # Overlays: the cluster's first chart carries it (serving where the config cluster serves, else the gateway).
    for config in ("fleet.yaml", "tests/fleets/three-regions-llmd.yaml", "examples/multi-model/fleet.yaml"):
        p = plan(config)
        for cluster in p.fleet.clusters:
            owners = [chart.key for chart, _, objs in p.cluster_objects(cluster) for o in objs if o["kind"] == "Namespace"]
            assert owners == [p.charts_for(cluster)[0].key], (config, cluster.name, owners)


def test_scopes_only_when_configured():
    default = objects("gateway")[("GCPBackendPolicy", "gemma3-27b")]["spec"]["default"]
    assert "scopes" not in default
    scoped = objects("gateway", config="tests/fleets/three-regions-llmd.yaml")[("GCPBackendPolicy", "qwen")]["spec"]["default"]
    assert scoped["scopes"] == [{"selector": {"gke.io/region": "us-east5"}, "backendPreference": "PREFERRED"},
                                {"selector": {"gke.io/region": "asia-northeast1"}, "capacityScalerPercent": 50}]
    assert not (set(scoped) & {k for s in scoped["scopes"] for k in s if k != "selector"})


def test_several_models_route_by_the_model_name_header():
    multi = "examples/multi-model/fleet.yaml"
    objs = objects("gateway", multi)
    route = objs[("HTTPRoute", "gemma-3-4b")]
    rule = route["spec"]["rules"][0]
    headers = [m["headers"] for m in rule["matches"]]
    # The model and its LoRA adapter, each matched exactly, both to the model's import.
    assert headers == [[{"type": "Exact", "name": "X-Gateway-Model-Name", "value": "google/gemma-3-4b-it"}],
                       [{"type": "Exact", "name": "X-Gateway-Model-Name", "value": "gemma-3-4b-support"}]]
    assert rule["backendRefs"] == [{**IMPORT, "name": "gemma-3-4b"}]
    # One route, health check and backend policy per imported pool.
    for kind in ("HTTPRoute", "HealthCheckPolicy", "GCPBackendPolicy"):
        assert sorted(n for k, n in objs if k == kind) == ["gemma-3-12b", "gemma-3-27b", "gemma-3-4b"]


def test_one_model_takes_every_request_under_the_path():
    rule = objects("gateway")[("HTTPRoute", "gemma3-27b")]["spec"]["rules"][0]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/v1/"}}]
