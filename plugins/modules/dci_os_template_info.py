#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dci_os_template_info
short_description: List the OS templates of DCImanager 5
version_added: 0.1.0
description:
  - Returns the operating system templates the panel can install (its C(osmgr) list).
  - The RV(templates[].name) values are what the C(os_template) option of the C(dci_os_install) module takes.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
extends_documentation_fragment:
  - ispsystem.dcimanager.dcimanager
  - ispsystem.dcimanager.network
  - ispsystem.dcimanager.attributes
  - ispsystem.dcimanager.attributes.info_module
  - ispsystem.dcimanager.attributes.actiongroup_dcimanager
options:
  name:
    description:
      - Only the template with this name.
    type: str
"""

EXAMPLES = r"""
- name: What can be installed
  ispsystem.dcimanager.dci_os_template_info:
  delegate_to: localhost
  register: os_templates

- name: Show the names
  ansible.builtin.debug:
    msg: "{{ os_templates.templates | map(attribute='name') | list }}"
"""

RETURN = r"""
templates:
  description: The templates, each with every column the panel lists.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The template's name, as the C(os_template) option of the C(dci_os_install) module takes it.
      type: str
      sample: ISPsystem__Debian-12-amd64
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import DCIResource, dci_argument_spec
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run


class DCIOSTemplateInfo(DCIResource):
    represent = "templates"

    def get_templates(self):
        wanted = self.module.params["name"]
        self.result = [row for row in self.client.list("osmgr") if wanted is None or row.get("name") == wanted]


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(name=dict(type="str"))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module, DCIOSTemplateInfo, DCIOSTemplateInfo.get_templates)


if __name__ == "__main__":
    main()
