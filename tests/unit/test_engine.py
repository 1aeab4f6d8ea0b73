# -*- coding: utf-8 -*-
"""The engine in _base.py, without HTTP: writes in order, check mode, changed and diff derived, failures."""

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _time
from ansible_collections.dockyard.docr.plugins.module_utils._base import LocalWrite, Plan, PlannedResource, StateMoved, Write
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError, DocrInputError


class FakeDocr(object):
    def __init__(self, check_mode=False, diff_mode=True):
        self.params = {}
        self.check_mode = check_mode
        self.diff_mode = diff_mode
        self.api = object()
        self.warnings = []

    def warn(self, msg):
        self.warnings.append(msg)


class Thing(PlannedResource):
    def __init__(self, docr, plan):
        super(Thing, self).__init__(docr)
        self._plan = plan
        self.read_calls = 0

    def read(self):
        self.read_calls += 1
        return self._plan.before

    def plan(self, current):
        assert current is self._plan.before
        return self._plan


def recorder(log, fail_on=None):
    def call(api, name):
        if name == fail_on:
            raise DocrError("write %s failed" % name)
        log.append(name)
        return name.upper()
    return call


def test_writes_run_in_order_and_changed_and_diff_come_from_the_states():
    log = []
    plan = Plan(None, {"name": "a"}, [Write("one", recorder(log), "one"), Write("two", recorder(log), "two")],
                result={"extra": 1}, warnings=["careful"])
    docr = FakeDocr()
    result = Thing(docr, plan).run()
    assert log == ["one", "two"]
    assert result == {"extra": 1, "changed": True, "diff": {"before": {}, "after": {"name": "a"}}}
    assert docr.warnings == ["careful"]


def test_check_mode_writes_nothing_and_returns_the_predicted_state():
    log = []
    plan = Plan({"name": "a", "x": 1}, {"name": "a", "x": 2}, [Write("set x", recorder(log), "x")])
    result = Thing(FakeDocr(check_mode=True), plan).run()
    assert log == []
    assert result["changed"] is True
    assert result["diff"]["after"] == {"name": "a", "x": 2}


def test_no_difference_is_no_write_and_no_diff_without_diff_mode():
    log = []
    plan = Plan({"name": "a"}, {"name": "a"})
    result = Thing(FakeDocr(diff_mode=False), plan).run()
    assert result == {"changed": False}
    assert log == []


def test_a_failure_after_a_write_says_changed_and_before_any_write_does_not():
    log = []
    plan = Plan(None, {"name": "a"}, [Write("one", recorder(log), "one"), Write("two", recorder(log, "two"), "two")])
    with pytest.raises(DocrError) as caught:
        Thing(FakeDocr(), plan).run()
    assert log == ["one"]
    assert caught.value.details.get("changed") is True
    plan = Plan(None, {"name": "a"}, [Write("one", recorder([], "one"), "one")])
    with pytest.raises(DocrError) as caught:
        Thing(FakeDocr(), plan).run()
    assert "changed" not in caught.value.details


def test_follow_runs_after_the_writes_and_decides_the_after_state():
    log = []

    def follow(api, answers):
        log.append(("follow", answers))
        return {"status": "done"}

    plan = Plan(None, {"status": "started"}, [Write("start", recorder(log), "start")], follow=follow)
    result = Thing(FakeDocr(), plan).run()
    assert log == ["start", ("follow", ["START"])]
    assert result["diff"]["after"] == {"status": "done"}
    log[:] = []
    result = Thing(FakeDocr(check_mode=True), plan).run()
    assert log == [] and result["diff"]["after"] == {"status": "started"}


class NoApiDocr(FakeDocr):
    """A module whose client cannot be built."""

    def __getattribute__(self, name):
        if name == "api":
            raise AssertionError("a local write must not build the client")
        return super(NoApiDocr, self).__getattribute__(name)


def test_a_local_write_builds_no_client():
    log = []
    plan = Plan({"mode": "0644"}, {"mode": "0600"}, [LocalWrite("chmod", log.append, "chmod 0600")])
    result = Thing(NoApiDocr(), plan).run()
    assert log == ["chmod 0600"] and result["changed"] is True


@pytest.mark.parametrize("value, unit, seconds", [
    (90, 1, 90), ("90", 1, 90), ("90s", 1, 90), ("30m", 1, 1800), ("2h", 1, 7200), ("7d", 1, 604800),
    ("2w", 1, 1209600), (30, 60, 1800), ("30", 60, 1800), ("45s", 60, 45), (1.5, 60, 90), (None, 1, None),
])
def test_durations_take_the_same_forms_everywhere(value, unit, seconds):
    assert _time.parse_duration(value, "opt", number_unit=unit) == seconds


@pytest.mark.parametrize("value", ["7x", "", "d", "-5", True, float("nan"), [], "11000d"])
def test_a_bad_duration_names_its_option(value):
    with pytest.raises(DocrInputError) as caught:
        _time.parse_duration(value, "my_option")
    assert "my_option" in caught.value.msg


# ---- a write that finds the state moved: plan once more from what it read back ------------------------------

class Replanning(PlannedResource):
    """Plans from a dict ``{"active": ...}``: with nothing active it starts; with one active it joins (no write)."""

    def __init__(self, docr, log, moves=1):
        super(Replanning, self).__init__(docr)
        self.log = log
        self.moves = moves
        self.planned = []

    def read(self):
        return {"active": None}

    def plan(self, current):
        self.planned.append(current)
        if current["active"] is None:
            return Plan(None, {"gc": "mine"}, [Write("start", self.start)], result={"action": "started"})
        return Plan(current, current, result={"action": "joined"}, warnings=["joined %s" % current["active"]])

    def start(self, api):
        self.log.append("start")
        if self.moves:
            self.moves -= 1
            raise StateMoved("another GC is active", {"active": "theirs"})
        return "started"


def test_a_write_that_finds_the_state_moved_makes_the_engine_plan_again():
    log = []
    docr = FakeDocr()
    thing = Replanning(docr, log)
    result = thing.run()
    assert log == ["start"] and thing.planned == [{"active": None}, {"active": "theirs"}]
    assert result == {"action": "joined", "changed": False,
                      "diff": {"before": {"active": "theirs"}, "after": {"active": "theirs"}}}
    assert docr.warnings == ["joined theirs"]


def test_the_replanned_writes_run_and_a_second_move_fails():
    class Restart(Replanning):
        def plan(self, current):
            self.planned.append(current)
            return Plan(None, {"gc": "mine"}, [Write("start", self.start)], result={"action": "started"})

    log = []
    result = Restart(FakeDocr(), log, moves=1).run()
    assert log == ["start", "start"] and result["changed"] is True and result["action"] == "started"
    with pytest.raises(StateMoved):
        Restart(FakeDocr(), [], moves=2).run()


def test_a_move_after_a_write_went_through_is_not_replanned():
    log = []

    def moved(api):
        raise StateMoved("moved", {"active": "theirs"})

    plan = Plan(None, {"name": "a"}, [Write("one", recorder(log), "one"), Write("two", moved)])
    with pytest.raises(StateMoved) as caught:
        Thing(FakeDocr(), plan).run()
    assert log == ["one"] and caught.value.details["changed"] is True


def test_a_follow_up_that_writes_makes_a_later_failure_changed():
    def follow(api, answers):
        answers.append("cancelled at the deadline")
        raise DocrError("deadline passed")

    plan = Plan({"gc": "theirs"}, {"gc": "theirs"}, follow=follow)
    with pytest.raises(DocrError) as caught:
        Thing(FakeDocr(), plan).run()
    assert caught.value.details["changed"] is True
