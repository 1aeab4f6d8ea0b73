"""Check a pull secret the way the Kubernetes API server would: the published OpenAPI schema (tests/k8s_schema.py,
strict: no unknown fields) plus the rules the schema cannot say (name and namespace syntax, and what a
``kubernetes.io/dockerconfigjson`` Secret must hold)."""

import base64
import binascii
import json
import re

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for k8s_schema
from k8s_schema import manifest_problems  # noqa: E402 pylint: disable=wrong-import-position

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def problems(secret):
    """Why ``secret`` would be refused (an empty list when it would be accepted)."""
    schema = manifest_problems([secret])
    if schema:
        return ["schema: %s" % problem for problem in schema]
    found = []
    meta = secret.get("metadata") or {}
    if not (DNS_SUBDOMAIN.match(meta.get("name") or "") and len(meta["name"]) <= 253):
        found.append("metadata.name %r is not a DNS-1123 subdomain" % meta.get("name"))
    if "namespace" in meta and not (DNS_LABEL.match(meta["namespace"] or "") and len(meta["namespace"]) <= 63):
        found.append("metadata.namespace %r is not a DNS-1123 label" % meta.get("namespace"))
    if secret.get("type") != "kubernetes.io/dockerconfigjson":
        return found + ["type is %r, not kubernetes.io/dockerconfigjson" % secret.get("type")]
    data = secret.get("data") or {}
    if set(data) != {".dockerconfigjson"}:
        return found + ["data must hold exactly the key .dockerconfigjson, has %s" % sorted(data)]
    try:
        config = json.loads(base64.b64decode(data[".dockerconfigjson"], validate=True))
    except (ValueError, binascii.Error) as err:
        return found + [".dockerconfigjson is not base64 of JSON: %s" % err]
    auths = config.get("auths") if isinstance(config, dict) else None
    if not isinstance(auths, dict) or not auths:
        return found + [".dockerconfigjson has no auths object"]
    for host, entry in auths.items():
        try:
            user, password = base64.b64decode(entry["auth"], validate=True).decode("utf-8").split(":", 1)
        except (KeyError, TypeError, ValueError, binascii.Error):
            found.append("auths[%s].auth is not base64 user:password" % host)
            continue
        if not user or not password:
            found.append("auths[%s].auth has an empty user or password" % host)
    return found


def assert_valid_pull_secret(secret):
    found = problems(secret)
    assert not found, "the pull secret would be refused by Kubernetes: %s" % "; ".join(found)
