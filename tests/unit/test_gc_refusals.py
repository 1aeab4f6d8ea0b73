"""Refusals the spec does not document, on a GC start or cancel: the state is read back and decides.

The spec lists no status for "a GC is already active" or "that GC has already ended" (the API is seen
answering 409, and 412 on legacy endpoints). Faults inject other 4xx codes: the outcome must not depend on
the number.
"""

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _client, _gc
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError
from ansible_collections.dockyard.docr.plugins.modules import docr_gc

TOKEN = "dop_v1_gc-refusal-test-token-0123456789ab"
GC_PATH = "/v2/registries/acme/garbage-collection"
CODES = (400, 409, 412, 422)


def seed(sim):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "fra1", "repositories": [
        {"name": "web", "manifests": [{"size_bytes": 1000, "tags": ["v1"]}, {"size_bytes": 4000}]}]}]})


def client(sim):
    return _client.DocrClient(TOKEN, sim.url, http_timeout=5, http_retries=1, sleep=lambda _s: None)


def calls(sim):
    return [(r["method"], r["path"], r["status"]) for r in sim.requests()]


def start_behind_the_back(sim):
    """Another run's GC: started straight over HTTP."""
    response = sim.http.post(sim.url + GC_PATH, json={"type": "untagged manifests only"},
                             headers={"Authorization": "Bearer " + TOKEN}, timeout=5)
    assert response.status_code == 201
    return response.json()["garbage_collection"]


@pytest.mark.parametrize("code", CODES)
def test_start_refused_while_another_gc_is_active(sim, run_module, code):
    seed(sim)
    other = start_behind_the_back(sim)
    # this run reads "none active" (the other run's start lands right after), then its start is refused
    sim.fault(method="GET", path=GC_PATH, status=404, times=1)
    sim.fault(method="POST", path=GC_PATH, status=code, times=1)
    sim.clear_requests()
    res = run_module(docr_gc, dict(token=TOKEN, api_url=sim.url, registry="acme", if_active="skip", http_retries=1))
    assert not res.get("failed"), res
    assert res["changed"] is False and "already active" in res["skip_reason"], res
    assert res["garbage_collection"]["uuid"] == other["uuid"]
    # the refusal was followed by a read of the active GC, and nothing else was started
    assert calls(sim)[1:] == [("POST", GC_PATH, code), ("GET", GC_PATH, 200)]
    assert len(sim.state()["gcs"]) == 1


@pytest.mark.parametrize("code", CODES)
def test_start_refused_with_nothing_active_reports_the_refusal(sim, code):
    seed(sim)
    sim.fault(method="POST", path=GC_PATH, status=code, times=1, message="refused for a reason")
    sim.clear_requests()
    with pytest.raises(DocrApiError) as err:
        _gc.start(client(sim), "acme", "untagged_manifests_and_unreferenced_blobs")
    assert err.value.status_code == code and "refused for a reason" in err.value.msg
    assert calls(sim) == [("POST", GC_PATH, code), ("GET", GC_PATH, 404)]
    assert sim.state()["gcs"] == []


@pytest.mark.parametrize("code", CODES)
def test_cancel_refused_after_the_gc_ended(sim, code):
    seed(sim)
    gc = start_behind_the_back(sim)
    sim.advance(600)  # it has succeeded
    sim.fault(method="PUT", path=GC_PATH + "/" + gc["uuid"], status=code, times=1)
    assert _gc.cancel(client(sim), "acme", gc["uuid"]) is None
    assert [g["status"] for g in sim.state()["gcs"]] == ["succeeded"]


@pytest.mark.parametrize("code", CODES)
def test_cancel_refused_but_done(sim, code):
    """The cancel went through, then an undocumented refusal came back: read back, it is cancelling."""
    seed(sim)
    gc = start_behind_the_back(sim)
    sim.fault(method="PUT", path=GC_PATH + "/" + gc["uuid"], status=code, times=1, after=True)
    found = _gc.cancel(client(sim), "acme", gc["uuid"])
    assert found is not None and found["status"] == "cancelling" and found["uuid"] == gc["uuid"]


@pytest.mark.parametrize("code", CODES)
def test_cancel_refused_while_running_is_an_error(sim, code):
    seed(sim)
    gc = start_behind_the_back(sim)
    sim.fault(method="PUT", path=GC_PATH + "/" + gc["uuid"], status=code, times=1)
    with pytest.raises(DocrApiError) as err:
        _gc.cancel(client(sim), "acme", gc["uuid"])
    assert err.value.status_code == code
    assert [g["status"] for g in sim.state()["gcs"]] == ["requested"]


def test_the_real_409s_still_work(sim):
    """Without faults: the simulator's own 409s (one active GC; cancel after the end) take the same road."""
    seed(sim)
    gc = start_behind_the_back(sim)
    with pytest.raises(Exception) as err:
        _gc.start(client(sim), "acme", "untagged_manifests_only")
    assert err.value.details["active_gc"]["uuid"] == gc["uuid"]
    sim.advance(600)
    assert _gc.cancel(client(sim), "acme", gc["uuid"]) is None
