"""End-to-end support: the simulator with a real registry behind it (``--data-plane distribution``), skopeo, modules.

Run by ``make e2e`` (hack/e2e.sh); ``make unit`` leaves this folder out. Needs ``docker-registry`` and ``skopeo``.
"""

import os
import shutil
import tempfile

import pytest

from support import E2E, NEEDED, REPO_ROOT

from tests.helpers import Simulator, start_simulator, stop_process


def _root_conftest(config):
    """tests/conftest.py as pytest loaded it: the records its session-end check validates."""
    for plugin in config.pluginmanager.get_plugins():
        if str(getattr(plugin, "__file__", "")) == str(REPO_ROOT / "tests" / "conftest.py"):
            return plugin
    raise RuntimeError("tests/conftest.py is not loaded")


@pytest.fixture(scope="session")
def e2e_simulator(request):
    missing = [name for name in NEEDED if shutil.which(name) is None]
    if missing:
        pytest.fail("the end-to-end suite needs %s (Debian: apt-get install -y docker-registry skopeo; "
                    "`make e2e` installs them when run as root)" % " and ".join(missing))
    root = _root_conftest(request.config)
    handle, record = tempfile.mkstemp(prefix="docr-sim-e2e-", suffix=".jsonl")
    os.close(handle)
    # validated against the spec at session end, with the other records
    root._RECORDS.append(record)  # pylint: disable=protected-access
    process, url = start_simulator("--record", record, "--data-plane", "distribution", timeout=30)
    sim = Simulator(url, process, record)
    try:
        yield sim
    finally:
        stop_process(process, grace=15)  # the registry beside it stops with it


@pytest.fixture
def e2e(e2e_simulator, tmp_path):  # pylint: disable=redefined-outer-name
    """The data-plane simulator, reset (empty account, empty registry storage, clock at real time)."""
    e2e_simulator.reset()
    return E2E(e2e_simulator, tmp_path)
