#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: docr_registry_info
short_description: Read DigitalOcean container registries, the subscription and the available options
version_added: 0.2.0
description:
  - Returns the account's container registries (all, or one by name), its registry subscription, and the
    regions and subscription tiers DigitalOcean offers (with whether the account is eligible for each).
  - With O(repositories=true), also each registry's repositories and their tags.
  - Changes nothing.
author:
  - dockyard.docr maintainers (@dockyard)
options:
  name:
    description:
      - Return only this registry. When it does not exist, RV(registries) is an empty list (not a failure).
    type: str
  repositories:
    description:
      - Also return each registry's repositories, each with its tags.
      - Costs one paginated call per registry plus one per repository.
    type: bool
    default: false
extends_documentation_fragment:
  - dockyard.docr.common
  - dockyard.docr.attributes
  - dockyard.docr.attributes.info
seealso:
  - module: dockyard.docr.docr_registry
"""

EXAMPLES = r"""
- name: Everything about the account's registries
  dockyard.docr.docr_registry_info:
  register: docr

- name: Show each registry's address
  ansible.builtin.debug:
    msg: "{{ docr.registries | map(attribute='server_url') | list }}"

- name: One registry with its repositories and tags
  dockyard.docr.docr_registry_info:
    name: acme
    repositories: true
  register: acme

- name: Fail early when the account cannot drop to the basic tier
  ansible.builtin.assert:
    that: docr.options.subscription_tiers | selectattr('slug', 'eq', 'basic') | map(attribute='eligible') | first
"""

RETURN = r"""
registries:
  description: The registries (one, or none, with O(name)). Empty when there are none.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Registry name.
      type: str
      sample: acme
    region:
      description: Region slug.
      type: str
      sample: fra1
    created_at:
      description: When the registry was created.
      type: str
    storage_usage_bytes:
      description: Storage used, in bytes.
      type: int
    storage_usage_bytes_updated_at:
      description: When the storage usage was computed.
      type: str
    server_url:
      description: Address for docker and image references.
      type: str
      sample: registry.digitalocean.com/acme
    repositories:
      description: The registry's repositories, with O(repositories=true).
      returned: when O(repositories=true)
      type: list
      elements: dict
      contains:
        name:
          description: Repository name.
          type: str
        tag_count:
          description: Number of tags.
          type: int
        manifest_count:
          description: Number of manifests, tagged or not.
          type: int
        latest_manifest:
          description: The most recently pushed manifest (digest, tags, size_bytes, compressed_size_bytes, updated_at).
          type: dict
        tags:
          description: Every tag (tag, manifest_digest, size_bytes, compressed_size_bytes, updated_at).
          type: list
          elements: dict
subscription:
  description: The account's subscription (tier, tier_name, included_repositories, included_storage_bytes, ...); V(null) when none.
  returned: always
  type: dict
options:
  description: What DigitalOcean offers.
  returned: always
  type: dict
  contains:
    regions:
      description: Region slugs where a registry can be created.
      type: list
      elements: str
      sample: [nyc3, sfo3, ams3, sgp1, fra1]
    subscription_tiers:
      description: Tiers (slug, name, included_repositories, included_storage_bytes, allow_storage_overage,
        monthly_price_in_cents, eligible, eligibility_reasons).
      type: list
      elements: dict
"""

from ansible_collections.dockyard.docr.plugins.module_utils import _registry as reg
from ansible_collections.dockyard.docr.plugins.module_utils._base import Resource, run_resource


class RegistryInfo(Resource):
    argument_spec = dict(
        name=dict(type="str"),
        repositories=dict(type="bool", default=False),
    )

    def run(self):
        name = self.params["name"]
        if name is not None:
            reg.require_name(name, "name")
        # One list read gives the registries and the subscription (the spec puts it on every item of the list).
        listed = reg.list_registries(self.api)
        registries = [r for r in listed if name is None or r.get("name") == name]
        result = []
        for registry in sorted(registries, key=lambda r: r.get("name") or ""):
            item = reg.normalize_registry(registry)
            if self.params["repositories"]:
                item["repositories"] = [
                    reg.normalize_repository(repo, reg.list_tags(self.api, item["name"], repo["name"]))
                    for repo in reg.list_repositories(self.api, item["name"])
                ]
            result.append(item)
        return dict(
            registries=result,
            subscription=reg.normalize_subscription(reg.listed_subscription(listed) or reg.get_subscription(self.api)),
            options=reg.normalize_options(reg.get_options(self.api)),
        )


def main():
    run_resource(RegistryInfo)


if __name__ == "__main__":
    main()
