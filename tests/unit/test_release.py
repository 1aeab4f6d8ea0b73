"""The collection as a user gets it: one version everywhere, a changelog that agrees, a licence in the tarball.

- galaxy.yml's version is the user agent's (``_client.COLLECTION_VERSION``) and the one README.md,
  docs/awx.md and execution-environment.yml name.
- changelogs/changelog.yaml: before a release is cut, galaxy.yml's version is newer than every release in it
  and fragments wait in changelogs/fragments/; once it is cut (``hack/release.sh VERSION``), the newest
  release is galaxy.yml's version and CHANGELOG.rst has its section. Both states pass.
- ``ansible-galaxy collection build`` puts COPYING (the GPL-3.0 text) into the tarball, with the rest of
  what a user needs, and leaves the development files out.
"""

import glob
import os
import re
import subprocess
import sys
import tarfile

import yaml
from ansible.module_utils.compat.version import LooseVersion

from ansible_collections.dockyard.docr.plugins.module_utils import _client

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def read(*parts):
    with open(os.path.join(REPO, *parts)) as handle:
        return handle.read()


def galaxy():
    return yaml.safe_load(read("galaxy.yml"))


def releases():
    return (yaml.safe_load(read("changelogs", "changelog.yaml")) or {}).get("releases") or {}


def test_user_agent_is_galaxy_version():
    version = galaxy()["version"]
    assert re.match(r"^\d+\.\d+\.\d+$", version), version
    assert _client.COLLECTION_VERSION == version
    assert _client.USER_AGENT == "dockyard.docr/" + version


def test_docs_name_galaxy_version():
    """Every place that names the collection's version names galaxy.yml's."""
    version = galaxy()["version"]
    patterns = {
        "README.md": [r"early release \((\d+\.\d+\.\d+)\)", r"dockyard-docr-(\d+\.\d+\.\d+)\.tar\.gz",
                      r"docr\.git,(\d+\.\d+\.\d+)", r"^ +version: (\d+\.\d+\.\d+)$"],
        os.path.join("docs", "awx.md"): [r"dockyard-docr-ee:(\d+\.\d+\.\d+)"],
        "execution-environment.yml": [r"dockyard-docr-ee:(\d+\.\d+\.\d+)", r"dockyard-docr-(\d+\.\d+\.\d+)\.tar\.gz"],
    }
    for path, regexes in patterns.items():
        text = read(path)
        for regex in regexes:
            found = re.findall(regex, text, re.M)
            assert found, "%s no longer says %r: update this test" % (path, regex)
            assert set(found) == {version}, "%s names version %s, galaxy.yml %s" % (path, sorted(set(found)), version)


def test_changelog_agrees_with_galaxy_version():
    version = galaxy()["version"]
    released = releases()
    fragments = glob.glob(os.path.join(REPO, "changelogs", "fragments", "*.yml"))
    older = [v for v in released if LooseVersion(v) < LooseVersion(version)]
    if version in released:
        # released: the newest release, rendered
        assert sorted(older) == sorted(v for v in released if v != version), "a release newer than galaxy.yml's version"
        rst = read("CHANGELOG.rst")
        assert re.search(r"^v%s\n=+$" % re.escape(version), rst, re.M), "CHANGELOG.rst has no section for %s" % version
        assert "releases" in read("changelogs", "changelog.yaml")
    else:
        # not released yet: galaxy.yml's version is the next one, and there is something to release
        assert sorted(older) == sorted(released), "changelog.yaml has a release newer than galaxy.yml's version %s" % version
        assert fragments, "galaxy.yml's version %s is not released and no fragment waits for it" % version


def test_new_modules_and_roles_are_announced():
    """antsibull-changelog announces modules and roles whose version_added is a release: each has one."""
    versions = set(releases()) | {galaxy()["version"]}
    for path in glob.glob(os.path.join(REPO, "plugins", "modules", "*.py")):
        found = re.findall(r"^version_added: (\S+)$", read(path), re.M)
        assert len(found) == 1 and found[0] in versions, (path, found)
    for path in glob.glob(os.path.join(REPO, "roles", "*", "meta", "argument_specs.yml")):
        main = yaml.safe_load(read(path))["argument_specs"]["main"]
        assert str(main.get("version_added")) in versions, path


def test_tarball_holds_the_licence(tmp_path):
    assert "GPL-3.0-or-later" in galaxy()["license"]
    copying = read("COPYING")
    assert copying.lstrip().startswith("GNU GENERAL PUBLIC LICENSE") and "Version 3, 29 June 2007" in copying
    assert "END OF TERMS AND CONDITIONS" in copying and len(copying) > 30000     # the whole text, not a notice
    proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force",
                           "--output-path", str(tmp_path), REPO],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarball = tmp_path / ("dockyard-docr-%s.tar.gz" % galaxy()["version"])
    with tarfile.open(str(tarball)) as archive:
        names = set(archive.getnames())
        assert archive.extractfile("COPYING").read().decode("utf-8") == copying
    for wanted in ("MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "plugins/module_utils/_client.py",
                   "playbooks/credentials.yml", "roles/gc_schedule/tasks/main.yml", "requirements.txt",
                   "changelogs/changelog.yaml"):
        assert wanted in names, wanted
    for unwanted in (".venv", "Makefile", "hack", "collections", "build", ".git"):
        assert not any(n == unwanted or n.startswith(unwanted + "/") for n in names), unwanted
    if os.path.exists(os.path.join(REPO, "CHANGELOG.rst")):
        assert "CHANGELOG.rst" in names
