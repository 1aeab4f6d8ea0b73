"""Helpers of the reliability suite (tests/faults), shared by its conftest and its test modules.

Named uniquely (not ``conftest``) so that ``import faults_support`` cannot pick up another directory's module.
"""

import importlib.util
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COLLECTIONS = os.path.join(REPO, "collections")
BIN = os.path.dirname(sys.executable)


def _load_unit_harness():
    """tests/unit/conftest.py, loaded by path: pytest does not share a sibling directory's conftest."""
    spec = importlib.util.spec_from_file_location("docr_unit_harness", os.path.join(REPO, "tests", "unit", "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HARNESS = _load_unit_harness()
TOKEN = HARNESS.TOKEN


def writes(sim):
    """Non-GET requests, except validate-name (a POST that only reads)."""
    return [(r["method"], r["path"]) for r in sim.requests()
            if r["method"] != "GET" and not r["path"].endswith("/validate-name")]


class Run(object):
    """One ansible-playbook run: return code, output, and the recap's counts."""

    def __init__(self, proc, log_path=None):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.log_path = log_path
        recap = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)", self.out)
        self.changed = int(recap.group(2)) if recap else None

    def __str__(self):
        return "rc=%s\n%s\n%s" % (self.rc, self.out[-6000:], self.err[-3000:])

    __repr__ = __str__


def playbook_command(sim, tmp_path, path, extra_vars=None, verbosity=0, check=False, token=TOKEN):
    """(argv, env) of an ansible-playbook run of ``path`` against the simulator (token in the environment only)."""
    variables = dict(ansible_python_interpreter=sys.executable)
    variables.update(extra_vars or {})
    vars_file = tmp_path / ("vars-%d.json" % len(list(tmp_path.glob("vars-*.json"))))
    vars_file.write_text(json.dumps(variables))
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / ".ansible-tmp"),
        ANSIBLE_HOME=str(tmp_path / ".ansible"),
        DIGITALOCEAN_ACCESS_TOKEN=token,
        DIGITALOCEAN_API_URL=sim.url,
        no_proxy="127.0.0.1,localhost",
    )
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(path), "-e", "@" + str(vars_file)]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    if check:
        cmd += ["--check", "--diff"]
    return cmd, env
