"""README.md's commands, run as written in bash against the API simulator.

The blocks under a ``<!-- README test: NAME -->`` marker are read from README.md; every ``$ `` line of a
``console`` block is run verbatim, in order, with ``set -e``. Each test runs in a copy of the working tree
(the files git tracks or does not ignore) with its own ``HOME``, so nothing is installed into the real
``~/.ansible`` and no earlier install can stand in for the one the README makes.

- Install: a new venv with ansible-core, pydo and requests from the package index, the collection built
  into a tarball and installed from it, the first playbook run against the simulator.
- Simulator: the development venv, the simulator in the background, the demo playbook, the simulator stopped.
- Git URL: the README's ``ansible-galaxy collection install git+https://...`` with the URL swapped for this
  repository (``git+file://``, at HEAD), since the tests run offline.
"""

import os
import re
import signal
import subprocess
import sys
import textwrap

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE_VARS = ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS", "ANSIBLE_CONFIG", "ANSIBLE_HOME",
                "VIRTUAL_ENV", "PYTHONPATH")


def readme_blocks():
    """{name: (language, text)} of the code blocks that follow a ``<!-- README test: name -->`` marker."""
    with open(os.path.join(REPO, "README.md")) as handle:
        text = handle.read()
    found = {}
    pattern = re.compile(r"^( *)<!-- README test: ([\w ]+) -->\n\1```(\w+)\n(.*?)^\1```$", re.M | re.S)
    for match in pattern.finditer(text):
        indent, name, language, body = match.groups()
        found[name] = (language, textwrap.dedent("\n".join(line[len(indent):] if line.startswith(indent) else line
                                                           for line in body.splitlines())))
    return found


def commands(block):
    language, text = block
    assert language == "console", language
    lines = [line[2:] for line in text.splitlines() if line.startswith("$ ")]
    assert lines
    return lines


def galaxy_version():
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        return yaml.safe_load(handle)["version"]


def copy_tree(dest):
    """The working tree as a checkout has it: tracked files and untracked ones git does not ignore."""
    listed = subprocess.run(["git", "-C", REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            check=True, capture_output=True).stdout
    names = [n for n in listed.decode("utf-8").split("\0") if n and os.path.lexists(os.path.join(REPO, n))]
    os.makedirs(str(dest))
    packed = subprocess.run(["tar", "-C", REPO, "--null", "-T", "-", "-cf", "-"], input="\0".join(names).encode(),
                            check=True, capture_output=True).stdout
    subprocess.run(["tar", "-C", str(dest), "-xf", "-"], input=packed, check=True)


def clean_env(home, **extra):
    env = dict((k, v) for k, v in os.environ.items()
               if k not in ANSIBLE_VARS and not k.startswith("DIGITALOCEAN_") and not k.startswith("DO_"))
    venv_bin = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    # pip may reuse the wheels it already downloaded (a cache, not an install)
    env.setdefault("PIP_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "pip"))
    env.update(HOME=str(home), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", no_proxy="127.0.0.1,localhost,::1",
               NO_PROXY="127.0.0.1,localhost,::1")
    env.update(extra)
    return env


def run_script(lines, cwd, env, timeout):
    """Run the lines in one bash (its own session: whatever it leaves behind is stopped afterwards)."""
    script = "set -euo pipefail\n" + "\n".join(lines) + "\n"
    proc = subprocess.Popen(["bash", "-c", script], cwd=str(cwd), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out = proc.communicate(timeout=timeout)[0]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait()
    return proc.returncode, out.decode("utf-8", "replace")


def test_readme_blocks_are_there():
    blocks = readme_blocks()
    assert sorted(blocks) == ["first playbook", "first run", "install", "requirements", "simulator", "tarball"]
    version = galaxy_version()
    requirements = yaml.safe_load(blocks["requirements"][1])
    [entry] = requirements["collections"]
    assert entry["type"] == "git" and entry["version"] == version and entry["name"].endswith(".git")
    assert "dockyard-docr-%s.tar.gz" % version in blocks["tarball"][1]


def test_install_section_verbatim(sim, tmp_path):
    """From nothing to the first playbook: venv, pydo, the collection from its tarball, a run against the API."""
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "readme-first", "region": "fra1"}]})
    blocks = readme_blocks()
    checkout = tmp_path / "docr"
    copy_tree(checkout)
    home = tmp_path / "home"
    home.mkdir()
    language, first = blocks["first playbook"]
    assert language == "yaml" and first.startswith("# first.yml\n")
    (checkout / "first.yml").write_text(first)
    lines = commands(blocks["install"]) + commands(blocks["tarball"]) + commands(blocks["first run"])
    # the README's export of the token is kept; the API address is the simulator's, as the README says for a try
    rc, out = run_script(lines, checkout, clean_env(home, DIGITALOCEAN_API_URL=sim.url), timeout=900)
    assert rc == 0, out[-6000:]
    installed = home / ".ansible" / "collections" / "ansible_collections" / "dockyard" / "docr"
    assert (installed / "MANIFEST.json").is_file() and not os.path.islink(str(installed))
    assert '"version": "%s"' % galaxy_version() in (installed / "MANIFEST.json").read_text()
    assert (home / "ansible-venv" / "bin" / "ansible-playbook").is_file()
    assert "['readme-first'] on basic" in out, out[-4000:]
    assert re.search(r"localhost\s*: ok=2\s+changed=0\s+unreachable=0\s+failed=0", out), out[-4000:]
    assert [r for r in sim.requests() if r["method"] != "GET"] == []


def test_simulator_section_verbatim(tmp_path):
    """The development venv, the simulator in the background, the demo playbook against it, the simulator stopped."""
    checkout = tmp_path / "docr"
    copy_tree(checkout)
    os.symlink(os.path.join(REPO, ".venv"), str(checkout / ".venv"))     # `make venv` finds it up to date
    home = tmp_path / "home"
    home.mkdir()
    rc, out = run_script(commands(readme_blocks()["simulator"]), checkout, clean_env(home), timeout=600)
    assert rc == 0, out[-6000:]
    assert "PLAY RECAP" in out and re.search(r"localhost\s*: ok=\d+\s+changed=[1-9]\d*\s+unreachable=0\s+failed=0", out), out[-4000:]
    assert (checkout / "build" / "simulator.url").read_text().startswith("http://127.0.0.1:")


def test_git_url_install_of_this_repository(tmp_path):
    """The README's git form, pointed at this repository (the tests run offline) at its current commit."""
    text = readme_blocks()["tarball"][1]
    with open(os.path.join(REPO, "README.md")) as handle:
        readme = handle.read()
    [command] = re.findall(r"^ *\$ (ansible-galaxy collection install git\+https://\S+)$", readme, re.M)
    assert "docr.git,%s" % galaxy_version() in command and "tar.gz" in text
    if subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], check=False, capture_output=True).returncode != 0:
        return   # not a git checkout: nothing to install from
    head = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    local = re.sub(r"git\+https://\S+?\.git,\S+", "git+file://%s,%s" % (REPO, head), command)
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    rc, out = run_script([local], tmp_path, env, timeout=300)
    assert rc == 0, out[-4000:]
    installed = home / ".ansible" / "collections" / "ansible_collections" / "dockyard" / "docr"
    assert (installed / "COPYING").is_file() and (installed / "plugins" / "modules" / "docr_registry.py").is_file()
    assert not (installed / "Makefile").exists() and not (installed / "hack").exists()
