"""Fail closed (issue 10): odd API answers never read as "absent" or "empty", secrets never in messages, deadlines
kept under faults, audit trails right. Each test drives real pydo over HTTP against the simulator's fault rules
and asserts the simulator's state, not just ``changed``."""

import calendar
import hashlib
import json
import os
import stat
import time

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _client
from ansible_collections.dockyard.docr.plugins.module_utils import _credentials as cred
from ansible_collections.dockyard.docr.plugins.module_utils import _gc
from ansible_collections.dockyard.docr.plugins.module_utils import _registry as reg
from ansible_collections.dockyard.docr.plugins.module_utils import _retention as ret
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError
from ansible_collections.dockyard.docr.plugins.modules import (
    docr_credentials,
    docr_gc,
    docr_gc_info,
    docr_registry,
    docr_registry_info,
    docr_retention,
)

from faults_support import writes  # pylint: disable=import-error

SEED_WITH_IMAGES = dict(subscription_tier="basic", registries=[dict(name="acme", region="fra1", repositories=[
    dict(name="web", manifests=[dict(size_bytes=1000, tags=["v1"])])])])


def registry_names(sim):
    return sorted(r["name"] for r in sim.state()["registries"])


# ---- item 1: a registry that holds images is never deleted on an anomalous repository count ---------------

def test_delete_refused_when_the_repository_list_answers_404(sim, api, run_module):
    sim.seed(SEED_WITH_IMAGES)
    sim.fault(method="GET", path_regex="repositoriesV2$", status=404, times=10)
    sim.clear_requests()
    res = run_module(docr_registry, dict(api, name="acme", state="absent"))
    assert res.failed, res
    assert "repositor" in res["msg"] and "404" in res["msg"], res["msg"]
    assert writes(sim) == []
    assert registry_names(sim) == ["acme"]


class _Answers(object):
    """A client stand-in answering ``call`` with fixed bodies: a 200 without ``meta`` or ``repositories`` is
    a shape the simulator cannot serve without breaking the OpenAPI contract check of the session."""

    def __init__(self, body):
        self.body = body

    def call(self, *_args, **_kwargs):
        return self.body


@pytest.mark.parametrize("body", [
    {}, {"meta": {}}, {"meta": {"total": None}, "repositories": []}, {"meta": {"total": "3"}, "repositories": []},
    {"meta": {"total": -1}, "repositories": []}, {"meta": {"total": 0}}, {"meta": {"total": True}, "repositories": []}, [],
])
def test_repository_count_refuses_every_malformed_answer(body):
    with pytest.raises(DocrApiError):
        reg.repository_count(_Answers(body), "acme")


def test_repository_count_reads_a_well_formed_answer():
    assert reg.repository_count(_Answers({"meta": {"total": 7}, "repositories": [{"name": "web"}]}), "acme") == 7
    assert reg.repository_count(_Answers({"meta": {"total": 0}, "repositories": []}), "acme") == 0


def test_empty_registry_still_deleted(sim, api, run_module):
    sim.seed(dict(subscription_tier="basic", registries=[dict(name="acme", region="fra1")]))
    res = run_module(docr_registry, dict(api, name="acme", state="absent"))
    assert not res.failed and res["changed"], res
    assert registry_names(sim) == []


# ---- item 9: an api_url with a path is refused; a 404 on a list is an error -------------------------------

@pytest.mark.parametrize("suffix", ["/v2", "/v2/", "/api", "/?x=1", "#top"])
@pytest.mark.parametrize("module, args", [
    (docr_registry, dict(name="acme", state="absent")),
    (docr_gc, dict(registry="acme", state="cancelled")),
    (docr_gc_info, dict(registry="acme")),
])
def test_api_url_with_a_path_is_refused_by_name(sim, api, run_module, module, args, suffix):
    sim.seed(SEED_WITH_IMAGES)
    sim.clear_requests()
    res = run_module(module, dict(api, api_url=sim.url + suffix, **args))
    assert res.failed, res
    assert "api_url" in res["msg"], res["msg"]
    assert sim.requests() == []
    assert registry_names(sim) == ["acme"]


def test_api_url_root_with_a_slash_is_accepted(sim, api, run_module):
    sim.seed(SEED_WITH_IMAGES)
    res = run_module(docr_registry_info, dict(api, api_url=sim.url + "/"))
    assert not res.failed, res
    assert [r["name"] for r in res["registries"]] == ["acme"]


def test_gc_info_fails_on_a_404_list_of_an_existing_registry(sim, api, run_module):
    sim.seed(SEED_WITH_IMAGES)
    sim.fault(method="GET", path_regex="garbage-collections$", status=404, times=10)
    res = run_module(docr_gc_info, dict(api, registry="acme"))
    assert res.failed and "404" in res["msg"], res


def test_gc_info_still_reports_a_missing_registry(sim, api, run_module):
    sim.seed(SEED_WITH_IMAGES)
    res = run_module(docr_gc_info, dict(api, registry="nope"))
    assert not res.failed and res["garbage_collections"] == [] and res["active_garbage_collection"] is None, res
    assert res["last_succeeded"] is None and "registry_exists" not in res


def test_registry_info_fails_on_a_404_repository_list(sim, api, run_module):
    sim.seed(SEED_WITH_IMAGES)
    sim.fault(method="GET", path_regex="repositoriesV2$", status=404, times=10)
    res = run_module(docr_registry_info, dict(api, repositories=True))
    assert res.failed and "404" in res["msg"], res


def test_gc_min_interval_fails_on_a_404_history_of_an_existing_registry(sim, api, run_module):
    sim.seed(SEED_WITH_IMAGES)
    sim.fault(method="GET", path_regex="garbage-collections$", status=404, times=10)
    sim.clear_requests()
    res = run_module(docr_gc, dict(api, registry="acme", min_interval="7d", wait=False))
    assert res.failed and "404" in res["msg"], res
    assert writes(sim) == []


# ---- item 5: docr_credentials writes the docker config without losing, exposing or re-owning anything ------

HOST = "registry.digitalocean.com"
SEED_PLAIN = dict(subscription_tier="basic", registries=[dict(name="acme", region="fra1")])


def test_entry_written_by_another_tool_meanwhile_is_kept(sim, api, run_module, tmp_path, monkeypatch):
    """Another tool writes config.json after the module read it and before it replaced it."""
    sim.seed(SEED_PLAIN)
    dest = tmp_path / "docker" / "config.json"
    dest.parent.mkdir()
    dest.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "Z2g6eA=="}}}))
    original = cred.issue

    def issue_then_other_tool_writes(*args, **kwargs):
        issued = original(*args, **kwargs)
        config = json.loads(dest.read_text())
        config["auths"]["quay.io"] = {"auth": "cTp5"}
        dest.write_text(json.dumps(config))
        return issued

    monkeypatch.setattr(cred, "issue", issue_then_other_tool_writes)
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    assert not res.failed and res["issued"], res
    auths = json.loads(dest.read_text())["auths"]
    assert sorted(auths) == ["ghcr.io", "quay.io", HOST]


def test_symlinked_config_is_written_through(sim, api, run_module, tmp_path):
    sim.seed(SEED_PLAIN)
    real = tmp_path / "dotfiles" / "docker-config.json"
    real.parent.mkdir()
    real.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "Z2g6eA=="}}}))
    link = tmp_path / "docker" / "config.json"
    link.parent.mkdir()
    link.symlink_to(real)
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(link)))
    assert not res.failed, res
    assert link.is_symlink() and os.readlink(str(link)) == str(real)
    assert sorted(json.loads(real.read_text())["auths"]) == ["ghcr.io", HOST]
    assert stat.S_IMODE(os.stat(str(real)).st_mode) == 0o600
    assert [p.name for p in link.parent.iterdir()] == ["config.json"]


def test_stale_temp_files_of_a_killed_run_are_cleaned(sim, api, run_module, tmp_path):
    sim.seed(SEED_PLAIN)
    dest = tmp_path / "docker" / "config.json"
    dest.parent.mkdir()
    stale = dest.parent / ".docr-config-k1ll3d.tmp"
    stale.write_text(json.dumps({"auths": {HOST: {"auth": "c2VjcmV0OnJ3"}}}))
    other = dest.parent / "notes.tmp"
    other.write_text("not ours")
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    assert not res.failed, res
    assert sorted(p.name for p in dest.parent.iterdir()) == ["config.json", "notes.tmp"]


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_owner_and_group_of_an_existing_file_are_kept(sim, api, run_module, tmp_path):
    sim.seed(SEED_PLAIN)
    dest = tmp_path / "home" / "config.json"
    dest.parent.mkdir()
    dest.write_text(json.dumps({"auths": {}}))
    os.chown(str(dest), 4321, 4322)
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    assert not res.failed, res
    info = os.stat(str(dest))
    assert (info.st_uid, info.st_gid) == (4321, 4322)
    assert stat.S_IMODE(info.st_mode) == 0o600 and HOST in json.loads(dest.read_text())["auths"]


def test_missing_parent_directories_are_created_0700_each(sim, api, run_module, tmp_path):
    sim.seed(SEED_PLAIN)
    dest = tmp_path / "a" / "b" / "c" / "config.json"
    old = os.umask(0o022)
    try:
        res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    finally:
        os.umask(old)
    assert not res.failed, res
    modes = dict((d.name, stat.S_IMODE(os.stat(str(d)).st_mode)) for d in (dest.parents[2], dest.parents[1], dest.parent))
    assert modes == {"a": 0o700, "b": 0o700, "c": 0o700}


# ---- items 2, 3, 8: retention never deletes a fresh image, keeps latest, reports what it really deleted -------

DAY = 86400


def _digest(*parts):
    return "sha256:" + hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


def seed_builds(sim, count=5, extra_tags=None):
    """web: build-0 (oldest, also 'latest') .. build-N (newest), one manifest each."""
    now = calendar.timegm(time.strptime(sim.now()[:19], "%Y-%m-%dT%H:%M:%S"))
    manifests = []
    for n in range(count):
        tags = ["build-%d" % n] + (["latest"] if n == 0 else []) + list((extra_tags or {}).get(n, []))
        manifests.append(dict(digest=_digest("web", n), size_bytes=1000 + n, tags=tags,
                              updated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - (100 - n) * DAY))))
    sim.seed(dict(subscription_tier="basic", registries=[dict(name="acme", region="fra1", repositories=[
        dict(name="web", manifests=manifests)])]))


def web_tags(sim):
    repo = [r for r in sim.state()["registries"][0]["repositories"] if r["name"] == "web"][0]
    return repo["tags"]


def tag_names(sim):
    return set(web_tags(sim))


def push_after_the_plan(sim, monkeypatch, **push):
    """Another CI job pushes to acme/web right after docr_retention made its plan (and before it deletes)."""
    original = docr_retention.Retention.plan

    def plan_then_ci_pushes(self, current):
        planned = original(self, current)
        sim.push(registry="acme", repository="web", **push)
        return planned

    monkeypatch.setattr(docr_retention.Retention, "plan", plan_then_ci_pushes)


def test_tag_pushed_again_between_plan_and_delete_is_not_deleted(sim, api, run_module, monkeypatch):
    """Another CI job pushes build-1 again after the plan: the fresh image keeps its tag, the run reports it."""
    seed_builds(sim)
    push_after_the_plan(sim, monkeypatch, tag="build-1", size_bytes=4242)
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=1))
    assert not res.failed, res
    assert "build-1" in tag_names(sim), "the re-pushed tag was deleted"
    assert sorted(i["tag"] for i in res["deleted"]) == ["build-2", "build-3"]
    assert [(i["tag"], i["reason"]) for i in res["skipped_changed"]] == [("build-1", "moved")]
    assert res["skipped_changed"][0]["current_digest"] != res["skipped_changed"][0]["digest"]
    assert tag_names(sim) == {"latest", "build-0", "build-1", "build-4"}


def test_manifest_target_with_a_push_after_the_plan(sim, api, run_module, monkeypatch):
    """target=manifests: a push after the plan (a new manifest) is not in the plan; the planned ones go."""
    seed_builds(sim)
    push_after_the_plan(sim, monkeypatch, tag="hotfix", size_bytes=1)
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=1, target="manifests"))
    assert not res.failed, res
    assert "hotfix" in tag_names(sim) and res["skipped_changed"] == [] and len(res["deleted"]) == 3


@pytest.mark.parametrize("fresh_tags, reason", [
    (["build-2"], None), (["build-2", "hotfix"], "tagged"), (None, "gone"),
])
def test_manifest_that_gained_a_tag_is_skipped(fresh_tags, reason):
    """The simulator cannot tag an existing manifest (a push makes a new one): the rule, on its own."""
    item = dict(repository="web", tag=None, digest=_digest("web", 2), tags=["build-2"])
    fresh = [] if fresh_tags is None else [dict(digest=_digest("web", 2), tags=fresh_tags)]
    assert ret.changed_since_plan(item, fresh)[0] == reason


def test_any_protect_value_keeps_latest(sim, api, run_module):
    seed_builds(sim)
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=0, protect=["^release-"]))
    assert not res.failed, res
    assert "latest" in tag_names(sim) and "build-0" in tag_names(sim)
    assert "latest" not in [i["tag"] for i in res["deleted"]]


def test_latest_deleted_only_when_turned_off_explicitly(sim, api, run_module):
    seed_builds(sim, count=3)
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=1, protect_latest=False))
    assert not res.failed, res
    assert tag_names(sim) == {"build-2"}


def test_protect_as_a_string_is_refused_not_split(sim, api, run_module):
    seed_builds(sim)
    sim.clear_requests()
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=0, protect="^v[0-9]{1,3}$"))
    assert res.failed and "protect" in res["msg"] and "list" in res["msg"], res
    assert sim.requests() == [] and "latest" in tag_names(sim)


def test_protect_digests_are_normalised_and_protect(sim, api, run_module):
    seed_builds(sim)
    wanted = " %s \n" % _digest("web", 2).upper().replace("SHA256:", "sha256:")
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=0, protect_digests=[wanted]))
    assert not res.failed, res
    assert "build-2" in tag_names(sim)


def test_unknown_protected_digest_warns(sim, api, run_module):
    seed_builds(sim, count=2)
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=5, protect_digests=["sha256:" + "0" * 64]))
    assert not res.failed, res
    warnings = json.dumps(res.get("warnings"))
    assert "protect_digests" in warnings and "0" * 64 in warnings, res


def test_deletion_whose_answer_was_lost_is_reported(sim, api, run_module, quick_waits):
    """The first DELETE goes through but every answer is a 500 (retries exhausted): read back, it is listed."""
    seed_builds(sim, count=4)
    sim.fault(method="DELETE", path_regex="/tags/build-1$", status=500, after=True, times=10)
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=1))
    assert res.failed, res
    assert "build-1" not in tag_names(sim)
    assert [i["tag"] for i in res["deleted"]] == ["build-1"]
    assert res["unknown"] == []
    assert quick_waits  # the client retried before giving up


def test_lost_answers_then_success_report_every_deletion(sim, api, run_module, quick_waits):
    seed_builds(sim, count=4)
    sim.fault(method="DELETE", path_regex="/tags/build-", status=500, after=True, times=2)
    sim.fault(method="DELETE", path_regex="/tags/build-", drop=True, after=True, times=1)
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=1))
    assert not res.failed, res
    assert sorted(i["tag"] for i in res["deleted"]) == ["build-1", "build-2"]
    assert tag_names(sim) == {"latest", "build-0", "build-3"}


# ---- item 7: docr_gc keeps its deadline on one clock, cancels however polling fails, always names the GC ----

GC_SEED = dict(subscription_tier="basic", registries=[dict(name="acme", region="fra1", repositories=[
    dict(name="web", manifests=[dict(size_bytes=1000, tags=["v2"], updated_at="2026-01-01T00:00:00Z"),
                                dict(size_bytes=4000, tags=[], updated_at="2026-01-01T00:00:00Z")])])])
GC_PATHS = "garbage-collections?$"


@pytest.fixture
def sim_time(sim, monkeypatch):
    """Every wait of docr_gc (between polls, and the client's retries) is spent on the simulator's clock,
    which otherwise stands still: the test measures the module's deadline on that clock, not on the wall."""
    from ansible_collections.dockyard.docr.plugins.module_utils import _wait

    sim.seed(GC_SEED)

    def sim_sleep(seconds):
        if seconds > 0:
            sim.advance(seconds)

    original_init = _client.DocrClient.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self._sleep = sim_sleep

    monkeypatch.setattr(_client.DocrClient, "__init__", init)
    monkeypatch.setattr(_wait.LongRunning, "sleep", staticmethod(sim_sleep))  # the sleeps between polls
    if hasattr(_client.DocrClient, "clock"):
        monkeypatch.setattr(_client.DocrClient, "clock", _client.DocrClient.now)  # the last Date header: no real time
    return sim


def fault_after_start(sim, monkeypatch, **rule):
    """Inject ``rule`` right after the GC started (the reads before the start must succeed)."""
    original = _gc.start

    def start(*args, **kwargs):
        started = original(*args, **kwargs)
        sim.fault(**rule)
        return started

    monkeypatch.setattr(_gc, "start", start)


def _iso_epoch(text):
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))


def _gc_calls(sim):
    start = [r for r in sim.requests() if r["method"] == "POST" and r["path"].endswith("/garbage-collection")]
    cancel = [r for r in sim.requests() if r["method"] == "PUT" and "/garbage-collection/" in r["path"]]
    return start, cancel


def _sim_gc(sim):
    return [g for g in sim.state()["gcs"] if g["registry_name"] == "acme"]


def _registry_read_only(sim):
    return sim.state()["registries"][0]["read_only"]


def _assert_cancelled_after_start(sim, res, deadline):
    assert res.failed, res
    gcs = _sim_gc(sim)
    assert len(gcs) == 1
    assert res["changed"] is True and res["garbage_collection"]["uuid"] == gcs[0]["uuid"], res
    start, cancel = _gc_calls(sim)
    assert len(start) == 1 and len(cancel) >= 1, sim.requests()
    late = _iso_epoch(cancel[0]["time"]) - _iso_epoch(start[0]["time"])
    assert deadline <= late <= deadline + 1, "cancelled %s s after the start, deadline %s" % (late, deadline)
    sim.advance(600)
    assert gcs[0]["uuid"] == _sim_gc(sim)[0]["uuid"] and _sim_gc(sim)[0]["status"] == "cancelled"
    assert _registry_read_only(sim) is False


def test_deadline_cancels_when_every_poll_fails_503(sim_time, api, run_module, monkeypatch):
    sim = sim_time
    fault_after_start(sim, monkeypatch, method="GET", path_regex=GC_PATHS, status=503, times=10000)
    res = run_module(docr_gc, dict(api, registry="acme", deadline=30, poll_interval=5))
    _assert_cancelled_after_start(sim, res, 30)
    assert "deadline=30" in res["msg"] and "cancel" in res["msg"], res["msg"]


def test_deadline_kept_under_429_with_long_retry_after(sim_time, api, run_module, monkeypatch):
    sim = sim_time
    fault_after_start(sim, monkeypatch, method="GET", path_regex=GC_PATHS, status=429, retry_after=20, times=10000)
    res = run_module(docr_gc, dict(api, registry="acme", deadline=30, poll_interval=5))
    _assert_cancelled_after_start(sim, res, 30)


def test_deadline_kept_when_polls_recover_late(sim_time, api, run_module, monkeypatch):
    """Polls fail for a while (503s past the retries), then answer: the deadline still cancels on time."""
    sim = sim_time
    fault_after_start(sim, monkeypatch, method="GET", path_regex=GC_PATHS, status=503, times=8)
    res = run_module(docr_gc, dict(api, registry="acme", deadline=40, poll_interval=5))
    _assert_cancelled_after_start(sim, res, 40)
    assert res.get("cancelled_by_deadline") is True and res["garbage_collection"]["status"] == "cancelled", res


def test_cancel_at_the_deadline_is_retried(sim_time, api, run_module, monkeypatch):
    sim = sim_time
    sim.fault(method="PUT", path_regex="garbage-collection/", status=503, times=6)  # more than one round of retries
    res = run_module(docr_gc, dict(api, registry="acme", deadline=30, poll_interval=5))
    assert res.get("cancelled_by_deadline") is True, res
    sim.advance(600)
    assert _sim_gc(sim)[0]["status"] == "cancelled" and _registry_read_only(sim) is False


def test_cancel_that_never_lands_is_reported_with_the_gc(sim_time, api, run_module, monkeypatch):
    sim = sim_time
    sim.fault(method="PUT", path_regex="garbage-collection/", status=503, times=10000)
    res = run_module(docr_gc, dict(api, registry="acme", deadline=30, poll_interval=5))
    assert res.failed and res["changed"] is True and res["garbage_collection"]["uuid"], res
    assert res.get("cancelled_by_deadline") is False and "state=cancelled" in res["msg"], res


def test_polling_failure_without_deadline_names_the_started_gc(sim_time, api, run_module, monkeypatch):
    sim = sim_time
    fault_after_start(sim, monkeypatch, method="GET", path_regex=GC_PATHS, status=503, times=10000)
    res = run_module(docr_gc, dict(api, registry="acme", poll_interval=5))
    assert res.failed, res
    assert res["changed"] is True and res["garbage_collection"]["uuid"] == _sim_gc(sim)[0]["uuid"], res
    assert "503" in res["msg"]
