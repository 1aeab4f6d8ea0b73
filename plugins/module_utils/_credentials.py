# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: docker credentials for a registry, the docker config.json file, and Secrets.

The docker ``config.json`` written here holds, next to the usual ``auths`` entry, a top-level key
``MARKER_KEY`` (docker and other clients ignore unknown top-level keys) recording, per registry host, what
this collection issued: the registry name, read_write, when the credentials expire, and a fingerprint of the
``auth`` value (to notice when something else, such as ``doctl registry login``, replaced it).

``plan`` is the pure planner of docr_credentials: from what ``dest`` records (read by the module) it decides
whether to keep the credentials or issue new ones, with non-secret before/after states; ``deliver`` is the
write that issues them and stores them (in ``dest`` or with a credential helper).
"""

import base64
import fcntl
import hashlib
import json
import os
import re
import stat
import math
import tempfile
import time

from ansible_collections.dockyard.docr.plugins.module_utils import _credhelpers as helpers
from ansible_collections.dockyard.docr.plugins.module_utils._base import LocalWrite, Plan, Write
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError, DocrInputError
from ansible_collections.dockyard.docr.plugins.module_utils._time import format_time, parse_duration, parse_time
from ansible_collections.dockyard.docr.plugins.module_utils._registry import REGISTRY_HOST

MARKER_KEY = "dockyard.docr"
FILE_MODE = 0o600
# The longest expiry accepted (ten years); 0 means "never expires".
MAX_EXPIRY_SECONDS = 10 * 365 * 86400


def fingerprint(auth):
    return "sha256:" + hashlib.sha256((auth or "").encode("utf-8")).hexdigest()[:32]


# ---- the options, and the plan (pure) ----------------------------------------------------------------

def check_expiry(value):
    """``expiry_seconds`` as whole seconds (0: never expires), from any duration form; raises naming the option."""
    seconds = parse_duration(value, "expiry_seconds", maximum=MAX_EXPIRY_SECONDS)
    return int(math.ceil(seconds))  # never rounded down to 0, which would mean "never expires"


def check_refresh_before(value):
    """``refresh_before`` in seconds, from any duration form; raises naming the option."""
    return parse_duration(value, "refresh_before")


def recorded(config, registry, helper_auth):
    """``(host, marker, auth)`` this collection recorded in ``config`` for ``registry``, still in place; else Nones.

    The host is the ``auths`` key the API answered, not assumed. Inline credentials must still be the ``auths``
    entry; helper-stored ones must still be what the helper answers for the host (``helper_auth(helper, host)``
    asks it). A marker whose credentials were replaced by another tool (the fingerprint differs) is not ours.
    """
    markers = config.get(MARKER_KEY)
    if not isinstance(markers, dict):
        return None, None, None
    hosts = sorted((host != REGISTRY_HOST, host) for host, marker in markers.items()
                   if isinstance(marker, dict) and marker.get("registry") == registry)
    for _preferred, host in hosts:
        marker = markers[host]
        helper = marker.get("credential_helper")
        if helper:
            if helpers.configured(config, host)[0] != helper:
                continue
            auth = helper_auth(helper, host)
        else:
            entry = (config.get("auths") or {}).get(host)
            auth = entry.get("auth") if isinstance(entry, dict) else None
        if auth and marker.get("auth_fingerprint") == fingerprint(auth):
            return host, marker, auth
    return None, None, None


def expiring(marker, refresh_before, now):
    """True when the recorded credentials expire within ``refresh_before`` seconds of ``now`` (or say no readable time)."""
    expires = expiry_of(marker)
    if expires is None:
        return False
    return expires is False or expires - now <= refresh_before


def keeps(marker, helper, read_write, refresh_before, now):
    """Whether the credentials ``marker`` records serve as they are: same read_write and helper, not expiring."""
    return (marker is not None and bool(marker.get("read_write")) == bool(read_write)
            and marker.get("credential_helper") == helper and not expiring(marker, refresh_before, now))


def mode_text(mode):
    return None if mode is None else "%04o" % mode


def state(registry, read_write, expires_at, dest=None, helper=None, is_expiring=False, mode=None):
    """The non-secret state of a registry's credentials: never the credentials, nor their fingerprint."""
    result = dict(registry=registry, read_write=bool(read_write), expires_at=expires_at)
    if dest:
        result.update(credential_helper=helper, expiring=bool(is_expiring), mode=mode_text(mode))
    return result


def decide(current, params):
    """``(helper, keep)``: the helper the credentials go to (None: inline, or no dest), and whether those ``dest``
    records serve as they are. Fails, naming ``credentials_store``, when dest's helper setting contradicts it."""
    dest, config, host, marker = current.get("dest"), current.get("config") or {}, current.get("host"), current.get("marker")
    if not dest:
        return None, False
    # the helper docker would use for the host (known from dest, else DigitalOcean's): fails before any API call
    helper = helpers.choose(config, host or REGISTRY_HOST, params["credentials_store"], dest)
    return helper, keeps(marker, helper, params["read_write"], params["refresh_before"], current["now"])


def plan(current, params, runner=None):
    """The ``Plan`` of docr_credentials: keep what ``dest`` holds, or issue and store new credentials; pure.

    ``current`` (read by the module): ``dest``, ``config`` (dest's JSON), ``host``/``marker``/``auth`` (what
    ``recorded`` found), ``mode`` (dest's permissions), ``now`` (this host's clock) and, in check mode when
    credentials would be issued, ``registry_exists``. ``params``: the module's options, durations in seconds.
    ``runner``: what runs a credential helper program (the module), handed to the write.

    Credentials are kept when ``dest`` records this registry's, with the same ``read_write`` and helper, not
    expiring within ``refresh_before``; a loosened file mode is then the only write (``chmod 0600``). Otherwise
    one write issues them and stores them (``deliver``). The states hold no secret.
    """
    registry, read_write, dest = params["registry"], params["read_write"], current.get("dest")
    config, host, marker = current.get("config") or {}, current.get("host"), current.get("marker")
    helper, keep = decide(current, params)
    before = None
    if marker is not None:
        before = state(marker.get("registry"), marker.get("read_write"), marker.get("expires_at"), dest,
                       marker.get("credential_helper"), expiring(marker, params["refresh_before"], current["now"]),
                       current.get("mode"))
    result = dict(dest=dest, read_write=read_write, credential_helper=helper, registry_host=host or REGISTRY_HOST,
                  server_url="%s/%s" % (host or REGISTRY_HOST, registry))
    warnings = []
    if params["expiry_seconds"] == 0:
        warnings.append("expiry_seconds=0 issues credentials that never expire: they stay valid until the token that "
                        "issued them is revoked. Prefer a bounded expiry.")
    if keep:
        result.update(issued=False, expires_at=marker.get("expires_at"))
        writes = []
        if current.get("mode") != FILE_MODE:
            writes.append(LocalWrite("set the mode of dest to %s" % mode_text(FILE_MODE), os.chmod, dest, FILE_MODE))
        return Plan(before, dict(before, mode=mode_text(FILE_MODE)), writes, result=result, warnings=warnings)
    if current.get("registry_exists") is False:
        raise DocrError("Registry %r (option registry) does not exist." % registry)
    result.update(issued=True, expires_at=None)
    after = state(registry, read_write, None, dest, helper, False, FILE_MODE)
    what = "issue %s credentials for registry %s%s" % ("read-write" if read_write else "read-only", registry,
                                                       " and store them for dest" if dest else "")
    write = Write(what, deliver, registry, read_write, params["expiry_seconds"], dest, config, params["credentials_store"],
                  runner)
    return Plan(before, after, [write], result=result, warnings=warnings)


def settle(plan_, answer):
    """The after-state of an issue from ``deliver``'s answer; sets the result's issued values (no secret)."""
    expires_at = format_time(answer["expires_at"])
    plan_.result.update(issued=True, expires_at=expires_at, credential_helper=answer["helper"],
                        registry_host=answer["host"], server_url="%s/%s" % (answer["host"], answer["registry"]))
    dest = plan_.result.get("dest")
    return state(answer["registry"], answer["read_write"], expires_at, dest, answer["helper"], False, FILE_MODE)


def secrets(host, auth, return_docker_config, kubernetes_secret):
    """The secret-bearing return values asked for (only this registry host's entry); ``{}`` without credentials."""
    if not auth:
        return {}
    only = {"auths": {host: {"auth": auth}}}
    result = {}
    if return_docker_config:
        result["docker_config"] = only
    if kubernetes_secret:
        result["kubernetes_secret"] = secret_manifest(only, kubernetes_secret["name"], kubernetes_secret["namespace"])
    return result


def deliver(api, registry, read_write, expiry_seconds, dest=None, config=None, store_mode="auto", runner=None):
    """The write: issue credentials, and store them (with ``dest``: a helper or the file). Answers what it did.

    ``runner`` is the module (it runs the helper program). The helper is chosen again for the host the API named
    (it may have its own ``credHelpers`` entry). The file is locked, re-read and merged right before it is
    replaced: what another run wrote meanwhile is kept. The answer holds the credentials (``auth``): the
    module returns them only when asked.
    """
    issued = issue(api, registry, read_write, expiry_seconds)
    if issued is None:
        raise DocrError("Registry %r (option registry) does not exist." % registry)
    expires_at = api.now() + expiry_seconds if expiry_seconds else None
    host, entry = host_entry(issued)
    auth = entry.get("auth") if isinstance(entry, dict) else None
    if not auth:
        raise DocrError("The API returned docker credentials in an unexpected shape (no 'auth' for %s)." % host)
    helper = None
    if dest:
        helper = helpers.choose(config or {}, host, store_mode, dest)
        if helper:
            helpers.store(runner, helper, host, auth)

        def update(current):
            merged_config = merged(current, issued, registry, read_write, expires_at)
            if helper:
                merged_config["auths"][host] = {}
                merged_config[MARKER_KEY][host]["credential_helper"] = helper
            return merged_config

        update_config(dest, update)
    return dict(registry=registry, read_write=bool(read_write), host=host, auth=auth, expires_at=expires_at, helper=helper)


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


# ---- the docker config file (dest): checked before any API call, then locked, re-read, merged, replaced ----

TEMP_PREFIX = ".docr-config-"
TEMP_SUFFIX = ".tmp"
LOCK_WAIT = 30.0


def check_dest(path):
    """The real path ``dest`` writes to (through symlinks); raises ``DocrInputError`` naming ``dest``.

    Run before the API is asked for credentials, so a destination that cannot be written never costs a
    credential: not empty, not a directory or a device, an existing file readable and holding a JSON object,
    and the nearest existing parent a writable directory.
    """
    if path is None:
        return None
    if not isinstance(path, str) or not path.strip():
        raise DocrInputError("dest must be the path of a docker config.json file; got an empty value.")
    target = os.path.realpath(path)
    if os.path.lexists(target):
        try:
            info = os.stat(target)
        except OSError as exc:
            raise DocrInputError("dest %s cannot be examined: %s" % (path, exc.strerror))
        if stat.S_ISDIR(info.st_mode):
            raise DocrInputError("dest %s is a directory; give the path of the config.json file." % path)
        if not stat.S_ISREG(info.st_mode):
            raise DocrInputError("dest %s is not a regular file (a device, a pipe or a socket); give the path of a "
                                 "config.json file." % path)
        if not os.access(target, os.R_OK | os.W_OK):
            raise DocrInputError("dest %s is not readable and writable by this user." % path)
        try:
            read_config(target)
        except DocrError as exc:
            raise DocrInputError(exc.msg)
    parent = os.path.dirname(target)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise DocrInputError("dest %s cannot be created: %s is not a directory." % (path, parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DocrInputError("dest %s cannot be written: directory %s is not writable by this user." % (path, parent))
    return target


def make_dirs(directory):
    """Create ``directory`` and every missing parent, each with mode 0700 (whatever the umask)."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not os.path.isdir(path):
                raise DocrError("Cannot create the directory of dest: %s is not a directory." % path)
            continue
        except OSError as exc:
            raise DocrError("Cannot create the directory %s of dest: %s" % (path, exc.strerror))
        os.chmod(path, 0o700)


def _lock(directory):
    """An exclusive lock on the config's directory itself (no lock file is left), waited on for up to LOCK_WAIT seconds."""
    fd = os.open(directory, os.O_RDONLY)
    waited = 0.0
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except (IOError, OSError):
            if waited >= LOCK_WAIT:
                os.close(fd)
                raise DocrError("dest: another run holds the lock on directory %s; gave up after %d seconds."
                                % (directory, LOCK_WAIT))
            time.sleep(0.1)
            waited += 0.1


def _unlock(fd):
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def clean_stale_temps(directory):
    """Remove this collection's temporary files left by a run killed between write and rename (under the lock)."""
    removed = []
    for name in os.listdir(directory):
        if not (name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)):
            continue
        path = os.path.join(directory, name)
        try:
            if os.lstat(path).st_uid == os.geteuid() and stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
                removed.append(name)
        except OSError:
            pass
    return removed


def update_config(path, change):
    """Apply ``change(current) -> new`` to the docker config at ``path``; return the new config.

    The file is locked, re-read and merged right before it is replaced, so an entry another run (or tool)
    wrote since the first read is kept. A symlink is written through to its target; an existing file keeps
    its owner and group (a run as root on a user's file leaves it the user's); the mode is 0600.
    """
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    make_dirs(directory)
    fd = _lock(directory)
    try:
        clean_stale_temps(directory)
        current = read_config(target)
        data = change(current)
        owner = None
        try:
            info = os.stat(target)
            owner = (info.st_uid, info.st_gid)
        except OSError:
            pass
        write_atomic(target, data, owner)
    finally:
        _unlock(fd)
    return data


def write_atomic(path, data, owner=None):
    """Write JSON ``data`` to ``path`` with mode 0600: a temp file in the same directory, fsync, rename.

    A crash leaves either the old file or the new one, never half of one. ``owner`` is ``(uid, gid)`` to
    give the new file (that of the file it replaces).
    """
    directory = os.path.dirname(os.path.abspath(path))
    make_dirs(directory)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)
    try:
        os.fchmod(fd, FILE_MODE)
        if owner is not None and owner != (os.geteuid(), os.getegid()):
            try:
                os.fchown(fd, owner[0], owner[1])
            except OSError:
                pass  # not root: the file stays ours, as it was written by us
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


# Kubernetes object names: a Secret's name is a DNS-1123 subdomain, a namespace a DNS-1123 label.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")


def check_kubernetes_name(value, option, subdomain):
    """Raise ``DocrInputError`` naming ``option`` unless ``value`` is a valid Kubernetes name."""
    limit = 253 if subdomain else 63
    labels = value.split(".") if subdomain and isinstance(value, str) else [value]
    if (not isinstance(value, str) or not value or len(value) > limit
            or not all(isinstance(label, str) and label and len(label) <= 63 and _DNS_LABEL.match(label) for label in labels)):
        raise DocrInputError(
            "%s %r is not a valid Kubernetes %s: use at most %d lowercase letters, digits and '-'%s, starting and ending "
            "with a letter or digit." % (option, value, "name" if subdomain else "namespace", limit, " (and '.')" if subdomain else "")
        )


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
