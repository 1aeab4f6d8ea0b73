#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: docr_gc_info
short_description: Read the active garbage collection and the garbage-collection history of a DigitalOcean container registry
version_added: 0.2.0
description:
  - Returns the registry's active garbage collection (GC), if any, and its past GCs, newest first.
  - Changes nothing. Costs two API calls (one more per further 200 GCs when O(limit=0)).
  - A registry that does not exist is not an error - like every C(_info) module of this collection, it answers
    with empty values (RV(garbage_collections=[]), RV(active_garbage_collection) and RV(last_succeeded) V(null)).
author:
  - dockyard.docr maintainers (@dockyard)
options:
  limit:
    description:
      - Return at most this many past GCs. V(0) returns all of them.
    type: int
    default: 20
extends_documentation_fragment:
  - dockyard.docr.registry
  - dockyard.docr.common
  - dockyard.docr.attributes
  - dockyard.docr.attributes.info
seealso:
  - name: Garbage collection strategy (dockyard.docr guide)
    description: GC types, the read-only window, scheduling and reading the results.
    link: https://github.com/dockyard/docr/blob/main/docs/gc.md
  - module: dockyard.docr.docr_gc
"""

EXAMPLES = r"""
- name: Read the GC state of a registry
  dockyard.docr.docr_gc_info:
    registry: acme
  register: gc_info

- name: Fail when a GC is running (the registry is read-only)
  ansible.builtin.assert:
    that: gc_info.active_garbage_collection is none
    fail_msg: "GC {{ gc_info.active_garbage_collection.uuid | default('') }} is running: pushes would fail"

- name: Bytes freed by the last ten GCs
  ansible.builtin.debug:
    msg: "{{ gc_info.garbage_collections[:10] | map(attribute='freed_bytes') | sum }}"
"""

RETURN = r"""
active_garbage_collection:
  description: The GC that is running now (the registry is read-only meanwhile); V(null) when none (or the registry does not exist).
  returned: always
  type: dict
  contains:
    uuid:
      description: GC identifier.
      type: str
    registry_name:
      description: Registry name.
      type: str
    status:
      description: Current status, such as C(waiting for write JWTs to expire) or C(scanning manifests).
      type: str
    type:
      description: GC type (C(untagged_manifests_and_unreferenced_blobs), ...); V(null) when the API does not say.
      type: str
    blobs_deleted:
      description: Blobs deleted so far.
      type: int
    freed_bytes:
      description: Bytes freed so far.
      type: int
    created_at:
      description: When it was requested.
      type: str
    updated_at:
      description: When its status last changed.
      type: str
garbage_collections:
  description:
    - Past and current GCs, newest first (at most O(limit)), each shaped like RV(active_garbage_collection).
    - Empty when the registry never ran one, or does not exist.
  returned: always
  type: list
  elements: dict
last_succeeded:
  description: The most recent C(succeeded) GC among RV(garbage_collections); V(null) when none (or the registry does not exist).
  returned: always
  type: dict
"""

from ansible_collections.dockyard.docr.plugins.module_utils import _gc
from ansible_collections.dockyard.docr.plugins.module_utils import _registry as reg
from ansible_collections.dockyard.docr.plugins.module_utils._base import Resource, check_number, run_resource


class GarbageCollectionInfo(Resource):
    argument_spec = dict(
        registry=reg.REGISTRY_OPTION,
        limit=dict(type="int", default=20),
    )

    def run(self):
        name = reg.require_name(self.params["registry"], "registry")
        check_number(self.params["limit"], "limit", 0, 1000, unit="GCs")
        gcs = _gc.list_gcs(self.api, name, limit=self.params["limit"] or None)
        if gcs is None:
            # a missing registry: the house's "not found" for _info modules, empty values
            return dict(active_garbage_collection=None, garbage_collections=[], last_succeeded=None)
        return dict(
            active_garbage_collection=_gc.get_active(self.api, name),
            garbage_collections=gcs,
            last_succeeded=_gc.last_succeeded(gcs),
        )


def main():
    run_resource(GarbageCollectionInfo)


if __name__ == "__main__":
    main()
