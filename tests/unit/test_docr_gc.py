"""docr_gc and docr_gc_info against the simulator, driving its clock.

GC phases take 5/60/30/30 simulated seconds. The simulated clock stands still and moves ``STEP`` seconds
with each API request (``sim.step_clock``), so a GC advances one step per poll however slow the machine is:
no test races a running clock. ``sim.step_clock(0)`` freezes a GC in its phase; ``sim.advance`` jumps.
Polls are frequent (``poll_interval``), so a whole GC takes a fraction of a real second.
"""

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _gc, _time
from ansible_collections.dockyard.docr.plugins.modules import docr_gc, docr_gc_info

from tests.helpers import writes

STEP = 30.0           # simulated seconds per API request
POLL = 0.02           # first poll delay, real seconds (it only paces the polls; it measures nothing)
OLD = "2026-01-01T00:00:00Z"


def gc_posts(sim):
    return [r for r in sim.requests() if r["method"] == "POST" and r["path"].endswith("/garbage-collection")]


def seed(sim, **extra):
    """One registry with a tagged and an untagged manifest (garbage), pushed long ago."""
    sim.seed(dict({
        "subscription_tier": "basic",
        "registries": [{"name": "acme", "region": "fra1", "repositories": [
            {"name": "web", "manifests": [
                {"size_bytes": 1000, "tags": ["v2"], "updated_at": OLD},
                {"size_bytes": 4000, "tags": [], "updated_at": OLD},
            ]},
        ]}],
    }, **extra))


def sim_gcs(sim, registry="acme"):
    """The simulator's GCs of a registry, newest first (with their type)."""
    return [g for g in sim.state()["gcs"] if g["registry_name"] == registry]


def read_only(sim, registry="acme"):
    return next(r for r in sim.state()["registries"] if r["name"] == registry)["read_only"]


def push_ok(sim, tag="after-gc"):
    """The registry is writable: a simulated push goes through (the fixture raises when refused)."""
    assert read_only(sim) is False
    return sim.push(registry="acme", repository="web", tag=tag, size_bytes=10)


def args(api, **kw):
    base = dict(api, registry="acme", poll_interval=POLL)
    base.update(kw)
    return base


@pytest.fixture
def fast(sim):
    """The seeded simulator, its clock stepping STEP seconds per request."""
    seed(sim)
    sim.step_clock(STEP)
    return sim


def test_gc_succeeds_walk(fast, api, run_module):
    sim = fast
    # check mode: says what would start, starts nothing
    res = run_module(docr_gc, args(api), check_mode=True, diff=True)
    assert res["changed"] is True and res["skipped"] is False and res["action"] == "started", res
    assert res["garbage_collection"]["uuid"] is None
    assert res["garbage_collection"]["type"] == "untagged_manifests_and_unreferenced_blobs"
    # --diff shows the GC it would start, from nothing active
    assert res["diff"]["before"] == {} and res["diff"]["after"] == res["garbage_collection"]
    assert res["diff"]["after"]["status"] == "requested"
    assert writes(sim) == [] and sim_gcs(sim) == []

    # apply: starts, waits, reports
    sim.clear_requests()
    res = run_module(docr_gc, args(api, history=5))
    assert res["changed"] is True, res
    gc = res["garbage_collection"]
    assert gc["status"] == "succeeded" and gc["uuid"]
    assert gc["freed_bytes"] >= 4000 and gc["blobs_deleted"] >= 1
    assert [h["uuid"] for h in res["history"]] == [gc["uuid"]]
    assert len(gc_posts(sim)) == 1
    [stored] = sim_gcs(sim)
    assert stored["uuid"] == gc["uuid"] and stored["status"] == "succeeded"
    # the module always sends the type: the API's default (no body) frees unreferenced blobs only
    assert _gc.type_option(stored.get("type")) == "untagged_manifests_and_unreferenced_blobs"
    # the registry is writable again
    push_ok(sim)

    # info sees it
    info = run_module(docr_gc_info, dict(api, registry="acme"))
    assert info["changed"] is False and info["active_garbage_collection"] is None
    assert info["last_succeeded"]["uuid"] == gc["uuid"] and "registry_exists" not in info


def test_gc_types_are_sent(fast, api, run_module):
    res = run_module(docr_gc, args(api, type="unreferenced_blobs_only"))
    assert res["changed"] is True and res["garbage_collection"]["status"] == "succeeded", res
    assert _gc.type_option(sim_gcs(fast)[-1].get("type")) == "unreferenced_blobs_only"


def test_gc_that_fails(fast, api, run_module):
    sim = fast
    sim.gc_control(registry="acme", next_outcome="failed")
    res = run_module(docr_gc, args(api))
    assert res["failed"] and "failed" in res["msg"], res
    assert res["changed"] is True and res["garbage_collection"]["status"] == "failed"
    assert [g["status"] for g in sim_gcs(sim)] == ["failed"]
    push_ok(sim)


def test_deadline_cancels_and_registry_is_writable(fast, api, run_module):
    sim = fast
    res = run_module(docr_gc, args(api, deadline=20))
    assert res["failed"] and res.get("cancelled_by_deadline") is True, res
    assert "deadline=20" in res["msg"] and "cancelled" in res["msg"] and "read-only" in res["msg"]
    assert res["garbage_collection"]["status"] == "cancelled"
    assert [g["status"] for g in sim_gcs(sim)] == ["cancelled"]
    assert [r["method"] for r in sim.requests() if "/garbage-collection/" in r["path"]] == ["PUT"]
    push_ok(sim)   # writable again


def test_wait_timeout_without_deadline_leaves_it_running(fast, api, run_module):
    sim = fast
    res = run_module(docr_gc, args(api, wait_timeout=10))
    assert res["failed"] and "wait_timeout=10" in res["msg"] and "still running" in res["msg"], res
    assert sim_gcs(sim)[0]["status"] not in _gc.TERMINAL_STATUSES
    assert [r for r in sim.requests() if r["method"] == "PUT"] == []


def test_second_start_while_active(fast, api, run_module):
    sim = fast
    sim.step_clock(0)   # keep the first GC running: its clock stands still
    first = run_module(docr_gc, args(api, wait=False))
    assert first["changed"] is True and first["garbage_collection"]["status"] not in _gc.TERMINAL_STATUSES
    uuid = first["garbage_collection"]["uuid"]

    # wait=false defaults to skip
    sim.clear_requests()
    res = run_module(docr_gc, args(api, wait=False))
    assert res["changed"] is False and res["skipped"] is True and uuid in res["skip_reason"], res
    assert res["garbage_collection"]["uuid"] == uuid
    assert writes(sim) == []
    assert len(sim.requests()) == 1   # one read of the active GC

    res = run_module(docr_gc, args(api, if_active="fail"))
    assert res["failed"] and uuid in res["msg"] and "if_active=fail" in res["msg"]
    assert writes(sim) == []

    # check mode never waits: it says it would join
    res = run_module(docr_gc, args(api), check_mode=True)
    assert res["changed"] is False and res["skipped"] is False and res["action"] == "joined", res

    # the default with wait=true: join it (wait for it) and report it, start nothing; not "skipped"
    sim.step_clock(STEP)
    res = run_module(docr_gc, args(api))
    assert res["changed"] is False and res["skipped"] is False and res["action"] == "joined", res
    assert res["skip_reason"] is None
    assert res["garbage_collection"]["uuid"] == uuid and res["garbage_collection"]["status"] == "succeeded"
    assert writes(sim) == []
    assert len(sim_gcs(sim)) == 1


def test_min_interval(fast, api, run_module):
    sim = fast
    res = run_module(docr_gc, args(api, min_interval="7d"))
    assert res["changed"] is True and res["garbage_collection"]["status"] == "succeeded", res

    sim.clear_requests()
    res = run_module(docr_gc, args(api, min_interval="7d"))
    assert res["changed"] is False and res["skipped"] is True and "min_interval 7d" in res["skip_reason"], res
    assert res["garbage_collection"] is None
    assert writes(sim) == [] and len(sim.requests()) == 2   # active GC + history
    res = run_module(docr_gc, args(api, min_interval="7d"), check_mode=True)
    assert res["changed"] is False and res["skipped"] is True

    sim.advance(8 * 86400)
    res = run_module(docr_gc, args(api, min_interval="7d"))
    assert res["changed"] is True and res["skipped"] is False, res
    assert [g["status"] for g in sim_gcs(sim)] == ["succeeded", "succeeded"]


def test_min_interval_ignores_failed_runs(fast, api, run_module):
    sim = fast
    sim.gc_control(registry="acme", next_outcome="failed")
    assert run_module(docr_gc, args(api))["failed"]
    res = run_module(docr_gc, args(api, min_interval="7d"))
    assert res["changed"] is True and res["garbage_collection"]["status"] == "succeeded", res


def test_quiet_period(fast, api, run_module):
    sim = fast
    sim.step_clock(0)
    push_ok(sim, tag="ci-build")
    sim.clear_requests()
    res = run_module(docr_gc, args(api, quiet_period=30))
    assert res["changed"] is False and res["skipped"] is True, res
    assert "web" in res["skip_reason"] and "ci-build" in res["skip_reason"] and "30 minutes" in res["skip_reason"]
    assert writes(sim) == [] and sim_gcs(sim) == []
    # one page of repositories (with their latest manifests) is all it reads
    assert [r["path"] for r in sim.requests()] == ["/v2/registries/acme/garbage-collection", "/v2/registries/acme/repositoriesV2"]

    sim.advance(31 * 60)
    sim.step_clock(STEP)
    res = run_module(docr_gc, args(api, quiet_period=30))
    assert res["changed"] is True and res["garbage_collection"]["status"] == "succeeded", res


def test_unknown_status_is_reported_and_waited_on(fast, api, run_module):
    sim = fast
    sim.step_clock(0)
    started = run_module(docr_gc, args(api, wait=False))
    sim.gc_control(registry="acme", force_status="compacting layers")
    sim.step_clock(STEP)   # the wait_timeout passes on the API's clock, after one poll
    res = run_module(docr_gc, args(api, wait_timeout=1, poll_interval=0.2))
    assert res["failed"] and "Timed out" in res["msg"] and "compacting layers" in res["msg"], res
    assert "Unexpected" not in res["msg"]
    assert any("undocumented status" in str(w) for w in res.get("warnings", []))
    assert res["garbage_collection"]["uuid"] == started["garbage_collection"]["uuid"]


def test_cancelled_state(fast, api, run_module):
    sim = fast
    sim.step_clock(0)
    # none active: no change, no write
    res = run_module(docr_gc, args(api, state="cancelled"))
    assert res["changed"] is False and res["garbage_collection"] is None
    assert writes(sim) == []

    started = run_module(docr_gc, args(api, wait=False))
    uuid = started["garbage_collection"]["uuid"]
    res = run_module(docr_gc, args(api, state="cancelled"), check_mode=True, diff=True)
    assert res["changed"] is True and res["garbage_collection"]["status"] == "cancelling"
    assert res["diff"]["before"]["uuid"] == uuid and res["diff"]["after"]["status"] == "cancelling"
    assert sim_gcs(sim)[0]["status"] not in _gc.TERMINAL_STATUSES

    sim.step_clock(STEP)
    res = run_module(docr_gc, args(api, state="cancelled"))
    assert res["changed"] is True and res["garbage_collection"]["status"] == "cancelled", res
    assert [g["status"] for g in sim_gcs(sim)] == ["cancelled"]
    push_ok(sim)

    sim.clear_requests()
    res = run_module(docr_gc, args(api, state="cancelled"))
    assert res["changed"] is False and writes(sim) == []


@pytest.mark.parametrize("bad, option", [
    (dict(min_interval="soon"), "min_interval"),
    (dict(deadline=60, wait=False), "deadline"),
    (dict(deadline=0), "deadline"),
    (dict(wait_timeout=0), "wait_timeout"),
    (dict(quiet_period=-1), "quiet_period"),
    (dict(if_active="wait", wait=False), "if_active"),
    (dict(registry="Bad_Name"), "registry"),
])
def test_bad_input_fails_before_any_call(sim, api, run_module, bad, option):
    res = run_module(docr_gc, args(api, **bad))
    assert res["failed"] and option in res["msg"], res
    assert sim.requests() == []


def test_missing_registry(sim, api, run_module):
    res = run_module(docr_gc, args(api, registry="nope"))
    assert res["failed"] and "nope" in res["msg"] and "does not exist" in res["msg"], res
    res = run_module(docr_gc, args(api, registry="nope"), check_mode=True)
    assert res["failed"] and "does not exist" in res["msg"]
    info = run_module(docr_gc_info, dict(api, registry="nope"))
    assert info == dict(info, active_garbage_collection=None, garbage_collections=[], last_succeeded=None), info
    assert "registry_exists" not in info and not info.failed


def test_intervals_parse():
    assert _time.parse_duration("7d", "x") == 7 * 86400
    assert _time.parse_duration("12h", "x") == 12 * 3600
    assert _time.parse_duration("90", "x") == 90
    assert _time.parse_time("2026-11-22T07:36:58Z") == _time.parse_time("2026-11-22T08:36:58+01:00")
    assert _time.format_time(_time.parse_time("2026-11-22T07:36:58.123Z")) == "2026-11-22T07:36:58Z"


def test_start_lost_answer_is_not_repeated(fast, api, run_module):
    """A 500 after the GC was created: the read-back finds it, no second POST, one GC."""
    sim = fast
    sim.fault(method="POST", path="/v2/registries/acme/garbage-collection", status=500, times=1, after=True)
    res = run_module(docr_gc, args(api, wait=False))
    assert res["changed"] is True and res["garbage_collection"]["uuid"], res
    assert len(gc_posts(sim)) == 1
    assert [g["uuid"] for g in sim_gcs(sim)] == [res["garbage_collection"]["uuid"]]


def test_rate_limited_start_is_retried(fast, api, run_module):
    sim = fast
    sim.fault(method="POST", path="/v2/registries/acme/garbage-collection", status=429, retry_after=0, times=1)
    res = run_module(docr_gc, args(api))
    assert res["changed"] is True and res["garbage_collection"]["status"] == "succeeded", res
    assert len(sim_gcs(sim)) == 1
