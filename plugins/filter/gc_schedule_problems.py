# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The problems with a gc_schedule registry list, found with the modules' own option rules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: gc_schedule_problems
short_description: Validate the registries of the gc_schedule role with the modules' own rules
version_added: 0.2.0
description:
  - Checks each registry of a C(gc_schedule_registries) list the way M(dockyard.docr.docr_gc) and
    M(dockyard.docr.docr_retention) check their options (the same Python code), so a bad option fails the
    deployment instead of the first scheduled run.
  - Returns every problem at once, each naming the registry and the option; an empty list when all is well.
positional: defaults
options:
  _input:
    description: Registry names, or dicts with C(name), GC options and an optional C(retention) dict.
    type: list
    elements: raw
    required: true
  defaults:
    description: GC options that apply to registries which do not set their own (C(type), C(wait_timeout)).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Fail on bad registry options, listing them all
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "{{ _problems | join(' ') }}"
  vars:
    _problems: "{{ gc_schedule_registries | dockyard.docr.gc_schedule_problems({'type': 'unreferenced_blobs_only'}) }}"
"""

RETURN = r"""
_value:
  description: One message per problem, naming the registry and the option.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

try:
    from ansible_collections.dockyard.docr.plugins.module_utils._schedule import registry_problems
except ImportError as exc:  # pragma: no cover - only when the collection is not importable
    registry_problems = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None


def gc_schedule_problems(registries, defaults=None):
    if registry_problems is None:
        raise AnsibleFilterError("dockyard.docr.gc_schedule_problems cannot load its rules: %s" % IMPORT_ERROR)
    return registry_problems(registries, defaults or {})


class FilterModule(object):
    def filters(self):
        return {"gc_schedule_problems": gc_schedule_problems}
