# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: server_action
short_description: What the dedicated_server role does to one service's server
version_added: 0.2.0
description:
  - "The drift function for one service, the way the P(ispsystem.dcimanager.dedicated_server#role) role takes its
    decisions: given the service's settings (P(ispsystem.dcimanager.service_settings#filter)), the role's state and
    the servers that carry the service's hostname, it says what to do (RV(_value.action)) and why (RV(_value.reason))."
  - "Actions: V(provision) (C(active), the service Pending or without WHMCS), V(unblock) (C(active), the service
    Active or Suspended, its server blocked), V(block) (C(suspended), the server not blocked), V(release)
    (C(terminated), a server still carries the hostname), V(clear_ip) (C(terminated), no server, WHMCS still shows
    addresses); V(null) when the server is already as the state wants it."
  - "V(conflict), with RV(_value.conflict) one of V(no_hostname), V(hostname_on_two_servers), V(no_server) (an active
    or suspended service without a server), V(foreign_owner) (the server belongs to another account, or shows
    no owner): the role refuses these rather than repair them blindly."
  - The reconcile's plan (P(ispsystem.dcimanager.drift_plan#filter)) takes the same decisions for every service at once.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
options:
  _input:
    description: The service's settings, as P(ispsystem.dcimanager.service_settings#filter) returns them.
    type: dict
    required: true
  state:
    description: The role's state.
    type: str
    required: true
    choices: [active, suspended, terminated]
  servers:
    description:
      - The servers that carry the service's hostname, as M(ispsystem.dcimanager.dci_server_info) returns them
        (with O(ispsystem.dcimanager.dci_server_info#module:hostname)).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Look for the server of the service
  ispsystem.dcimanager.dci_server_info:
    hostname: "{{ settings.hostname }}"
    details: false
  register: found

- name: Decide what the server needs
  ansible.builtin.set_fact:
    decision: "{{ settings | ispsystem.dcimanager.server_action('suspended', found.servers) }}"

- name: Block it when it is not blocked yet
  ispsystem.dcimanager.dci_server:
    server_id: "{{ decision.server_id }}"
    blocked: true
  when: decision.action == 'block'
"""

RETURN = r"""
_value:
  description: The decision.
  type: dict
  contains:
    action:
      description: What to do; V(null) when nothing is to be done.
      type: str
      choices: [provision, unblock, block, release, clear_ip, conflict]
    conflict:
      description: The kind of conflict when RV(_value.action) is V(conflict), else V(null).
      type: str
      choices: [no_hostname, hostname_on_two_servers, no_server, foreign_owner]
    reason:
      description: Why, in words a person checks before saying yes (for a conflict, what to do about it).
      type: str
    panel:
      description: "What the panel shows for the hostname: V(no server), V(server 5: suspended, owner bob), V(2 servers: 5, 9)."
      type: str
    server_id:
      description: The id of the service's server when exactly one carries its hostname, else V(null).
      type: str
"""

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.drift import decide, subject_of


def server_action(settings, state, servers):
    return decide(state, subject_of(settings), list(servers or ()))


class FilterModule:
    # pylint: disable=too-few-public-methods
    def filters(self):
        return {"server_action": server_action}
