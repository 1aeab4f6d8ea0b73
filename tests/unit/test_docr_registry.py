"""docr_registry against the simulator: the full walk, guards, and call counts."""

from ansible_collections.dockyard.docr.plugins.modules import docr_registry, docr_registry_info

from tests.helpers import writes


def registries(sim):
    return {r["name"]: r for r in sim.state()["registries"]}


def test_walk(sim, api, run_module):
    args = dict(api, name="acme", region="fra1", subscription_tier="basic")

    # check mode predicts, writes nothing
    res = run_module(docr_registry, args, check_mode=True, diff=True)
    assert res["changed"] is True
    assert res["registry"]["name"] == "acme" and res["registry"]["region"] == "fra1"
    assert res["diff"]["before"] == {} and res["diff"]["after"]["subscription_tier"] == "basic"
    assert registries(sim) == {}
    assert writes(sim) == [r for r in writes(sim) if r["path"] == "/v2/registries/validate-name"]

    # apply
    res = run_module(docr_registry, args)
    assert res["changed"] is True, res
    assert res["registry"]["server_url"] == "registry.digitalocean.com/acme"
    assert res["subscription"]["tier"] == "basic"
    assert registries(sim)["acme"]["region"] == "fra1"
    assert sim.state()["subscription"]["tier"] == "basic"

    # apply again: no change, no write, and one read in all: the registry list carries the subscription
    # (it took two before the list's `subscription` was used: the registry, then the subscription)
    sim.clear_requests()
    res = run_module(docr_registry, args)
    assert res["changed"] is False and res["subscription"]["tier"] == "basic"
    log = sim.requests()
    assert [(r["method"], r["path"]) for r in log] == [("GET", "/v2/registries")]

    # without a tier: one call in all
    sim.clear_requests()
    res = run_module(docr_registry, dict(api, name="acme"))
    assert res["changed"] is False and res["subscription"] is None
    assert [(r["method"], r["path"]) for r in sim.requests()] == [("GET", "/v2/registries/acme")]

    # change the tier in check mode with diff: predicted, not applied
    sim.clear_requests()
    res = run_module(docr_registry, dict(args, subscription_tier="professional"), check_mode=True, diff=True)
    assert res["changed"] is True
    assert res["diff"]["before"]["subscription_tier"] == "basic"
    assert res["diff"]["after"]["subscription_tier"] == "professional"
    assert writes(sim) == []

    # change it
    res = run_module(docr_registry, dict(args, subscription_tier="professional"))
    assert res["changed"] is True and res["subscription"]["tier"] == "professional"
    res = run_module(docr_registry, dict(args, subscription_tier="professional"))
    assert res["changed"] is False

    # bad input: another region fails naming the option, nothing changes
    sim.clear_requests()
    res = run_module(docr_registry, dict(args, region="sfo3"))
    assert res["failed"] and "region" in res["msg"] and "fra1" in res["msg"]
    assert writes(sim) == []
    assert registries(sim)["acme"]["region"] == "fra1"

    # absent (empty registry), then absent again
    res = run_module(docr_registry, dict(api, name="acme", state="absent"), diff=True)
    assert res["changed"] is True and res["registry"] is None
    assert res["diff"]["before"]["name"] == "acme" and res["diff"]["after"] == {}
    assert "acme" not in registries(sim)
    sim.clear_requests()
    res = run_module(docr_registry, dict(api, name="acme", state="absent"))
    assert res["changed"] is False
    assert writes(sim) == []


def test_bad_name_fails_before_any_call(sim, api, run_module):
    res = run_module(docr_registry, dict(api, name="Not_Valid"))
    assert res["failed"] and "name" in res["msg"] and "Not_Valid" in res["msg"]
    assert sim.requests() == []


def test_first_registry_needs_a_tier(sim, api, run_module):
    res = run_module(docr_registry, dict(api, name="acme"))
    assert res["failed"] and "subscription_tier" in res["msg"]
    assert writes(sim) == [] and registries(sim) == {}


def test_second_registry_needs_professional(sim, api, run_module):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "one", "region": "nyc3"}]})
    res = run_module(docr_registry, dict(api, name="two", region="sfo3"))
    assert res["failed"] and "professional" in res["msg"] and "one" in res["msg"]
    assert writes(sim) == []
    assert sorted(registries(sim)) == ["one"]

    # asking for professional upgrades first, then creates
    res = run_module(docr_registry, dict(api, name="two", region="sfo3", subscription_tier="professional"))
    assert res["changed"] is True, res
    assert sorted(registries(sim)) == ["one", "two"]
    assert res["subscription"]["tier"] == "professional"


def test_eleventh_registry_refused(sim, api, run_module):
    sim.seed({"subscription_tier": "professional",
              "registries": [{"name": "r%d" % i, "region": "nyc3"} for i in range(10)]})
    res = run_module(docr_registry, dict(api, name="r10", region="nyc3"))
    assert res["failed"] and "10 registries" in res["msg"]
    assert writes(sim) == []


def test_downgrade_with_several_registries_refused(sim, api, run_module):
    sim.seed({"subscription_tier": "professional",
              "registries": [{"name": "a", "region": "nyc3"}, {"name": "b", "region": "sfo3"}]})
    res = run_module(docr_registry, dict(api, name="a", subscription_tier="basic"))
    assert res["failed"] and "subscription_tier=basic" in res["msg"]
    assert writes(sim) == []


def test_downgrade_not_eligible_refused(sim, api, run_module):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "a", "region": "nyc3", "repositories": [
        {"name": "web", "manifests": [{"size_bytes": 1000, "tags": ["v1"]}]},
        {"name": "api", "manifests": [{"size_bytes": 1000, "tags": ["v1"]}]},
    ]}]})
    res = run_module(docr_registry, dict(api, name="a", subscription_tier="starter"))
    assert res["failed"] and "OverRepositoryLimit" in res["msg"]
    assert writes(sim) == []


def test_unknown_region_refused(sim, api, run_module):
    res = run_module(docr_registry, dict(api, name="acme", region="mars1", subscription_tier="basic"))
    assert res["failed"] and "region=mars1" in res["msg"]
    assert [r for r in writes(sim) if r["path"] != "/v2/registries/validate-name"] == []


def test_taken_name_refused(sim, api, run_module):
    sim.seed({"taken_names": ["popular"]})
    res = run_module(docr_registry, dict(api, name="popular", subscription_tier="basic"), check_mode=True)
    assert res["failed"] and "already taken" in res["msg"]
    assert registries(sim) == {}


def test_absent_refuses_registry_with_images(sim, api, run_module):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "nyc3", "repositories": [
        {"name": "web", "manifests": [{"size_bytes": 1000, "tags": ["v1"]}]}]}]})
    res = run_module(docr_registry, dict(api, name="acme", state="absent"))
    assert res["failed"] and "1 repository" in res["msg"] and "force" in res["msg"]
    assert "acme" in registries(sim)
    assert writes(sim) == []

    res = run_module(docr_registry, dict(api, name="acme", state="absent", force=True), check_mode=True)
    assert res["changed"] is True and "acme" in registries(sim)
    res = run_module(docr_registry, dict(api, name="acme", state="absent", force=True))
    assert res["changed"] is True and "acme" not in registries(sim)


def test_missing_token(sim, run_module, monkeypatch):
    for var in ("DIGITALOCEAN_ACCESS_TOKEN", "DIGITALOCEAN_TOKEN", "DO_API_TOKEN", "DO_API_KEY", "DO_OAUTH_TOKEN", "OAUTH_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    res = run_module(docr_registry, dict(name="acme", api_url=sim.url))
    assert res["failed"] and "token" in res["msg"] and "DIGITALOCEAN_ACCESS_TOKEN" in res["msg"]
    assert sim.requests() == []


def test_token_from_environment_in_order(sim, run_module, monkeypatch):
    sim.seed({"tokens": [{"token": "right-token"}], "subscription_tier": "basic"})
    monkeypatch.setenv("DIGITALOCEAN_ACCESS_TOKEN", "right-token")
    monkeypatch.setenv("DO_API_TOKEN", "wrong-token")
    monkeypatch.setenv("DIGITALOCEAN_API_URL", sim.url)
    res = run_module(docr_registry_info, {})
    assert not res.get("failed"), res
    assert "right-token" not in str(res)


def test_401_and_403_explained(sim, api, run_module):
    sim.seed({"tokens": [{"token": "reader", "read_only": True}], "subscription_tier": "basic"})
    res = run_module(docr_registry, dict(api, name="acme"))
    assert res["failed"] and res["status_code"] == 401 and "token" in res["msg"]
    res = run_module(docr_registry, dict(api, token="reader", name="acme", region="nyc3"))
    assert res["failed"] and res["status_code"] == 403 and "read-only" in res["msg"]
    assert registries(sim) == {}


def test_plain_http_refused_for_remote_hosts(sim, api, run_module):
    res = run_module(docr_registry, dict(api, name="acme", api_url="http://api.example.com"))
    assert res["failed"] and "plain http" in res["msg"]
    assert sim.requests() == []


def test_retries_then_succeeds_without_duplicate(sim, api, run_module):
    sim.fault(method="GET", path="/v2/registries", status=503, retry_after=0, times=2)
    sim.fault(method="POST", path="/v2/registries", status=500, times=1, after=True)
    res = run_module(docr_registry, dict(api, name="acme", region="nyc3", subscription_tier="basic", http_retries=3))
    assert res["changed"] is True, res
    assert list(registries(sim)) == ["acme"]
    creates = [r for r in sim.requests() if r["method"] == "POST" and r["path"] == "/v2/registries"]
    assert len(creates) == 1, "a create the server applied must not be sent again"


def test_info(sim, api, run_module):
    sim.seed({"subscription_tier": "professional", "registries": [
        {"name": "b", "region": "sfo3"},
        {"name": "a", "region": "nyc3", "repositories": [
            {"name": "web", "manifests": [{"size_bytes": 10, "tags": ["v1", "latest"]}]}]}]})
    res = run_module(docr_registry_info, dict(api))
    assert [r["name"] for r in res["registries"]] == ["a", "b"]
    assert res["subscription"]["tier"] == "professional"
    assert "nyc3" in res["options"]["regions"]
    assert "repositories" not in res["registries"][0]
    assert res["changed"] is False

    res = run_module(docr_registry_info, dict(api, name="a", repositories=True))
    [only] = res["registries"]
    [repo] = only["repositories"]
    assert repo["name"] == "web" and sorted(t["tag"] for t in repo["tags"]) == ["latest", "v1"]

    res = run_module(docr_registry_info, dict(api, name="missing"))
    assert res["registries"] == []
    assert writes(sim) == []

    # the list carries the subscription: registries, subscription and options in two reads
    sim.clear_requests()
    res = run_module(docr_registry_info, dict(api, name="a"))
    assert res["subscription"]["tier"] == "professional" and [r["name"] for r in res["registries"]] == ["a"]
    assert [(r["method"], r["path"]) for r in sim.requests()] == [("GET", "/v2/registries"), ("GET", "/v2/registries/options")]
