#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: docr_layout_plan
short_description: Validate a whole DOCR registry layout against the account and say what differs
version_added: 0.3.0
description:
  - Reads the account once and returns the plan of a registry layout (the C(docr_layout) variable of the
    C(dockyard.docr.registry_layout) role) - the registries to create, the subscription tier to set, the DOKS
    integrations to add, the registries to take off their clusters and delete, and the GC settings for
    C(dockyard.docr.gc_schedule). The role applies that plan with M(dockyard.docr.docr_registry) and
    M(dockyard.docr.docr_doks_integration), and only what differs.
  - Never writes. Fails, before anything is written by anyone, when the layout is not valid, listing every
    problem at once, each naming the variable (such as C(docr_layout.registries[2].region)) with the
    services' own rules - malformed or duplicate registry names; a registry that would move to another
    region; a region DOCR does not offer; unknown or ambiguous clusters; clusters in another region than
    their registry (with C(docr_layout.require_colocation), the default); more registries than the tier or
    DigitalOcean allow; a tier the account is not eligible for; a registry marked absent that still holds
    repositories, without C(force); and, with C(schedule_gc), each registry's C(gc) settings as
    C(dockyard.docr.gc_schedule) checks them.
  - "Reads: the registry list (whose items carry the subscription) and the DOKS cluster list (all pages): 2 API
    calls when nothing is to be created or deleted. Only when the layout needs them: the options (regions DOCR
    offers, tier eligibility) when registries are to be created or the tier goes down (a single create in a
    region the API's spec lists is validated by the API, as M(dockyard.docr.docr_registry) does, since it is
    the converge's first write; check mode still reads them); the subscription when
    the account has no registry, the layout creates one and names no tier; the repository count of each
    registry marked absent without C(force)."
  - C(changed) says whether the account differs from the layout (what a converge would change), so that a
    check-mode run shows the change with its diff and a converged layout shows none. It is the same in
    check mode, since the module only reads.
author:
  - dockyard.docr maintainers (@dockyard)
options:
  docr_layout:
    description:
      - The layout, in the shape of the C(dockyard.docr.registry_layout) role's C(docr_layout) variable (its
        C(meta/argument_specs.yml) documents every key) - C(subscription_tier), C(require_colocation)
        (default V(true)), C(schedule_gc) (default V(false)) and C(registries), a list of C(name), C(region),
        C(state) (V(present) or V(absent)), C(force), C(clusters), C(allow_cross_region) and C(gc).
      - Checked here rather than by the argument spec, so that every problem is reported at once, each by
        its path in the layout.
    type: dict
    required: true
extends_documentation_fragment:
  - dockyard.docr.common
  - dockyard.docr.attributes
attributes:
  check_mode:
    description: Only reads, so it runs the same in check mode and returns the same plan.
    support: full
  diff_mode:
    description: Returns the account as the layout sees it, now and after a converge, as a diff.
    support: full
notes:
  - Needs a token with the C(registry:read) and C(kubernetes:read) scopes.
seealso:
  - module: dockyard.docr.docr_registry
  - module: dockyard.docr.docr_doks_integration
"""

EXAMPLES = r"""
- name: Plan the layout (fails listing every problem)
  dockyard.docr.docr_layout_plan:
    docr_layout:
      subscription_tier: professional
      registries:
        - name: acme-nyc3
          region: nyc3
          clusters: [prod-nyc3-a, prod-nyc3-b]
        - name: acme-old
          region: fra1
          state: absent
  register: layout

- name: Create the registries the plan lists
  dockyard.docr.docr_registry:
    name: "{{ item.name }}"
    region: "{{ item.region }}"
    subscription_tier: "{{ item.subscription_tier | default(omit, true) }}"
  loop: "{{ layout.plan.registries }}"
"""

RETURN = r"""
plan:
  description: What differs between the layout and the account. Every list is empty when nothing differs.
  returned: success
  type: dict
  contains:
    registries:
      description:
        - The M(dockyard.docr.docr_registry) calls to make before the deletes, in order - each registry to
          create (with the layout's tier), or, when only the tier goes up, one call on a registry the layout keeps.
      type: list
      elements: dict
      sample: [{name: acme-nyc3, region: nyc3, subscription_tier: professional}]
    tier_after_deletes:
      description: The M(dockyard.docr.docr_registry) call that moves the tier down, after the deletes; V(null) when none.
      type: dict
      sample: null
    integrations:
      description:
        - The O(dockyard.docr.docr_doks_integration#module:integrations) items to apply - per registry, the
          clusters (UUIDs) that do not pull from it yet.
      type: list
      elements: dict
      sample: [{registry: acme-nyc3, clusters: [bd5f5959-5e1e-4205-a714-a914373942af], allow_cross_region: false}]
    integration_writes:
      description: The integration writes those items cost, one per distinct registry set (C(clusters), C(registries)).
      type: list
      elements: dict
      sample: [{clusters: [bd5f5959-5e1e-4205-a714-a914373942af], registries: [acme-nyc3]}]
    removals:
      description: Per registry marked absent, the clusters (UUIDs) that pull from it (C(registry), C(clusters)).
      type: list
      elements: dict
      sample: [{registry: acme-old, clusters: [bd5f5959-5e1e-4205-a714-a914373942af]}]
    deletes:
      description: The registries to delete (C(name), C(force)).
      type: list
      elements: dict
      sample: [{name: acme-old, force: false}]
    gc:
      description: Each present registry's C(gc) settings with its C(name), for C(dockyard.docr.gc_schedule).
      type: list
      elements: dict
      sample: [{name: acme-nyc3, type: untagged_manifests_only, min_interval: 7d}]
    present:
      description: The names of the layout's present registries.
      type: list
      elements: str
      sample: [acme-nyc3]
    before:
      description:
        - The account as the layout sees it - C(subscription_tier) (V(null) when the account has no registry, whose
          list would carry it), C(registries) (name to region) and C(clusters) (name to the registries it pulls from).
      type: dict
      sample: {subscription_tier: professional, registries: {acme-nyc3: nyc3}, clusters: {prod-nyc3-a: []}}
    after:
      description: The same view after a converge.
      type: dict
      sample: {subscription_tier: professional, registries: {acme-nyc3: nyc3}, clusters: {prod-nyc3-a: [acme-nyc3]}}
cross_region:
  description: The cross-region pairs accepted with C(docr_layout.require_colocation=false) (also given as warnings).
  returned: success
  type: list
  elements: str
  sample: ["cluster prod-ams3-a (ams3) and registry acme-nyc3 (nyc3) are in different regions"]
problems:
  description: Every problem found, when the layout is not valid (the module then fails).
  returned: failure
  type: list
  elements: str
  sample: ["docr_layout.registries[2].region=nyc33 is not a region DOCR offers; choose one of: nyc3, sfo3, ams3."]
"""

from ansible_collections.dockyard.docr.plugins.module_utils import _doks as doks
from ansible_collections.dockyard.docr.plugins.module_utils import _layout as layout_rules
from ansible_collections.dockyard.docr.plugins.module_utils import _registry as reg
from ansible_collections.dockyard.docr.plugins.module_utils._base import Plan, PlannedResource, run_resource
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrInputError


def _fail(problems):
    raise DocrInputError("%s is not valid (%d problem%s): %s" % (
        layout_rules.VARIABLE, len(problems), "" if len(problems) == 1 else "s", " ".join(problems)), problems=problems)


class LayoutPlan(PlannedResource):
    argument_spec = dict(
        docr_layout=dict(type="dict", required=True),
    )

    def __init__(self, docr):
        super(LayoutPlan, self).__init__(docr)
        # The layout's shape is checked before any API call: the plan cannot be made without it.
        self.layout, problems = layout_rules.check_shape(self.params["docr_layout"])
        if problems:
            _fail(problems)

    def read(self):
        registries = reg.list_registries(self.api)
        account = dict(registries=registries, clusters=doks.list_clusters(self.api), options=None,
                       subscription_tier=None, repositories={})
        wanted = layout_rules.needs(self.layout, registries, self.check_mode)
        if wanted["options"]:
            account["options"] = reg.normalize_options(reg.get_options(self.api))
        if wanted["subscription"]:
            account["subscription_tier"] = (reg.normalize_subscription(reg.get_subscription(self.api)) or {}).get("tier")
        for name in wanted["count"]:
            account["repositories"][name] = reg.repository_count(self.api, name)
        return account

    def plan(self, current):
        problems, cross = layout_rules.problems(self.layout, current)
        if problems:
            _fail(problems)
        planned = layout_rules.plan(self.layout, current)
        warnings = ["Cross-region registry integration allowed by %s.require_colocation=false: %s. Image pulls across "
                    "regions are slower and the transfer is billed." % (layout_rules.VARIABLE, "; ".join(cross))] if cross else []
        return Plan(planned["before"], planned["after"], result=dict(plan=planned, cross_region=cross), warnings=warnings)


def main():
    run_resource(LayoutPlan)


if __name__ == "__main__":
    main()
