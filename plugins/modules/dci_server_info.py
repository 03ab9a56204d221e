#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dci_server_info
short_description: List dedicated servers in DCImanager 5
version_added: 0.1.0
description:
  - Returns the servers of an ISPsystem DCImanager 5 panel that match every given filter.
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
      - Only the server with this panel id.
    type: str
  hostname:
    description:
      - Only servers whose addresses carry this domain (compared case-insensitively).
    type: str
  owner:
    description:
      - Only servers owned by this login.
      - The panel's C(owner) column may hold the login or the account id; both match.
    type: str
  package:
    description:
      - Only servers whose configuration (C(chassis_templ)) or, on older panels, type (C(type)) equals this.
    type: str
  free:
    description:
      - V(true) returns only free servers (no owner, hostname C(free.ds), not blocked, no hardware
        problem, no diagnostics running); V(false) only servers that are not free.
    type: bool
  details:
    description:
      - Also read each matching server's addresses, MAC address (when the list does not show it), IPMI address
        and switch port.
      - That costs two to five API calls per server; set V(false) for a quick list of many servers,
        in which case RV(servers[].ipv4) and RV(servers[].ipv6) are empty and RV(servers[].ipmi_ip) and
        RV(servers[].switch_port) are V(null).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Free servers of one package
  ispsystem.dcimanager.dci_server_info:
    package: DL360-G9
    free: true
    details: false
  delegate_to: localhost
  register: free_servers

- name: One customer's servers
  ispsystem.dcimanager.dci_server_info:
    owner: client1042
  delegate_to: localhost
  register: customer_servers
"""

RETURN = r"""
servers:
  description: The matching servers, ordered by id.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The panel's id of the server.
      type: str
      sample: "12"
    name:
      description: The label of the box.
      type: str
      sample: rack2-u14
    hostname:
      description: The domain set on the server's addresses (as the panel shows it); C(free.ds) when free.
      type: str
      sample: "1042.example.net"
    owner:
      description: Login of the owner; empty when none.
      type: str
      sample: client1042
    package:
      description: C(chassis_templ), or C(type) on older panels.
      type: str
      sample: DL360-G9
    main_ip:
      description: The main address, which stays with the box.
      type: str
      sample: 192.0.2.10
    ipv4:
      description: Every IPv4 address of the server, the main one first.
      type: list
      elements: str
    ipv6:
      description: Every IPv6 address of the server.
      type: list
      elements: str
    mac:
      description: The MAC address of the main interface.
      type: str
    ipmi_ip:
      description: The address of the IPMI connection.
      type: str
    switch_port:
      description: The switch port of the first switch connection.
      type: str
    blocked:
      description: "Whether the server is blocked (suspended): the panel shows C(blocked) or C(disabled)."
      type: bool
    power:
      description: "C(on), C(off), C(error) or C(unknown) (while a power change runs)."
      type: str
    install_in_progress:
      description: Whether an operating system is being installed.
      type: bool
    operation_failed:
      description: Whether the last operation (such as an install) failed.
      type: bool
    hwproblem:
      description: Whether the panel reports a hardware problem.
      type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.panel import is_free, package_of, read_servers, same_hostname
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import DCIResource, dci_argument_spec
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run


class DCIServerInfo(DCIResource):
    represent = "servers"

    def _matches(self, row):
        params = self.module.params
        checks = (
            (params["server_id"], lambda: row.get("id") == params["server_id"]),
            (params["hostname"], lambda: same_hostname(row.get("hostname"), params["hostname"])),
            # The owner column may hold the login or the account id: both match.
            (params["owner"], lambda: self.panel().owned_by(row, params["owner"])),
            (params["package"], lambda: package_of(row) == params["package"]),
            (params["free"], lambda: is_free(row) == params["free"]),
        )
        return all(check() for wanted, check in checks if wanted is not None)

    def get_servers(self):
        # A panel without servers is an answer here: this module reports, it decides nothing.
        rows = sorted((row for row in read_servers(self.client, allow_empty=True) if self._matches(row)), key=lambda row: int(row["id"]))
        details = self.module.params["details"]
        self.result = [self.panel().describe_server(row, addresses=None if details else [], details=details) for row in rows]


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(
        server_id=dict(type="str"),
        hostname=dict(type="str"),
        owner=dict(type="str"),
        package=dict(type="str"),
        free=dict(type="bool"),
        details=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module, DCIServerInfo, DCIServerInfo.get_servers)


if __name__ == "__main__":
    main()
