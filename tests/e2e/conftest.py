"""End-to-end support: the simulator with a real registry behind it (``--data-plane distribution``), skopeo, modules.

Run by ``make e2e`` (hack/e2e.sh); ``make unit`` leaves this folder out. Needs ``docker-registry`` and ``skopeo``.
"""

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
NEEDED = ("docker-registry", "skopeo")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


# The in-process module runner of the unit tests (it also makes ansible_collections.dockyard.docr importable).
units = _load("docr_e2e_unit_support", REPO_ROOT / "tests" / "unit" / "conftest.py")
schema = _load("pull_secret_schema", REPO_ROOT / "tests" / "unit" / "pull_secret_schema.py")
run = units.run
TOKEN = units.TOKEN


def _root_conftest(config):
    """tests/conftest.py as pytest loaded it: its Simulator class and the records its session-end check validates."""
    for plugin in config.pluginmanager.get_plugins():
        if str(getattr(plugin, "__file__", "")) == str(REPO_ROOT / "tests" / "conftest.py"):
            return plugin
    raise RuntimeError("tests/conftest.py is not loaded")


class Skopeo:
    """``skopeo`` against the data plane, plain HTTP on loopback, with an accept-anything signature policy."""

    def __init__(self, address, workdir):
        self.address = address
        self.policy = os.path.join(workdir, "policy.json")
        with open(self.policy, "w", encoding="utf-8") as handle:
            json.dump({"default": [{"type": "insecureAcceptAnything"}]}, handle)
        self.env = dict((key, value) for key, value in os.environ.items() if "proxy" not in key.lower())
        self.env["HOME"] = workdir  # no ~/.docker/config.json or auth.json of the machine's user is ever read

    def run(self, *args):
        done = subprocess.run(["skopeo", "--policy", self.policy] + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120, env=self.env, check=False)
        return done.returncode, done.stdout, done.stderr

    def push(self, layout, ref, image, authfile):
        """Copy ``oci:LAYOUT:REF`` to ``ADDRESS/IMAGE``; ``(returncode, output)``."""
        code, out, err = self.run("copy", "--quiet", "--authfile", str(authfile), "--dest-tls-verify=false",
                                  "oci:%s:%s" % (layout, ref), "docker://%s/%s" % (self.address, image))
        return code, out + err

    def pull(self, image, authfile, into):
        code, out, err = self.run("copy", "--quiet", "--authfile", str(authfile), "--src-tls-verify=false",
                                  "docker://%s/%s" % (self.address, image), "oci:%s:pulled" % into)
        return code, out + err

    def digest(self, image, authfile):
        """The manifest digest ``image`` resolves to, or None (with the output) when it does not."""
        code, out, err = self.run("inspect", "--raw", "--authfile", str(authfile), "--tls-verify=false",
                                  "docker://%s/%s" % (self.address, image))
        if code != 0:
            return None, err
        return "sha256:" + hashlib.sha256(out.encode("utf-8")).hexdigest(), out


@pytest.fixture(scope="session")
def e2e_simulator(request):
    missing = [name for name in NEEDED if shutil.which(name) is None]
    if missing:
        pytest.fail("the end-to-end suite needs %s (Debian: apt-get install -y docker-registry skopeo; "
                    "`make e2e` installs them when run as root)" % " and ".join(missing))
    root = _root_conftest(request.config)
    handle, record = tempfile.mkstemp(prefix="docr-sim-e2e-", suffix=".jsonl")
    os.close(handle)
    root._RECORDS.append(record)  # pylint: disable=protected-access  (validated against the spec at session end)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.simulator", "--host", "127.0.0.1", "--port", "0", "--record", record,
         "--data-plane", "distribution"],
        cwd=str(REPO_ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    box = {}
    reader = threading.Thread(target=lambda: box.setdefault("line", process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(30)
    line = (box.get("line") or b"").decode("utf-8").split()
    if not line or not line[0].startswith("http://"):
        process.kill()
        raise RuntimeError("the simulator did not start: %r %s" % (line, process.stderr.read().decode("utf-8", "replace")))
    sim = root.Simulator(line[0], process, record)
    try:
        yield sim
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class E2E:
    """What a test uses: the simulator handle, the data plane's address and storage, skopeo, module options."""

    def __init__(self, sim, workdir):
        self.sim = sim
        plane = sim._call("GET", "/_sim/dataplane")  # pylint: disable=protected-access
        self.address = plane["address"]
        self.storage = Path(plane["storage"])
        self.skopeo = Skopeo(self.address, str(workdir))
        self.api = dict(token=TOKEN, api_url=sim.url, http_retries=2)

    def tokens(self):
        return self.sim._call("GET", "/_sim/dataplane")["tokens"]  # pylint: disable=protected-access

    def blob_bytes(self):
        """``{digest: size}`` of the blobs on the registry's disk."""
        found = {}
        base = self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256"
        if base.is_dir():
            for data in base.glob("*/*/data"):
                found["sha256:" + data.parent.name] = data.stat().st_size
        return found


@pytest.fixture
def e2e(e2e_simulator, tmp_path):  # pylint: disable=redefined-outer-name
    """The data-plane simulator, reset (empty account, empty registry storage, clock at real time)."""
    e2e_simulator.reset()
    return E2E(e2e_simulator, tmp_path)
