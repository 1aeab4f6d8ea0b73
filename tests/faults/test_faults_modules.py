"""Every write path of the modules under the simulator's faults: 429 storms (with and without Retry-After),
500/502/503 bursts, answers slower than http_timeout, dropped connections, and writes that succeed on the
server while the client sees a failure (``after: true``).

Each case runs the module once under the fault, then asserts the simulator's state: the run either ends
in the correct state with nothing lost or duplicated (one registry, one GC, exactly the planned
deletions), or fails with a clear message and leaves the account as it was. A clean re-run then converges
(no change, no write). Waits between retries are spent on the simulator's clock (``quick_waits``).
"""

import calendar
import json
import time

import pytest

from ansible_collections.dockyard.docr.plugins.modules import (
    docr_credentials,
    docr_doks_integration,
    docr_gc,
    docr_registry,
    docr_retention,
)

from faults_support import registries, writes  # pylint: disable=import-error

DAY = 86400
STEP = 30.0    # simulated seconds the stopped clock moves per API request while a GC runs
POLL = 0.02

# fault kind -> the rules to inject on (method, path regex); http_retries is 3 (4 attempts)
FAULTS = {
    "429-retry-after": [dict(status=429, retry_after=30, times=3)],
    "429-no-retry-after": [dict(status=429, times=3)],
    "5xx-burst": [dict(status=500, times=1), dict(status=502, times=1), dict(status=503, times=1)],
    # slower than http_timeout (1 s): held until the client has given up on it, then served just before the
    # client's retry (quick_waits releases it), so it always lands between the read-back and the retry
    "slow": [dict(hold=True, times=1)],
    "dropped": [dict(drop=True, times=2)],
    "after-500": [dict(status=500, after=True, times=1)],
    "after-drop": [dict(drop=True, after=True, times=1)],
    "after-503-then-429": [dict(status=503, after=True, times=1), dict(status=429, retry_after=5, times=1)],
}
# storms longer than the retries: the run must fail clearly and change nothing
EXHAUSTED = {
    "429-storm": dict(status=429, retry_after=20, times=20),
    "503-storm": dict(status=503, times=20),
    "drop-storm": dict(drop=True, times=20),
}


# A request delayed past http_timeout is still served after the client gave up on it: ``sim`` (reset) and
# ``sim.clear_requests()`` wait until the simulator serves nothing (``sim.settle()``), so it lands first.


@pytest.fixture
def storm(sim):
    """The rule of an EXHAUSTED storm; skips a drop storm when the simulator runs the request it drops.

    ``drop`` without ``after`` is meant to close the connection before the operation runs (the request never
    arrived, as far as the account is concerned). If the simulator runs it anyway, a "drop storm" cannot show
    a create that never happened, so those cases would prove nothing.
    """
    def rule(kind):
        if kind == "drop-storm" and drop_runs_the_request(sim):
            pytest.skip("the simulator runs a request it drops without after: true (tests/simulator/server.py)")
        return EXHAUSTED[kind]
    return rule


def drop_runs_the_request(sim):
    sim.seed(dict(subscription_tier="basic", registries=[dict(name="probe", region="fra1")]))
    sim.fault(method="DELETE", path="/v2/registries/probe", drop=True, times=1)
    try:
        sim.http.delete(sim.url + "/v2/registries/probe", headers={"Authorization": "Bearer probe"}, timeout=5)
    except Exception:  # pylint: disable=broad-except  # the drop itself
        pass
    runs = "probe" not in registries(sim)
    sim.reset()
    return runs


def inject(sim, kind, method, path_regex):
    for rule in FAULTS[kind]:
        sim.fault(method=method, path_regex=path_regex, **rule)


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def sim_now(sim):
    return calendar.timegm(time.strptime(sim.now()[:19], "%Y-%m-%dT%H:%M:%S"))


def gcs(sim, registry="acme"):
    return [g for g in sim.state()["gcs"] if g["registry_name"] == registry]


def tags(sim, repo="web", registry="acme"):
    for reg in sim.state()["registries"]:
        if reg["name"] == registry:
            for item in reg["repositories"]:
                if item["name"] == repo:
                    return set(item["tags"])
    return None


def assert_clear_failure(res):
    assert res.failed, res
    msg = res["msg"]
    assert "Traceback" not in msg and "Unexpected error" not in msg, msg
    assert any(word in msg for word in ("DigitalOcean API", "Could not reach", "rate limit", "stopped after")), msg


# ---- registry create (and the subscription sign-up) ------------------------------------------------

def registry_args(api):
    return dict(api, name="acme", region="fra1", subscription_tier="basic")


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_registry_create(sim, api, run_module, quick_waits, kind):
    inject(sim, kind, "POST", r"^/v2/registries$")
    res = run_module(docr_registry, registry_args(api))
    assert res["changed"] is True and not res.failed, res
    assert registries(sim) == {"acme": "fra1"}
    assert res["registry"]["name"] == "acme" and res["subscription"]["tier"] == "basic"
    if kind.startswith("429-retry"):
        assert 30 in quick_waits, quick_waits

    sim.clear_faults()
    sim.clear_requests()
    again = run_module(docr_registry, registry_args(api))
    assert again["changed"] is False and writes(sim) == [], again
    assert registries(sim) == {"acme": "fra1"}


@pytest.mark.parametrize("kind", ["429-no-retry-after", "5xx-burst", "dropped", "after-drop"])
def test_registry_reads_under_faults(sim, api, run_module, quick_waits, kind):
    """Faults on every read of a create and of a no-change run."""
    inject(sim, kind, "GET", r"^/v2/")
    res = run_module(docr_registry, registry_args(api))
    assert res["changed"] is True and registries(sim) == {"acme": "fra1"}, res
    inject(sim, kind, "GET", r"^/v2/")
    sim.clear_requests()
    again = run_module(docr_registry, registry_args(api))
    assert again["changed"] is False and writes(sim) == [], again


@pytest.mark.parametrize("kind", sorted(EXHAUSTED))
def test_registry_create_gives_up_cleanly(sim, api, run_module, quick_waits, storm, kind):
    sim.fault(method="POST", path="/v2/registries", **storm(kind))
    res = run_module(docr_registry, registry_args(api))
    assert_clear_failure(res)
    assert registries(sim) == {}
    posts = [r for r in sim.requests() if r["method"] == "POST" and r["path"] == "/v2/registries"]
    assert len(posts) == 4  # 1 + http_retries, each one refused before doing anything

    sim.clear_faults()
    res = run_module(docr_registry, registry_args(api))
    assert res["changed"] is True and registries(sim) == {"acme": "fra1"}, res


@pytest.mark.parametrize("kind", ["after-500", "after-drop", "5xx-burst", "slow"])
def test_registry_delete(sim, api, run_module, quick_waits, kind):
    sim.seed(dict(subscription_tier="professional", registries=[dict(name="acme", region="fra1"), dict(name="keep", region="nyc3")]))
    inject(sim, kind, "DELETE", r"^/v2/registries/acme$")
    res = run_module(docr_registry, dict(api, name="acme", state="absent"))
    assert res["changed"] is True and not res.failed, res
    assert registries(sim) == {"keep": "nyc3"}
    sim.clear_faults()
    sim.clear_requests()
    res = run_module(docr_registry, dict(api, name="acme", state="absent"))
    assert res["changed"] is False and writes(sim) == []


@pytest.mark.parametrize("kind", ["after-500", "5xx-burst", "429-no-retry-after", "dropped"])
def test_subscription_change(sim, api, run_module, quick_waits, kind):
    sim.seed(dict(subscription_tier="basic", registries=[dict(name="acme", region="fra1")]))
    inject(sim, kind, "POST", r"^/v2/registries/subscription$")
    res = run_module(docr_registry, dict(api, name="acme", subscription_tier="professional"))
    assert res["changed"] is True and res["subscription"]["tier"] == "professional", res
    assert "professional" in json.dumps(sim.state()["subscription"])
    sim.clear_faults()
    sim.clear_requests()
    res = run_module(docr_registry, dict(api, name="acme", subscription_tier="professional"))
    assert res["changed"] is False and writes(sim) == []


# ---- DOKS integration --------------------------------------------------------------------------------

CLUSTER = "c0ffee00-5e1e-4205-a714-000000000001"


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_doks_integration(sim, api, run_module, quick_waits, kind):
    sim.seed(dict(subscription_tier="basic", registries=[dict(name="acme", region="fra1")],
                  clusters=[dict(id=CLUSTER, name="prod-fra1", region="fra1", registries=[])]))
    inject(sim, kind, "POST", r"^/v2/kubernetes/registries$")
    args = dict(api, integrations=[dict(registry="acme", clusters=["prod-fra1"])])
    res = run_module(docr_doks_integration, args)
    assert res["changed"] is True and not res.failed, res
    assert [c["registries"] for c in sim.state()["clusters"]] == [["acme"]]
    sim.clear_faults()
    sim.clear_requests()
    res = run_module(docr_doks_integration, args)
    assert res["changed"] is False and writes(sim) == [], res


# ---- garbage collection ---------------------------------------------------------------------------------

def seed_gc(sim):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "fra1", "repositories": [
        {"name": "web", "manifests": [
            {"size_bytes": 1000, "tags": ["v2"], "updated_at": "2026-01-01T00:00:00Z"},
            {"size_bytes": 4000, "tags": [], "updated_at": "2026-01-01T00:00:00Z"},
        ]}]}]})
    sim.step_clock(STEP)


def gc_args(api, **kw):
    args = dict(api, registry="acme", poll_interval=POLL, min_interval="1d")
    args.update(kw)
    return args


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_gc_start(sim, api, run_module, quick_waits, kind):
    seed_gc(sim)
    inject(sim, kind, "POST", r"^/v2/registries/acme/garbage-collection$")
    res = run_module(docr_gc, gc_args(api))
    assert res["changed"] is True and not res.failed, res
    found = gcs(sim)
    assert len(found) == 1, found  # no second GC
    assert res["garbage_collection"]["uuid"] == found[0]["uuid"]
    assert res["garbage_collection"]["status"] == "succeeded" and found[0]["status"] == "succeeded"

    sim.clear_faults()
    sim.clear_requests()
    again = run_module(docr_gc, gc_args(api))
    assert again["changed"] is False and again["skipped"] is True and writes(sim) == [], again
    assert len(gcs(sim)) == 1


@pytest.mark.parametrize("kind", ["429-retry-after", "5xx-burst", "slow", "after-drop"])
def test_gc_polling(sim, api, run_module, quick_waits, kind):
    """Faults on the reads while the module waits for the GC."""
    seed_gc(sim)
    inject(sim, kind, "GET", r"^/v2/registries/acme/garbage-collection")
    res = run_module(docr_gc, gc_args(api))
    assert res["changed"] is True and res["garbage_collection"]["status"] == "succeeded", res
    assert len(gcs(sim)) == 1


@pytest.mark.parametrize("kind", sorted(EXHAUSTED))
def test_gc_start_gives_up_cleanly(sim, api, run_module, quick_waits, storm, kind):
    rule = storm(kind)
    seed_gc(sim)
    sim.fault(method="POST", path="/v2/registries/acme/garbage-collection", **rule)
    res = run_module(docr_gc, gc_args(api))
    assert_clear_failure(res)
    assert gcs(sim) == []
    sim.clear_faults()
    res = run_module(docr_gc, gc_args(api))
    assert res["changed"] is True and len(gcs(sim)) == 1, res


def test_gc_cancel_under_faults(sim, api, run_module, quick_waits):
    seed_gc(sim)
    sim.step_clock(0)   # the GC stays where it is until the clock moves
    run_module(docr_gc, gc_args(api, wait=False))
    sim.fault(method="PUT", path_regex=r"^/v2/registries/acme/garbage-collection/", status=502, after=True, times=1)
    res = run_module(docr_gc, gc_args(api, state="cancelled", wait=False))
    assert res["changed"] is True and not res.failed, res
    assert [g["status"] for g in gcs(sim)] in (["cancelling"], ["cancelled"])
    sim.advance(5)
    sim.clear_requests()
    res = run_module(docr_gc, gc_args(api, state="cancelled"))
    assert res["changed"] is False and writes(sim) == []


# ---- credentials ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_credentials(sim, api, run_module, quick_waits, tmp_path, kind):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "fra1"}]})
    inject(sim, kind, "GET", r"/docker-credentials$")
    dest = tmp_path / "config.json"
    args = dict(api, registry="acme", dest=str(dest), read_write=True)
    res = run_module(docr_credentials, args)
    assert res["changed"] is True and res["issued"] is True, res
    auth = json.loads(dest.read_text())["auths"]["registry.digitalocean.com"]["auth"]
    sim.push(registry="acme", repository="web", tag="v1", size_bytes=10, auth=auth)  # raises when refused

    sim.clear_faults()
    sim.clear_requests()
    again = run_module(docr_credentials, args)
    assert again["changed"] is False and again["issued"] is False and sim.requests() == [], again


@pytest.mark.parametrize("kind", sorted(EXHAUSTED))
def test_credentials_give_up_keeps_old_file(sim, api, run_module, quick_waits, tmp_path, kind):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "fra1"}]})
    dest = tmp_path / "config.json"
    dest.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "Z2g6eA=="}}}))
    sim.fault(method="GET", path_regex=r"/docker-credentials$", **EXHAUSTED[kind])
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    assert_clear_failure(res)
    assert json.loads(dest.read_text()) == {"auths": {"ghcr.io": {"auth": "Z2g6eA=="}}}
    sim.clear_faults()
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    assert res["issued"] is True and "ghcr.io" in json.loads(dest.read_text())["auths"]


# ---- retention ----------------------------------------------------------------------------------------------

def seed_retention(sim):
    now = sim_now(sim)
    manifests = [dict(size_bytes=1000 + n, updated_at=iso(now - (100 - n) * DAY), tags=["build-%d" % n]) for n in range(8)]
    manifests[7]["tags"].append("latest")
    sim.seed(dict(subscription_tier="basic", registries=[dict(name="acme", region="fra1", repositories=[
        dict(name="web", manifests=manifests)])]))


# 'latest' protects build-7; keep_last=3 keeps build-4..6 of the others
KEPT = {"build-4", "build-5", "build-6", "build-7", "latest"}
DELETED = ["build-0", "build-1", "build-2", "build-3"]


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_retention(sim, api, run_module, quick_waits, kind):
    seed_retention(sim)
    # faults on the deletions and on the listings
    inject(sim, kind, "DELETE", r"/tags/build-[13]$")
    inject(sim, kind, "GET", r"/repositories/web/tags$")
    args = dict(api, registry="acme", keep_last=3)
    res = run_module(docr_retention, args)
    assert res["changed"] is True and not res.failed, res
    assert sorted(item["tag"] for item in res["deleted"]) == DELETED
    assert tags(sim) == KEPT  # no extra deletion, nothing left behind

    sim.clear_faults()
    sim.clear_requests()
    again = run_module(docr_retention, args)
    assert again["changed"] is False and again["deleted"] == [] and writes(sim) == [], again


@pytest.mark.parametrize("kind", sorted(EXHAUSTED))
def test_retention_interrupted_then_finished(sim, api, run_module, quick_waits, storm, kind):
    rule = storm(kind)
    seed_retention(sim)
    sim.fault(method="DELETE", path_regex=r"/tags/build-2$", **rule)
    args = dict(api, registry="acme", keep_last=3)
    res = run_module(docr_retention, args)
    assert_clear_failure(res)
    assert "Run it again" in res["msg"]
    assert [item["tag"] for item in res["deleted"]] == ["build-0", "build-1"]
    assert tags(sim) == KEPT | {"build-2", "build-3"}
    sim.clear_faults()
    res = run_module(docr_retention, args)
    assert res["changed"] is True and tags(sim) == KEPT, res


# ---- a create that was slow, not lost: it lands after the client gave up, before the client's retry --------

@pytest.fixture
def slow_retry(sim, monkeypatch):
    """The create is held on arrival until the client has given up on it (http_timeout) and read back in
    vain; when the client is about to retry, it is let go and served first. The order is fixed by
    events, not by how long anything takes."""
    from ansible_collections.dockyard.docr.plugins.module_utils import _client

    def land_then_retry(self, attempt, headers, status):  # pylint: disable=unused-argument
        sim.release()
        sim.settle()
        return 0.0

    monkeypatch.setattr(_client.DocrClient, "_wait_for", land_then_retry)

    def hold(path_regex):
        sim.fault(method="POST", path_regex=path_regex, hold=True, times=1)
    return hold


def test_registry_create_landing_before_the_retry(sim, api, run_module, slow_retry):
    slow_retry(r"^/v2/registries$")
    res = run_module(docr_registry, registry_args(api))
    assert res["changed"] is True and not res.failed, res
    # the held create landed (201) before the retry, which the API refused (409) and a read-back settled
    assert [r["status"] for r in sim.requests() if r["method"] == "POST" and r["path"] == "/v2/registries"] == [201, 409]
    assert registries(sim) == {"acme": "fra1"}
    sim.clear_requests()
    assert run_module(docr_registry, registry_args(api))["changed"] is False and writes(sim) == []


def test_gc_start_landing_before_the_retry(sim, api, run_module, slow_retry):
    seed_gc(sim)
    slow_retry(r"^/v2/registries/acme/garbage-collection$")
    res = run_module(docr_gc, gc_args(api))
    assert res["changed"] is True and not res.failed, res
    found = gcs(sim)
    assert len(found) == 1 and res["garbage_collection"]["uuid"] == found[0]["uuid"], (found, res)


# ---- another run creates the same registry between this run's checks and its create -------------------------

@pytest.mark.parametrize("race", ["list", "create"])
def test_registry_created_concurrently_by_this_account(sim, api, run_module, race):
    """Another run of the same account creates the registry while this one reads the registry list, or while
    its own create is on the wire: this run converges on it instead of failing on "name taken"."""
    import threading

    sim.seed(dict(subscription_tier="basic"))
    method, path = ("GET", "/v2/registries") if race == "list" else ("POST", "/v2/registries")
    # this run's request is held on arrival; the other run creates the registry; then it goes on
    sim.fault(method=method, path=path, hold=True, times=1)
    failures = []

    def other_run():
        try:
            sim.wait_held()
            sim.http.post(sim.url + "/v2/registries", json=dict(name="acme", region="fra1"),
                          headers={"Authorization": "Bearer " + api["token"]}, timeout=30)
        except Exception as exc:  # pylint: disable=broad-except  # reported by the assertion below
            failures.append(exc)
        finally:
            sim.release()

    other = threading.Thread(target=other_run)
    other.start()
    res = run_module(docr_registry, dict(registry_args(api), http_timeout=30))
    other.join()
    assert failures == [], "the other run failed, so the race did not happen: %r" % failures
    assert not res.failed and res["registry"]["name"] == "acme", res
    creates = [r["status"] for r in sim.requests() if r["method"] == "POST" and r["path"] == "/v2/registries"]
    assert creates == ([201] if race == "list" else [201, 409]), creates
    assert registries(sim) == {"acme": "fra1"}
    sim.clear_requests()
    assert run_module(docr_registry, registry_args(api))["changed"] is False and writes(sim) == []


def test_registry_name_taken_elsewhere_still_refused(sim, api, run_module):
    sim.seed(dict(subscription_tier="basic"))
    sim.fault(method="POST", path="/v2/registries", status=409, message="registry name 'acme' is already taken", times=1)
    res = run_module(docr_registry, registry_args(api))
    assert res.failed and res["status_code"] == 409 and "409" in res["msg"], res
    assert registries(sim) == {}


@pytest.mark.parametrize("if_active, changed, failed, action", [
    ("wait", False, False, "joined"), ("skip", False, False, "skipped"), ("fail", None, True, None)])
def test_gc_started_concurrently_by_another_run(sim, api, run_module, if_active, changed, failed, action):
    """Another run starts a GC between this run's "is one active?" read and its start: the 409 is treated
    like a GC found active (if_active), never as a second GC."""
    import threading

    seed_gc(sim)
    # this run's read is held on arrival; the other run starts its GC; then the read goes on
    sim.fault(method="GET", path="/v2/registries/acme/garbage-collection", hold=True, times=1)

    def other_run():
        sim.wait_held()
        sim.http.post(sim.url + "/v2/registries/acme/garbage-collection", json={"type": "untagged manifests only"},
                      headers={"Authorization": "Bearer " + api["token"]}, timeout=30)
        sim.release()

    other = threading.Thread(target=other_run)
    other.start()
    res = run_module(docr_gc, gc_args(api, http_timeout=30, if_active=if_active, min_interval=None))
    other.join()
    found = gcs(sim)
    assert len(found) == 1, found
    assert res.failed is failed, res
    if failed:
        assert "if_active=fail" in res["msg"], res
    else:
        assert res["changed"] is changed and res["garbage_collection"]["uuid"] == found[0]["uuid"], res
        assert res["action"] == action and res["skipped"] is (action == "skipped"), res
        if action == "skipped":
            assert "already active" in res["skip_reason"]


# ---- the simulator's own rate limit (not an injected fault): a sliding minute of 3 requests ------------------

def test_real_rate_limit_storm(sim, api, run_module, quick_waits, tmp_path):
    sim.seed(dict(subscription_tier="basic", rate_limit=dict(per_minute=3, per_hour=0), registries=[
        dict(name="acme", region="fra1", repositories=[dict(name="web", manifests=[
            dict(size_bytes=10 + n, tags=["t%d" % n], updated_at="2026-01-0%dT00:00:00Z" % (n + 1)) for n in range(5)])])]))
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=2, requests_per_minute=0, http_retries=5))
    assert res["changed"] is True and not res.failed, res
    assert tags(sim) == {"t3", "t4"}
    limited = [r for r in sim.requests() if r["status"] == 429]
    assert limited and all(wait <= 60 for wait in quick_waits) and max(quick_waits) >= 1, quick_waits
    res = run_module(docr_registry, dict(api, name="acme-two", region="nyc3", subscription_tier="professional", http_retries=5))
    assert res["changed"] is True and sorted(registries(sim)) == ["acme", "acme-two"], res
    assert len([r for r in sim.requests() if r["method"] == "POST" and r["path"] == "/v2/registries" and r["status"] == 201]) == 1
