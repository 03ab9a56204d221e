#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dci_fleet_info
short_description: Every server of DCImanager 5 in one read
version_added: 0.2.0
description:
  - Reads the panel's whole C(server) list once, and its C(user) list only when the C(owner) column holds
    account ids, and returns every server in a compact form (the fields the C(ispsystem.dcimanager.dcimanager)
    inventory plugin gives its hosts).
  - Makes no call per server, so it costs the same for ten servers or ten thousand; for one server's
    addresses, IPMI address and switch port use M(ispsystem.dcimanager.dci_server_info).
  - The C(reconcile) playbook feeds its result to the P(ispsystem.dcimanager.drift_plan#filter) filter.
  - A list that the panel says it pages and that cannot be read whole is an error, never a shorter list.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
extends_documentation_fragment:
  - ispsystem.dcimanager.dcimanager
  - ispsystem.dcimanager.network
  - ispsystem.dcimanager.attributes
  - ispsystem.dcimanager.attributes.info_module
  - ispsystem.dcimanager.attributes.actiongroup_dcimanager
options:
  allow_empty:
    description:
      - Return an empty list when the panel shows no server at all.
      - By default that is an error, because a panel that shows no server is far more likely a permission or
        proxy problem than a panel without servers. The drift plan sets it and reports the empty list itself.
    type: bool
    default: false
seealso:
  - module: ispsystem.dcimanager.dci_server_info
  - plugin: ispsystem.dcimanager.drift_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Read every server once
  ispsystem.dcimanager.dci_fleet_info:
  delegate_to: localhost
  register: fleet

- name: Count the free servers of package DL360-G9
  ansible.builtin.debug:
    msg: "{{ fleet.servers | selectattr('free') | selectattr('package', 'equalto', 'DL360-G9') | list | length }}"
"""

RETURN = r"""
servers:
  description: Every server the panel lists, by id.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The panel's id of the server.
      type: str
      sample: "42"
    name:
      description: The server's label.
      type: str
      sample: srv42
    hostname:
      description: The domain of the server's main address (C(free.ds) for a free server; empty when not shown).
      type: str
      sample: 1042.example.net
    owner:
      description: The login of the server's owner, whether the panel's cell holds the login or the account id; empty when free.
      type: str
      sample: client7
    package:
      description: The server's C(chassis_templ), or its C(type) on older panels.
      type: str
      sample: DL360-G9
    main_ip:
      description: The server's main address.
      type: str
      sample: 203.0.113.42
    rack:
      description: The server's rack.
      type: str
      sample: R9
    blocked:
      description: Whether the server is blocked (suspended); the panel shows that as C(blocked) or C(disabled).
      type: bool
      sample: false
    power:
      description: C(on), C(off), C(error), or C(unknown) while a power change runs.
      type: str
      sample: "on"
    state:
      description: One word for the server's condition, the first that applies.
      type: str
      choices: [hwproblem, diag, installing, suspended, free, owned]
      sample: owned
    free:
      description: Whether the server is free as the panel defines it (no owner, C(free.ds), not blocked, no hardware problem, no diagnostics).
      type: bool
      sample: false
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.panel import fleet_server, read_fleet
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import DCIResource, dci_argument_spec
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run


class DCIFleetInfo(DCIResource):
    represent = "servers"

    def get_servers(self):
        rows = read_fleet(self.client, allow_empty=self.module.params["allow_empty"])
        self.result = [fleet_server(row) for row in sorted(rows, key=lambda row: (len(row["id"]), row["id"]))]


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(allow_empty=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module, DCIFleetInfo, DCIFleetInfo.get_servers)


if __name__ == "__main__":
    main()
