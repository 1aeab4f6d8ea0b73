"""docr_retention against the simulator: each policy, protection, the safety cap, check/diff mode,
pacing under a simulated rate limit, and an interrupted run finished by a second one."""

import calendar
import hashlib
import time

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _client, _retention
from ansible_collections.dockyard.docr.plugins.modules import docr_retention

DAY = 86400


def digest(*parts):
    return "sha256:" + hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def sim_now(sim):
    return calendar.timegm(time.strptime(sim.now()[:19], "%Y-%m-%dT%H:%M:%S"))


def manifest(repo, n, now, days_ago, tags, size=1000):
    return dict(digest=digest(repo, n), size_bytes=size, updated_at=iso(now - days_ago * DAY), tags=tags)


def seed(sim, builds=12, extra=None, rate_limit=None):
    """web: build-0 (oldest, also 'latest') .. build-N (newest); base/debian: 3 tags; api: 2 tags."""
    now = sim_now(sim)
    web = []
    for n in range(builds):
        tags = ["build-%d" % n] + (["latest"] if n == 0 else [])
        web.append(manifest("web", n, now, 100 - n, tags, size=1000 + n))
    data = dict(
        subscription_tier="professional",
        registries=[dict(name="acme", region="fra1", repositories=[
            dict(name="web", manifests=web),
            dict(name="base/debian", manifests=[manifest("base", n, now, 200, ["d%d" % n]) for n in range(3)]),
            dict(name="api", manifests=[manifest("api", n, now, 50 + n, ["a%d" % n]) for n in range(2)]),
        ] + (extra or []))],
    )
    if rate_limit:
        data["rate_limit"] = rate_limit
    sim.seed(data)
    return now


def tags_of(sim, repo, registry="acme"):
    for reg in sim.state()["registries"]:
        if reg["name"] == registry:
            for item in reg["repositories"]:
                if item["name"] == repo:
                    return set(item["tags"])
    return None


def manifests_of(sim, repo, registry="acme"):
    for reg in sim.state()["registries"]:
        if reg["name"] == registry:
            for item in reg["repositories"]:
                if item["name"] == repo:
                    return set(m["digest"] for m in item["manifests"])
    return None


def test_keep_last_walk(sim, api, run_module):
    seed(sim)
    args = dict(api, registry="acme", keep_last=3, repositories_include=["web"])
    all_web = tags_of(sim, "web")

    # check mode with diff: the exact plan, nothing written
    sim.clear_requests()
    res = run_module(docr_retention, args, check_mode=True, diff=True)
    assert res["changed"] is True, res
    planned = [(d["repository"], d["tag"]) for d in res["deleted"]]
    # build-0 shares its manifest with the protected 'latest': kept; build-9..11 are the newest 3
    assert planned == [("web", "build-%d" % n) for n in range(1, 9)]
    assert res["freed_bytes_estimate"] == sum(1000 + n for n in range(1, 9))
    assert res["kept"] == dict(total=5, protected=2, repositories=1)
    assert res["repositories_skipped"] == ["api", "base/debian"]
    assert res["diff"]["before"]["web"] == sorted(all_web)
    assert res["diff"]["after"]["web"] == sorted(["latest", "build-0", "build-9", "build-10", "build-11"])
    assert sim.writes() == []
    assert tags_of(sim, "web") == all_web

    # apply
    res = run_module(docr_retention, args)
    assert res["changed"] is True and len(res["deleted"]) == 8
    assert tags_of(sim, "web") == {"latest", "build-0", "build-9", "build-10", "build-11"}
    # the manifest the protected tag points to is still there
    assert digest("web", 0) in manifests_of(sim, "web")
    assert tags_of(sim, "api") == {"a0", "a1"}

    # again: nothing to do, no write, two reads (repositories, web's tags)
    sim.clear_requests()
    res = run_module(docr_retention, args, diff=True)
    assert res["changed"] is False and res["deleted"] == [] and res["freed_bytes_estimate"] == 0
    assert res["diff"] == dict(before={}, after={})
    log = sim.requests()
    assert [r["method"] for r in log] == ["GET", "GET"]
    assert res["pacing"]["requests"] == 2


def test_older_than_and_combined(sim, api, run_module):
    seed(sim)
    # older_than alone: web builds are 89..100 days old; api 50..51; base 200
    res = run_module(docr_retention, dict(api, registry="acme", older_than="95d", repositories_exclude=["base/*"]),
                     check_mode=True)
    assert sorted(d["tag"] for d in res["deleted"]) == sorted("build-%d" % n for n in range(1, 6))
    # combined: beyond the newest 10 AND older than 95 days
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=10, older_than="95d",
                                          repositories_include=["web"]))
    assert sorted(d["tag"] for d in res["deleted"]) == ["build-1"]
    assert "build-1" not in tags_of(sim, "web") and "build-2" in tags_of(sim, "web")
    # the simulator's clock decides "now": 10 days later, more is older than 95 days
    sim.advance(10 * DAY)
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=0, older_than="95d",
                                          repositories_include=["web"]), check_mode=True)
    assert sorted(d["tag"] for d in res["deleted"]) == sorted("build-%d" % n for n in range(2, 12) if 100 - n + 10 >= 95)


def test_protection(sim, api, run_module):
    now = sim_now(sim)
    sim.seed(dict(subscription_tier="professional", registries=[dict(name="acme", region="fra1", repositories=[
        dict(name="app", manifests=[
            manifest("app", 0, now, 90, ["v1.0.0", "old-a"]),   # release regex protects the manifest
            manifest("app", 1, now, 80, ["old-b"]),             # running in a cluster: protect_digests
            manifest("app", 2, now, 70, ["old-c"]),
            manifest("app", 3, now, 60, []),                    # untagged
            manifest("app", 4, now, 1, ["new", "latest"]),
        ]),
    ])]))
    policy = dict(api, registry="acme", keep_last=0, protect=["^latest$", r"^v\d+\.\d+\.\d+$"],
                  protect_digests=[digest("app", 1)])
    # tags: old-a shares a manifest with a protected tag, old-b's manifest is in protect_digests: both kept
    res = run_module(docr_retention, policy, check_mode=True)
    assert sorted(d["tag"] for d in res["deleted"]) == ["old-c"]
    assert res["kept"]["protected"] == 5
    # manifests: never a manifest with a protected tag or digest; untagged ones are candidates
    res = run_module(docr_retention, dict(policy, target="manifests"))
    assert sorted(d["digest"] for d in res["deleted"]) == sorted([digest("app", 2), digest("app", 3)])
    assert manifests_of(sim, "app") == {digest("app", n) for n in (0, 1, 4)}
    assert tags_of(sim, "app") == {"v1.0.0", "old-a", "old-b", "new", "latest"}
    assert res["freed_bytes_estimate"] == 2000
    # default protect keeps 'latest' with keep_last=0 and older_than
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=0, protect_digests=[digest("app", 0)]),
                     check_mode=True)
    assert sorted(d["tag"] for d in res["deleted"]) == ["old-b"]


def test_max_deletions_cap(sim, api, run_module):
    seed(sim, builds=30)
    sim.clear_requests()
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=2, max_deletions=10, repositories_include=["web"]))
    assert res["failed"] and "max_deletions" in res["msg"] and "Nothing was deleted" in res["msg"]
    assert len(res["plan"]) > 10 and res["plan"][0]["tag"] == "build-1"
    assert res["deleted"] == []
    assert sim.writes() == []
    # the same cap in check mode: it fails too, so a preview says what a real run would do
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=2, max_deletions=10, repositories_include=["web"]),
                     check_mode=True)
    assert res["failed"]
    # raised deliberately, it runs
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=2, max_deletions=27, repositories_include=["web"]))
    assert res["changed"] and len(res["deleted"]) == 27
    assert len(tags_of(sim, "web")) == 4  # latest + build-0 (protected) + 2 newest


@pytest.mark.parametrize("args, option", [
    (dict(), "keep_last"),
    (dict(keep_last=-1), "keep_last"),
    (dict(older_than="soon"), "older_than"),
    (dict(older_than="0d"), "older_than"),
    (dict(keep_last=1, protect=["(unclosed"]), "protect"),
    (dict(keep_last=1, max_deletions=-5), "max_deletions"),
    (dict(keep_last=1, requests_per_minute=-1), "requests_per_minute"),
    (dict(keep_last=1, registry="Bad_Name"), "registry"),
])
def test_bad_input(sim, api, run_module, args, option):
    seed(sim)
    sim.clear_requests()
    res = run_module(docr_retention, dict(dict(api, registry="acme"), **args))
    assert res["failed"] and option in res["msg"], res
    assert sim.requests() == []


def test_missing_registry(sim, api, run_module):
    seed(sim)
    res = run_module(docr_retention, dict(api, registry="nope", keep_last=1))
    assert res["failed"] and "nope" in res["msg"] and "not found" in res["msg"]
    assert sim.writes() == []


class SimTime(object):
    """One clock for the client's rate limiter and the simulator: the simulator's clock, stopped, which only the
    limiter's waits move. Nothing depends on how fast this machine is. Given to the module as its ``timing``."""

    def __init__(self, sim):
        sim.step_clock(0)
        self.sim = sim
        self.now = sim.timestamp()
        self.sleeps = []
        self.timing = dict(clock=self.clock, sleep=self.sleep)

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.sim.advance(seconds)
        self.now += seconds


@pytest.fixture
def sim_time(sim):
    return SimTime(sim)


def test_pacing_under_rate_limit(sim, api, run_module, sim_time):
    """20 requests a minute allowed; 29 deletions + the listings (before planning, and again before deleting
    and after each of the limiter's waits, to re-check the tags): the limiter waits, no request gets a 429."""
    seed(sim, builds=30, rate_limit=dict(per_minute=20))
    sim_time.now = sim.timestamp()
    sim.clear_requests()
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=0, repositories_include=["web"],
                                          requests_per_minute=20), timing=sim_time.timing)
    assert not res.get("failed"), res
    assert len(res["deleted"]) == 29
    assert tags_of(sim, "web") == {"latest", "build-0"}
    statuses = [r["status"] for r in sim.requests()]
    assert 429 not in statuses and len([r for r in sim.requests() if r["method"] == "DELETE"]) == 29
    assert len(statuses) - 29 in (3, 4)  # the listings: before planning, and again after each of the limiter's waits
    # time moves only by the limiter's waits, each a minute and the margin
    assert sim_time.sleeps and all(seconds == 60 + _client.PACING_MARGIN for seconds in sim_time.sleeps)
    assert res["pacing"]["waits"] == len(sim_time.sleeps)
    assert res["pacing"]["requests"] == len(statuses)
    # a second run: nothing left, no write
    sim.clear_requests()
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=0, repositories_include=["web"],
                                          requests_per_minute=20), timing=sim_time.timing)
    assert res["changed"] is False and sim.writes() == []


def test_pacing_waits_for_hourly_reset(sim, api, run_module, sim_time):
    """When ratelimit-remaining is nearly spent, wait until ratelimit-reset (on the API's clock)."""
    seed(sim, builds=4, rate_limit=dict(per_hour=12))
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=0, repositories_include=["web"]),
                     timing=sim_time.timing)
    assert not res.get("failed"), res
    assert tags_of(sim, "web") == {"latest", "build-0"}
    assert 429 not in [r["status"] for r in sim.requests()]
    assert sim_time.sleeps and max(sim_time.sleeps) <= _client.MAX_PACING_WAIT


def test_interrupted_run_is_finished_by_the_next(sim, api, run_module):
    """The run stops at a deletion the API keeps refusing; the failure says what was done; the next run finishes."""
    seed(sim)
    args = dict(api, registry="acme", keep_last=3, repositories_include=["web"])
    # the API fails the 4th deletion, and every retry of it: the run stops there
    sim.fault(method="DELETE", path="/v2/registries/acme/repositories/web/tags/build-4", status=503, times=10)
    res = run_module(docr_retention, args)
    assert res["failed"] and "stopped after 3 of 8" in res["msg"], res
    assert [d["tag"] for d in res["deleted"]] == ["build-1", "build-2", "build-3"]
    assert res["remaining"] == 5
    assert tags_of(sim, "web") >= {"build-4", "build-5"} and "build-1" not in tags_of(sim, "web")
    sim.clear_faults()

    # the next run: the answer to one deletion is lost after the API did it; the retry's 404 means "done"
    sim.fault(method="DELETE", path="/v2/registries/acme/repositories/web/tags/build-5", drop=True, after=True, times=1)
    res = run_module(docr_retention, args)
    assert not res.get("failed"), res
    assert [d["tag"] for d in res["deleted"]] == ["build-%d" % n for n in range(4, 9)]
    assert tags_of(sim, "web") == {"latest", "build-0", "build-9", "build-10", "build-11"}
    res = run_module(docr_retention, args)
    assert res["changed"] is False


def test_playbook_style_defaults(sim, api, run_module):
    """protect defaults to ^latest$; include globs; no repositories selected is fine."""
    seed(sim)
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=0, repositories_include=["nothing-*"]))
    assert res["changed"] is False and res["kept"]["repositories"] == 0
    assert sorted(res["repositories_skipped"]) == ["api", "base/debian", "web"]


# ---- the planner and the settling, without HTTP ---------------------------------------------------

def policy(**overrides):
    params = dict(registry="acme", target="tags", keep_last=1, older_than=None, protect=[], protect_latest=True,
                  protect_digests=[], repositories_include=[], repositories_exclude=[], max_deletions=100,
                  requests_per_minute=240)
    params.update(overrides)
    return _retention.policy_from_params(params)


def listing(now, *tags):
    """Tags ``name`` updated ``n`` days before ``now``, each on its own manifest."""
    return [dict(tag=name, manifest_digest=digest(name), updated_at=iso(now - days * DAY), size_bytes=10)
            for name, days in tags]


def test_plan_is_pure_and_its_states_are_the_scope_minus_the_deletions():
    now = 2000000000
    current = dict(now=now, repositories=["web", "api", "docs"], pacing=None, listings={
        "web": listing(now, ("latest", 1), ("b1", 30), ("b2", 20), ("b3", 10)),
        "api": listing(now, ("a1", 5)),
    })
    plan = _retention.plan(current, policy(repositories_exclude=["docs"]))
    assert [w.what for w in plan.writes] == ["delete tag web:b1", "delete tag web:b2"]   # oldest first
    assert plan.before == {"web": ["b1", "b2", "b3", "latest"]}                         # only where it deletes
    assert plan.after == {"web": ["b3", "latest"]}
    assert plan.changed
    assert plan.result["repositories_skipped"] == ["docs"]
    assert plan.result["kept"] == dict(total=3, protected=1, repositories=2)
    assert plan.result["freed_bytes_estimate"] == 20
    # the answers decide the real after-state: a skipped deletion stays in it
    answers = [dict(deleted=True, item=plan.result["deleted"][0]),
               dict(deleted=False, item=dict(plan.result["deleted"][1], reason="moved", current_digest="x"))]
    assert _retention.settle(plan, answers) == {"web": ["b2", "b3", "latest"]}
    assert [i["tag"] for i in plan.result["deleted"]] == ["b1"]
    assert [i["tag"] for i in plan.result["skipped_changed"]] == ["b2"]


def test_plan_with_nothing_to_delete_has_no_write_and_no_change():
    now = 2000000000
    current = dict(now=now, repositories=["web"], pacing=None, listings={"web": listing(now, ("latest", 1), ("b1", 3))})
    plan = _retention.plan(current, policy(keep_last=5))
    assert plan.writes == [] and plan.before == {} and plan.after == {} and not plan.changed


def test_plan_over_max_deletions_fails_with_the_plan_and_warns_of_unknown_digests():
    now = 2000000000
    current = dict(now=now, repositories=["web"], pacing={"requests": 2}, listings={
        "web": listing(now, *[("b%d" % n, 10 + n) for n in range(5)])})
    with pytest.raises(_retention.DocrError) as caught:
        _retention.plan(current, policy(keep_last=0, max_deletions=3))
    assert "max_deletions (3)" in caught.value.msg and len(caught.value.details["plan"]) == 5
    assert caught.value.details["deleted"] == [] and caught.value.details["pacing"] == {"requests": 2}
    plan = _retention.plan(current, policy(keep_last=5, protect_digests=["sha256:" + "0" * 64]))
    assert plan.writes == [] and "protect nothing" in plan.warnings[0]


@pytest.mark.parametrize("value, seconds", [("30d", 30 * DAY), ("12h", 43200), (3600, 3600), ("90", 90), ("2w", 14 * DAY)])
def test_older_than_takes_every_duration_form(value, seconds):
    assert policy(older_than=value)["older_than"] == seconds
