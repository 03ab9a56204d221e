# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: service_entries
short_description: The WHMCS services of inventory hosts, as fleet_apply entries
version_added: 0.3.0
description:
  - Turns hosts of the P(ispsystem.dcimanager.whmcs#inventory) inventory into the entries
    M(ispsystem.dcimanager.fleet_apply) converges (C(host) and C(service_id)); hosts without a
    C(whmcs_service_id) are left out. fleet_apply reads each service from WHMCS itself, so nothing else is taken.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
options:
  _input:
    description: Host names (for example C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Converge every service of the play to what WHMCS says now
  ispsystem.dcimanager.fleet_apply:
    plan: "{{ ansible_play_hosts_all | ispsystem.dcimanager.service_entries(hostvars) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: One C({host, service_id}) per host that names a WHMCS service.
  type: list
  elements: dict
"""


def service_entries(hosts, hostvars):
    entries = []
    for host in hosts or ():
        service_id = hostvars[host].get("whmcs_service_id")
        if service_id not in (None, ""):
            entries.append({"host": host, "service_id": service_id})
    return entries


class FilterModule:
    # pylint: disable=too-few-public-methods
    def filters(self):
        return {"service_entries": service_entries}
