#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: docr_credentials
short_description: Issue short-lived docker credentials for a DigitalOcean container registry
version_added: 0.2.0
description:
  - Issues docker credentials for a DigitalOcean Container Registry, read-only by default and expiring after
    O(expiry_seconds).
  - With O(dest), merges them into a docker C(config.json) (other registries' entries and other keys are kept),
    written atomically with mode C(0600). A re-run issues nothing while the credentials in O(dest) stay valid
    for more than O(refresh_before) (C(changed=false), no API call).
  - With O(kubernetes_secret), also returns a C(kubernetes.io/dockerconfigjson) Secret manifest, for clusters
    that are not DOKS (self-managed, or in another cloud), ready for M(kubernetes.core.k8s).
  - B(The credentials are secrets.) The module returns them only when asked (O(return_docker_config), or
    O(kubernetes_secret)); a task that registers such a result must set C(no_log=true). The rest of the
    output (RV(expires_at), RV(server_url), ...) holds no secret.
  - How the expiry is recorded in O(dest) - a top-level C(dockyard.docr) key that docker ignores, mapping
    the registry host to C(registry), C(read_write), C(expires_at) (UTC, ISO 8601; V(null) for never) and
    C(auth_fingerprint) (a truncated SHA-256 of the C(auth) value, so a login made by another tool is noticed).
author:
  - dockyard.docr maintainers (@dockyard)
options:
  read_write:
    description:
      - Issue credentials that can push (and delete). By default they can only pull.
    type: bool
    default: false
  expiry_seconds:
    description:
      - How long the credentials stay valid.
      - A duration, in the same forms as every duration of this collection - a number of seconds (V(1200), or
        V("1200")), or a number followed by C(s), C(m), C(h), C(d) or C(w), such as V(20m), V(12h) or V(7d).
        A fraction of a second is rounded up.
      - At most ten years (315360000 seconds).
      - V(0) means they never expire; the module then warns, since such credentials stay valid until the
        token that issued them is revoked.
    type: raw
    default: 3600
  dest:
    description:
      - Path of a docker C(config.json) to write the credentials into, such as C(~/.docker/config.json).
      - An existing file is merged into, keeping every other registry's entry and every other key. It must hold
        JSON; otherwise the module fails, naming this option, and changes nothing.
      - Written with mode C(0600), atomically (a temporary file in the same directory renamed over it), under a
        lock on the directory; the file is read again and merged right before it is replaced, so entries another
        run or tool wrote meanwhile are kept. A symlink is written through to its target; an existing file keeps
        its owner and group. Temporary files a killed run left (C(.docr-config-*.tmp)) are removed.
      - Checked before any credentials are issued - not empty, not a directory or a device, an existing file must
        hold a JSON object, and the nearest existing directory must be writable. Missing directories are created,
        each with mode C(0700).
    type: path
  refresh_before:
    description:
      - With O(dest), issue new credentials only when those recorded in O(dest) for this registry (with the same
        O(read_write)) expire within this long, are missing, or were replaced by another tool.
      - A duration, in the same forms as O(expiry_seconds) (a plain number is seconds), such as V(300) or V(5m).
    type: raw
    default: 300
  credentials_store:
    description:
      - Where the credentials go when O(dest) is written.
      - When O(dest) sets C(credsStore) (Docker Desktop sets it to V(desktop)) or C(credHelpers) for the
        registry host, docker reads that host's credentials from the helper program C(docker-credential-NAME) and
        ignores an inline C(auths) entry.
      - V(auto) stores them with the configured helper when there is one (C(docker-credential-NAME store), the
        secret passed on its standard input only), and inline in O(dest) otherwise.
      - V(helper) requires a configured helper, and fails when O(dest) names none.
      - V(inline) writes the C(auths) entry, and fails, changing nothing, when O(dest) names a helper for the host
        (docker would ignore the entry, so nobody would be logged in).
      - With a helper, O(dest) gets an empty C(auths) entry for the host (as C(docker login) writes) and the
        collection's record of the expiry, which names the helper; a re-run asks the helper (C(get)) whether it
        still holds the credentials.
    type: str
    choices: [auto, inline, helper]
    default: auto
    version_added: 0.2.0
  return_docker_config:
    description:
      - Return the docker config (with the credentials) in RV(docker_config). Register the result with
        C(no_log=true).
    type: bool
    default: false
  kubernetes_secret:
    description:
      - Also return a C(kubernetes.io/dockerconfigjson) Secret manifest holding the credentials, in
        RV(kubernetes_secret). Register the result with C(no_log=true).
      - For DOKS clusters, use the DOKS registry integration instead (it keeps the secret current itself).
    type: dict
    suboptions:
      name:
        description: Secret name, a valid Kubernetes name (lowercase letters, digits, C(-) and C(.), at most 253).
        type: str
        required: true
      namespace:
        description: Secret namespace, a valid Kubernetes namespace (lowercase letters, digits and C(-), at most 63).
        type: str
        default: default
notes:
  - With C(--diff), the diff shows what O(dest) records for the registry before and after - C(registry),
    C(read_write), C(expires_at), C(credential_helper), C(expiring) (within O(refresh_before)) and the file's
    C(mode); never the credentials. Without O(dest), every run issues new credentials (C(changed=true)).
  - O(refresh_before) compares the recorded expiry with this host's clock; the expiry itself comes from the API's
    clock when the credentials were issued.
  - Credentials are for the registry host the API names in its answer (the C(auths) key, C(registry.digitalocean.com)
    on DigitalOcean); one docker config holds one set per host.
extends_documentation_fragment:
  - dockyard.docr.registry
  - dockyard.docr.common
  - dockyard.docr.attributes
  - dockyard.docr.attributes.actions
seealso:
  - module: dockyard.docr.docr_registry
  - module: kubernetes.core.k8s
"""

EXAMPLES = r"""
- name: Read-only credentials for this host's docker, refreshed when they have less than 5 minutes left
  dockyard.docr.docr_credentials:
    registry: acme
    dest: ~/.docker/config.json

- name: Push credentials for a CI job, valid for 20 minutes
  dockyard.docr.docr_credentials:
    registry: acme
    read_write: true
    expiry_seconds: 20m
    dest: /home/ci/.docker/config.json

- name: On a workstation whose docker uses a credential helper (Docker Desktop), insist on the helper
  dockyard.docr.docr_credentials:
    registry: acme
    dest: ~/.docker/config.json
    credentials_store: helper

- name: A pull secret for a cluster that is not DOKS
  dockyard.docr.docr_credentials:
    registry: acme
    expiry_seconds: 1d
    kubernetes_secret:
      name: docr-pull
      namespace: apps
  register: docr_creds
  no_log: true            # the result holds the credentials

- name: Apply the pull secret
  kubernetes.core.k8s:
    definition: "{{ docr_creds.kubernetes_secret }}"
  no_log: true
"""

RETURN = r"""
issued:
  description: Whether new credentials were issued (in check mode, whether they would be).
  returned: always
  type: bool
  sample: true
expires_at:
  description: When the credentials in use expire (UTC, ISO 8601); V(null) when they never expire, or in check mode when they would be issued.
  returned: always
  type: str
  sample: "2026-11-22T09:36:58Z"
read_write:
  description: Whether the credentials can push.
  returned: always
  type: bool
server_url:
  description: The registry's address for image references.
  returned: always
  type: str
  sample: registry.digitalocean.com/acme
registry_host:
  description: The host the credentials are for (the C(auths) key of the docker config).
  returned: always
  type: str
  sample: registry.digitalocean.com
dest:
  description: The docker config file written or checked; V(null) without O(dest).
  returned: always
  type: str
credential_helper:
  description: The docker credential helper the credentials were stored with (see O(credentials_store)); V(null) when inline or without O(dest).
  returned: always
  type: str
  version_added: 0.2.0
uid:
  description: Owner id of O(dest) after the run (ansible-core adds the file attributes to any result with a C(dest)).
  returned: when O(dest) is set and the file exists
  type: int
  sample: 1000
gid:
  description: Group id of O(dest) after the run.
  returned: when O(dest) is set and the file exists
  type: int
  sample: 1000
owner:
  description: Owner name of O(dest) after the run.
  returned: when O(dest) is set and the file exists
  type: str
  sample: deploy
group:
  description: Group name of O(dest) after the run.
  returned: when O(dest) is set and the file exists
  type: str
  sample: deploy
mode:
  description: Permissions of O(dest) after the run, in octal (V(0600) once this module wrote or checked it).
  returned: when O(dest) is set and the file exists
  type: str
  sample: "0600"
size:
  description: Size of O(dest) in bytes.
  returned: when O(dest) is set and the file exists
  type: int
  sample: 512
state:
  description: V(file) (ansible-core's file state of O(dest)).
  returned: when O(dest) is set and the file exists
  type: str
  sample: file
docker_config:
  description:
    - The docker config holding the credentials, with one C(auths) entry, for the registry host.
    - B(Secret.) Register the result with C(no_log=true).
  returned: when O(return_docker_config=true) and not in check mode
  type: dict
kubernetes_secret:
  description:
    - A C(v1) Secret of type C(kubernetes.io/dockerconfigjson) with the credentials, for M(kubernetes.core.k8s).
    - B(Secret.) Register the result with C(no_log=true).
  returned: when O(kubernetes_secret) is set and not in check mode
  type: dict
"""

import time

from ansible_collections.dockyard.docr.plugins.module_utils import _credentials as cred
from ansible_collections.dockyard.docr.plugins.module_utils import _credhelpers as helpers
from ansible_collections.dockyard.docr.plugins.module_utils import _registry as reg
from ansible_collections.dockyard.docr.plugins.module_utils._base import PlannedResource, run_resource


class Credentials(PlannedResource):
    argument_spec = dict(
        registry=dict(reg.REGISTRY_OPTION),
        read_write=dict(type="bool", default=False),
        expiry_seconds=dict(type="raw", default=3600),
        dest=dict(type="path"),
        refresh_before=dict(type="raw", default=300),
        credentials_store=dict(type="str", default="auto", choices=list(helpers.MODES)),
        return_docker_config=dict(type="bool", default=False),
        kubernetes_secret=dict(type="dict", no_log=False, options=dict(
            name=dict(type="str", required=True),
            namespace=dict(type="str", default="default"),
        )),
    )

    def __init__(self, docr):
        super(Credentials, self).__init__(docr)
        p = self.params
        reg.require_name(p["registry"], "registry")
        self.options = dict(p, expiry_seconds=cred.check_expiry(p["expiry_seconds"]),
                            refresh_before=cred.check_refresh_before(p["refresh_before"]))
        secret = p["kubernetes_secret"]
        if secret:
            cred.check_kubernetes_name(secret["name"], "kubernetes_secret.name", subdomain=True)
            cred.check_kubernetes_name(secret["namespace"], "kubernetes_secret.namespace", subdomain=False)
        # dest is checked (type, parent, writability, existing JSON) before the API is asked for anything.
        cred.check_dest(p["dest"])
        self._credentials = (None, None)  # (host, auth) of the credentials in use: returned only when asked

    def read(self):
        """What dest records (its helper asked with ``get``); in check mode, whether the registry exists when
        credentials would be issued. No API call while dest's credentials stay valid."""
        dest = self.params["dest"]
        current = dict(dest=dest, config={}, host=None, marker=None, auth=None, mode=None, now=time.time())
        if dest:
            config = cred.read_config(dest)
            host, marker, auth = cred.recorded(
                config, self.params["registry"], lambda helper, host_: helpers.get(self.docr.module, helper, host_))
            current.update(config=config, host=host, marker=marker, auth=auth, mode=cred.file_mode(dest))
            self._credentials = (host, auth)
        if self.check_mode and not cred.decide(current, self.options)[1]:
            current["registry_exists"] = reg.get_registry(self.api, self.params["registry"]) is not None
        return current

    def plan(self, current):
        return cred.plan(current, self.options, runner=self.docr.module)

    def settle(self, plan, answers):
        if not plan.result["issued"]:
            return plan.after
        answer = answers[0]
        self._credentials = (answer["host"], answer["auth"])
        return cred.settle(plan, answer)

    def finish(self, plan, after):
        result = super(Credentials, self).finish(plan, after)
        if not self.check_mode:
            host, auth = self._credentials
            result.update(cred.secrets(host, auth, self.params["return_docker_config"], self.params["kubernetes_secret"]))
        return result


def main():
    run_resource(Credentials)


if __name__ == "__main__":
    main()
