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
  - Unknown cluster or registry names fail before any write, listing every unknown one.
  - A cluster that pulls from a registry in another region pulls slowly, and the transfer is billed. The
    module warns about such pairs, and fails on them before any write with O(require_colocation=true).
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
          - Accept clusters of this entry in another region than the registry, without a warning and
            even with O(require_colocation=true).
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
      - Fail, before any write, when a cluster is in another region than a registry it should pull from.
      - When V(false), such pairs only produce a warning.
    type: bool
    default: false
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
    require_colocation: true

- name: Converge a multi-region layout in one task (one write per distinct registry set)
  dockyard.docr.docr_doks_integration:
    integrations:
      - registry: acme-nyc3
        clusters: [prod-nyc3-a, prod-nyc3-b]
      - registry: acme-sfo3
        clusters: [prod-sfo3-a, prod-sfo3-b]
      - registry: acme-ams3
        clusters: [prod-ams3-a, prod-ams3-b]
    require_colocation: true

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
  description: The cluster/registry pairs (wanted, not removed) whose regions differ.
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
from ansible_collections.dockyard.docr.plugins.module_utils._base import Resource, run_resource
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError, DocrInputError


class DoksIntegration(Resource):
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
        require_colocation=dict(type="bool", default=False),
    )
    module_kwargs = dict(
        mutually_exclusive=[("integrations", "clusters"), ("integrations", "registries")],
        required_one_of=[("clusters", "integrations")],
    )

    def _wanted(self):
        """``[(cluster_ref, registry_or_None, allow_cross_region)]`` from the options, validated locally."""
        pairs = []
        if self.params["integrations"] is not None:
            for index, item in enumerate(self.params["integrations"]):
                option = "integrations[%d].registry" % index
                problem = reg.check_name(item["registry"], option)
                if problem:
                    raise DocrInputError(problem)
                if not item["clusters"]:
                    raise DocrInputError("integrations[%d].clusters must name at least one cluster." % index)
                for ref in item["clusters"]:
                    pairs.append((ref, item["registry"], item["allow_cross_region"]))
            if not pairs:
                raise DocrInputError("integrations must hold at least one registry with its clusters.")
            return pairs
        refs = self.params["clusters"]
        if not refs:
            raise DocrInputError("clusters must name at least one DOKS cluster (by name or UUID).")
        registries = self.params["registries"]
        if registries is None:
            return [(ref, None, False) for ref in refs]
        if not registries:
            raise DocrInputError("registries must name at least one registry; omit it for the single-registry integration.")
        for name in registries:
            problem = reg.check_name(name, "registries")
            if problem:
                raise DocrInputError(problem)
        return [(ref, name, False) for ref in refs for name in registries]

    def run(self):
        pairs = self._wanted()
        legacy = pairs[0][1] is None
        absent = self.params["state"] == "absent"
        option = "integrations" if self.params["integrations"] is not None else "clusters"

        # Reads: every cluster (all pages), every registry. Then validate everything before any write.
        all_clusters = doks.list_clusters(self.api)
        all_registries = reg.list_registries(self.api)
        resolved = doks.resolve_clusters(all_clusters, [p[0] for p in pairs], option)
        if not legacy:
            doks.check_registries(all_registries, [p[1] for p in pairs], "integrations" if option == "integrations" else "registries")
        elif not all_registries and not absent:
            raise DocrInputError("The account has no container registry to integrate; create one first (docr_registry).")
        elif len(all_registries) > 1:
            # The single-registry endpoints answer 412 on accounts with several registries.
            raise DocrInputError(
                "registries is required: the account has %d registries (%s), and the single-registry integration "
                "works only on accounts with one. List the registries each cluster should pull from."
                % (len(all_registries), ", ".join(sorted(r.get("name") for r in all_registries)))
            )
        regions = dict((r.get("name"), r.get("region")) for r in all_registries)
        legacy_name = all_registries[0].get("name") if legacy and len(all_registries) == 1 else None

        # Clusters in the order first named, and what each should have.
        order = []
        wanted = {}
        for ref, registry, allow in pairs:
            cluster = resolved[ref]
            if cluster["id"] not in wanted:
                order.append(cluster)
                wanted[cluster["id"]] = []
            name = registry if not legacy else legacy_name
            if name is not None and (name, allow) not in wanted[cluster["id"]]:
                wanted[cluster["id"]].append((name, allow))

        cross = []
        if not absent:
            checked = [(c, name) for c in order for name, allow in wanted[c["id"]] if not allow]
            for cluster, name, region in doks.cross_region_pairs(checked, regions):
                cross.append(dict(cluster=cluster["name"], cluster_region=cluster["region"], registry=name, registry_region=region))
            if cross:
                text = "; ".join(
                    "cluster %s (%s) would pull from registry %s (%s)"
                    % (x["cluster"], x["cluster_region"], x["registry"], x["registry_region"]) for x in cross
                )
                if self.params["require_colocation"]:
                    raise DocrInputError(
                        "require_colocation: clusters and registries in different regions: %s. Use a registry in the "
                        "cluster's region, or allow the pair explicitly." % text,
                        cross_region=cross,
                    )
                self.docr.warn(
                    "Cross-region registry integration: %s. Image pulls across regions are slower and the transfer "
                    "is billed." % text
                )

        # What each path reads (the API documents no relation between the two fields, and answers are seen
        # with "registry_enabled": false next to a list of registries):
        # - per registry (registries / integrations): `registries` alone decides.
        # - single registry: integrated when either signal says so, the legacy `registry_enabled` flag or the
        #   account's registry in `registries`; state=absent clears whichever is set.
        after = {}
        legacy_ids = []
        named = {}
        for cluster in order:
            have = set(cluster["registries"])
            names = set(name for name, _allow in wanted[cluster["id"]])
            new = dict(cluster)
            if legacy:
                listed = legacy_name is not None and legacy_name in have
                if absent:
                    if cluster["registry_enabled"]:
                        legacy_ids.append(cluster["id"])
                    if listed:
                        named[cluster["id"]] = [legacy_name]
                    new.update(registry_enabled=False, registries=sorted(have - set([legacy_name])))
                elif not (cluster["registry_enabled"] or listed):
                    legacy_ids.append(cluster["id"])
                    new.update(registry_enabled=True)
            elif absent:
                if have & names:
                    named[cluster["id"]] = sorted(names)
                    new.update(registries=sorted(have - names))
            elif not names <= have:
                # the whole wanted set: adding is a union, and clusters wanting the same set share one call
                named[cluster["id"]] = sorted(names)
                new.update(registries=sorted(have | names))
            after[cluster["id"]] = new

        if (legacy_ids or named) and not self.check_mode:
            self._write(absent, sorted(legacy_ids), named)

        view = _integrated if legacy else _registries
        before_state = dict((c["name"], view(c, legacy_name)) for c in order)
        after_state = dict((c["name"], view(after[c["id"]], legacy_name)) for c in order)
        result = dict(
            changed=before_state != after_state,
            clusters=[after[c["id"]] for c in order],
            cross_region=cross,
        )
        if self.docr.diff_mode:
            result["diff"] = dict(before=dict(clusters=before_state), after=dict(clusters=after_state))
        return result

    def _write(self, absent, legacy_ids, named):
        if legacy_ids:
            if absent:
                doks.remove_legacy_registry(self.api, legacy_ids)
            else:
                doks.add_legacy_registry(self.api, legacy_ids)
        for ids, names in doks.group_writes(named):
            try:
                if absent:
                    doks.remove_registries(self.api, ids, names)
                else:
                    doks.add_registries(self.api, ids, names)
            except DocrError as exc:
                exc.msg = "%s (while %s registries %s %s clusters %s)" % (
                    exc.msg, "removing" if absent else "adding", ", ".join(names), "from" if absent else "to", ", ".join(ids))
                raise


def _registries(cluster, _legacy_name):
    """The per-registry view compared for `changed` and shown in the diff."""
    return dict(registries=cluster["registries"])


def _integrated(cluster, legacy_name):
    """The single-registry view: integrated when either signal says so."""
    return dict(integrated=bool(cluster["registry_enabled"] or (legacy_name is not None and legacy_name in cluster["registries"])))


def main():
    run_resource(DoksIntegration)


if __name__ == "__main__":
    main()
