#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: docr_doks_integration_info
short_description: Read which container registries each DOKS cluster pulls from
version_added: 0.2.0
description:
  - Returns the account's DigitalOcean Kubernetes (DOKS) clusters with their container registry integration
    (C(registry_enabled), C(registries)), and the account's registries with their regions, so that a play can
    check co-location and drift before changing anything.
  - Two API calls (the cluster list, all pages, and the registry list). Changes nothing.
author:
  - dockyard.docr maintainers (@dockyard)
options:
  clusters:
    description:
      - Return only these clusters (names or UUIDs). A name shared by several clusters returns all of them.
      - A name or UUID no cluster has selects nothing, and is no failure; like every C(_info) module of this
        collection, "not found" is an empty answer. Compare RV(clusters) with what you asked for to find
        missing ones.
      - When omitted, every cluster of the account.
    type: list
    elements: str
extends_documentation_fragment:
  - dockyard.docr.common
  - dockyard.docr.attributes
  - dockyard.docr.attributes.info
seealso:
  - module: dockyard.docr.docr_doks_integration
"""

EXAMPLES = r"""
- name: Read the integration of every cluster
  dockyard.docr.docr_doks_integration_info:
  register: doks

- name: Clusters that pull from no registry
  ansible.builtin.debug:
    msg: "{{ doks.clusters | rejectattr('registries') | rejectattr('registry_enabled') | map(attribute='name') | list }}"
"""

RETURN = r"""
clusters:
  description:
    - The clusters (only those selected by O(clusters), when set), sorted by name.
    - Empty when there are none, or when none of O(clusters) exists.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Cluster UUID.
      type: str
      sample: bd5f5959-5e1e-4205-a714-a914373942af
    name:
      description: Cluster name.
      type: str
      sample: prod-nyc3-a
    region:
      description: Region slug of the cluster.
      type: str
      sample: nyc3
    registry_enabled:
      description:
        - The cluster's C(registry_enabled) flag as the API reports it. The API does not document how it relates to
          RV(clusters[].registries); it may stay false while registries are integrated through the per-registry API.
          To know which registries a cluster pulls from, read RV(clusters[].registries).
      type: bool
      sample: true
    registries:
      description: Names of the registries integrated with the cluster, sorted.
      type: list
      elements: str
      sample: [acme-nyc3]
subscription_tier:
  description:
    - The slug of the account's subscription tier, as the registry list carries it (no extra call).
    - V(null) when the account has no registry (the list then carries no subscription).
  returned: always
  type: str
  sample: professional
registries:
  description: The account's registries (name and region), sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Registry name.
      type: str
      sample: acme-nyc3
    region:
      description: Region slug of the registry.
      type: str
      sample: nyc3
"""

from ansible_collections.dockyard.docr.plugins.module_utils import _doks as doks
from ansible_collections.dockyard.docr.plugins.module_utils import _registry as reg
from ansible_collections.dockyard.docr.plugins.module_utils._base import Resource, run_resource


class DoksIntegrationInfo(Resource):
    argument_spec = dict(
        clusters=dict(type="list", elements="str"),
    )

    def run(self):
        clusters = doks.list_clusters(self.api)
        if self.params["clusters"] is not None:
            clusters = doks.select_clusters(clusters, self.params["clusters"])
        listed = reg.list_registries(self.api)
        registries = [dict(name=r.get("name"), region=r.get("region")) for r in listed]
        tier = (reg.normalize_subscription(reg.listed_subscription(listed)) or {}).get("tier")
        return dict(
            clusters=sorted(clusters, key=lambda c: (c["name"] or "", c["id"] or "")),
            registries=sorted(registries, key=lambda r: r["name"] or ""),
            subscription_tier=tier,
        )


def main():
    run_resource(DoksIntegrationInfo)


if __name__ == "__main__":
    main()
