#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dci_traffic_info
short_description: Read the bandwidth usage of servers from DCImanager 5
version_added: 0.1.0
description:
  - Returns the burstable traffic figure of each server from the panel's C(trafficburstable) report,
    the figure ISPsystem's WHMCS module copies into WHMCS's bandwidth usage.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
extends_documentation_fragment:
  - ispsystem.dcimanager.dcimanager
  - ispsystem.dcimanager.network
  - ispsystem.dcimanager.attributes
  - ispsystem.dcimanager.attributes.info_module
  - ispsystem.dcimanager.attributes.actiongroup_dcimanager
options:
  server_id:
    description:
      - Only this server. At most one of O(server_id) and O(hostname).
    type: str
  hostname:
    description:
      - Only the server whose addresses carry this domain.
    type: str
"""

EXAMPLES = r"""
- name: Usage of every server
  ispsystem.dcimanager.dci_traffic_info:
  delegate_to: localhost
  register: usage
"""

RETURN = r"""
traffic:
  description: One entry per server in the report.
  returned: success
  type: list
  elements: dict
  contains:
    server_id:
      description: The panel's id of the server.
      type: str
      sample: "12"
    burst:
      description: The burstable traffic figure, as the panel reports it.
      type: str
      sample: "153.7"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import DCIResource, dci_argument_spec, server_selector_spec
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run


class DCITrafficInfo(DCIResource):
    represent = "traffic"

    def get_traffic(self):
        params = self.module.params
        wanted = None
        if params["server_id"] is not None or params["hostname"] is not None:
            wanted = self.panel().find_server(params["server_id"], params["hostname"])["id"]
        rows = self.client.list("trafficburstable")
        self.result = [{"server_id": row.get("id"), "burst": row.get("burst", "")} for row in rows if wanted is None or row.get("id") == wanted]


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(server_selector_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, mutually_exclusive=[("server_id", "hostname")])
    run(module, DCITrafficInfo, DCITrafficInfo.get_traffic)


if __name__ == "__main__":
    main()
