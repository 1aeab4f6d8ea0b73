"""The simulated clock: real time plus an offset, running at a configurable speed.

For tests that must not depend on how fast the machine is: speed 0 stops it (it then moves only when
told, by ``advance``), and a ``step`` moves it by that many seconds on every API request, so a
module that polls a GC sees it progress one step per poll however long the poll took.
"""

import calendar
import threading
import time


def iso(timestamp):
    """Format a Unix timestamp like the API does: ``2026-11-22T07:36:58Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def parse_iso(text):
    """Parse ``2026-11-22T07:36:58Z`` (fractions and ``+00:00`` tolerated) into a Unix timestamp."""
    value = str(text).strip()
    if value.endswith("Z"):
        value = value[:-1]
    elif value.endswith("+00:00"):
        value = value[:-6]
    fraction = 0.0
    if "." in value:
        value, frac = value.split(".", 1)
        fraction = float("0." + (frac or "0"))
    return calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%S")) + fraction


class SimClock:
    """``now = anchor_sim + (real_now - anchor_real) * speed``; ``advance`` moves the anchor."""

    def __init__(self, real=time.time):
        self._real = real
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self._anchor_real = self._real()
            self._anchor_sim = self._anchor_real
            self.speed = 1.0
            self.step = 0.0

    def now(self):
        with self._lock:
            return self._anchor_sim + (self._real() - self._anchor_real) * self.speed

    def advance(self, seconds):
        with self._lock:
            self._anchor_sim += float(seconds)

    def set_speed(self, speed):
        speed = float(speed)
        if speed < 0:
            raise ValueError("speed must be >= 0")
        with self._lock:
            real = self._real()
            self._anchor_sim = self._anchor_sim + (real - self._anchor_real) * self.speed
            self._anchor_real = real
            self.speed = speed

    def set_step(self, seconds):
        seconds = float(seconds)
        if seconds < 0:
            raise ValueError("step must be >= 0")
        with self._lock:
            self.step = seconds

    def on_request(self):
        """Called once per API request, on arrival: a stepping clock moves one step."""
        with self._lock:
            self._anchor_sim += self.step

    def offset(self):
        """Simulated minus real seconds, right now."""
        return self.now() - self._real()

    def describe(self):
        now = self.now()
        return {"now": iso(now), "timestamp": now, "offset_seconds": round(now - self._real(), 3), "speed": self.speed, "step": self.step}
