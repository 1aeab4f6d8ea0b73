"""Helpers of the reliability suite (tests/faults), shared by its conftest and its test modules.

Named uniquely (not ``conftest``) so that ``import faults_support`` cannot pick up another directory's module.
What every suite shares (the module runner, playbook environment, simulator helpers) is in tests/helpers.py.
"""

import json
import sys

# re-exported for the suite's modules
from tests.helpers import (  # noqa: F401  pylint: disable=unused-import
    ANSIBLE_PLAYBOOK, COLLECTIONS, REPO, TOKEN, PlaybookRun as Run, playbook_env, run_module as run,
    expose_collection, registries, clusters, write_calls as writes)

expose_collection()  # the suite's modules import ansible_collections.dockyard.docr


def playbook_command(sim, tmp_path, path, extra_vars=None, verbosity=0, check=False, token=TOKEN):
    """(argv, env) of an ansible-playbook run of ``path`` against the simulator (token in the environment only)."""
    variables = dict(ansible_python_interpreter=sys.executable)
    variables.update(extra_vars or {})
    vars_file = tmp_path / ("vars-%d.json" % len(list(tmp_path.glob("vars-*.json"))))
    vars_file.write_text(json.dumps(variables))
    env = playbook_env(sim.url, token, tmp_path)
    cmd = [ANSIBLE_PLAYBOOK, "-i", "localhost,", str(path), "-e", "@" + str(vars_file)]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    if check:
        cmd += ["--check", "--diff"]
    return cmd, env
