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


# ---- the client's one rate limiter (no HTTP: its own clock) -------------------------------------

class Ticking(object):
    """A hand-moved clock and a sleep that moves it: the limiter's ``clock`` and ``sleep``."""

    def __init__(self, start=1000.0):
        self.now = start

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.mark.parametrize("per_minute", [3, 5, 20])
def test_limiter_keeps_a_sliding_minute_whatever_the_travel_times(per_minute):
    """The API counts a request when it arrives; the limiter cannot know when that is. Requests that travel
    slowly, then fast, must still never put more than ``per_minute`` arrivals in any minute (a limiter that
    stamped before sending let a fast request land inside a slow one's minute)."""
    time_ = Ticking()
    limiter = _client.RateLimiter(time_.clock, time_.sleep)
    arrivals = []
    for n in range(6 * per_minute):
        limiter.before(per_minute)
        time_.now += 3.0 if n % per_minute == 0 else 0.01   # on the way: every per_minute-th request is slow
        arrivals.append(time_.now)
        time_.now += 0.05                                  # served, and the answer travels back
        limiter.note(1)
    for arrival in arrivals:
        in_minute = [a for a in arrivals if arrival - 60 < a <= arrival]
        assert len(in_minute) <= per_minute, (arrival, in_minute)
    assert limiter.waits >= 5
    # and it does not over-wait: six minutes' worth of requests in a little over five minutes
    assert arrivals[-1] - arrivals[0] < 6 * 66


def test_limiter_counts_every_request_and_waits_only_for_a_pace():
    time_ = Ticking(0.0)
    limiter = _client.RateLimiter(time_.clock, time_.sleep)
    limiter.note(3)            # a listing that took three pages
    limiter.before(None)       # no pace asked: never waits, whatever was sent
    limiter.note(1)
    assert limiter.waits == 0
    limiter.before(4)          # four in the last minute: wait until the oldest is a minute (and the margin) old
    assert limiter.waits == 1 and time_.now == 60 + _client.PACING_MARGIN
    limiter.note(0)
    assert len(limiter.sent) == 4
    assert limiter.report(7) == dict(requests=7, waits=1, waited_seconds=61.0)


def test_limiter_waits_for_the_hourly_reset_when_paced():
    time_ = Ticking(0.0)
    limiter = _client.RateLimiter(time_.clock, time_.sleep)
    limiter.before(240, {"remaining": 50, "reset": 5000}, server_now=4000)
    assert limiter.waits == 0
    limiter.before(240, {"remaining": 3, "reset": 4030}, server_now=4000)
    assert limiter.waits == 1 and time_.now == 30
    limiter.before(240, {"remaining": 0, "reset": 9000}, server_now=4000)   # capped: the next answer tells again
    assert time_.now == 30 + _client.MAX_PACING_WAIT
    limiter.before(None, {"remaining": 0, "reset": 9000}, server_now=4000)  # no pace: the retries handle a 429
    assert limiter.waits == 2


def test_paced_calls_never_earn_a_429_on_one_clock(sim):
    """A client whose limiter and retries share the simulator's stopped clock: 25 paced calls at 10 a minute
    against a limit of 10 get no 429, and every wait moved that one clock."""
    frozen(sim, per_minute=10, per_hour=0)
    time_ = Ticking(sim.state()["clock"]["timestamp"])

    def sleep(seconds):
        time_.sleep(seconds)
        sim.advance(seconds)

    api = _client.DocrClient(TOKEN, sim.url, http_timeout=5, http_retries=3, sleep=sleep, clock=time_.clock)
    for _n in range(25):
        api.call("registries.list", pace=10)
    assert 429 not in statuses(sim) and len(statuses(sim)) == 25
    assert api.limiter.waits == 2 and api.calls == 25
    # without a pace, the same client only reacts: the 11th call in a minute earns a 429, then waits Retry-After
    sim.advance(120)
    sim.clear_requests()
    for _n in range(11):
        api.call("registries.list")
    assert statuses(sim).count(429) == 1 and api.limiter.waits == 2
