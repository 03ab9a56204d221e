# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: drift_plan
short_description: Which WHMCS services drifted from DCImanager, and what the reconcile does about each
version_added: 0.2.0
description:
  - Compares every service of the WHMCS inventory with one read of DCImanager's server list
    (M(ispsystem.dcimanager.dci_fleet_info)) and says, per service, "in sync", the action the
    P(ispsystem.dcimanager.dedicated_server#role) role would take and why, or a conflict it must not repair blindly.
    It takes the role's own decisions (P(ispsystem.dcimanager.server_action#filter)), with the role's settings rules
    (P(ispsystem.dcimanager.service_settings#filter)), so the plan and what the role does never disagree.
  - "Actions: V(provision) a Pending service; V(block) the server of a Suspended service that is not blocked;
    V(unblock) the server of an Active service that is; V(release) the server that still carries a Terminated or
    Cancelled service's hostname; V(clear_ip) the addresses WHMCS still shows for a Terminated or Cancelled service
    that has no server."
  - "Conflicts: V(no_hostname) (no domain, and a domain template that needs one), V(hostname_shared) (two services,
    one hostname), V(hostname_on_two_servers), V(no_server) (an Active or Suspended service without a server),
    V(foreign_owner) (the server belongs to another account, or shows no owner), V(ip_on_other_server) (WHMCS's
    dedicated IP is another server's main address)."
  - "Whole-plan problems, which hold back every action: V(server_list_empty) (the panel showed no server) and
    V(server_list_short) (more than half of the Active and Suspended services, and at least 3, have no server:
    the list looks cut short)."
  - Decides only from evidence. A service whose status is not Pending, Active, Suspended, Terminated or Cancelled
    (Fraud ...) is left alone. Services in sync cost nothing but this filter.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
options:
  _input:
    description:
      - The services. Each is a host's variables from the P(ispsystem.dcimanager.whmcs#inventory) inventory
        (C(whmcs_service_id), C(whmcs_status) ...; C(inventory_hostname) names its host) or a service as
        M(ispsystem.dcimanager.whmcs_service_info) returns it (C(service_id), C(status) ...).
      - With O(hostvars), the names of the hosts instead (for example C(ansible_play_hosts_all)).
      - A host's own C(dedicated_server_products), C(dedicated_server_hostname), C(dedicated_server_domain_template)
        and C(dedicated_server_owner) win over the options below, as they would in the role.
    type: list
    elements: dict
    required: true
  servers:
    description: The panel's servers, as M(ispsystem.dcimanager.dci_fleet_info) returns them.
    type: list
    elements: dict
    required: true
  products:
    description: C(dedicated_server_products), keyed by WHMCS product id.
    type: dict
  hostname:
    description: C(dedicated_server_hostname) for every service (rarely right for more than one).
    type: str
  domain_template:
    description: C(dedicated_server_domain_template).
    type: str
  owner:
    description: C(dedicated_server_owner).
    type: str
  hostvars:
    description:
      - C(hostvars), when O(_input) names hosts. Each host's variables are then read without templating the values
        that hold no template (the WHMCS inventory's), which at 10,000 hosts takes a third of the time of
        C(map('extract', hostvars)).
    type: raw
"""

EXAMPLES = r"""
- name: Read every server once
  ispsystem.dcimanager.dci_fleet_info:
    allow_empty: true
  register: fleet
  run_once: true

- name: Compare every service of the play with the panel
  ansible.builtin.set_fact:
    plan: >-
      {{ ansible_play_hosts_all
         | ispsystem.dcimanager.drift_plan(fleet.servers, hostvars=hostvars, products=dedicated_server_products) }}
  run_once: true

- name: The same for services given as data (normalised, as whmcs_service_info returns them)
  ansible.builtin.set_fact:
    plan_of_two: "{{ [service_a, service_b] | ispsystem.dcimanager.drift_plan(fleet.servers) }}"
  run_once: true

- name: Show what would change and the conflicts (in-sync services are only counted)
  ansible.builtin.debug:
    msg: "{{ plan.table }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    services:
      description: Services given.
      type: int
    servers:
      description: Servers in the panel's list.
      type: int
    in_sync:
      description: Services with nothing to do.
      type: int
    left_alone:
      description: Services whose status the reconcile does not handle (or without a service id).
      type: int
    changes:
      description: One entry per service to act on (none when RV(_value.problems) is not empty).
      type: list
      elements: dict
      contains:
        host:
          description: The inventory host of the service.
          type: str
        service_id:
          description: The WHMCS service id.
          type: int
        status:
          description: The WHMCS status.
          type: str
        state:
          description: The role's state for that status (V(active), V(suspended), V(terminated)).
          type: str
        hostname:
          description: The service's hostname.
          type: str
        panel:
          description: What the panel shows for the hostname.
          type: str
        action:
          description: The action (V(conflict) in RV(_value.conflicts)).
          type: str
        conflict:
          description: The kind of conflict, in RV(_value.conflicts); else V(null).
          type: str
        reason:
          description: Why; for a conflict, what to do about it.
          type: str
        server_id:
          description: The service's server, when exactly one carries its hostname.
          type: str
    conflicts:
      description: One entry per service in conflict, as in RV(_value.changes).
      type: list
      elements: dict
    problems:
      description: Whole-plan problems (C(problem), C(reason)); while there is one, nothing is acted on.
      type: list
      elements: dict
    hosts:
      description: The hosts of RV(_value.changes).
      type: list
      elements: str
    conflict_hosts:
      description: The hosts of RV(_value.conflicts).
      type: list
      elements: str
    table:
      description:
        - The plan as lines of text, for a person to read before saying yes. A count line, any whole-plan problem,
          then one line per service to change or in conflict, with the columns service, WHMCS status, panel state,
          action, reason. Services in sync are only counted.
      type: list
      elements: str
"""

from collections.abc import Mapping

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.drift import plan

TEMPLATE_MARKS = ("{{", "{%", "{#")


def _may_be_template(value):
    if isinstance(value, str):
        return any(mark in value for mark in TEMPLATE_MARKS)
    if isinstance(value, Mapping):
        return any(_may_be_template(key) or _may_be_template(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(_may_be_template(item) for item in value)
    return False


class HostVariables(Mapping):
    """One host's variables, read without templating what needs none.

    The WHMCS inventory's values are data, never templates, and templating each of them one by one
    costs more than the rest of the plan at 10,000 hosts; a value that may be a template (a
    ``dedicated_server_*`` variable written as one in group_vars) is read through ``hostvars``, as the
    role would see it.
    """

    def __init__(self, hostvars, name, checked):
        self._hostvars = hostvars
        self._name = name
        self._checked = checked
        raw = hostvars.raw_get(name) if hasattr(hostvars, "raw_get") else None
        self._raw = raw if isinstance(raw, Mapping) else None

    def __getitem__(self, key):
        if key == "inventory_hostname":
            return self._name
        if self._raw is None:
            return self._hostvars[self._name][key]
        value = self._raw[key]
        # The same value (an extra var, a group's variable) is shared by every host: checked once.
        template = self._checked.get(id(value))
        if template is None:
            template = self._checked[id(value)] = _may_be_template(value)
        return self._hostvars[self._name][key] if template else value

    def __contains__(self, key):
        if key == "inventory_hostname":
            return True
        return key in (self._raw if self._raw is not None else self._hostvars[self._name])

    def __iter__(self):
        return iter(self._raw if self._raw is not None else self._hostvars[self._name])

    def __len__(self):
        return len(self._raw if self._raw is not None else self._hostvars[self._name])


def drift_plan(services, servers, products=None, hostname=None, domain_template=None, owner=None, hostvars=None):
    if hostvars is not None:
        checked = {}
        services = [HostVariables(hostvars, name, checked) for name in services]
    return plan(services, servers, products=products, hostname=hostname, domain_template=domain_template, owner=owner)


class FilterModule:
    # pylint: disable=too-few-public-methods
    def filters(self):
        return {"drift_plan": drift_plan}
