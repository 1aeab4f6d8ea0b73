"""Shared helpers of the benchmarks (tests/bench/bench.py) and their smoke test.

Nothing here asserts a timing: the benchmarks measure and print, the smoke test checks call counts.

- ``Sim``: the simulator, started as a subprocess (``python -m tests.simulator --port 0``), with the
  same admin methods as the pytest ``sim`` fixture, so the bench functions accept either.
- ``playbook()``: one ``ansible-playbook`` run against the working tree (collections/ symlink).
- ``run_module_inprocess()``: a module's ``main()`` run in this process (for runs that give the module's client
  their own clock and sleep: its rate limiter and retries).
"""

import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from contextlib import redirect_stdout

import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "dockyard", "docr")
SITE = os.path.join(REPO, "playbooks", "site.yml")
EXAMPLE_LAYOUT = os.path.join(REPO, "playbooks", "layouts", "example-multi-region.yml")
REGIONS = ("nyc3", "sfo3", "ams3", "fra1", "sgp1", "blr1", "syd1", "sfo2")
TOKEN = "dop_v1_bench-token-0123456789abcdef0123456789abcdef"
# Every benchmark but the retention one runs without rate limits: they count calls, not waits.
NO_RATE_LIMIT = {"per_minute": 0, "per_hour": 0}


def expose_collection():
    """Make ``ansible_collections.dockyard.docr`` importable and findable from the working tree."""
    if not os.path.exists(LINK):
        os.makedirs(os.path.dirname(LINK), exist_ok=True)
        try:
            os.symlink(os.path.relpath(REPO, os.path.dirname(LINK)), LINK)
        except FileExistsError:
            pass
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)


class Sim(object):
    """A simulator subprocess and its admin API (same method names as the pytest fixture)."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.simulator", "--host", "127.0.0.1", "--port", "0"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        box = {}
        reader = threading.Thread(target=lambda: box.setdefault("line", self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(15)
        line = (box.get("line") or b"").decode("utf-8").strip()
        if not line.startswith("http://"):
            self.process.kill()
            raise RuntimeError("the simulator did not start: %r" % line)
        self.url = line.split()[0].rstrip("/")
        self.http = requests.Session()
        self.http.trust_env = False

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, path, body=None):
        response = self.http.request(method, self.url + path, json=body, timeout=120)
        if not 200 <= response.status_code < 300:
            raise RuntimeError("simulator admin call %s %s failed: %s %s" % (method, path, response.status_code, response.text))
        return response.json() if response.content else None

    def reset(self):
        self._call("POST", "/_sim/reset")

    def seed(self, data):
        return self._call("POST", "/_sim/seed", data)

    def requests(self):
        return self._call("GET", "/_sim/requests")["requests"]

    def clear_requests(self):
        self._call("DELETE", "/_sim/requests")

    def fault(self, **rule):
        return self._call("POST", "/_sim/faults", rule)

    def clear_faults(self):
        self._call("DELETE", "/_sim/faults")

    def advance(self, seconds):
        return self._call("POST", "/_sim/clock", {"advance": seconds})["now"]

    def state(self):
        return self._call("GET", "/_sim/state")


def count(requests_log):
    """``{"calls", "reads", "writes", "429"}`` of a request log."""
    writes = sum(1 for entry in requests_log if entry["method"] != "GET")
    return {
        "calls": len(requests_log),
        "reads": len(requests_log) - writes,
        "writes": writes,
        "429": sum(1 for entry in requests_log if entry.get("status") == 429),
    }


def playbook_env(sim_url):
    expose_collection()
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        DIGITALOCEAN_ACCESS_TOKEN=TOKEN,
        DIGITALOCEAN_API_URL=sim_url,
        no_proxy="127.0.0.1,localhost",
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def playbook(sim_url, path, extra_vars=None, env=None, timeout=900):
    """Run ``ansible-playbook path`` on localhost; return ``(rc, output, seconds)``."""
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local", path,
           "-e", "ansible_python_interpreter=" + sys.executable]
    if extra_vars is not None:
        cmd += ["-e", json.dumps(extra_vars)]
    full_env = playbook_env(sim_url)
    full_env.update(env or {})
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=full_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout, check=False)
    seconds = time.perf_counter() - start
    out = proc.stdout.decode("utf-8", "replace")
    if TOKEN in out:
        raise RuntimeError("the token leaked into the output of %s" % path)
    if proc.returncode != 0:
        raise RuntimeError("ansible-playbook %s failed (rc=%s):\n%s" % (path, proc.returncode, out[-4000:]))
    return proc.returncode, out, seconds


def run_module_inprocess(module, args, timing=None):
    """Run ``module.main()`` here, with ``args`` (and ``timing`` for its client); return its JSON result."""
    from ansible.module_utils.testing import patch_module_args  # pylint: disable=import-outside-toplevel

    full = dict(args)
    full.setdefault("_ansible_check_mode", False)
    full.setdefault("_ansible_diff", False)
    out = io.StringIO()
    with patch_module_args(full), redirect_stdout(out):
        try:
            module.main(**timing) if timing else module.main()
        except SystemExit:
            pass
    text = out.getvalue()
    if TOKEN in text:
        raise RuntimeError("the token leaked into the module's output")
    return json.loads(text)


def median(values):
    return statistics.median(values) if values else None


def table(headers, rows):
    """Format rows (lists) under headers as a plain text table."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("  ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
