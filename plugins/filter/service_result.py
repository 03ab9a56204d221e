# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: service_result
short_description: The result record of the dedicated_server role for one service
version_added: 0.2.0
description:
  - Makes C(dedicated_server_result), what the P(ispsystem.dcimanager.dedicated_server#role) role leaves on each host
    for the playbooks' summary, from the service's settings and the results of the tasks that acted.
  - "The server is taken from the result of the task the decision (P(ispsystem.dcimanager.server_action#filter)) ran:
    the allocation for V(provision), the state change for V(unblock) / V(block), the release for V(release) /
    V(clear_ip); else the server the role found. A terminated service shows no address and no owner."
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
options:
  _input:
    description: The service's settings (P(ispsystem.dcimanager.service_settings#filter)).
    type: dict
    required: true
  state:
    description: The role's state, or V(usage) for the bandwidth usage entry point.
    type: str
    required: true
    choices: [active, suspended, terminated, usage]
  decision:
    description: The decision (P(ispsystem.dcimanager.server_action#filter)); not needed for V(usage).
    type: dict
  found:
    description: The servers the role found by hostname (M(ispsystem.dcimanager.dci_server_info)'s C(servers)).
    type: list
    elements: dict
  allocation:
    description: The registered result of M(ispsystem.dcimanager.dci_server_allocate), when it ran.
    type: dict
  state_change:
    description: The registered result of M(ispsystem.dcimanager.dci_server), when it ran.
    type: dict
  release:
    description: The registered result of M(ispsystem.dcimanager.dci_server_release), when it ran.
    type: dict
  traffic:
    description: For V(usage), the C(traffic) list of M(ispsystem.dcimanager.dci_traffic_info).
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Record the result
  ansible.builtin.set_fact:
    dedicated_server_result: >-
      {{ settings | ispsystem.dcimanager.service_result('suspended', decision=decision, found=found.servers,
                                                        state_change=blocked | default(none)) }}
"""

RETURN = r"""
_value:
  description: The record, as the playbooks' summary prints it.
  type: dict
  contains:
    service_id:
      description: The WHMCS service id.
      type: int
    state:
      description: The state the role made (or V(usage)).
      type: str
    hostname:
      description: The service's hostname.
      type: str
    server_id:
      description: The server's id (empty when the service has none).
      type: str
    main_ip:
      description: The server's main address (empty when terminated; V(burst N) for V(usage)).
      type: str
    owner:
      description: The server's owner (empty when terminated or for V(usage)).
      type: str
"""

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dedicated_server import result_record, server_after


def service_result(settings, state, decision=None, found=None, allocation=None, state_change=None, release=None, traffic=None):
    server = None
    if state != "usage":
        server = server_after(state, (decision or {}).get("action"), found, allocation, state_change, release)
    return result_record(settings, state, server, traffic)


class FilterModule:
    # pylint: disable=too-few-public-methods
    def filters(self):
        return {"service_result": service_result}
