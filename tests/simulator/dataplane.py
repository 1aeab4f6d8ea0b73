"""``--data-plane distribution``: a real CNCF distribution registry (Debian's ``docker-registry``) behind the simulator.

- The registry listens on a free loopback port, stores into its own temporary directory (deletes enabled) and
  uses the simulator as its token server (:mod:`tokenauth`).
- The simulator's view of repositories, tags, manifests, blobs and storage usage is read from the registry's
  storage directory (``sync``, called once per request by ``Account.advance_to``), so the DOCR API answers what
  is really stored.
  A simulated registry ``acme`` owns the registry's repositories ``acme/...`` (image ``HOST:PORT/acme/app:1``).
- Tag, manifest and repository deletes through the DOCR API act on that storage, as distribution's own
  deletes do (a tag's directory, a manifest's revision link and the tags pointing at it).
- A GC runs ``docker-registry garbage-collect`` (``--delete-untagged`` for the types that include untagged
  manifests; ``untagged manifests only`` unlinks untagged manifests and leaves blobs to a later blob GC) and
  reports what it deleted on disk as ``blobs_deleted`` / ``freed_bytes``. The registry's storage is shared by
  every simulated registry, so a blob GC sweeps unreferenced blobs of all of them.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from ..helpers import stop_process
from .tokenauth import ISSUER, SERVICE, TokenServer

BINARY = "docker-registry"
V2 = os.path.join("docker", "registry", "v2")


def _die_with_parent():
    """In the child, before exec: Linux sends it SIGTERM when the simulator dies, even by SIGKILL."""
    try:
        import ctypes  # pylint: disable=import-outside-toplevel
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class DataPlaneError(Exception):
    """The registry could not be started or operated."""


class DistributionDataPlane:
    """One ``docker-registry serve`` process and the simulator's view of its storage."""

    def __init__(self, realm, binary=BINARY, host="127.0.0.1"):
        self.realm = realm
        self.binary = binary
        self.host = host
        self.port = None
        self.process = None
        self.workdir = tempfile.mkdtemp(prefix="docr-dataplane-")
        self.root = os.path.join(self.workdir, "storage")
        self.config_path = os.path.join(self.workdir, "config.yml")
        self.log_path = os.path.join(self.workdir, "registry.log")
        self.tokens = TokenServer()
        self.seen = {}  # (registry, repo, digest) -> simulated time first seen; (registry, repo, "tag", tag) -> (digest, time)

    # ------------------------------------------------------------------ process

    @property
    def address(self):
        """``host:port``: the ``auths`` key of the docker credentials and the image reference prefix."""
        return "%s:%d" % (self.host, self.port)

    def _write_config(self):
        with open(os.path.join(self.workdir, "token.crt"), "wb") as handle:
            handle.write(self.tokens.key.cert_pem)
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": self.root}, "delete": {"enabled": True},
                        "maintenance": {"uploadpurging": {"enabled": False}}},
            "http": {"addr": self.address, "secret": secrets.token_hex(16)},
            "auth": {"token": {"realm": self.realm, "service": SERVICE, "issuer": ISSUER,
                               "rootcertbundle": os.path.join(self.workdir, "token.crt")}},
        }
        # JSON is YAML: no PyYAML needed.
        with open(self.config_path, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)

    def start(self, timeout=20.0):
        if shutil.which(self.binary) is None:
            raise DataPlaneError("%s is not installed (Debian: apt-get install docker-registry)" % self.binary)
        os.makedirs(self.root, exist_ok=True)
        for _attempt in range(3):
            self.port = free_port(self.host)
            self._write_config()
            log = open(self.log_path, "ab")  # pylint: disable=consider-using-with
            self.process = subprocess.Popen([self.binary, "serve", self.config_path], stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=_die_with_parent)  # pylint: disable=subprocess-popen-preexec-fn
            log.close()
            if self._wait_ready(timeout):
                return
            self.stop()
        raise DataPlaneError("%s did not start: %s" % (self.binary, self.log_tail()))

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                opener.open("http://%s/v2/" % self.address, timeout=2).close()
                return True
            except urllib.error.HTTPError as err:
                if err.code == 401:  # token auth is on: the registry is serving
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        if self.process is not None:
            stop_process(self.process)
        self.process = None

    def close(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ storage layout

    def _repos_dir(self, registry=None):
        base = os.path.join(self.root, V2, "repositories")
        return os.path.join(base, registry) if registry else base

    def _blob_path(self, digest):
        algo, hexa = digest.split(":", 1)
        return os.path.join(self.root, V2, "blobs", algo, hexa[:2], hexa, "data")

    def _blob_size(self, digest):
        try:
            return os.path.getsize(self._blob_path(digest))
        except OSError:
            return None

    @staticmethod
    def _read_link(path):
        try:
            with open(path, encoding="ascii") as handle:
                return handle.read().strip()
        except OSError:
            return None

    @staticmethod
    def _links(folder):
        """Digests linked under ``folder/sha256/HEX/link``."""
        found = []
        algo_dir = os.path.join(folder, "sha256")
        if os.path.isdir(algo_dir):
            for hexa in sorted(os.listdir(algo_dir)):
                if os.path.isfile(os.path.join(algo_dir, hexa, "link")):
                    found.append("sha256:" + hexa)
        return found

    def _repositories(self, registry):
        """``{repo name: repo dir}`` for the registry's namespace."""
        base = self._repos_dir(registry)
        found = {}
        for current, dirs, _files in os.walk(base):
            if "_manifests" in dirs:
                found[os.path.relpath(current, base).replace(os.sep, "/")] = current
            dirs[:] = [name for name in dirs if not name.startswith("_")]
        return found

    def blob_files(self):
        """``{digest: size}`` of every blob stored on disk (the whole data plane)."""
        found = {}
        base = os.path.join(self.root, V2, "blobs", "sha256")
        if os.path.isdir(base):
            for prefix in os.listdir(base):
                for hexa in os.listdir(os.path.join(base, prefix)):
                    data = os.path.join(base, prefix, hexa, "data")
                    if os.path.isfile(data):
                        found["sha256:" + hexa] = os.path.getsize(data)
        return found

    def _manifest_blobs(self, digest):
        """The config and layer blobs a stored manifest references, with their sizes."""
        try:
            with open(self._blob_path(digest), "rb") as handle:
                document = json.loads(handle.read().decode("utf-8"))
        except (OSError, ValueError):
            return []
        refs = []
        if isinstance(document.get("config"), dict):
            refs.append(document["config"])
        refs.extend(item for item in document.get("layers") or [] if isinstance(item, dict))
        return [{"digest": str(ref.get("digest")), "compressed_size_bytes": int(ref.get("size") or 0)} for ref in refs]

    # ------------------------------------------------------------------ the simulator's view

    def sync(self, account):
        """Rebuild every simulated registry's repositories and blobs from the storage directory."""
        now = account.now()
        for name, registry in account.registries.items():
            repositories = {}
            blobs = {}
            for repo_name, folder in sorted(self._repositories(name).items()):
                manifests, tags = {}, {}
                for digest in self._links(os.path.join(folder, "_manifests", "revisions")):
                    size = self._blob_size(digest)
                    if size is None:
                        continue
                    refs = self._manifest_blobs(digest)
                    first = self.seen.setdefault((name, repo_name, digest), now)
                    manifests[digest] = {"digest": digest, "blobs": refs, "updated_at": first,
                                         "size_bytes": size + sum(ref["compressed_size_bytes"] for ref in refs)}
                    blobs[digest] = size
                tags_dir = os.path.join(folder, "_manifests", "tags")
                for tag in sorted(os.listdir(tags_dir)) if os.path.isdir(tags_dir) else []:
                    digest = self._read_link(os.path.join(tags_dir, tag, "current", "link"))
                    if digest not in manifests:
                        continue
                    key = (name, repo_name, "tag", tag)
                    previous = self.seen.get(key)
                    if previous is None or previous[0] != digest:
                        previous = self.seen[key] = (digest, now)
                    tags[tag] = {"digest": digest, "updated_at": previous[1]}
                    manifests[digest]["updated_at"] = max(manifests[digest]["updated_at"], previous[1])
                for digest in self._links(os.path.join(folder, "_layers")):
                    size = self._blob_size(digest)
                    if size is not None:
                        blobs[digest] = size
                if manifests:
                    repositories[repo_name] = {"name": repo_name, "manifests": manifests, "tags": tags}
            if repositories != registry["repositories"] or blobs != registry["blobs"]:
                registry["usage_updated_at"] = now
            registry["repositories"] = repositories
            registry["blobs"] = blobs

    def delete_tag(self, registry, repo, tag):
        shutil.rmtree(os.path.join(self._repos_dir(registry), repo, "_manifests", "tags", tag), ignore_errors=True)

    def delete_manifest(self, registry, repo, digest, with_tags=True):
        """What distribution's manifest delete does: unlink the revision, its tag index entries, and its tags."""
        manifests = os.path.join(self._repos_dir(registry), repo, "_manifests")
        hexa = digest.split(":", 1)[1]
        shutil.rmtree(os.path.join(manifests, "revisions", "sha256", hexa), ignore_errors=True)
        tags_dir = os.path.join(manifests, "tags")
        for tag in os.listdir(tags_dir) if os.path.isdir(tags_dir) else []:
            if with_tags and self._read_link(os.path.join(tags_dir, tag, "current", "link")) == digest:
                shutil.rmtree(os.path.join(tags_dir, tag), ignore_errors=True)
            else:
                shutil.rmtree(os.path.join(tags_dir, tag, "index", "sha256", hexa), ignore_errors=True)

    def delete_repository(self, registry, repo):
        shutil.rmtree(os.path.join(self._repos_dir(registry), repo), ignore_errors=True)

    def delete_registry(self, registry):
        shutil.rmtree(self._repos_dir(registry), ignore_errors=True)

    def wipe(self):
        """Empty the storage (``/_sim/reset``); the registry keeps serving."""
        shutil.rmtree(os.path.join(self.root, "docker"), ignore_errors=True)
        self.seen = {}
        self.tokens.reset()

    def garbage_collect(self, account, registry, gc_type):
        """Run the GC of ``gc_type`` on the storage; return ``(blobs_deleted, freed_bytes)`` measured on disk."""
        before = self.blob_files()
        if gc_type == "untagged manifests only":
            # distribution has no manifests-only GC: unlink untagged manifests as its mark phase does, keep blobs
            self.sync(account)
            for repo in account.registries[registry]["repositories"].values():
                tagged = set(info["digest"] for info in repo["tags"].values())
                for digest in [digest for digest in repo["manifests"] if digest not in tagged]:
                    self.delete_manifest(registry, repo["name"], digest, with_tags=False)
        else:
            command = [self.binary, "garbage-collect"]
            if gc_type == "untagged manifests and unreferenced blobs":
                command.append("--delete-untagged")
            command.append(self.config_path)
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=120, check=False)
            if done.returncode != 0:
                raise DataPlaneError("garbage-collect failed: %s" % done.stdout.decode("utf-8", "replace")[-2000:])
        after = self.blob_files()
        gone = [digest for digest in before if digest not in after]
        self.sync(account)
        return len(gone), sum(before[digest] for digest in gone)
