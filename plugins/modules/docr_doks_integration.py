#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: docr_doks_integration
short_description: Integrate DigitalOcean container registries with DOKS clusters, per registry
version_added: 0.2.0
description:
  - Ensures DigitalOcean Kubernetes (DOKS) clusters can pull from DigitalOcean container registries (the
    "1-click" DOCR integration), or no longer can. The integration is read back from every cluster, so a
    registry removed from a cluster outside Ansible is detected and restored.
  - With O(registries), uses the per-registry API (C(/v2/kubernetes/registries)) that accounts with several
    registries need. Without it, uses the single-registry integration (C(/v2/kubernetes/registry)), which
    integrates the account's only registry, like the console's button.
  - With O(integrations), converges a whole layout in one task, each registry with its own clusters.
  - Makes the fewest calls the API allows. It reads the cluster list (all pages) and the registry list once,
    compares each cluster with what is wanted, and writes once for all clusters that differ (once per distinct
    registry set with O(integrations)). An unchanged re-run writes nothing.
  - What is compared depends on the path, because the API documents no relation between a cluster's
    C(registry_enabled) and its C(registries) (its own examples show C(registry_enabled=false) next to a list
    of registries). With O(registries) or O(integrations), only C(registries) is read. Without them (the
    single-registry integration), a cluster counts as integrated when either C(registry_enabled) is true or
    the account's registry is in C(registries); O(state=absent) clears whichever of the two is set.
  - Everything is validated before any write, and every problem is reported at once, each naming its option,
    cluster and registry (unknown or ambiguous clusters, unknown registries, cross-region pairs). When
    anything is wrong, nothing is written.
  - A cluster that pulls from a registry in another region pulls slowly, and the transfer is billed. By default
    (O(require_colocation=true)) such a pair fails before any write unless its O(integrations) item sets
    O(integrations[].allow_cross_region=true); with O(require_colocation=false) it only produces a warning.
author:
  - dockyard.docr maintainers (@dockyard)
options:
  clusters:
    description:
      - DOKS clusters, each by name or UUID. A name must match exactly one cluster.
      - Required unless O(integrations) is set.
    type: list
    elements: str
  registries:
    description:
      - Names of the registries to integrate with (or remove from) every cluster of O(clusters).
      - When omitted, the single-registry integration is used; it integrates the account's registry (an
        account with several registries should list them).
      - Registries not listed here are left as they are on the clusters.
    type: list
    elements: str
  integrations:
    description:
      - A whole layout at once, each registry with its own clusters. A cluster named under several registries
        gets all of them.
      - Mutually exclusive with O(clusters) and O(registries).
    type: list
    elements: dict
    suboptions:
      registry:
        description: Registry name.
        type: str
        required: true
      clusters:
        description: DOKS clusters (names or UUIDs) that pull from this registry.
        type: list
        elements: str
        required: true
      allow_cross_region:
        description:
          - Accept clusters of this entry in another region than the registry, without a warning, even with
            O(require_colocation=true) (the default).
        type: bool
        default: false
  state:
    description:
      - C(present) integrates the registries with the clusters.
      - C(absent) removes only the named registries from the named clusters (without O(registries), the
        single-registry integration); other registries stay integrated.
    type: str
    choices: [present, absent]
    default: present
  require_colocation:
    description:
      - Fail, before any write, when a cluster is in another region than a registry it should pull from
        (unless its O(integrations) item sets O(integrations[].allow_cross_region=true)).
      - When V(false), such pairs only produce a warning.
      - The default is the same as the C(dockyard.docr.registry_layout) role's C(docr_layout.require_colocation).
        It was V(false) in releases up to 0.2.0.
    type: bool
    default: true
extends_documentation_fragment:
  - dockyard.docr.common
  - dockyard.docr.attributes
  - dockyard.docr.attributes.actions
notes:
  - Needs a token with the C(kubernetes:read), C(kubernetes:update) and C(registry:read) scopes (and
    C(kubernetes:create) to add registries).
  - DigitalOcean applies the integration by writing an image pull secret into every namespace of the cluster;
    the API call returns before that is done everywhere.
seealso:
  - module: dockyard.docr.docr_doks_integration_info
  - module: dockyard.docr.docr_registry
  - name: How to integrate DOCR with DOKS
    description: DigitalOcean's documentation of the integration.
    link: https://docs.digitalocean.com/products/container-registry/how-to/use-registry-docker-kubernetes/
"""

EXAMPLES = r"""
- name: Let both production clusters in nyc3 pull from the nyc3 registry
  dockyard.docr.docr_doks_integration:
    clusters: [prod-nyc3-a, prod-nyc3-b]
    registries: [acme-nyc3]

- name: Converge a multi-region layout in one task (one write per distinct registry set)
  dockyard.docr.docr_doks_integration:
    integrations:
      - registry: acme-nyc3
        clusters: [prod-nyc3-a, prod-nyc3-b]
      - registry: acme-sfo3
        clusters: [prod-sfo3-a, prod-sfo3-b]
      - registry: acme-ams3
        clusters: [prod-ams3-a, prod-ams3-b]

- name: A staging cluster in ams3 that may pull from the nyc3 registry, explicitly allowed
  dockyard.docr.docr_doks_integration:
    integrations:
      - registry: acme-nyc3
        clusters: [staging-ams3]
        allow_cross_region: true

- name: Single-registry account, the console's 1-click integration
  dockyard.docr.docr_doks_integration:
    clusters: [staging]

- name: Stop a cluster pulling from one registry (others stay)
  dockyard.docr.docr_doks_integration:
    clusters: [bd5f5959-5e1e-4205-a714-a914373942af]
    registries: [acme-old]
    state: absent
"""

RETURN = r"""
clusters:
  description:
    - The named clusters after the run, in the order first named. In check mode, as they would be.
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
        - The cluster's C(registry_enabled) flag as the API reported it. The single-registry integration sets
          and clears it (so the module predicts it on that path); with O(registries) or O(integrations) it is
          returned as read, since the API does not document whether the per-registry calls change it.
      type: bool
      sample: true
    registries:
      description: Names of the registries integrated with the cluster, sorted.
      type: list
      elements: str
      sample: [acme-nyc3]
cross_region:
  description:
    - The cluster/registry pairs (wanted, not removed) whose regions differ, except those an O(integrations) item
      allows with O(integrations[].allow_cross_region=true).
    - Also in the failure result when O(require_colocation=true) refuses them.
  returned: always
  type: list
  elements: dict
  contains:
    cluster:
      description: Cluster name.
      type: str
    cluster_region:
      description: Cluster region.
      type: str
    registry:
      description: Registry name.
      type: str
    registry_region:
      description: Registry region.
      type: str
  sample: [{cluster: prod-sfo3-a, cluster_region: sfo3, registry: acme-nyc3, registry_region: nyc3}]
"""

from ansible_collections.dockyard.docr.plugins.module_utils import _doks as doks
from ansible_collections.dockyard.docr.plugins.module_utils import _registry as reg
from ansible_collections.dockyard.docr.plugins.module_utils._base import PlannedResource, run_resource


class DoksIntegration(PlannedResource):
    argument_spec = dict(
        clusters=dict(type="list", elements="str"),
        registries=dict(type="list", elements="str"),
        integrations=dict(
            type="list",
            elements="dict",
            options=dict(
                registry=dict(type="str", required=True),
                clusters=dict(type="list", elements="str", required=True),
                allow_cross_region=dict(type="bool", default=False),
            ),
        ),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        require_colocation=dict(type="bool", default=True),
    )
    module_kwargs = dict(
        mutually_exclusive=[("integrations", "clusters"), ("integrations", "registries")],
        required_one_of=[("clusters", "integrations")],
    )

    def __init__(self, docr):
        super(DoksIntegration, self).__init__(docr)
        # every option checked before the first API call
        self.wanted = doks.wanted_from_options(self.params["clusters"], self.params["registries"], self.params["integrations"])

    def read(self):
        # two reads: every cluster (all pages), every registry
        return dict(clusters=doks.list_clusters(self.api), registries=doks.registry_regions(reg.list_registries(self.api)))

    def plan(self, current):
        return doks.plan_integration(current["clusters"], current["registries"], self.wanted,
                                     self.params["state"], self.params["require_colocation"])


def main():
    run_resource(DoksIntegration)


if __name__ == "__main__":
    main()
