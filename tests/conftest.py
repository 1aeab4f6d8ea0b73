"""Shared pytest support: the API simulator fixtures and the end-of-session OpenAPI contract check.

- ``simulator`` (session): one ``python -m tests.simulator`` subprocess recording every /v2 exchange, handled
  through ``tests.helpers.Simulator`` (one method per admin call).
- ``sim`` (function): the same object, reset before the test.
- ``pytest_sessionfinish``: every recorded exchange is validated against the official spec subset in
  ``<repo>/tests/openapi``; any violation is printed and fails the session.
"""

import collections
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `python -m pytest` from the root puts it there; a bare `pytest` does not
    sys.path.insert(0, str(REPO_ROOT))

# The admin client and the process helpers live in tests/helpers.py (the benchmarks use them outside pytest);
# tests/e2e/conftest.py reaches Simulator and stop_process through this module.
from tests.helpers import (  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
    Simulator, SimulatorAdminError, start_simulator, stop_process)
_RECORDS = []


def load_contract_module():
    """``tests/simulator/contract.py``, loaded by path (``tests`` is not a package on sys.path under pytest)."""
    spec = importlib.util.spec_from_file_location("docr_simulator_contract", str(REPO_ROOT / "tests" / "simulator" / "contract.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def simulator():
    """One simulator subprocess for the whole session, recording /v2 exchanges for the contract check."""
    handle, record = tempfile.mkstemp(prefix="docr-sim-", suffix=".jsonl")
    os.close(handle)
    _RECORDS.append(record)
    process, url = start_simulator("--record", record)
    try:
        yield Simulator(url, process, record)
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
