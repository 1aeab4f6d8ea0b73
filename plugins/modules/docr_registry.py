#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: docr_registry
short_description: Create or delete a DigitalOcean container registry, and set the account's subscription tier
version_added: 0.2.0
description:
  - Ensures one DigitalOcean Container Registry (DOCR) exists (or does not), by name, through the
    multi-registry API (C(/v2/registries)).
  - Sets the account's registry subscription tier when O(subscription_tier) is given. The tier is
    B(account-wide), shared by every registry of the account, not a property of one registry.
  - An account holds one registry on the C(starter) and C(basic) tiers, and up to 10 on C(professional).
  - Every rule is checked before any write, and the run costs as few API calls as the rules allow. An
    unchanged re-run reads the account's registry list once (it carries the subscription) and writes nothing.
    A create costs that read and the create itself (the account's first registry signs up for
    O(subscription_tier) in the same call); a tier change adds its own call, and reads what it must check
    first (the name, the region, a downgrade's eligibility). A delete costs the read, the repository count
    (not with O(force=true)) and the delete.
author:
  - dockyard.docr maintainers (@dockyard)
options:
  name:
    description:
      - Name of the registry. Globally unique across DigitalOcean; 1 to 63 lowercase letters, digits and C(-).
      - It becomes part of image references, C(registry.digitalocean.com/<name>/<repository>:<tag>).
    type: str
    required: true
  state:
    description:
      - C(present) creates the registry when it does not exist.
      - C(absent) deletes it. A registry that still holds repositories is deleted only with O(force=true).
    type: str
    choices: [present, absent]
    default: present
  region:
    description:
      - Region slug where the registry stores its data, such as C(nyc3), C(sfo3), C(ams3), C(sgp1) or C(fra1).
      - Used when the registry is created; when omitted, DigitalOcean picks one.
      - It must be a region DOCR offers for registries; any other fails, naming this option, and creates nothing.
      - A registry cannot move. If it exists in another region the module fails, naming this option, and
        changes nothing.
    type: str
  subscription_tier:
    description:
      - The account's subscription tier, C(starter), C(basic) or C(professional).
      - This is account-wide; changing it here changes it for every registry of the account.
      - Needed when the account has no subscription yet (its first registry). When omitted, the current tier is
        left as it is.
      - Creating a second registry needs C(professional); the module fails before any write otherwise.
      - A downgrade the account is not eligible for (too many repositories or too much storage for the lower
        tier, or more than one registry) fails before any write, with the reasons.
    type: str
    choices: [starter, basic, professional]
  force:
    description:
      - With O(state=absent), delete the registry even when it still holds repositories, with all their images.
      - Without it, deleting a registry that holds repositories fails, naming how many.
    type: bool
    default: false
extends_documentation_fragment:
  - dockyard.docr.common
  - dockyard.docr.attributes
  - dockyard.docr.attributes.actions
seealso:
  - module: dockyard.docr.docr_registry_info
"""

EXAMPLES = r"""
- name: Create the account's first registry, signing up for the basic tier
  dockyard.docr.docr_registry:
    name: acme
    region: fra1
    subscription_tier: basic

- name: One registry per region (needs the professional tier)
  dockyard.docr.docr_registry:
    name: "acme-{{ item }}"
    region: "{{ item }}"
    subscription_tier: professional
  loop: [nyc3, sfo3, ams3]

- name: Set the token once for every module of the collection
  module_defaults:
    group/dockyard.docr.docr:
      token: "{{ lookup('ansible.builtin.env', 'DIGITALOCEAN_ACCESS_TOKEN') }}"
  block:
    - name: Delete a registry that is empty
      dockyard.docr.docr_registry:
        name: acme-old
        state: absent

    - name: Delete a registry together with every image it holds
      dockyard.docr.docr_registry:
        name: acme-scratch
        state: absent
        force: true
"""

RETURN = r"""
registry:
  description: The registry after the run; V(null) after O(state=absent). In check mode, the predicted registry.
  returned: always
  type: dict
  contains:
    name:
      description: Registry name.
      type: str
      sample: acme
    region:
      description: Region slug where the registry stores data (V(null) in check mode when DigitalOcean would pick it).
      type: str
      sample: fra1
    created_at:
      description: When the registry was created (ISO 8601).
      type: str
      sample: "2026-11-22T07:36:58Z"
    storage_usage_bytes:
      description: Storage the registry uses, in bytes (computed by DigitalOcean asynchronously).
      type: int
      sample: 29393920
    storage_usage_bytes_updated_at:
      description: When the storage usage was last computed.
      type: str
      sample: "2026-11-22T07:36:58Z"
    server_url:
      description: The registry's address for C(docker login), C(docker push) and image references.
      type: str
      sample: registry.digitalocean.com/acme
subscription:
  description:
    - The account's subscription after the run. Returned when O(subscription_tier) is set or a registry was created;
      V(null) otherwise.
    - In check mode, the predicted subscription, with the terms of the tier it would be on (as the API's options
      list them); RV(subscription.created_at) and RV(subscription.updated_at) stay as they are.
    - When the run created the account's first registry (which signs the account up for O(subscription_tier)), the
      answer to the create does not carry the subscription, so only RV(subscription.tier) is known and the other
      fields are V(null), in check mode as well (M(dockyard.docr.docr_registry_info) reads them).
  returned: always
  type: dict
  contains:
    tier:
      description: Tier slug.
      type: str
      sample: professional
    tier_name:
      description: Tier display name.
      type: str
      sample: Professional
    included_repositories:
      description: Repositories included in the tier (V(0) means unlimited).
      type: int
    included_storage_bytes:
      description: Storage included in the tier, in bytes.
      type: int
    allow_storage_overage:
      description: Whether storage beyond the included amount is allowed (and billed).
      type: bool
    monthly_price_in_cents:
      description: Monthly price of the tier, in US cents.
      type: int
    created_at:
      description: When the subscription was created.
      type: str
    updated_at:
      description: When the subscription last changed.
      type: str
repositories:
  description:
    - How many repositories the registry holds, in the failure result of O(state=absent) without O(force)
      when it holds any (nothing was deleted).
  returned: when O(state=absent) is refused because the registry is not empty (the run fails)
  type: int
  sample: 3
"""

from ansible_collections.dockyard.docr.plugins.module_utils import _registry as reg
from ansible_collections.dockyard.docr.plugins.module_utils._base import PlannedResource, run_resource


class Registry(PlannedResource):
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        region=dict(type="str"),
        subscription_tier=dict(type="str", choices=list(reg.TIERS)),
        force=dict(type="bool", default=False),
    )

    def __init__(self, docr):
        super(Registry, self).__init__(docr)
        reg.require_name(self.params["name"], "name")

    def read(self):
        return reg.read_registry(self.api, self.params, self.check_mode)

    def plan(self, current):
        return reg.plan_registry(current, self.params)

    def settle(self, plan, answers):
        return reg.settle_registry(plan, answers, self.params)


def main():
    run_resource(Registry)


if __name__ == "__main__":
    main()
