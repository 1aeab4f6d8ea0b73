"""Helpers every test suite shares (tests/unit, tests/faults, tests/e2e, tests/bench), written once.

Import it as ``tests.helpers`` (pytest runs from the repository root, which is then on ``sys.path``; the
benchmark scripts put it there themselves). Importing it needs only the standard library (the simulator's
data plane uses ``stop_process``); ``Simulator`` needs ``requests``.

- ``expose_collection()``: make ``ansible_collections.dockyard.docr`` importable from the working tree.
- ``playbook_env(api_url, token, ...)``: the environment of an ``ansible-playbook`` run against the simulator;
  ``PlaybookRun``: what such a run printed and its recap.
- ``run_module(module, args, ...)``: a module's ``main()`` in this process, its JSON result back.
- ``start_simulator(...)`` / ``stop_process(process)``: the simulator subprocess (TERM, then KILL).
- ``Simulator``: the admin API client (``/_sim/...``) the ``sim`` fixture, the e2e fixture and the benchmarks use.
- ``writes`` / ``write_calls`` / ``registries`` / ``clusters``: function spellings of the ``Simulator`` methods
  of the same names, for test files that call ``writes(sim)``.
"""

import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from contextlib import redirect_stdout

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "dockyard", "docr")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
# The API token of the in-process module runs (unit, faults and e2e suites); any token works on the simulator.
TOKEN = "dop_v1_unit-test-token-0123456789abcdef"


# ---------------------------------------------------------------------- the collection and ansible-playbook

def expose_collection():
    """Make ``ansible_collections.dockyard.docr`` importable and findable from the working tree.

    A git-ignored relative link ``collections/ansible_collections/dockyard/docr`` -> the repository root.
    """
    if not os.path.exists(LINK):
        os.makedirs(os.path.dirname(LINK), exist_ok=True)
        try:
            os.symlink(os.path.relpath(REPO, os.path.dirname(LINK)), LINK)
        except FileExistsError:
            pass
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)


def playbook_env(api_url, token, tmp_path=None, **extra):
    """The environment of an ``ansible-playbook`` run of the working tree's collection against ``api_url``.

    The token travels in the environment only (never on a command line). ``tmp_path`` keeps Ansible's own
    files (``ANSIBLE_HOME``, its local temp) inside the test's directory. ``api_url=None`` leaves
    ``DIGITALOCEAN_API_URL`` out (a playbook that passes the URL itself). ``extra`` adds or overrides variables.
    """
    expose_collection()
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        DIGITALOCEAN_ACCESS_TOKEN=token,
        no_proxy="127.0.0.1,localhost",
        NO_PROXY="127.0.0.1,localhost",
    )
    env.pop("DIGITALOCEAN_API_URL", None)
    if api_url is not None:
        env["DIGITALOCEAN_API_URL"] = api_url
    if tmp_path is not None:
        env["ANSIBLE_LOCAL_TEMP"] = os.path.join(str(tmp_path), ".ansible-tmp")
        env["ANSIBLE_HOME"] = os.path.join(str(tmp_path), ".ansible")
    env.update(extra)
    return env


class PlaybookRun:
    """One finished ``ansible-playbook`` run (a ``subprocess.run`` with text output): return code, output, the
    recap's ``changed`` count, and the log file when one was kept."""

    def __init__(self, proc, log_path=None):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.log_path = log_path
        recap = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)", self.out)
        self.changed = int(recap.group(2)) if recap else None

    def task(self, name):
        """The output of the task whose name starts with ``name``."""
        for section in self.out.split("TASK [")[1:]:
            title = section.split("]", 1)[0]
            if title.split(" : ", 1)[-1].startswith(name):
                return section
        raise KeyError(name)

    def __str__(self):
        return "rc=%s\n%s\n%s" % (self.rc, self.out[-6000:], self.err[-3000:])

    __repr__ = __str__


class ModuleResult(dict):
    """A module's JSON result, plus how it exited (``exit_code``)."""

    @property
    def failed(self):
        return bool(self.get("failed"))


def run_module(module, args, check_mode=False, diff=False, secrets=(TOKEN,), timing=None):
    """Run ``module.main()`` in this process with ``args``; return its result (exit or fail alike).

    ``timing`` (``clock``, ``sleep``) is handed to the module's client (its rate limiter and retries).

    Raises AssertionError when the module returns without exiting, or when ``args["token"]`` or one of
    ``secrets`` appears in what it printed.
    """
    expose_collection()
    from ansible.module_utils.testing import patch_module_args  # pylint: disable=import-outside-toplevel

    # ansible-core keeps warnings and deprecations in module globals: start each in-process run without them,
    # so one run's warnings never show in the next run's result.
    from ansible.module_utils.common import warnings as _warnings  # pylint: disable=import-outside-toplevel
    _warnings._global_warnings.clear()  # pylint: disable=protected-access
    _warnings._global_deprecations.clear()  # pylint: disable=protected-access
    full = dict(args)
    full["_ansible_check_mode"] = check_mode
    full["_ansible_diff"] = diff
    out = io.StringIO()
    code = None
    with patch_module_args(full), redirect_stdout(out):
        try:
            if timing:
                module.main(**timing)
            else:
                module.main()
        except SystemExit as exited:
            code = exited.code
        else:
            raise AssertionError("%s.main() returned without exiting" % module.__name__)
    text = out.getvalue()
    for secret in [args.get("token")] + list(secrets):
        if isinstance(secret, str) and secret:  # a bad-input test may pass a token that is not a string
            assert secret not in text, "the token leaked into the module's output"
    result = ModuleResult(json.loads(text))
    result["exit_code"] = code
    return result


# ---------------------------------------------------------------------- processes

def stop_process(process, grace=10):
    """Stop a subprocess: TERM, then KILL when it is still there after ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def first_line(process, timeout=15.0):
    """The first line ``process`` writes to stdout, or ``""`` after ``timeout`` seconds (it is not waited on)."""
    box = {}

    def reader():
        box["line"] = process.stdout.readline()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    return (box.get("line") or b"").decode("utf-8").strip()


def start_simulator(*options, timeout=15.0):
    """Start ``python -m tests.simulator --host 127.0.0.1 --port 0 OPTIONS...``; return ``(process, url)``.

    Raises RuntimeError (with what the simulator wrote to stderr) when it does not print its URL in time.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.simulator", "--host", "127.0.0.1", "--port", "0"] + list(options),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    line = first_line(process, timeout)
    if not line.startswith("http://"):
        process.kill()
        process.wait(5)
        raise RuntimeError("the simulator did not start: %r %s" % (line, process.stderr.read().decode("utf-8", "replace")))
    return process, line.split()[0].rstrip("/")


# ---------------------------------------------------------------------- the simulator's admin API

class SimulatorAdminError(Exception):
    """A ``/_sim/`` call answered non-2xx (``.status``, ``.body``)."""

    def __init__(self, status, body):
        super().__init__("simulator admin call failed: HTTP %s %s" % (status, body))
        self.status = status
        self.body = body


class Simulator:
    """Handle on a running simulator; every method is one admin call (``/_sim/...``)."""

    Error = SimulatorAdminError
    timeout = 30

    def __init__(self, url, process=None, record=None):
        self.url = url
        self.process = process
        self.record = record
        # imported here: the module itself stays standard-library only
        import requests  # pylint: disable=import-outside-toplevel

        self.http = requests.Session()
        self.http.trust_env = False  # never send loopback admin calls through a proxy

    def _call(self, method, path, body=None):
        response = self.http.request(method, self.url + path, json=body, timeout=self.timeout)
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

    def write_calls(self, validate_name=False):
        """``(method, path)`` of each write; validate-name (a POST that only reads) only with ``validate_name``."""
        return [(entry["method"], entry["path"]) for entry in self.writes()
                if validate_name or not entry["path"].endswith("/validate-name")]

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


def writes(sim):
    """``sim.writes()``: the logged write requests, whole."""
    return sim.writes()


def write_calls(sim):
    """``sim.write_calls()``: ``(method, path)`` of each write but validate-name."""
    return sim.write_calls()


def registries(sim):
    """``sim.registries()``: ``{name: region}``."""
    return sim.registries()


def clusters(sim):
    """``sim.clusters()``: ``{cluster name: sorted registry names}``."""
    return sim.clusters()
