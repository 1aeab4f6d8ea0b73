"""docr_registry against the simulator: the full walk, guards, and call counts."""

from ansible_collections.dockyard.docr.plugins.modules import docr_registry, docr_registry_info


def calls(sim):
    """``(method, path)`` of every logged request: what a run cost."""
    return [(r["method"], r["path"]) for r in sim.requests()]


LIST = ("GET", "/v2/registries")
CREATE = ("POST", "/v2/registries")
OPTIONS = ("GET", "/v2/registries/options")
VALIDATE = ("POST", "/v2/registries/validate-name")
SUBSCRIBE = ("POST", "/v2/registries/subscription")


def test_walk(sim, api, run_module):
    args = dict(api, name="acme", region="fra1", subscription_tier="basic")

    # check mode predicts, writes nothing; it validates the name and the region first
    res = run_module(docr_registry, args, check_mode=True, diff=True)
    assert res["changed"] is True
    assert res["registry"]["name"] == "acme" and res["registry"]["region"] == "fra1"
    assert res["diff"]["before"] == {}
    assert res["diff"]["after"] == {"name": "acme", "region": "fra1", "subscription_tier": "basic"}
    assert res["subscription"]["tier"] == "basic"
    assert sim.registries() == {} and sim.state()["subscription"] is None
    assert calls(sim) == [LIST, VALIDATE, OPTIONS]

    # apply: the account's first registry signs up for the tier in the create itself: two calls in all
    sim.clear_requests()
    res = run_module(docr_registry, args, diff=True)
    assert res["changed"] is True, res
    assert res["registry"]["server_url"] == "registry.digitalocean.com/acme" and res["registry"]["created_at"]
    assert res["subscription"]["tier"] == "basic"
    assert res["diff"]["after"] == {"name": "acme", "region": "fra1", "subscription_tier": "basic"}
    assert sim.registries() == {"acme": "fra1"}
    assert sim.state()["subscription"]["tier_slug"] == "basic"
    assert calls(sim) == [LIST, CREATE]

    # apply again: no change, no write, and one read in all: the registry list carries the subscription
    sim.clear_requests()
    res = run_module(docr_registry, args)
    assert res["changed"] is False and res["subscription"]["tier"] == "basic"
    assert res["subscription"]["tier_name"] == "Basic" and res["registry"]["region"] == "fra1"
    assert calls(sim) == [LIST]

    # without a tier: one call in all as well (the subscription is not returned then)
    sim.clear_requests()
    res = run_module(docr_registry, dict(api, name="acme"))
    assert res["changed"] is False and res["subscription"] is None and res["registry"]["name"] == "acme"
    assert calls(sim) == [LIST]

    # change the tier in check mode with diff: predicted, with the tier's terms, not applied
    sim.clear_requests()
    res = run_module(docr_registry, dict(args, subscription_tier="professional"), check_mode=True, diff=True)
    assert res["changed"] is True
    assert res["diff"]["before"]["subscription_tier"] == "basic"
    assert res["diff"]["after"]["subscription_tier"] == "professional"
    assert res["subscription"]["tier"] == "professional" and res["subscription"]["tier_name"] == "Professional"
    assert sim.writes() == []
    assert sim.state()["subscription"]["tier_slug"] == "basic"

    # change it: the read and the one write
    sim.clear_requests()
    res = run_module(docr_registry, dict(args, subscription_tier="professional"))
    assert res["changed"] is True and res["subscription"]["tier"] == "professional"
    assert calls(sim) == [LIST, SUBSCRIBE]
    assert sim.state()["subscription"]["tier_slug"] == "professional"
    sim.clear_requests()
    res = run_module(docr_registry, dict(args, subscription_tier="professional"))
    assert res["changed"] is False and calls(sim) == [LIST]

    # bad input: another region fails naming the option, nothing changes
    sim.clear_requests()
    res = run_module(docr_registry, dict(args, region="sfo3", subscription_tier="professional"))
    assert res["failed"] and "region=sfo3" in res["msg"] and "fra1" in res["msg"]
    assert sim.writes() == [] and calls(sim) == [LIST]
    assert sim.registries() == {"acme": "fra1"}

    # absent in check mode: predicted, nothing deleted
    res = run_module(docr_registry, dict(api, name="acme", state="absent"), check_mode=True, diff=True)
    assert res["changed"] is True and res["registry"] is None and res["diff"]["after"] == {}
    assert sim.registries() == {"acme": "fra1"}

    # absent (empty registry): the read, the repository count, the delete; then absent again: one read
    sim.clear_requests()
    res = run_module(docr_registry, dict(api, name="acme", state="absent"), diff=True)
    assert res["changed"] is True and res["registry"] is None
    assert res["diff"]["before"] == {"name": "acme", "region": "fra1"} and res["diff"]["after"] == {}
    assert sim.registries() == {}
    assert calls(sim) == [LIST, ("GET", "/v2/registries/acme/repositoriesV2"), ("DELETE", "/v2/registries/acme")]
    sim.clear_requests()
    res = run_module(docr_registry, dict(api, name="acme", state="absent"))
    assert res["changed"] is False
    assert calls(sim) == [LIST]
    # deleting the last registry keeps the subscription
    assert sim.state()["subscription"]["tier_slug"] == "professional"


def test_second_registry_costs_two_calls(sim, api, run_module):
    for tier in ({}, {"subscription_tier": "professional"}):
        sim.seed({"subscription_tier": "professional", "registries": [{"name": "one", "region": "nyc3"}]})
        res = run_module(docr_registry, dict(api, name="two", region="sfo3", **tier), diff=True)
        assert res["changed"] is True, res
        assert calls(sim) == [LIST, CREATE]
        assert sim.registries() == {"one": "nyc3", "two": "sfo3"}
        assert res["registry"]["region"] == "sfo3" and res["subscription"]["tier"] == "professional"
        assert res["subscription"]["tier_name"] == "Professional"


def test_create_without_region_reports_the_region_chosen(sim, api, run_module):
    sim.seed({"subscription_tier": "professional", "registries": [{"name": "one", "region": "fra1"}]})
    res = run_module(docr_registry, dict(api, name="two"), check_mode=True, diff=True)
    assert res["changed"] is True and res["registry"]["region"] is None
    res = run_module(docr_registry, dict(api, name="two"), diff=True)
    assert res["changed"] is True and res["registry"]["region"] == "nyc3"
    assert res["diff"]["after"] == {"name": "two", "region": "nyc3"}
    assert sim.registries() == {"one": "fra1", "two": "nyc3"}


def test_first_registry_of_an_account_that_kept_its_subscription(sim, api, run_module):
    """Deleting the last registry keeps the subscription; the empty list does not show it."""
    sim.seed({"subscription_tier": "basic"})
    # without a tier, the subscription is read and used
    res = run_module(docr_registry, dict(api, name="acme", region="fra1"))
    assert res["changed"] is True and res["subscription"]["tier"] == "basic", res
    assert calls(sim) == [LIST, ("GET", "/v2/registries/subscription"), CREATE]
    assert sim.registries() == {"acme": "fra1"}

    # with another tier: the create refuses the sign-up tier, the subscription moves, the create goes through
    sim.seed({"subscription_tier": "basic"})
    res = run_module(docr_registry, dict(api, name="acme", region="fra1", subscription_tier="professional"))
    assert res["changed"] is True and res["subscription"]["tier"] == "professional", res
    assert sim.registries() == {"acme": "fra1"} and sim.state()["subscription"]["tier_slug"] == "professional"
    assert sim.write_calls() == [CREATE, SUBSCRIBE, CREATE]

    # with the same tier: two calls
    sim.seed({"subscription_tier": "basic"})
    res = run_module(docr_registry, dict(api, name="acme", region="fra1", subscription_tier="basic"))
    assert res["changed"] is True and calls(sim) == [LIST, CREATE]


def test_bad_name_fails_before_any_call(sim, api, run_module):
    res = run_module(docr_registry, dict(api, name="Not_Valid"))
    assert res["failed"] and "name" in res["msg"] and "Not_Valid" in res["msg"]
    assert sim.requests() == []


def test_first_registry_needs_a_tier(sim, api, run_module):
    res = run_module(docr_registry, dict(api, name="acme"))
    assert res["failed"] and "subscription_tier" in res["msg"]
    assert sim.writes() == [] and sim.registries() == {}
    assert calls(sim) == [LIST, ("GET", "/v2/registries/subscription")]


def test_second_registry_needs_professional(sim, api, run_module):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "one", "region": "nyc3"}]})
    res = run_module(docr_registry, dict(api, name="two", region="sfo3"))
    assert res["failed"] and "professional" in res["msg"] and "one" in res["msg"]
    assert sim.writes() == [] and calls(sim) == [LIST]
    assert sim.registries() == {"one": "nyc3"}

    # asking for professional upgrades first, then creates; the name and the region are checked before the upgrade
    sim.clear_requests()
    res = run_module(docr_registry, dict(api, name="two", region="sfo3", subscription_tier="professional"))
    assert res["changed"] is True, res
    assert calls(sim) == [LIST, VALIDATE, OPTIONS, SUBSCRIBE, CREATE]
    assert sim.registries() == {"one": "nyc3", "two": "sfo3"}
    assert res["subscription"]["tier"] == "professional"


def test_nothing_written_when_the_create_after_an_upgrade_would_fail(sim, api, run_module):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "one", "region": "nyc3"}], "taken_names": ["popular"]})
    for args, option in ((dict(name="popular", region="sfo3"), "name"), (dict(name="two", region="mars1"), "region")):
        sim.clear_requests()
        res = run_module(docr_registry, dict(api, subscription_tier="professional", **args))
        assert res["failed"] and option in res["msg"], res
        assert sim.write_calls() == []
        assert sim.state()["subscription"]["tier_slug"] == "basic" and sim.registries() == {"one": "nyc3"}


def test_eleventh_registry_refused(sim, api, run_module):
    sim.seed({"subscription_tier": "professional",
              "registries": [{"name": "r%d" % i, "region": "nyc3"} for i in range(10)]})
    res = run_module(docr_registry, dict(api, name="r10", region="nyc3"))
    assert res["failed"] and "10 registries" in res["msg"]
    assert sim.writes() == [] and calls(sim) == [LIST]


def test_downgrade_with_several_registries_refused(sim, api, run_module):
    sim.seed({"subscription_tier": "professional",
              "registries": [{"name": "a", "region": "nyc3"}, {"name": "b", "region": "sfo3"}]})
    res = run_module(docr_registry, dict(api, name="a", subscription_tier="basic"))
    assert res["failed"] and "subscription_tier=basic" in res["msg"]
    assert sim.writes() == []
    assert sim.state()["subscription"]["tier_slug"] == "professional"


def test_downgrade_not_eligible_refused(sim, api, run_module):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "a", "region": "nyc3", "repositories": [
        {"name": "web", "manifests": [{"size_bytes": 1000, "tags": ["v1"]}]},
        {"name": "api", "manifests": [{"size_bytes": 1000, "tags": ["v1"]}]},
    ]}]})
    res = run_module(docr_registry, dict(api, name="a", subscription_tier="starter"))
    assert res["failed"] and "OverRepositoryLimit" in res["msg"] and "subscription_tier" in res["msg"]
    assert sim.writes() == [] and calls(sim) == [LIST, OPTIONS]
    assert sim.state()["subscription"]["tier_slug"] == "basic"


def test_unknown_region_refused(sim, api, run_module):
    """A region the spec does not list is checked against the options before anything is sent."""
    for check_mode in (True, False):
        sim.clear_requests()
        res = run_module(docr_registry, dict(api, name="acme", region="mars1", subscription_tier="basic"),
                         check_mode=check_mode)
        assert res["failed"] and "region=mars1" in res["msg"] and "fra1" in res["msg"]
        assert sim.write_calls() == [] and OPTIONS in calls(sim)
        assert sim.registries() == {} and sim.state()["subscription"] is None


def test_region_refused_by_the_create_is_named(sim, api, run_module):
    """A region the spec lists but the API refuses now: the refusal is explained by the options, naming region."""
    sim.seed({"subscription_tier": "professional", "registries": [{"name": "one", "region": "nyc3"}]})
    sim.fault(method="POST", path="/v2/registries", status=422, times=1)
    res = run_module(docr_registry, dict(api, name="two", region="sfo2"))
    # the simulator offers sfo2, so the options clear the region: the API's own refusal stands, unrenamed
    assert res["failed"] and res["status_code"] == 422 and "region=" not in res["msg"], res
    assert calls(sim) == [LIST, CREATE, OPTIONS]
    assert sim.registries() == {"one": "nyc3"}


def test_taken_name_refused(sim, api, run_module):
    sim.seed({"taken_names": ["popular"]})
    for check_mode in (True, False):
        res = run_module(docr_registry, dict(api, name="popular", subscription_tier="basic"), check_mode=check_mode)
        assert res["failed"] and "already taken" in res["msg"] and "name" in res["msg"]
        assert sim.registries() == {} and sim.state()["subscription"] is None


def test_absent_refuses_registry_with_images(sim, api, run_module):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "nyc3", "repositories": [
        {"name": "web", "manifests": [{"size_bytes": 1000, "tags": ["v1"]}]}]}]})
    res = run_module(docr_registry, dict(api, name="acme", state="absent"))
    assert res["failed"] and "1 repository" in res["msg"] and "force" in res["msg"] and res["repositories"] == 1
    assert "acme" in sim.registries()
    assert sim.writes() == []

    res = run_module(docr_registry, dict(api, name="acme", state="absent", force=True), check_mode=True)
    assert res["changed"] is True and "acme" in sim.registries()
    # with force, the count is not needed: the read and the delete
    sim.clear_requests()
    res = run_module(docr_registry, dict(api, name="acme", state="absent", force=True))
    assert res["changed"] is True and "acme" not in sim.registries()
    assert calls(sim) == [LIST, ("DELETE", "/v2/registries/acme")]


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
    assert sim.registries() == {}


def test_plain_http_refused_for_remote_hosts(sim, api, run_module):
    res = run_module(docr_registry, dict(api, name="acme", api_url="http://api.example.com"))
    assert res["failed"] and "plain http" in res["msg"]
    assert sim.requests() == []


def test_retries_then_succeeds_without_duplicate(sim, api, run_module):
    sim.fault(method="GET", path="/v2/registries", status=503, retry_after=0, times=2)
    sim.fault(method="POST", path="/v2/registries", status=500, times=1, after=True)
    res = run_module(docr_registry, dict(api, name="acme", region="nyc3", subscription_tier="basic", http_retries=3))
    assert res["changed"] is True, res
    assert sim.registries() == {"acme": "nyc3"}
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

    # not found is an empty list, not a failure, and no extra flag
    res = run_module(docr_registry_info, dict(api, name="missing"))
    assert not res.failed and res["registries"] == [] and res["changed"] is False
    assert set(res) - {"changed", "exit_code", "invocation"} == {"registries", "subscription", "options"}
    assert sim.writes() == []

    # the list carries the subscription: registries, subscription and options in two reads
    sim.clear_requests()
    res = run_module(docr_registry_info, dict(api, name="a"))
    assert res["subscription"]["tier"] == "professional" and [r["name"] for r in res["registries"]] == ["a"]
    assert [(r["method"], r["path"]) for r in sim.requests()] == [("GET", "/v2/registries"), ("GET", "/v2/registries/options")]
