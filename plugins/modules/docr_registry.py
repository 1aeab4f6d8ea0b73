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
  - An unchanged re-run reads the registry once (and the subscription only when O(subscription_tier) is
    set) and writes nothing.
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
      V(null) otherwise (it is not read, to keep unchanged runs to one API call).
    - In check mode, the predicted subscription, with the terms of the tier it would be on (as the API's options
      list them); RV(subscription.created_at) and RV(subscription.updated_at) stay as they are (V(null) for an
      account without a subscription yet).
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
from ansible_collections.dockyard.docr.plugins.module_utils._base import StatefulResource, run_resource
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError, DocrInputError


class Registry(StatefulResource):
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        region=dict(type="str"),
        subscription_tier=dict(type="str", choices=list(reg.TIERS)),
        force=dict(type="bool", default=False),
    )

    def __init__(self, docr):
        super(Registry, self).__init__(docr)
        self.name = self.params["name"]
        self.tier = self.params["subscription_tier"]
        self.registry = None
        self.subscription = None
        self._options_cache = None
        self._listing = None
        problem = reg.check_name(self.name)
        if problem:
            raise DocrInputError(problem)

    # The state compared for `changed` and shown in the diff.
    def _state(self, registry, tier):
        state = dict(name=registry["name"], region=registry.get("region"))
        if self.tier is not None:
            state["subscription_tier"] = tier
        return state

    def _registries(self):
        """The account's registries, read once a run (their items carry the subscription)."""
        if self._listing is None:
            self._listing = reg.list_registries(self.api)
        return self._listing

    def _account_subscription(self):
        """The subscription: from the registry list when it has items, else its own read."""
        return reg.listed_subscription(self._registries()) or reg.get_subscription(self.api)

    def fetch(self):
        if self.tier is None:
            self.registry = reg.get_registry(self.api, self.name)
            return None if self.registry is None else self._state(self.registry, None)
        # With subscription_tier, one read gives both: the registry list carries the subscription.
        self.registry = next((r for r in self._registries() if r.get("name") == self.name), None)
        if self.registry is None:
            return None
        self.subscription = self._account_subscription()
        return self._state(self.registry, _tier_of(self.subscription))

    def _options(self):
        if self._options_cache is None:
            self._options_cache = reg.get_options(self.api)
        return self._options_cache

    def _check_region(self, region):
        regions = self._options().get("available_regions") or []
        if regions and region not in regions:
            raise DocrInputError("region=%s is not a region DOCR offers; choose one of: %s." % (region, ", ".join(regions)))

    def _check_tier_change(self, current, registry_count=None):
        """Fail before any write on a tier the account cannot move to."""
        wanted = self.tier
        if wanted != "professional":
            if registry_count is None:
                registry_count = len(self._registries())
            if registry_count > reg.MAX_REGISTRIES[wanted]:
                raise DocrInputError(
                    "subscription_tier=%s allows one registry but the account has %d; only professional allows several."
                    % (wanted, registry_count)
                )
        if current is None or reg.TIERS.index(wanted) >= reg.TIERS.index(current):
            return
        for tier in self._options().get("subscription_tiers") or []:
            if tier.get("slug") == wanted and tier.get("eligible") is False:
                raise DocrInputError(
                    "subscription_tier=%s: the account is not eligible to move from %s to %s (%s)."
                    % (wanted, current, wanted, ", ".join(tier.get("eligibility_reasons") or ["no reason given"]))
                )

    def _set_tier(self, current):
        """Apply subscription_tier when it differs; return the tier slug after the run."""
        if self.tier is None or self.tier == current:
            return current
        if self.check_mode:
            self.subscription = self._predicted_subscription(self.subscription)
        else:
            self.subscription = reg.update_subscription(self.api, self.tier)
        return self.tier

    def _predicted_subscription(self, current):
        """Check mode: the subscription on the wanted tier, with that tier's terms as the options endpoint lists them."""
        for tier in self._options().get("subscription_tiers") or []:
            if tier.get("slug") == self.tier:
                return dict(current or {}, tier=tier)
        raise DocrError("The API's options list no subscription tier %r (option subscription_tier)." % self.tier)

    def create(self):
        region = self.params["region"]
        existing = self._registries()
        self.subscription = self._account_subscription()
        current = _tier_of(self.subscription)
        if current is None and self.tier is None:
            raise DocrInputError(
                "The account has no container registry subscription yet: set subscription_tier "
                "(starter, basic or professional) to create its first registry."
            )
        effective = self.tier or current
        if len(existing) >= reg.MAX_REGISTRIES[effective]:
            if effective != "professional":
                raise DocrInputError(
                    "Cannot create registry %r: the account already has a registry (%s) and the %s tier allows one. "
                    "Set subscription_tier=professional to hold up to %d."
                    % (self.name, ", ".join(r.get("name") for r in existing), effective, reg.MAX_REGISTRIES["professional"])
                )
            raise DocrInputError(
                "Cannot create registry %r: the account already has %d registries, the most the professional tier allows."
                % (self.name, len(existing))
            )
        if region is not None:
            self._check_region(region)
        if current is not None and self.tier is not None and self.tier != current:
            self._check_tier_change(current, len(existing))
        if not reg.name_available(self.api, self.name):
            found = reg.get_registry(self.api, self.name)
            if found is None:
                raise DocrInputError("name %r is already taken: registry names are unique across all of DigitalOcean." % self.name)
            # Taken by this account a moment ago (another run converging the same registry): converge on it.
            self.registry = found
            return self.update(self._state(found, current))

        if current is None:
            # The first registry signs the account up for its tier in the same call.
            tier = self.tier
            if self.check_mode:
                self.subscription = self._predicted_subscription(None)
        else:
            tier = self._set_tier(current)
        if self.check_mode:
            self.registry = dict(name=self.name, region=region)
        else:
            self.registry = reg.create_registry(self.api, self.name, region, self.tier if current is None else None)
            if current is None:
                self.subscription = reg.get_subscription(self.api)
        return self._state(self.registry, tier)

    def update(self, before):
        region = self.params["region"]
        if region is not None and region != before["region"]:
            raise DocrInputError(
                "region=%s does not match registry %r, which is in %s. A registry cannot move between regions: "
                "remove region, or create a registry with another name there." % (region, self.name, before["region"])
            )
        current = before.get("subscription_tier")
        if self.tier is not None and self.tier != current:
            self._check_tier_change(current)
        return self._state(self.registry, self._set_tier(current))

    def delete(self, before):
        count = reg.repository_count(self.api, self.name)
        if count and not self.params["force"]:
            raise DocrInputError(
                "Registry %r still holds %d repositor%s; deleting it deletes every image in it. "
                "Set force=true to delete it anyway." % (self.name, count, "y" if count == 1 else "ies"),
                repositories=count,
            )
        if not self.check_mode:
            reg.delete_registry(self.api, self.name)
        return None

    def result(self, before, after):
        registry = None
        if after is not None and self.registry is not None:
            registry = reg.normalize_registry(self.registry)
            if self.check_mode and before is None:
                registry.update(created_at=None, storage_usage_bytes=0, storage_usage_bytes_updated_at=None)
        return dict(registry=registry, subscription=reg.normalize_subscription(self.subscription))


def _tier_of(subscription):
    return ((subscription or {}).get("tier") or {}).get("slug")


def main():
    run_resource(Registry)


if __name__ == "__main__":
    main()
