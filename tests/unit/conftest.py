"""Run dockyard.docr modules in-process, with real pydo over real HTTP to the simulator."""

import pytest

from tests.helpers import TOKEN, expose_collection, run_module

expose_collection()

# ``run(module, args, check_mode=False, diff=False)``: ``module.main()`` with ``args``, its result (exit or fail
# alike); it fails when the token leaks into the module's output. tests/faults and tests/e2e use it too.
run = run_module


@pytest.fixture
def api(sim):
    """Common options pointing at the simulator (``sim`` resets it first)."""
    return dict(token=TOKEN, api_url=sim.url, http_retries=2)


@pytest.fixture
def run_module():  # pylint: disable=redefined-outer-name,function-redefined
    return run
