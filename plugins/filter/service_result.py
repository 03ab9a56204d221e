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
    for the playbooks' summary, from one service's entry in the result of M(ispsystem.dcimanager.fleet_apply), or,
    for the bandwidth usage entry point (O(state=usage)), from the service's settings and the usage read.
  - A terminated service shows no address and no owner.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
options:
  _input:
    description:
      - One entry of M(ispsystem.dcimanager.fleet_apply)'s C(services).
      - For O(state=usage), the service's settings (P(ispsystem.dcimanager.service_settings#filter)).
    type: dict
    required: true
  state:
    description: V(usage) for the bandwidth usage entry point; else leave it out.
    type: str
    choices: [usage]
  traffic:
    description: For V(usage), the C(traffic) list of M(ispsystem.dcimanager.dci_traffic_info).
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Record the result of one service
  ansible.builtin.set_fact:
    dedicated_server_result: "{{ applied.services[0] | ispsystem.dcimanager.service_result }}"
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
      description: The state the service was brought to (or V(usage)).
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
    action:
      description: What was done (null when nothing was to do).
      type: str
    failed:
      description: Whether the service failed.
      type: bool
    msg:
      description: Why it failed.
      type: str
"""

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.rules import result_record


def service_result(value, state=None, traffic=None):
    if state == "usage":
        return result_record(value, "usage", traffic=traffic)
    record = result_record(value, value.get("state"), value.get("server"))
    record.update(action=value.get("action"), failed=bool(value.get("failed")), msg=value.get("msg") or "")
    return record


class FilterModule:
    # pylint: disable=too-few-public-methods
    def filters(self):
        return {"service_result": service_result}
