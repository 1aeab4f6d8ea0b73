"""docr_doks_integration and docr_doks_integration_info against the simulator.

The walk, batching (API calls counted from the request log), drift, unknown names, co-location, the
single-registry integration, and pagination.
"""

import hashlib
import json
import urllib.request

import pytest

from ansible_collections.dockyard.docr.plugins.modules import docr_doks_integration, docr_doks_integration_info

REGIONS = ("nyc3", "sfo3", "ams3")
# The two readings of a cluster's registry_enabled the simulator models (tests/simulator/README.md).
READINGS = ("mirrors_registries", "legacy_only")


@pytest.fixture(autouse=True, params=READINGS)
def reading(request, sim, monkeypatch):
    """Every test of this file runs under both readings: each seed carries the reading."""
    seed = sim.seed
    monkeypatch.setattr(sim, "seed", lambda data: seed(dict(data, doks_registry_enabled=request.param)))
    return request.param


def cluster_id(name):
    # a stable, well-formed UUID per cluster name
    digits = hashlib.md5(name.encode()).hexdigest()[:12]
    return "bd5f5959-5e1e-4205-a714-%s" % digits


def layout_seed(tier="professional", registries=REGIONS, attached=None):
    attached = attached or {}
    clusters = []
    for region in REGIONS:
        for suffix in ("a", "b"):
            name = "prod-%s-%s" % (region, suffix)
            clusters.append(dict(id=cluster_id(name), name=name, region=region, registries=list(attached.get(name, []))))
    return dict(
        subscription_tier=tier,
        registries=[dict(name="acme-%s" % region, region=region) for region in registries],
        clusters=clusters,
    )


def warnings(res):
    """The warning texts of a result (plain strings, or ansible-core 2.19's warning summaries)."""
    return [w if isinstance(w, str) else json.dumps(w) for w in res.get("warnings") or []]


def calls(sim):
    return [(r["method"], r["path"]) for r in sim.requests()]


def enabled_state(sim):
    found = sim.state()["clusters"]
    items = found.values() if isinstance(found, dict) else found
    return dict((c["name"], bool(c.get("registry_enabled"))) for c in items)


def behind_the_back(sim, token, method, path, body):
    """A change made outside Ansible (someone clicking in the console)."""
    request = urllib.request.Request(
        sim.url + path, data=json.dumps(body).encode(), method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 202, 204)


def test_walk(sim, api, run_module):
    sim.seed(layout_seed())
    args = dict(api, clusters=["prod-nyc3-a", cluster_id("prod-nyc3-b")], registries=["acme-nyc3"], require_colocation=True)
    sim.clear_requests()

    # check mode: predicted, with a per-cluster diff, nothing written
    res = run_module(docr_doks_integration, args, check_mode=True, diff=True)
    assert res["changed"] is True, res
    assert res["diff"]["before"]["clusters"]["prod-nyc3-a"] == dict(registries=[])
    assert res["diff"]["after"]["clusters"]["prod-nyc3-b"] == dict(registries=["acme-nyc3"])
    assert sim.writes() == []
    assert sim.clusters()["prod-nyc3-a"] == []

    # apply: one batched POST for both clusters
    sim.clear_requests()
    res = run_module(docr_doks_integration, args)
    assert res["changed"] is True and not res.get("failed"), res
    assert [c["name"] for c in res["clusters"]] == ["prod-nyc3-a", "prod-nyc3-b"]
    assert all(c["registries"] == ["acme-nyc3"] for c in res["clusters"])
    assert sim.write_calls() == [("POST", "/v2/kubernetes/registries")]
    state = sim.clusters()
    assert state["prod-nyc3-a"] == state["prod-nyc3-b"] == ["acme-nyc3"]
    assert state["prod-sfo3-a"] == []

    # again: unchanged, two reads, no write
    sim.clear_requests()
    res = run_module(docr_doks_integration, args)
    assert res["changed"] is False, res
    assert sorted(calls(sim)) == [("GET", "/v2/kubernetes/clusters"), ("GET", "/v2/registries")]

    # add a second registry in check mode with diff, then for real
    sim.clear_requests()
    more = dict(args, registries=["acme-nyc3", "acme-sfo3"], require_colocation=False)
    res = run_module(docr_doks_integration, more, check_mode=True, diff=True)
    assert res["changed"] is True
    assert res["diff"]["after"]["clusters"]["prod-nyc3-a"]["registries"] == ["acme-nyc3", "acme-sfo3"]
    assert sim.writes() == []
    res = run_module(docr_doks_integration, more)
    assert res["changed"] is True
    assert any("cross-region" in w.lower() for w in warnings(res)), res
    assert res["cross_region"][0]["registry"] == "acme-sfo3"
    assert sim.clusters()["prod-nyc3-a"] == ["acme-nyc3", "acme-sfo3"]

    # absent removes only the named registry from the named clusters
    sim.clear_requests()
    res = run_module(docr_doks_integration, dict(args, registries=["acme-sfo3"], state="absent"), diff=True)
    assert res["changed"] is True
    assert res["diff"]["after"]["clusters"]["prod-nyc3-a"]["registries"] == ["acme-nyc3"]
    assert sim.write_calls() == [("DELETE", "/v2/kubernetes/registries")]
    assert sim.clusters()["prod-nyc3-a"] == ["acme-nyc3"]
    assert sim.clusters()["prod-nyc3-b"] == ["acme-nyc3"]

    # absent again: nothing to do, no write
    sim.clear_requests()
    res = run_module(docr_doks_integration, dict(args, registries=["acme-sfo3"], state="absent"))
    assert res["changed"] is False
    assert sim.writes() == []


def test_drift_is_restored(sim, api, run_module):
    sim.seed(layout_seed(attached={"prod-sfo3-a": ["acme-sfo3"], "prod-sfo3-b": ["acme-sfo3"]}))
    args = dict(api, clusters=["prod-sfo3-a", "prod-sfo3-b"], registries=["acme-sfo3"])
    sim.clear_requests()
    assert run_module(docr_doks_integration, args)["changed"] is False
    assert sim.writes() == []

    behind_the_back(sim, api["token"], "DELETE", "/v2/kubernetes/registries", {"cluster_uuids": [cluster_id("prod-sfo3-b")], "registries": ["acme-sfo3"]})
    assert sim.clusters()["prod-sfo3-b"] == []

    sim.clear_requests()
    res = run_module(docr_doks_integration, args, diff=True)
    assert res["changed"] is True
    assert res["diff"]["before"]["clusters"]["prod-sfo3-b"]["registries"] == []
    assert res["diff"]["before"]["clusters"]["prod-sfo3-a"] == res["diff"]["after"]["clusters"]["prod-sfo3-a"]
    writes_made = sim.writes()
    assert len(writes_made) == 1
    assert sim.clusters()["prod-sfo3-b"] == ["acme-sfo3"]


def test_unknown_names_fail_before_any_write(sim, api, run_module):
    sim.seed(layout_seed())
    sim.clear_requests()
    res = run_module(docr_doks_integration, dict(api, clusters=["prod-nyc3-a", "nope-1", "nope-2"], registries=["acme-nyc3"]))
    assert res["failed"]
    assert "nope-1" in res["msg"] and "nope-2" in res["msg"] and "clusters" in res["msg"]
    assert res["unknown_clusters"] == ["nope-1", "nope-2"]

    res = run_module(docr_doks_integration, dict(api, clusters=["prod-nyc3-a"], registries=["acme-nyc3", "ghost", "phantom"]))
    assert res["failed"]
    assert "ghost" in res["msg"] and "phantom" in res["msg"] and "registries" in res["msg"]

    res = run_module(docr_doks_integration, dict(api, integrations=[
        dict(registry="acme-nyc3", clusters=["prod-nyc3-a", "lost"]), dict(registry="ghost", clusters=["prod-nyc3-b"])]))
    assert res["failed"] and "lost" in res["msg"]

    res = run_module(docr_doks_integration, dict(api, clusters=["prod-nyc3-a"], registries=["Bad_Name"]))
    assert res["failed"] and "registries" in res["msg"] and "Bad_Name" in res["msg"]

    res = run_module(docr_doks_integration, dict(api, clusters=[], registries=["acme-nyc3"]))
    assert res["failed"] and "clusters" in res["msg"]

    assert sim.writes() == []
    assert all(regs == [] for regs in sim.clusters().values())


def test_colocation(sim, api, run_module):
    sim.seed(layout_seed())
    args = dict(api, clusters=["prod-ams3-a", "prod-nyc3-a"], registries=["acme-nyc3"])

    # require_colocation: fails before any write, naming the pair
    sim.clear_requests()
    res = run_module(docr_doks_integration, dict(args, require_colocation=True))
    assert res["failed"] and "require_colocation" in res["msg"]
    assert "prod-ams3-a" in res["msg"] and "ams3" in res["msg"] and "prod-nyc3-a" not in res["msg"]
    assert sim.writes() == []
    assert sim.clusters()["prod-ams3-a"] == []

    # the default is the same: require_colocation is true unless set
    res = run_module(docr_doks_integration, args)
    assert res["failed"] and "require_colocation" in res["msg"] and "prod-ams3-a" in res["msg"], res
    assert "allow_cross_region" in res["msg"]
    assert res["cross_region"] == [dict(cluster="prod-ams3-a", cluster_region="ams3", registry="acme-nyc3", registry_region="nyc3")]
    assert sim.writes() == []

    # with require_colocation: false, a warning, and the integration is made
    res = run_module(docr_doks_integration, dict(args, require_colocation=False))
    assert res["changed"] is True
    assert any("prod-ams3-a" in w for w in warnings(res))
    assert sim.clusters()["prod-ams3-a"] == ["acme-nyc3"]

    # an explicitly allowed pair passes require_colocation without a warning
    res = run_module(docr_doks_integration, dict(api, require_colocation=True, integrations=[
        dict(registry="acme-nyc3", clusters=["prod-ams3-b"], allow_cross_region=True)]))
    # (warnings of earlier in-process runs may linger in the result; none is about this pair)
    assert res["changed"] is True and not [w for w in warnings(res) if "prod-ams3-b" in w], res
    assert res["cross_region"] == []


def test_layout_in_one_task(sim, api, run_module):
    sim.seed(layout_seed(attached={"prod-ams3-a": ["acme-ams3"]}))
    integrations = [
        dict(registry="acme-%s" % region, clusters=["prod-%s-a" % region, "prod-%s-b" % region]) for region in REGIONS
    ]
    args = dict(api, integrations=integrations, require_colocation=True)
    sim.clear_requests()
    res = run_module(docr_doks_integration, args, diff=True)
    assert res["changed"] is True, res
    # one POST per distinct registry set (three registries), all clusters of a set in the same call
    assert sim.write_calls() == [("POST", "/v2/kubernetes/registries")] * 3
    state = sim.clusters()
    for region in REGIONS:
        assert state["prod-%s-a" % region] == state["prod-%s-b" % region] == ["acme-%s" % region]
    assert res["diff"]["before"]["clusters"]["prod-ams3-a"] == res["diff"]["after"]["clusters"]["prod-ams3-a"]

    sim.clear_requests()
    res = run_module(docr_doks_integration, args)
    assert res["changed"] is False
    assert len(calls(sim)) == 2 and sim.writes() == []

    # a cluster named under two registries gets both
    res = run_module(docr_doks_integration, dict(api, integrations=integrations + [
        dict(registry="acme-sfo3", clusters=["prod-nyc3-a"], allow_cross_region=True)]))
    assert res["changed"] is True
    assert sim.clusters()["prod-nyc3-a"] == ["acme-nyc3", "acme-sfo3"]


def test_single_registry_integration(sim, api, run_module):
    sim.seed(layout_seed(tier="basic", registries=("nyc3",)))
    args = dict(api, clusters=["prod-nyc3-a", "prod-nyc3-b"])
    sim.clear_requests()
    res = run_module(docr_doks_integration, args, check_mode=True, diff=True)
    assert res["changed"] is True and sim.writes() == []
    res = run_module(docr_doks_integration, args)
    assert res["changed"] is True, res
    assert sim.write_calls() == [("POST", "/v2/kubernetes/registry")]
    assert enabled_state(sim)["prod-nyc3-a"] and enabled_state(sim)["prod-nyc3-b"]
    assert not enabled_state(sim)["prod-sfo3-a"]

    sim.clear_requests()
    assert run_module(docr_doks_integration, args)["changed"] is False
    assert sim.writes() == []

    res = run_module(docr_doks_integration, dict(args, state="absent"))
    assert res["changed"] is True
    assert not enabled_state(sim)["prod-nyc3-a"]
    sim.clear_requests()
    assert run_module(docr_doks_integration, dict(args, state="absent"))["changed"] is False
    assert sim.writes() == []


def test_single_registry_integration_needs_one_registry(sim, api, run_module):
    sim.seed(layout_seed())
    sim.clear_requests()
    res = run_module(docr_doks_integration, dict(api, clusters=["prod-nyc3-a"]))
    assert res["failed"] and "registries is required" in res["msg"] and "acme-sfo3" in res["msg"]
    assert sim.writes() == []


def test_pagination_and_info(sim, api, run_module):
    seed = layout_seed()
    for index in range(205):
        name = "batch-%03d" % index
        seed["clusters"].append(dict(id="0000%04d-5e1e-4205-a714-a914373942af" % index, name=name, region="nyc3", registries=[]))
    sim.seed(seed)
    sim.clear_requests()
    res = run_module(docr_doks_integration, dict(api, clusters=["batch-204", "batch-000"], registries=["acme-nyc3"]))
    assert res["changed"] is True, res
    assert [c["name"] for c in res["clusters"]] == ["batch-204", "batch-000"]
    assert len([c for c in calls(sim) if c == ("GET", "/v2/kubernetes/clusters")]) == 2  # 211 clusters, 200 a page
    assert sim.clusters()["batch-204"] == ["acme-nyc3"]

    res = run_module(docr_doks_integration_info, dict(api))
    assert len(res["clusters"]) == 211 and res["changed"] is False
    assert [r["name"] for r in res["registries"]] == ["acme-ams3", "acme-nyc3", "acme-sfo3"]
    res = run_module(docr_doks_integration_info, dict(api, clusters=["batch-204", "prod-sfo3-a"]))
    assert [c["name"] for c in res["clusters"]] == ["batch-204", "prod-sfo3-a"]
    assert res["clusters"][0]["registries"] == ["acme-nyc3"]


def test_info_answers_not_found_with_an_empty_list(sim, api, run_module):
    """Like every _info module: only what exists is returned, `[]` when nothing does; no failure, no flag."""
    sim.seed(layout_seed(attached={"prod-nyc3-a": ["acme-nyc3"]}))
    sim.clear_requests()
    res = run_module(docr_doks_integration_info, dict(api, clusters=["nope"]))
    assert not res.failed and res["changed"] is False, res
    assert res["clusters"] == []
    assert [r["name"] for r in res["registries"]] == ["acme-ams3", "acme-nyc3", "acme-sfo3"]
    res = run_module(docr_doks_integration_info, dict(api, clusters=["ghost", cluster_id("prod-nyc3-a"), "prod-sfo3-b", "prod-nyc3-a"]))
    assert not res.failed, res
    assert [(c["name"], c["registries"]) for c in res["clusters"]] == [("prod-nyc3-a", ["acme-nyc3"]), ("prod-sfo3-b", [])]
    assert set(res) - {"exit_code", "invocation", "warnings"} == {"changed", "clusters", "registries", "subscription_tier"}
    # two reads per run: the cluster list and the registry list (it carries the subscription)
    assert sorted(calls(sim)) == sorted([("GET", "/v2/kubernetes/clusters"), ("GET", "/v2/registries")] * 2)
    assert sim.writes() == []


def test_every_problem_at_once_and_nothing_written(sim, api, run_module):
    """An unknown cluster, an unknown registry and a cross-region pair: one failure naming all three, no write."""
    sim.seed(layout_seed())
    sim.clear_requests()
    res = run_module(docr_doks_integration, dict(api, integrations=[
        dict(registry="acme-nyc3", clusters=["prod-nyc3-a", "lost"]),
        dict(registry="ghost", clusters=["prod-sfo3-a"]),
        dict(registry="acme-ams3", clusters=["prod-ams3-a", "prod-sfo3-b"])]))
    assert res.failed, res
    assert "integrations[0].clusters: unknown DOKS cluster 'lost'" in res["msg"], res["msg"]
    assert "integrations[1].registry: unknown registry 'ghost'" in res["msg"], res["msg"]
    assert "integrations[2]: cluster prod-sfo3-b (sfo3) would pull from registry acme-ams3 (ams3)" in res["msg"], res["msg"]
    assert res["unknown_clusters"] == ["lost"] and res["unknown_registries"] == ["ghost"]
    assert [x["cluster"] for x in res["cross_region"]] == ["prod-sfo3-b"]
    assert "changed" not in res or res["changed"] is False
    assert sorted(calls(sim)) == [("GET", "/v2/kubernetes/clusters"), ("GET", "/v2/registries")]
    assert all(regs == [] for regs in sim.clusters().values())


def test_answers_shaped_like_the_spec_example_settle(sim, api, run_module, reading):
    """registry_enabled false next to a list of registries (the spec's example): nothing to write, ever."""
    sim.seed(layout_seed(attached={"prod-nyc3-a": ["acme-nyc3", "acme-sfo3"], "prod-nyc3-b": ["acme-nyc3"]}))
    enabled = enabled_state(sim)
    assert enabled["prod-nyc3-a"] is (reading == "mirrors_registries")
    args = dict(api, clusters=["prod-nyc3-a", "prod-nyc3-b"], registries=["acme-nyc3"])
    sim.clear_requests()
    for _run in range(3):
        res = run_module(docr_doks_integration, args)
        assert res["changed"] is False, res
        res = run_module(docr_doks_integration, dict(api, integrations=[
            dict(registry="acme-nyc3", clusters=["prod-nyc3-a", "prod-nyc3-b"]),
            dict(registry="acme-sfo3", clusters=["prod-nyc3-a"], allow_cross_region=True)]))
        assert res["changed"] is False, res
    assert sim.writes() == []

    # absent is decided from `registries` too: it removes, then settles
    res = run_module(docr_doks_integration, dict(args, state="absent"))
    assert res["changed"] is True
    assert sim.write_calls() == [("DELETE", "/v2/kubernetes/registries")]
    assert sim.clusters()["prod-nyc3-a"] == ["acme-sfo3"] and sim.clusters()["prod-nyc3-b"] == []
    sim.clear_requests()
    assert run_module(docr_doks_integration, dict(args, state="absent"))["changed"] is False
    assert sim.writes() == []


def test_single_registry_path_accepts_either_signal(sim, api, run_module, reading):
    seed = layout_seed(tier="basic", registries=("nyc3",), attached={"prod-nyc3-a": ["acme-nyc3"]})
    # a cluster the single-registry integration flagged (only the legacy_only reading keeps the flag apart)
    for cluster in seed["clusters"]:
        if cluster["name"] == "prod-nyc3-b":
            cluster["registry_enabled"] = True
    sim.seed(seed)
    legacy_only = reading == "legacy_only"
    args = dict(api, clusters=["prod-nyc3-a"])

    # listed in `registries` (whatever the flag says): integrated, nothing to write
    sim.clear_requests()
    for _run in range(2):
        assert run_module(docr_doks_integration, args)["changed"] is False
    assert sim.writes() == []

    # absent clears whichever signal is set, then settles
    res = run_module(docr_doks_integration, dict(args, state="absent"), diff=True)
    assert res["changed"] is True
    assert res["diff"]["before"]["clusters"]["prod-nyc3-a"] == dict(integrated=True)
    assert res["diff"]["after"]["clusters"]["prod-nyc3-a"] == dict(integrated=False)
    expected = [("DELETE", "/v2/kubernetes/registries")]
    if not legacy_only:  # the flag mirrored `registries`, so it was set too
        expected.insert(0, ("DELETE", "/v2/kubernetes/registry"))
    assert sim.write_calls() == expected
    assert sim.clusters()["prod-nyc3-a"] == [] and not enabled_state(sim)["prod-nyc3-a"]
    sim.clear_requests()
    assert run_module(docr_doks_integration, dict(args, state="absent"))["changed"] is False
    assert sim.writes() == []

    # flagged by the legacy integration only (legacy_only reading): integrated; absent clears the flag
    args = dict(api, clusters=["prod-nyc3-b"])
    res = run_module(docr_doks_integration, args)
    assert res["changed"] is (not legacy_only)
    sim.clear_requests()
    assert run_module(docr_doks_integration, args)["changed"] is False
    assert sim.writes() == []
    res = run_module(docr_doks_integration, dict(args, state="absent"))
    assert res["changed"] is True
    assert ("DELETE", "/v2/kubernetes/registry") in sim.write_calls()
    assert not enabled_state(sim)["prod-nyc3-b"] and sim.clusters()["prod-nyc3-b"] == []
    sim.clear_requests()
    assert run_module(docr_doks_integration, dict(args, state="absent"))["changed"] is False
    assert sim.writes() == []


def test_check_mode_predicts_the_apply(sim, api, run_module):
    """Check mode returns the clusters and diff the apply then makes (both readings); the 2nd run writes nothing."""
    sim.seed(layout_seed(attached={"prod-nyc3-a": ["acme-sfo3"], "prod-ams3-b": ["acme-ams3"]}))
    args = dict(api, integrations=[
        dict(registry="acme-nyc3", clusters=["prod-nyc3-a", "prod-nyc3-b"]),
        dict(registry="acme-sfo3", clusters=["prod-sfo3-a", "prod-sfo3-b", "prod-nyc3-a"], allow_cross_region=True),
        dict(registry="acme-ams3", clusters=["prod-ams3-a", "prod-ams3-b"])])
    sim.clear_requests()
    predicted = run_module(docr_doks_integration, args, check_mode=True, diff=True)
    assert predicted["changed"] is True and sim.writes() == []
    applied = run_module(docr_doks_integration, args, diff=True)
    assert applied["changed"] is True
    assert [(c["name"], c["registries"]) for c in predicted["clusters"]] == [(c["name"], c["registries"]) for c in applied["clusters"]]
    assert predicted["diff"] == applied["diff"]
    state = sim.clusters()
    assert dict((name, entry["registries"]) for name, entry in applied["diff"]["after"]["clusters"].items()) == state
    # prod-nyc3-a already had acme-sfo3: it gets its whole set in one call, the other sets one call each
    assert len(sim.write_calls()) == 4 and state["prod-nyc3-a"] == ["acme-nyc3", "acme-sfo3"]
    sim.clear_requests()
    again = run_module(docr_doks_integration, args, check_mode=True, diff=True)
    assert again["changed"] is False and again["diff"]["before"] == again["diff"]["after"]
    assert run_module(docr_doks_integration, args)["changed"] is False
    assert sim.writes() == []
