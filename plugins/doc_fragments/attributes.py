# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module attributes (check mode, diff mode, action group) shared by dockyard.docr modules."""


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/dockyard.docr.docr) in C(module_defaults) to set the common options once.
    support: full
    membership:
      - dockyard.docr.docr
"""

    ACTIONS = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return the changes it would make, without making them.
    support: full
  diff_mode:
    description: Returns the state before and after, as a diff, in C(--diff) mode.
    support: full
"""

    INFO = r"""
options: {}
attributes:
  check_mode:
    description: Changes nothing, so it runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so it returns no diff.
    support: none
"""
