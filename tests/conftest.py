"""Shared pytest support: the API simulator fixtures and the end-of-session OpenAPI contract check.

- ``simulator`` (session): one ``python -m tests.simulator`` subprocess recording every /v2 exchange.
- ``sim`` (function): the same object, reset before the test.
- ``pytest_sessionfinish``: every recorded exchange is validated against the official spec subset in
  ``<repo>/tests/openapi``; any violation is printed and fails the session.
"""

import collections
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
_RECORDS = []


def load_contract_module():
    """``tests/simulator/contract.py``, loaded by path (``tests`` is not a package on sys.path under pytest)."""
    spec = importlib.util.spec_from_file_location("docr_simulator_contract", str(REPO_ROOT / "tests" / "simulator" / "contract.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SimulatorAdminError(Exception):
    """A ``/_sim/`` call answered non-2xx (``.status``, ``.body``)."""

    def __init__(self, status, body):
        super().__init__("simulator admin call failed: HTTP %s %s" % (status, body))
        self.status = status
        self.body = body


class Simulator:
    """Handle on the running simulator; every method is one admin call (``/_sim/...``)."""

    Error = SimulatorAdminError

    def __init__(self, url, process, record):
        self.url = url
        self.process = process
        self.record = record
        self.http = requests.Session()
        self.http.trust_env = False  # never send loopback admin calls through a proxy

    def _call(self, method, path, body=None):
        response = self.http.request(method, self.url + path, json=body, timeout=30)
        try:
            data = response.json()
        except ValueError:
            data = response.text
        if not 200 <= response.status_code < 300:
            raise SimulatorAdminError(response.status_code, data)
        return data

    def reset(self):
        self._call("POST", "/_sim/reset")

    def seed(self, data):
        """Reset, then load ``data`` (format in tests/simulator/README.md). Returns the state."""
        return self._call("POST", "/_sim/seed", data)

    def configure(self, **kwargs):
        """Change ``rate_limit``, ``gc`` phase seconds or ``tokens`` without resetting."""
        return self._call("POST", "/_sim/config", kwargs)

    def requests(self):
        return self._call("GET", "/_sim/requests")["requests"]

    def clear_requests(self):
        """Empty the request log, once every request already sent has been answered (see ``settle``)."""
        self.settle()
        self._call("DELETE", "/_sim/requests")

    def wait_held(self, count=1, timeout=60.0):
        """Wait until ``count`` requests are stopped by ``hold`` faults."""
        deadline = time.monotonic() + timeout
        while self._call("GET", "/_sim/requests").get("held", 0) < count:
            if time.monotonic() > deadline:
                raise RuntimeError("no request was held within %s s" % timeout)
            time.sleep(0.02)

    def release(self):
        """Let the requests held by ``hold`` faults go on; returns how many there were."""
        return self._call("POST", "/_sim/release")["released"]

    def settle(self, timeout=60.0):
        """Wait until the simulator serves no /v2 request (but those a ``hold`` fault stops: ``release``
        them first): one a client gave up on (a fault's latency past its http_timeout) lands before the test
        looks at or resets the state. Waits for an event, not a time."""
        deadline = time.monotonic() + timeout
        while True:
            log = self._call("GET", "/_sim/requests")
            if log.get("in_flight", 0) <= log.get("held", 0):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the simulator still serves a request after %s s" % timeout)
            time.sleep(0.02)

    def writes(self):
        """The logged write requests (every method but GET), whole."""
        return [entry for entry in self.requests() if entry["method"] != "GET"]

    def write_calls(self):
        """``(method, path)`` of each write, leaving out validate-name (a POST that only reads)."""
        return [(entry["method"], entry["path"]) for entry in self.writes() if not entry["path"].endswith("/validate-name")]

    def registries(self):
        """``{name: region}`` of the simulator's registries, from its own state."""
        return dict((r["name"], r["region"]) for r in self.state()["registries"])

    def clusters(self):
        """``{cluster name: sorted registry names it pulls from}``, from the simulator's own state."""
        found = self.state()["clusters"]
        items = found.values() if isinstance(found, dict) else found
        return dict((c["name"], sorted(c.get("registries") or [])) for c in items)

    def fault(self, **rule):
        return self._call("POST", "/_sim/faults", rule)["fault"]

    def faults(self):
        return self._call("GET", "/_sim/faults")["faults"]

    def clear_faults(self):
        self._call("DELETE", "/_sim/faults")

    def advance(self, seconds):
        return self._call("POST", "/_sim/clock", {"advance": seconds})["now"]

    def set_speed(self, factor):
        return self._call("POST", "/_sim/clock", {"speed": factor})["now"]

    def now(self):
        return self._call("GET", "/_sim/clock")["now"]

    def step_clock(self, seconds):
        """Stop the clock; from now on it moves ``seconds`` as each API request arrives (0: only ``advance``)."""
        return self._call("POST", "/_sim/clock", {"speed": 0, "step": seconds})

    def timestamp(self):
        """The simulated clock, as a Unix timestamp (float)."""
        return self._call("GET", "/_sim/clock")["timestamp"]

    def push(self, **kwargs):
        """Simulated ``docker push``; returns the new manifest, raises :class:`SimulatorAdminError` when refused."""
        return self._call("POST", "/_sim/push", kwargs)

    def gc_control(self, **kwargs):
        return self._call("POST", "/_sim/gc", kwargs)

    def state(self):
        return self._call("GET", "/_sim/state")


def _read_url(process, timeout=15.0):
    box = {}

    def reader():
        box["line"] = process.stdout.readline()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    line = (box.get("line") or b"").decode("utf-8").strip()
    if not line.startswith("http://"):
        process.kill()
        raise RuntimeError("the simulator did not start: %r %s" % (line, process.stderr.read().decode("utf-8", "replace")))
    return line


def stop_process(process, grace=10):
    """Stop a simulator subprocess: TERM, then KILL when it is still there after ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture(scope="session")
def simulator():
    """One simulator subprocess for the whole session, recording /v2 exchanges for the contract check."""
    handle, record = tempfile.mkstemp(prefix="docr-sim-", suffix=".jsonl")
    os.close(handle)
    _RECORDS.append(record)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.simulator", "--host", "127.0.0.1", "--port", "0", "--record", record],
        cwd=str(REPO_ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        yield Simulator(_read_url(process), process, record)
    finally:
        stop_process(process)


@pytest.fixture(scope="session")
def openapi_contract():
    """``(contract module, spec dict)``: the validator used at session end, for tests of the validator itself."""
    contract = load_contract_module()
    return contract, contract.load_spec(contract.spec_dir(REPO_ROOT))


@pytest.fixture
def sim(simulator):  # pylint: disable=redefined-outer-name
    """The session simulator, reset (empty account, default config, clock at real time)."""
    simulator.release()  # a request the previous test's client gave up on lands before the reset
    simulator.settle()
    simulator.reset()
    return simulator


def pytest_sessionfinish(session, exitstatus):  # pylint: disable=unused-argument
    """Validate every recorded /v2 exchange against the official spec subset; fail the session on violations."""
    exchanges = []
    contract = load_contract_module()
    for record in _RECORDS:
        exchanges.extend(contract.read_record(record))
        try:
            os.unlink(record)
        except OSError:
            pass
    del _RECORDS[:]
    if not exchanges:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def say(line):
        if reporter is not None:
            reporter.write_line(line)
        else:
            sys.stderr.write(line + "\n")

    folder = contract.spec_dir(REPO_ROOT)
    try:
        spec = contract.load_spec(folder)
    except (OSError, ValueError) as err:
        say("OpenAPI contract check FAILED: cannot load the spec subset from %s: %s" % (folder, err))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    report = contract.validate_exchanges(exchanges, spec)
    for line in report.lines():
        say(line)
    reasons = collections.Counter(item["reason"] for item in report.skipped)
    for reason, count in sorted(reasons.items()):
        say("contract: allowed exception (%d x): %s" % (count, reason))
    say("OpenAPI contract: %d exchanges checked, %d violations, %d allowed exceptions"
        % (report.checked, len(report.violations), len(report.skipped)))
    if not report.ok:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
