"""The simulator's model without HTTP: reads are pure, time reaches the account only through ``advance_to``,
and the GC state machine (tests/simulator/gc.py) on its own."""

import copy

import pytest

from tests.simulator import admin, gc as gcs
from tests.simulator.clock import SimClock
from tests.simulator.errors import ApiError
from tests.simulator.model import Account


@pytest.fixture(name="account")
def account_fixture():
    clock = SimClock()
    clock.set_speed(0)  # a stopped clock: only advance() moves it
    account = Account(clock)
    admin.load_seed(account, clock, {
        "subscription_tier": "professional",
        "registries": [{"name": "acme", "repositories": [{"name": "web", "manifests": [{"tags": ["v1"]}, {}]}]},
                       {"name": "beta", "region": "ams3"}],
        "clusters": [{"name": "prod", "registries": ["acme"]}],
    })
    return account


def every_read(account):
    """Each read the HTTP layer can dispatch, and the admin state dump."""
    return [
        account.list_registries(), account.get_registry("acme"), account.get_subscription(), account.options(),
        account.get_active_gc("acme"), account.list_gcs("acme"), account.list_repositories_v2("acme"),
        account.list_repositories_v1("acme"), account.list_tags("acme", "web"), account.list_manifests("acme", "web"),
        account.list_clusters(), account.read_only("acme"), account.only_registry(allow_many=True),
        admin.state(account, account.clock),
    ]


def test_reads_never_move_the_account_along_the_clock(account):
    account.start_gc("acme", {"type": gcs.BOTH})
    account.clock.advance(3600)  # far past every phase
    before = copy.deepcopy(account.gcs)
    reads = every_read(account)
    assert account.gcs == before and account.gcs[0]["status"] == "requested"
    assert every_read(account)[:-1] == reads[:-1]  # the same answers, however often asked
    # the one place time reaches the model: the GC runs through its phases and deletes the untagged manifest
    account.advance_to(account.clock.now())
    assert account.gcs[0]["status"] == "succeeded"
    assert [len(repo["manifests"]) for repo in account.registries["acme"]["repositories"].values()] == [1]
    with pytest.raises(ApiError) as err:
        account.get_active_gc("acme")
    assert err.value.status == 404


def test_advance_to_stops_at_the_phase_it_reaches(account):
    account.start_gc("acme", {})
    start = account.clock.now()
    phases = account.phase_seconds
    account.advance_to(start + phases["requested"] - 0.5)
    assert account.gcs[0]["status"] == "requested" and account.read_only("acme")
    account.advance_to(start + phases["requested"] + phases[gcs.WAIT_PHASE])
    assert account.gcs[0]["status"] == "scanning manifests"
    assert account.gcs[0]["updated_at"] == start + phases["requested"] + phases[gcs.WAIT_PHASE]


def test_every_registry_list_item_carries_the_subscription(account):
    _status, body = account.list_registries()
    _status, sub = account.get_subscription()
    assert [item["name"] for item in body["registries"]] == ["acme", "beta"]
    assert all(item["subscription"] == sub["subscription"] for item in body["registries"])
    assert "subscription" not in account.get_registry("acme")[1]["registry"]


def test_gc_machine_alone():
    finished = []

    def finish(gc):
        finished.append(gc["uuid"])
        gc["status"] = "succeeded"

    phases = dict(gcs.DEFAULT_PHASE_SECONDS)
    gc = {"uuid": "u", "status": "requested", "phase_started": 0.0, "updated_at": 0.0, "forced": False}
    gcs.advance(gc, 4.9, phases, finish)
    assert gc["status"] == "requested" and not finished
    # the write-token wait lasts until the last write token expires when that is later than its own duration
    gcs.advance(gc, 100.0, phases, finish, wait_until=200.0)
    assert gc["status"] == gcs.WAIT_PHASE and gc["phase_started"] == 5.0
    gcs.advance(gc, 1000.0, phases, finish, wait_until=200.0)
    assert gc["status"] == "succeeded" and finished == ["u"] and gc["updated_at"] == 260.0
    forced = {"uuid": "f", "status": "paused", "phase_started": 0.0, "updated_at": 0.0, "forced": True}
    gcs.advance(forced, 1e9, phases, finish)
    assert forced["status"] == "paused"
    cancelling = {"uuid": "c", "status": "cancelling", "phase_started": 0.0, "updated_at": 0.0, "forced": False}
    gcs.advance(cancelling, 2.0, phases, finish)
    assert cancelling["status"] == "cancelled" and finished == ["u"]
    assert gcs.normalise_type(None) == gcs.BLOBS
    with pytest.raises(ApiError):
        gcs.normalise_type("unreferenced_blobs_only")
