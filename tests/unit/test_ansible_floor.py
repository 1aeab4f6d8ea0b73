"""The ansible-core floor the collection claims is the one its tests run on, and every place says the same.

meta/runtime.yml's ``requires_ansible`` is the claim. requirements-dev.txt (what `make test` installs),
the execution environment, the roles' ``min_ansible_version``, the gc_schedule venv and README must agree
with it, and the ansible-core running these tests must be that release line.
"""

import os
import re

import yaml
from ansible.release import __version__ as ANSIBLE_CORE_VERSION

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(*parts):
    with open(os.path.join(REPO, *parts)) as handle:
        return handle.read()


def minor(version):
    """``"2.19.0"`` -> ``(2, 19)``."""
    match = re.match(r"(\d+)\.(\d+)", version)
    assert match, version
    return int(match.group(1)), int(match.group(2))


FLOOR_SPEC = yaml.safe_load(read("meta", "runtime.yml"))["requires_ansible"]
FLOOR = minor(re.fullmatch(r">=\s*(\d+\.\d+\.\d+)", FLOOR_SPEC).group(1))
FLOOR_TEXT = "%d.%d" % FLOOR


def test_the_tests_run_on_the_claimed_floor():
    assert minor(ANSIBLE_CORE_VERSION) == FLOOR, (
        "meta/runtime.yml claims ansible-core %s, the tests run on %s" % (FLOOR_SPEC, ANSIBLE_CORE_VERSION))


def test_requirements_dev_installs_the_floor():
    [line] = [line for line in read("requirements-dev.txt").splitlines() if line.startswith("ansible-core")]
    lower = re.search(r">=\s*([\d.]+)", line).group(1)
    upper = re.search(r"<\s*([\d.]+)", line).group(1)
    assert minor(lower) == FLOOR and minor(upper) == (FLOOR[0], FLOOR[1] + 1), line


def test_execution_environment_installs_the_floor():
    spec = yaml.safe_load(read("execution-environment.yml"))["dependencies"]["ansible_core"]["package_pip"]
    # a range from the floor, or the exact release of the floor's line the tests ran (a pinned image)
    assert minor(re.search(r"(?:>=|==)\s*([\d.]+)", spec).group(1)) == FLOOR, spec


def test_roles_and_docs_say_the_same():
    for role in sorted(os.listdir(os.path.join(REPO, "roles"))):
        meta = yaml.safe_load(read("roles", role, "meta", "main.yml"))
        assert str(meta["galaxy_info"]["min_ansible_version"]) == FLOOR_TEXT, role
    gc_defaults = yaml.safe_load(read("roles", "gc_schedule", "defaults", "main.yml"))
    pins = [item for value in gc_defaults.values() if isinstance(value, list)
            for item in value if isinstance(item, str) and item.startswith("ansible-core")]
    assert all(pin == "ansible-core>=" + FLOOR_TEXT for pin in pins), pins
    assert "`ansible-core` %s or later" % FLOOR_TEXT in read("README.md")
    assert "ansible-core %s" % FLOOR_TEXT in read("docs", "awx.md")
