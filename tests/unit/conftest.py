"""Run dockyard.docr modules in-process, with real pydo over real HTTP to the simulator."""

import io
import json
import os
import sys
from contextlib import redirect_stdout

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "dockyard", "docr")


def _expose_collection():
    """Make ``ansible_collections.dockyard.docr`` importable from the working tree (git-ignored link)."""
    if not os.path.exists(LINK):
        os.makedirs(os.path.dirname(LINK), exist_ok=True)
        try:
            os.symlink(REPO, LINK)
        except FileExistsError:
            pass
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)


_expose_collection()

from ansible.module_utils.testing import patch_module_args  # noqa: E402  pylint: disable=wrong-import-position

TOKEN = "dop_v1_unit-test-token-0123456789abcdef"


class ModuleResult(dict):
    """A module's JSON result, plus how it exited."""

    @property
    def failed(self):
        return bool(self.get("failed"))


def run(module, args, check_mode=False, diff=False, timing=None):
    """Run ``module.main()`` with ``args`` and return its result (exit or fail alike).

    ``timing`` (``clock``, ``sleep``) is handed to the module's client, for modules whose ``main`` takes it.
    """
    full = dict(args)
    full["_ansible_check_mode"] = check_mode
    full["_ansible_diff"] = diff
    out = io.StringIO()
    with patch_module_args(full), redirect_stdout(out):
        with pytest.raises(SystemExit) as exited:
            module.main(**timing) if timing else module.main()
    result = ModuleResult(json.loads(out.getvalue()))
    result["exit_code"] = exited.value.code
    assert TOKEN not in out.getvalue(), "the token leaked into the module's output"
    return result


@pytest.fixture
def api(sim):
    """Common options pointing at the simulator (``sim`` resets it first)."""
    return dict(token=TOKEN, api_url=sim.url, http_retries=2)


@pytest.fixture
def run_module():
    return run
