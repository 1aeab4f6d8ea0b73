# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: docker credential helpers (``credsStore`` / ``credHelpers`` in config.json).

When a docker config names a helper for a registry host, docker reads that host's credentials from the helper
(``docker-credential-NAME get``) and ignores an inline ``auths`` entry. Credentials are then stored with
``docker-credential-NAME store``: the helper protocol reads ``{"ServerURL", "Username", "Secret"}`` as JSON on
stdin. The secret only ever travels on stdin, never in an argument or the environment.
"""

import base64
import json

from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError

HELPER_PREFIX = "docker-credential-"
MODES = ("auto", "inline", "helper")


def configured(config, host):
    """``(helper name, where)`` docker would use for ``host`` per ``config``; ``(None, None)`` when inline."""
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict) and helpers.get(host):
        return str(helpers[host]), "credHelpers[%s]" % host
    store = config.get("credsStore")
    if store:
        return str(store), "credsStore"
    return None, None


def choose(config, host, mode, dest):
    """The helper to store ``host``'s credentials with under ``mode`` (``None``: inline), or fail clearly."""
    name, where = configured(config, host)
    if mode == "inline" and name:
        raise DocrError(
            "dest %s sets %s to %r: docker reads %s's credentials from docker-credential-%s and ignores the inline "
            "entry credentials_store=inline would write, so nobody would be logged in. Use credentials_store=helper "
            "(or auto), or remove that setting from dest." % (dest, where, name, host, name))
    if mode == "helper" and not name:
        raise DocrError("credentials_store=helper, but dest %s sets neither credsStore nor credHelpers[%s]." % (dest, host))
    return name


def _run(module, name, action, stdin_text):
    """Run ``docker-credential-NAME ACTION`` through ``module.run_command``, feeding ``stdin_text`` on stdin."""
    program = HELPER_PREFIX + name
    path = module.get_bin_path(program)
    if not path:
        raise DocrError("The docker credential helper %s is not on PATH (dest names helper %r)." % (program, name))
    code, out, err = module.run_command([path, action], data=stdin_text, binary_data=True)
    return code, (out or "").strip(), (err or "").strip()


def store(module, name, host, auth):
    """Store the ``auth`` value (base64 ``user:secret``) for ``host`` with helper ``name``."""
    try:
        user, secret = base64.b64decode(auth).decode("utf-8").split(":", 1)
    except (ValueError, TypeError, UnicodeError):
        raise DocrError("The API returned docker credentials whose auth value is not base64 user:password.")
    payload = json.dumps({"ServerURL": host, "Username": user, "Secret": secret})
    code, out, err = _run(module, name, "store", payload)
    if code != 0:
        # the helper's message never echoes the secret it was given on stdin; scrub it anyway
        message = (out or err or "exit status %d" % code).replace(secret, "********")
        raise DocrError("docker-credential-%s store failed for %s: %s" % (name, host, message))


def get(module, name, host):
    """The ``auth`` value (base64 ``user:secret``) helper ``name`` holds for ``host``, or None."""
    code, out, _err = _run(module, name, "get", host)
    if code != 0:
        return None
    try:
        data = json.loads(out)
        user, secret = data["Username"], data["Secret"]
    except (ValueError, KeyError, TypeError):
        return None
    return base64.b64encode(("%s:%s" % (user, secret)).encode("utf-8")).decode("ascii")
