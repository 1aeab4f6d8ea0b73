# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The option naming the registry a module works on: documented once (its spec is _registry.REGISTRY_OPTION)."""


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  registry:
    description:
      - Name of the registry.
      - It must follow DigitalOcean's rule (1 to 63 lowercase letters, digits and C(-), beginning with a letter and
        ending with a letter or digit); any other value is refused, naming this option, before any API request.
    type: str
    required: true
    aliases: [name]
"""
