"""The long-running action shape (_wait.LongRunning) without HTTP, on a fake clock; then docr_gc on the engine
against the simulator, its clock stepping with each request (``sim.step_clock``): the diff of a real run, the
join, a refused start re-planned as a join, the deadline on a joined GC, a cancel that finds the GC ended,
idempotence. No test sleeps against the wall clock: polls are 0.02 real seconds apart and measure nothing.
"""

import threading

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _gc
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError, DocrError
from ansible_collections.dockyard.docr.plugins.module_utils._wait import LongRunning
from ansible_collections.dockyard.docr.plugins.modules import docr_gc

# ---- LongRunning on a fake clock ---------------------------------------------------------------------------


class FakeApi(object):
    def __init__(self):
        self.now = 1000.0
        self.retry_until = None
        self.bounds = []

    def clock(self):
        return self.now


class Counter(LongRunning):
    """Follows ``{"n": ...}`` until n reaches 3; each poll costs ``cost`` seconds of the fake clock."""

    what = "the counter"
    subject_key = "thing"

    def __init__(self, api, polls, cost=10.0, **kwargs):
        kwargs.setdefault("first_delay", 1.0)
        super(Counter, self).__init__(**kwargs)
        self.api = api
        self.polls = list(polls)
        self.cost = cost
        self.deadline_calls = []

        def sleep(seconds):
            api.now += seconds
        self.sleep = sleep

    def poll(self, api, last):
        api.bounds.append(api.retry_until)
        api.now += self.cost
        value = self.polls.pop(0) if self.polls else last
        if isinstance(value, Exception):
            raise value
        return value

    def done(self, current):
        return current["n"] >= 3

    def on_deadline(self, api, last, answers):
        self.deadline_calls.append((api.now, last))
        answers.append("stopped")
        return dict(last, stopped=True)

    def finished(self, final):
        return dict(final, finished=True)


def test_it_polls_until_done_and_returns_the_finished_state():
    api = FakeApi()
    op = Counter(api, [{"n": 1}, {"n": 2}, {"n": 3}], timeout=1800)
    assert op(api, [{"n": 0}]) == {"n": 3, "finished": True}
    assert op.seen == {"n": 3} and api.bounds == [None, None, None] and api.retry_until is None


def test_without_wait_it_returns_the_subject_unpolled():
    api = FakeApi()
    op = Counter(api, [{"n": 3}], timeout=1800, wait=False)
    assert op(api, [{"n": 0}]) == {"n": 0, "finished": True} and api.bounds == []


def test_the_timeout_raises_naming_the_subject_as_last_seen():
    api = FakeApi()
    op = Counter(api, [{"n": 1}, {"n": 2}], timeout=60)
    with pytest.raises(DocrError) as caught:
        op(api, [{"n": 0}])
    assert "60 seconds" in caught.value.msg and caught.value.details["thing"] == {"n": 2}
    assert op.deadline_calls == [] and api.retry_until is None


def test_the_deadline_hands_over_on_the_apis_clock_and_bounds_the_retries():
    api = FakeApi()
    op = Counter(api, [{"n": 1}], timeout=1800, deadline=100)
    answers = [{"n": 0}]
    assert op(api, answers) == {"n": 1, "stopped": True, "finished": True}
    [(when, last)] = op.deadline_calls
    assert 1100 <= when <= 1100 + op.cost and last == {"n": 1}
    assert set(api.bounds) == {1100.0} and api.retry_until is None   # no retry past the deadline, then unbounded
    assert answers == [{"n": 0}, "stopped"]                          # the follow-up's write is an answer


def test_under_a_deadline_failed_polls_are_waited_through_and_remembered():
    api = FakeApi()
    failure = DocrApiError("503 from the API", status_code=503)
    op = Counter(api, [failure, {"n": 1}, failure, failure], cost=20.0, timeout=1800, deadline=60)
    assert op(api, [{"n": 0}])["stopped"] is True
    assert op.deadline_calls[0][1] == {"n": 1} and op.poll_error is failure


def test_without_a_deadline_a_failed_poll_fails_naming_the_subject():
    api = FakeApi()
    op = Counter(api, [{"n": 1}, DocrApiError("503 from the API", status_code=503)], timeout=1800)
    with pytest.raises(DocrApiError) as caught:
        op(api, [{"n": 0}])
    assert caught.value.details["thing"] == {"n": 1}


def test_a_deadline_longer_than_the_timeout_does_not_apply():
    api = FakeApi()
    op = Counter(api, [{"n": 1}], timeout=30, deadline=60)
    with pytest.raises(DocrError):
        op(api, [{"n": 0}])
    assert op.deadline_calls == [] and set(api.bounds) == {None}


# ---- docr_gc on the engine, against the simulator ----------------------------------------------------------

STEP = 30.0
POLL = 0.02
OLD = "2026-01-01T00:00:00Z"
GC_PATH = "/v2/registries/acme/garbage-collection"


@pytest.fixture
def fast(sim):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "fra1", "repositories": [
        {"name": "web", "manifests": [{"size_bytes": 1000, "tags": ["v2"], "updated_at": OLD},
                                      {"size_bytes": 4000, "tags": [], "updated_at": OLD}]}]}]})
    sim.step_clock(STEP)
    return sim


def args(api, **kw):
    base = dict(api, registry="acme", poll_interval=POLL)
    base.update(kw)
    return base


def sim_gcs(sim):
    return [g for g in sim.state()["gcs"] if g["registry_name"] == "acme"]


def start_behind_the_back(sim, api):
    response = sim.http.post(sim.url + GC_PATH, json={"type": "untagged manifests only"},
                             headers={"Authorization": "Bearer " + api["token"]}, timeout=5)
    assert response.status_code == 201
    return response.json()["garbage_collection"]


def test_the_diff_of_a_real_run_shows_the_gc_it_started(fast, api, run_module):
    res = run_module(docr_gc, args(api), diff=True)
    assert res["changed"] is True and res["action"] == "started" and res["skipped"] is False, res
    [stored] = sim_gcs(fast)
    assert res["diff"]["before"] == {}
    assert res["diff"]["after"] == res["garbage_collection"]
    assert res["diff"]["after"]["uuid"] == stored["uuid"] and res["diff"]["after"]["status"] == "succeeded" == stored["status"]


def test_a_start_without_wait_returns_the_started_gc(fast, api, run_module):
    fast.step_clock(0)
    res = run_module(docr_gc, args(api, wait=False), diff=True)
    [stored] = sim_gcs(fast)
    assert res["changed"] is True and res["action"] == "started", res
    assert res["garbage_collection"]["uuid"] == stored["uuid"] and res["garbage_collection"]["status"] == "requested"
    assert res["diff"]["after"]["uuid"] == stored["uuid"]


def test_min_interval_makes_the_second_run_a_no_op(fast, api, run_module):
    first = run_module(docr_gc, args(api, min_interval="7d"))
    assert first["changed"] is True, first
    fast.clear_requests()
    again = run_module(docr_gc, args(api, min_interval="7d"), diff=True)
    assert again["changed"] is False and again["action"] == "skipped" and again["skipped"] is True, again
    assert again["diff"] == {"before": {}, "after": {}} and again["garbage_collection"] is None
    assert fast.write_calls() == [] and len(sim_gcs(fast)) == 1


def test_a_refused_start_is_replanned_as_a_join(fast, api, run_module):
    """This run reads "none active" (another run's start lands right after); the API refuses its start (409):
    the engine plans again from the GC read back, and joins it: one GC, not skipped, not changed."""
    other = start_behind_the_back(fast, api)
    fast.fault(method="GET", path=GC_PATH, status=404, times=1)
    fast.clear_requests()
    res = run_module(docr_gc, args(api))
    assert not res.failed and res["action"] == "joined" and res["skipped"] is False and res["changed"] is False, res
    assert res["garbage_collection"]["uuid"] == other["uuid"] and res["garbage_collection"]["status"] == "succeeded"
    [stored] = sim_gcs(fast)
    assert stored["uuid"] == other["uuid"] and stored["status"] == "succeeded"
    assert [c for c in fast.write_calls() if c[0] == "POST"] == [("POST", GC_PATH)]   # refused once, not retried


def test_a_joined_gc_past_the_deadline_is_cancelled_and_the_failure_says_changed(fast, api, run_module):
    other = start_behind_the_back(fast, api)
    fast.clear_requests()
    res = run_module(docr_gc, args(api, deadline=20))
    assert res.failed and res["changed"] is True and res.get("cancelled_by_deadline") is True, res
    assert res["garbage_collection"]["uuid"] == other["uuid"] and res["garbage_collection"]["status"] == "cancelled"
    assert [g["status"] for g in sim_gcs(fast)] == ["cancelled"]
    assert [c[0] for c in fast.write_calls()] == ["PUT"]


def test_a_joined_gc_that_fails_is_reported_with_a_warning(fast, api, run_module):
    fast.gc_control(registry="acme", next_outcome="failed")
    other = start_behind_the_back(fast, api)
    res = run_module(docr_gc, args(api))
    assert not res.failed and res["action"] == "joined" and res["changed"] is False, res
    assert res["garbage_collection"]["uuid"] == other["uuid"] and res["garbage_collection"]["status"] == "failed"
    assert any("ended with status 'failed'" in str(w) for w in res.get("warnings", []))


def test_a_cancel_that_finds_the_gc_ended_changes_nothing(fast, api, run_module):
    """The GC ends between this run's read and its cancel: the API refuses the cancel, the read-back finds it
    ended, the engine plans again from "nothing active"."""
    fast.step_clock(0)
    start_behind_the_back(fast, api)
    fast.fault(method="PUT", path_regex="garbage-collection/", hold=True, times=1)

    def end_it():
        fast.wait_held()
        fast.advance(600)   # the GC succeeds while the cancel is on the wire
        fast.release()

    other = threading.Thread(target=end_it)
    other.start()
    res = run_module(docr_gc, args(api, state="cancelled", http_timeout=30), diff=True)
    other.join()
    assert not res.failed and res["changed"] is False and res["action"] == "none", res
    assert res["garbage_collection"] is None and res["diff"] == {"before": {}, "after": {}}
    assert [g["status"] for g in sim_gcs(fast)] == ["succeeded"]


def test_gc_info_answers_a_missing_registry_with_empty_values(fast, api, run_module):
    from ansible_collections.dockyard.docr.plugins.modules import docr_gc_info
    res = run_module(docr_gc_info, dict(api, registry="nope"))
    assert not res.failed and res["changed"] is False, res
    assert (res["garbage_collections"], res["active_garbage_collection"], res["last_succeeded"]) == ([], None, None)
    returned = set(res) - {"changed", "invocation", "exit_code", "warnings"}
    assert returned == {"garbage_collections", "active_garbage_collection", "last_succeeded"}


def test_durations_with_units_reach_the_module(fast, api, run_module):
    res = run_module(docr_gc, args(api, wait_timeout="30m", deadline="10m", poll_interval="0.02s", quiet_period="1h",
                                   min_interval="1d"))
    assert res["changed"] is True and res["garbage_collection"]["status"] == "succeeded", res
    fast.clear_requests()
    res = run_module(docr_gc, args(api, min_interval=86400))
    assert res["skipped"] is True and "min_interval 86400 seconds" in res["skip_reason"], res
    assert _gc.DURATIONS  # every duration option is listed once, with its unit
