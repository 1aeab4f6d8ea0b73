"""The GC planner in _gc.py, without HTTP: options, every skip rule, each decision's before/after, the
predicted GC, and which facts a run reads (only those the decision needs, in the planner's order)."""

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _gc
from ansible_collections.dockyard.docr.plugins.module_utils._base import Write
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError, DocrInputError
from ansible_collections.dockyard.docr.plugins.module_utils._time import parse_time

NOW = parse_time("2026-11-22T12:00:00Z")
DAY = 86400


def params(**kw):
    p = dict(registry="acme", state="started", type=_gc.DEFAULT_TYPE, wait=True, wait_timeout=1800, poll_interval=5,
             if_active=None, deadline=None, min_interval=None, quiet_period=None, history=0)
    p.update(kw)
    return p


def options(check_mode=False, **kw):
    return _gc.Options.from_params(params(**kw), check_mode=check_mode)


def gc(uuid="g1", status="scanning manifests", updated_at="2026-11-22T11:00:00Z", **kw):
    item = dict(uuid=uuid, registry_name="acme", status=status, type="untagged_manifests_and_unreferenced_blobs",
                blobs_deleted=None, freed_bytes=None, created_at="2026-11-22T10:00:00Z", updated_at=updated_at)
    item.update(kw)
    return item


def facts(**kw):
    kw.setdefault("now", NOW)
    return _gc.Facts(**kw)


# ---- options: durations take the same forms, every problem at once ----------------------------------------

@pytest.mark.parametrize("option, value, seconds", [
    ("wait_timeout", 1800, 1800), ("wait_timeout", "30m", 1800), ("wait_timeout", "2h", 7200), ("wait_timeout", "90", 90),
    ("poll_interval", 0.5, 0.5), ("poll_interval", "10s", 10), ("deadline", 3600, 3600), ("deadline", "1h", 3600),
    ("min_interval", "7d", 7 * DAY), ("min_interval", 90, 90), ("min_interval", "2w", 14 * DAY),
    # quiet_period: a plain number stays minutes, as before
    ("quiet_period", 30, 1800), ("quiet_period", "30", 1800), ("quiet_period", "30m", 1800), ("quiet_period", "2h", 7200),
    ("quiet_period", "45s", 45),
])
def test_durations_take_every_form_and_numbers_keep_their_unit(option, value, seconds):
    assert getattr(options(**{option: value}), option) == seconds


@pytest.mark.parametrize("option, value, words", [
    ("wait_timeout", 0, "more than 0"), ("wait_timeout", "an hour", "not a duration"), ("poll_interval", "0s", "more than 0"),
    ("poll_interval", "2h", "longer than 3600 seconds"), ("deadline", "0m", "more than 0"), ("deadline", True, "duration"),
    ("min_interval", "-7d", "not a duration"), ("quiet_period", -1, "at least 0"), ("quiet_period", [30], "not a duration"),
    ("poll_interval", float("nan"), "finite"), ("wait_timeout", 10 ** 20, "longer than ten years"),
])
def test_a_bad_duration_names_its_option(option, value, words):
    with pytest.raises(DocrInputError) as caught:
        options(**{option: value})
    assert option in caught.value.msg and words in caught.value.msg, caught.value.msg


def test_every_problem_is_reported_at_once_before_any_call():
    with pytest.raises(DocrInputError) as caught:
        options(registry="Bad_Name", wait=False, deadline=60, if_active="wait", quiet_period="soon", history=-1)
    for option in ("registry", "deadline needs wait=true", "if_active=wait needs", "quiet_period", "history"):
        assert option in caught.value.msg, caught.value.msg
    # the role's validation uses the same rules, one message per problem
    assert len(_gc.run_option_problems(params(wait=False, deadline=60, quiet_period="soon"))) == 2


def test_if_active_defaults_follow_wait():
    assert options().if_active == "wait"
    assert options(wait=False).if_active == "skip"
    assert options(wait=False, if_active="fail").if_active == "fail"


# ---- what is read: only what the decision needs, in order -------------------------------------------------

def test_the_active_gc_is_read_first_and_alone_when_one_is_active():
    o = options(min_interval="7d", quiet_period=30)
    assert _gc.decide(_gc.Facts(), o) == _gc.Need("active")
    # a GC is active: nothing else is read, whatever the other options
    assert not isinstance(_gc.decide(facts(active=gc()), o), _gc.Need)


def test_min_interval_is_read_before_the_pushes_and_a_skip_reads_no_pushes():
    o = options(min_interval="7d", quiet_period=30)
    assert _gc.decide(facts(active=None), o) == _gc.Need("history")
    recent = [gc(status="succeeded", updated_at="2026-11-21T12:00:00Z")]
    skipped = _gc.decide(facts(active=None, history=recent), o)
    assert skipped.result["action"] == "skipped"   # decided without the pushes
    assert _gc.decide(facts(active=None, history=[]), o) == _gc.Need("latest_push")


def test_check_mode_asks_whether_the_registry_exists_unless_a_read_said_so():
    assert _gc.decide(facts(active=None), options(check_mode=True)) == _gc.Need("registry_exists")
    with pytest.raises(DocrError) as caught:
        _gc.decide(facts(active=None, registry_exists=False), options(check_mode=True))
    assert "'acme' (option registry) does not exist" in caught.value.msg
    # the history (or the pushes) were read: the registry exists, no further call
    plan = _gc.decide(facts(active=None, history=[]), options(check_mode=True, min_interval="1d"))
    assert plan.result["action"] == "started"
    plan = _gc.decide(facts(active=None, latest_push=None), options(check_mode=True, quiet_period=30))
    assert plan.result["action"] == "started"
    # outside check mode the start itself says "missing"
    assert _gc.decide(facts(active=None), options()).result["action"] == "started"


def test_a_missing_registry_in_the_history_read_fails_naming_it():
    with pytest.raises(DocrError) as caught:
        _gc.decide(facts(active=None, history=None), options(min_interval="1d"))
    assert "does not exist" in caught.value.msg


def test_read_asks_the_readers_in_the_planners_order(monkeypatch):
    asked = []

    def reader(name, value):
        def read(api, o):
            asked.append(name)
            return value
        return read

    monkeypatch.setattr(_gc, "READERS", dict(
        active=reader("active", None), history=reader("history", [gc(status="succeeded", updated_at="2026-11-22T11:00:00Z")]),
        latest_push=reader("latest_push", None), registry_exists=reader("registry_exists", True)))

    class Api(object):
        def now(self):
            return NOW

    got = _gc.read(Api(), options(min_interval="7d", quiet_period=30))
    assert asked == ["active", "history"] and got.latest_push is _gc.UNREAD and got.now == NOW
    del asked[:]
    _gc.read(Api(), options(quiet_period=30, check_mode=True))
    assert asked == ["active", "latest_push"]
    del asked[:]
    _gc.read(Api(), options(check_mode=True))
    assert asked == ["active", "registry_exists"]


# ---- the skip rules ------------------------------------------------------------------------------------

@pytest.mark.parametrize("finished_ago, skipped", [(DAY, True), (7 * DAY - 1, True), (7 * DAY, False), (8 * DAY, False)])
def test_min_interval_counts_from_the_last_succeeded_gc(finished_ago, skipped):
    history = [gc("new", status="failed", updated_at=_iso(NOW - 60)),      # failed runs do not count
               gc("old", status="succeeded", updated_at=_iso(NOW - finished_ago))]
    plan = _gc.decide(facts(active=None, history=history), options(min_interval="7d"))
    assert plan.result["skipped"] is skipped and plan.result["action"] == ("skipped" if skipped else "started")
    if skipped:
        assert plan.before is None and plan.after is None and plan.writes == [] and plan.follow is None
        assert "(old) finished" in plan.result["skip_reason"] and "within min_interval 7d" in plan.result["skip_reason"]
    else:
        assert plan.result["skip_reason"] is None


def test_min_interval_with_no_succeeded_gc_starts():
    plan = _gc.decide(facts(active=None, history=[gc(status="cancelled")]), options(min_interval="7d"))
    assert plan.result["action"] == "started"


@pytest.mark.parametrize("quiet, pushed_ago, skipped", [
    (30, 60, True), (30, 29 * 60, True), (30, 30 * 60, False), ("2h", 3600, True), ("45s", 60, False), (0, 1, False)])
def test_quiet_period_skips_while_images_are_pushed(quiet, pushed_ago, skipped):
    push = (NOW - pushed_ago, "web", ["ci-1", "ci-2"])
    plan = _gc.decide(facts(active=None, latest_push=push), options(quiet_period=quiet))
    assert plan.result["skipped"] is skipped
    if skipped:
        reason = plan.result["skip_reason"]
        assert "repository web" in reason and "ci-1, ci-2" in reason and "within quiet_period" in reason
        assert plan.before is None and plan.after is None and plan.writes == []


def test_quiet_period_reason_says_the_unit_as_written():
    push = (NOW - 60, "web", [])
    assert "quiet_period 30 minutes" in _gc.decide(facts(active=None, latest_push=push), options(quiet_period=30)).result["skip_reason"]
    assert "quiet_period 2h" in _gc.decide(facts(active=None, latest_push=push), options(quiet_period="2h")).result["skip_reason"]
    assert "tags none" in _gc.decide(facts(active=None, latest_push=push), options(quiet_period=30)).result["skip_reason"]


def test_quiet_period_with_an_empty_registry_starts():
    assert _gc.decide(facts(active=None, latest_push=None), options(quiet_period=30)).result["action"] == "started"


# ---- each decision: before, after, writes, follow, result ------------------------------------------------------

def test_start_predicts_the_gc_it_starts():
    o = options(type="unreferenced_blobs_only")
    plan = _gc.decide(facts(active=None), o)
    assert plan.before is None
    assert plan.after == dict(uuid=None, registry_name="acme", status="requested", type="unreferenced_blobs_only",
                              blobs_deleted=None, freed_bytes=None, created_at=None, updated_at=None)
    assert plan.after == _gc.predicted_gc(o) and plan.changed
    [write] = plan.writes
    assert isinstance(write, Write) and write.call is _gc.start_or_moved and write.args[:2] == ("acme", "unreferenced_blobs_only")
    assert isinstance(plan.follow, _gc.GcWait) and plan.follow.joined is None and plan.follow.wait is True
    assert plan.result == dict(action="started", skipped=False, skip_reason=None)


def test_start_without_wait_still_follows_to_return_the_started_gc():
    plan = _gc.decide(facts(active=None), options(wait=False))
    assert plan.follow.wait is False and plan.result["action"] == "started"


def test_an_active_gc_is_joined_by_default():
    active = gc()
    plan = _gc.decide(facts(active=active), options())
    assert plan.before == active and plan.after == active and not plan.changed and plan.writes == []
    assert plan.result == dict(action="joined", skipped=False, skip_reason=None)
    assert isinstance(plan.follow, _gc.GcWait) and plan.follow.joined == active


def test_an_active_gc_is_skipped_with_if_active_skip():
    active = gc()
    plan = _gc.decide(facts(active=active), options(if_active="skip"))
    assert plan.before == active == plan.after and plan.writes == [] and plan.follow is None
    assert plan.result["action"] == "skipped" and plan.result["skipped"] is True
    assert "g1" in plan.result["skip_reason"] and "already active" in plan.result["skip_reason"]


def test_an_active_gc_fails_with_if_active_fail_naming_it():
    with pytest.raises(DocrError) as caught:
        _gc.decide(facts(active=gc()), options(if_active="fail"))
    assert "g1" in caught.value.msg and "if_active=fail" in caught.value.msg
    assert caught.value.details["garbage_collection"]["uuid"] == "g1"


def test_an_undocumented_status_is_warned_about_once():
    plan = _gc.decide(facts(active=gc(status="compacting")), options())
    assert len(plan.warnings) == 1 and "compacting" in plan.warnings[0]
    assert plan.follow.warned == {"compacting"}


def test_cancel_decisions():
    o = options(state="cancelled")
    assert _gc.decide(_gc.Facts(), o) == _gc.Need("active")
    nothing = _gc.decide(facts(active=None), o)
    assert nothing.before is None and nothing.after is None and nothing.writes == []
    assert nothing.result == dict(action="none", skipped=False, skip_reason=None)
    active = gc()
    plan = _gc.decide(facts(active=active), o)
    assert plan.before == active and plan.after == dict(active, status="cancelling") and plan.changed
    assert [w.call for w in plan.writes] == [_gc.cancel_or_moved] and plan.writes[0].args[:2] == ("acme", "g1")
    assert isinstance(plan.follow, _gc.GcCancelWait) and plan.result["action"] == "cancelled"
    # check mode with nothing active checks the registry exists
    assert _gc.decide(facts(active=None), options(state="cancelled", check_mode=True)) == _gc.Need("registry_exists")


def test_reported_is_the_followed_gc_else_the_after_state():
    plan = _gc.decide(facts(active=gc()), options())
    assert _gc.reported(plan, plan.after) == gc()                    # check mode: the follow did not run
    plan.follow.seen = gc(status="succeeded")
    assert _gc.reported(plan, plan.after)["status"] == "succeeded"   # the joined GC, as it ended
    skipped = _gc.decide(facts(active=None, history=[gc(status="succeeded")]), options(min_interval="7d"))
    assert _gc.reported(skipped, skipped.after) is None


def _iso(epoch):
    from ansible_collections.dockyard.docr.plugins.module_utils._time import format_time
    return format_time(epoch)
