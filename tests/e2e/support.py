"""Helpers of the end-to-end suite: the unit tests' in-process module runner, the pull secret check, skopeo."""

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

# the in-process module runner every suite uses
from tests.helpers import TOKEN, expose_collection, run_module as run  # noqa: F401  pylint: disable=unused-import

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
NEEDED = ("docker-registry", "skopeo")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


expose_collection()
schema = _load("pull_secret_schema", REPO_ROOT / "tests" / "unit" / "pull_secret_schema.py")


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
