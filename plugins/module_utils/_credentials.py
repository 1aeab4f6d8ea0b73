# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: docker credentials for a registry, the docker config.json file, and Secrets.

The docker ``config.json`` written here holds, next to the usual ``auths`` entry, a top-level key
``MARKER_KEY`` (docker and other clients ignore unknown top-level keys) recording, per registry host, what
this collection issued: the registry name, read_write, when the credentials expire, and a fingerprint of the
``auth`` value (to notice when something else, such as ``doctl registry login``, replaced it).
"""

import base64
import hashlib
import json
import os
import stat
import tempfile

from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError
from ansible_collections.dockyard.docr.plugins.module_utils._gc import format_time, parse_time
from ansible_collections.dockyard.docr.plugins.module_utils._registry import REGISTRY_HOST

MARKER_KEY = "dockyard.docr"
FILE_MODE = 0o600


def fingerprint(auth):
    return "sha256:" + hashlib.sha256((auth or "").encode("utf-8")).hexdigest()[:32]


def issue(api, registry, read_write, expiry_seconds):
    """A docker config dict from the API, or None when the registry does not exist.

    The multi-registry spec omits the ``read_write`` / ``expiry_seconds`` query the API accepts (the legacy
    endpoint documents them); pydo passes them through ``params``.
    """
    params = {"read_write": "true" if read_write else "false"}
    if expiry_seconds:
        params["expiry_seconds"] = int(expiry_seconds)
    body = api.call("registries.get_docker_credentials", registry, params=params)
    if body is None:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("auths"), dict) or not body["auths"]:
        raise DocrError("The API returned docker credentials in an unexpected shape (no 'auths').")
    return body


def host_entry(config):
    """(host, entry) of the registry in a docker config dict (the API answers one host, not necessarily DigitalOcean's)."""
    auths = config.get("auths") or {}
    if REGISTRY_HOST in auths:
        return REGISTRY_HOST, auths[REGISTRY_HOST]
    host = sorted(auths)[0]
    return host, auths[host]


def read_config(path):
    """The docker config at ``path`` (``{}`` when absent); fails naming ``dest`` when it is not JSON."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path, "r") as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        raise DocrError("Cannot read dest %s: %s" % (path, exc))
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DocrError("dest %s is not a JSON docker config file (%s); refusing to overwrite it." % (path, exc))
    if not isinstance(data, dict):
        raise DocrError("dest %s does not hold a JSON object; refusing to overwrite it." % path)
    return data


def recorded(config, host=REGISTRY_HOST):
    """What the collection recorded for ``host`` in ``config`` (registry, read_write, expires_at), if still accurate."""
    marker = (config.get(MARKER_KEY) or {}).get(host)
    entry = (config.get("auths") or {}).get(host)
    if not isinstance(marker, dict) or not isinstance(entry, dict):
        return None
    if marker.get("auth_fingerprint") != fingerprint(entry.get("auth")):
        return None
    return marker


def merged(existing, issued, registry, read_write, expires_at):
    """``existing`` with this registry host's entry and marker replaced; every other key is kept."""
    config = json.loads(json.dumps(existing))
    host, entry = host_entry(issued)
    config.setdefault("auths", {})
    if not isinstance(config["auths"], dict):
        raise DocrError("dest has an 'auths' key that is not an object; refusing to overwrite it.")
    config["auths"][host] = entry
    marker = config.get(MARKER_KEY)
    if not isinstance(marker, dict):
        marker = config[MARKER_KEY] = {}
    marker[host] = dict(
        registry=registry,
        read_write=bool(read_write),
        expires_at=format_time(expires_at),
        auth_fingerprint=fingerprint(entry.get("auth")),
    )
    return config


def write_atomic(path, data):
    """Write JSON ``data`` to ``path`` with mode 0600: a temp file in the same directory, fsync, rename.

    A crash leaves either the old file or the new one, never half of one.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        try:
            os.makedirs(directory, 0o700)
        except OSError as exc:
            raise DocrError("Cannot create the directory of dest %s: %s" % (path, exc))
    fd, tmp = tempfile.mkstemp(prefix=".docr-config-", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def file_mode(path):
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def expiry_of(marker):
    """Epoch seconds when the recorded credentials expire; None for "never"; False when unknown."""
    if marker.get("expires_at") is None:
        return None
    when = parse_time(marker.get("expires_at"))
    return False if when is None else when


def secret_manifest(config, name, namespace):
    """A ``kubernetes.io/dockerconfigjson`` Secret for ``config`` (only the ``auths`` key)."""
    payload = json.dumps({"auths": config.get("auths") or {}}, sort_keys=True, separators=(",", ":"))
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "dockyard.docr"},
        },
        "data": {".dockerconfigjson": base64.b64encode(payload.encode("utf-8")).decode("ascii")},
    }
