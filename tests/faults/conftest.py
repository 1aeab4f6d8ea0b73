"""Fixtures of the reliability suite (tests/faults).

``run_module`` is the unit harness's (tests/unit/conftest.py); ``api`` gives the common options with a small
``http_timeout`` and three retries. ``quick_waits`` turns the client's waits between retries into simulated
time: each wait the client asks for is recorded, then the simulator's clock is advanced by it, so a
Retry-After of 30 s or a rate-limit window costs no real time; a request a ``hold`` fault stopped (a slow one
the client gave up on) is served before the retry goes out. ``playbook`` runs ansible-playbook against
the simulator and keeps everything it printed.
"""

import subprocess

import pytest

from faults_support import REPO, TOKEN, Run, playbook_command, run  # pylint: disable=import-error

from ansible_collections.dockyard.docr.plugins.module_utils import _client  # noqa: E402  pylint: disable=wrong-import-order


@pytest.fixture
def api(sim):
    """Common options pointing at the simulator (reset first); small timeout, a few retries."""
    return dict(token=TOKEN, api_url=sim.url, http_retries=3, http_timeout=1)


@pytest.fixture
def run_module():
    return run


@pytest.fixture
def quick_waits(sim, monkeypatch):
    """The client's retry waits, recorded; each is spent on the simulator's clock, not the real one."""
    waits = []
    original = _client.DocrClient._wait_for

    def wait_for(self, attempt, headers, status):
        seconds = original(self, attempt, headers, status)
        waits.append(seconds)
        if seconds >= 1:
            sim.advance(seconds)
        # a held (slow) request lands now, after the client gave up on it and before its retry
        sim.release()
        sim.settle()
        return 0.0

    monkeypatch.setattr(_client.DocrClient, "_wait_for", wait_for)
    return waits


@pytest.fixture
def playbook(sim, tmp_path):
    """``playbook(path, extra_vars, verbosity=0, check=False, log=None)`` -> Run (waits for it)."""

    def run(path, extra_vars=None, verbosity=0, check=False, log=None):
        cmd, env = playbook_command(sim, tmp_path, path, extra_vars, verbosity, check)
        if log:
            env["ANSIBLE_LOG_PATH"] = str(log)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, cwd=REPO, check=False)
        return Run(proc, log)

    return run
