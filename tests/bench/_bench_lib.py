"""Shared helpers of the benchmarks (tests/bench/bench.py) and their smoke test.

Nothing here asserts a timing: the benchmarks measure and print, the smoke test checks call counts.

- ``Sim``: the simulator, started as a subprocess (``python -m tests.simulator --port 0``): the pytest ``sim``
  fixture's admin client (tests/helpers.py), so the bench functions accept either.
- ``playbook()``: one ``ansible-playbook`` run against the working tree (collections/ symlink).
- ``run_module_inprocess()``: a module's ``main()`` run in this process (for runs that give the module's client
  their own clock and sleep: its rate limiter and retries).
"""

import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:  # run as a plain script (hack/bench.sh sets PYTHONPATH; this covers a direct run)
    sys.path.insert(0, REPO)

# COLLECTIONS, expose_collection: for _benchmarks.py
from tests.helpers import (  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
    ANSIBLE_PLAYBOOK, COLLECTIONS, Simulator, expose_collection, playbook_env as _playbook_env, run_module, start_simulator,
    stop_process)

SITE = os.path.join(REPO, "playbooks", "site.yml")
EXAMPLE_LAYOUT = os.path.join(REPO, "playbooks", "layouts", "example-multi-region.yml")
REGIONS = ("nyc3", "sfo3", "ams3", "fra1", "sgp1", "blr1", "syd1", "sfo2")
TOKEN = "dop_v1_bench-token-0123456789abcdef0123456789abcdef"
# Every benchmark but the retention one runs without rate limits: they count calls, not waits.
NO_RATE_LIMIT = {"per_minute": 0, "per_hour": 0}


class Sim(Simulator):
    """A simulator subprocess and its admin API (the pytest fixture's client); a context manager."""

    timeout = 120

    def __init__(self):
        process, url = start_simulator()
        super().__init__(url, process)

    def close(self):
        stop_process(self.process)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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
    return _playbook_env(sim_url, TOKEN)


def playbook(sim_url, path, extra_vars=None, env=None, timeout=900):
    """Run ``ansible-playbook path`` on localhost; return ``(rc, output, seconds)``."""
    cmd = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", path,
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
    return run_module(module, args, secrets=(TOKEN,), timing=timing)


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
