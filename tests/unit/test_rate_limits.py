"""DigitalOcean's documented rate limits, in the simulator and in the client.

Sliding windows where each request expires on its own; ``ratelimit-reset`` is when the oldest counted
request expires; ``Retry-After`` only on a 429 over the per-minute burst limit. The simulator's clock is
frozen (speed 0) and moved by hand, so nothing here depends on wall-clock speed.
"""

import email.utils

import pytest
import requests

from ansible_collections.dockyard.docr.plugins.module_utils import _client
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrApiError

TOKEN = "dop_v1_rate-limit-test-token-0123456789ab"


class Http(object):
    def __init__(self, sim):
        self.sim = sim
        self.session = requests.Session()
        self.session.trust_env = False

    def get(self):
        return self.session.get(self.sim.url + "/v2/registries", headers={"Authorization": "Bearer " + TOKEN}, timeout=10)


def frozen(sim, per_minute, per_hour):
    sim.seed({"subscription_tier": "basic", "rate_limit": {"per_minute": per_minute, "per_hour": per_hour}})
    sim.set_speed(0)
    return sim.state()["clock"]["timestamp"]


def reset_of(response):
    return int(response.headers["ratelimit-reset"])


def test_burst_window_slides_and_says_retry_after(sim):
    start = frozen(sim, per_minute=3, per_hour=0)
    http = Http(sim)
    for step in (0, 10, 10):
        sim.advance(step)
        assert http.get().status_code == 200
    limited = http.get()  # at start + 20: the minute holds 3 requests, the oldest expires at start + 60
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "40"
    sim.advance(40)
    assert http.get().status_code == 200          # the first request expired on its own...
    again = http.get()
    assert again.status_code == 429 and again.headers["Retry-After"] == "10"   # ...the second at start + 70
    assert start  # (the frozen start time)


def test_hourly_window_slides_reset_is_the_oldest_expiry(sim):
    start = frozen(sim, per_minute=0, per_hour=3)
    http = Http(sim)
    seen = []
    for step in (0, 100, 100):
        sim.advance(step)
        response = http.get()
        assert response.status_code == 200
        seen.append((int(response.headers["ratelimit-remaining"]), reset_of(response)))
    oldest = int(-(-(start + 3600) // 1))
    assert seen == [(2, oldest), (1, oldest), (0, oldest)]
    sim.advance(100)
    limited = http.get()
    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers            # not a burst: the headers say when instead
    assert limited.headers["ratelimit-remaining"] == "0" and reset_of(limited) == oldest
    sim.advance(3600 - 300)                                 # the first request expires: one frees up
    allowed = http.get()
    assert allowed.status_code == 200 and allowed.headers["ratelimit-remaining"] == "0"
    assert reset_of(allowed) == oldest + 100               # now the second request is the oldest
    assert http.get().status_code == 429


class SimSleep(object):
    """The client's waits, spent on the simulator's clock instead of real time."""

    def __init__(self, sim):
        self.sim = sim
        self.waits = []

    def __call__(self, seconds):
        self.waits.append(seconds)
        self.sim.advance(seconds)


def client(sim, retries=3):
    sleep = SimSleep(sim)
    return _client.DocrClient(TOKEN, sim.url, http_timeout=5, http_retries=retries, sleep=sleep), sleep


def statuses(sim):
    return [r["status"] for r in sim.requests()]


def test_client_waits_for_the_burst_retry_after(sim):
    frozen(sim, per_minute=2, per_hour=0)
    api, sleep = client(sim)
    for _attempt in range(3):
        api.call("registries.list")
    assert statuses(sim) == [200, 200, 429, 200]
    assert sleep.waits == [60.0]


def test_client_paces_on_the_hourly_reset(sim):
    frozen(sim, per_minute=0, per_hour=2)
    api, sleep = client(sim)
    api.call("registries.list")
    sim.advance(3500)
    api.call("registries.list")
    # the hour is spent; the oldest request expires in 100 s: wait for it (in steps of at most 60 s)
    api.call("registries.list")
    assert statuses(sim) == [200, 200, 429, 429, 200]
    assert len(sleep.waits) == 2 and sum(sleep.waits) == pytest.approx(100, abs=1.0) and max(sleep.waits) <= 60


def test_client_says_when_the_hourly_quota_frees_up(sim):
    frozen(sim, per_minute=0, per_hour=1)
    api, sleep = client(sim, retries=2)
    api.call("registries.list")
    sim.advance(60)
    with pytest.raises(DocrApiError) as err:
        api.call("registries.list")
    # 3540 s to go: more than the retries left could wait, so one 429 and a clear message, no hammering
    assert statuses(sim) == [200, 429]
    assert sleep.waits == []
    assert err.value.status_code == 429 and "hourly rate limit" in err.value.msg
    assert err.value.details["retry_in_seconds"] == pytest.approx(3540, abs=1)


def test_date_header_is_the_simulated_clock(sim):
    """The client measures waits on the API's clock (its Date header), which the simulator drives."""
    frozen(sim, per_minute=0, per_hour=0)
    sim.advance(1000)
    response = Http(sim).get()
    when = email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp()
    assert when == pytest.approx(sim.state()["clock"]["timestamp"], abs=1.0)
