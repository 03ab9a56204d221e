# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: service_settings
short_description: The settings of one dedicated-server service, by the precedence of ISPsystem's module
version_added: 0.2.0
description:
  - "Works out what the P(ispsystem.dcimanager.dedicated_server#role) role needs to act on one WHMCS service:
    owner account (reused from the client's other server, as ISPsystem's module does), hostname (the domain
    template), package, OS template, recipe, extra addresses, address group."
  - "Precedence: an explicit C(dedicated_server_*) variable (the keyword arguments), then the service's configurable
    options (C(os) / C(OS) / C(ostemplate), C(recipe), C(IP), C(IPv6); a dropdown value C(value|Friendly name) gives
    C(value)), then O(products[product id]) (keys written as numbers or strings)."
  - A setting given as an empty value (V(""), V(0)) counts as not given, as with Jinja's C(default(value, true)).
  - The role's C(settings.yml) is this filter and one check; the drift plan (P(ispsystem.dcimanager.drift_plan#filter))
    uses the same rules.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
options:
  _input:
    description:
      - What M(ispsystem.dcimanager.whmcs_service_info) returned with C(client_services=true) (its C(service) and
        C(client_services)), or V({}) when the role runs without WHMCS.
    type: dict
    required: true
  state:
    description: The role's state; it decides which settings RV(_value.missing) lists.
    type: str
    choices: [active, suspended, terminated, usage]
  service_id:
    description: The WHMCS service id when there is no service in O(_input).
    type: raw
  products:
    description: C(dedicated_server_products), keyed by WHMCS product id.
    type: dict
  owner:
    description: C(dedicated_server_owner). V(null) means not set; any value set, even empty, stops the account reuse.
    type: str
  owner_password:
    description: C(dedicated_server_owner_password).
    type: str
  root_password:
    description: C(dedicated_server_root_password); defaults to the owner's password.
    type: str
  hostname:
    description: C(dedicated_server_hostname).
    type: str
  domain_template:
    description: C(dedicated_server_domain_template).
    type: str
  package:
    description: C(dedicated_server_package).
    type: str
  os_template:
    description: C(dedicated_server_os_template).
    type: str
  recipe:
    description: C(dedicated_server_recipe); V(null) means no recipe.
    type: str
  ipv4_count:
    description: C(dedicated_server_ipv4_count).
    type: raw
  ipv6_count:
    description: C(dedicated_server_ipv6_count).
    type: raw
  ip_group:
    description: C(dedicated_server_ip_group); the product's C(ip_group) wins.
    type: str
    default: public
  wait_for_install:
    description: C(dedicated_server_wait_for_install); the product's C(wait_for_install) wins.
    type: bool
    default: true
  new_service:
    description:
      - C(dedicated_server_new_service) - the service was just created in WHMCS, which shows it Active already (a create
        event), so the role provisions it rather than treat it as an active service without a server.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the service from WHMCS
  ispsystem.dcimanager.whmcs_service_info:
    service_id: 42
    include_password: true
    client_services: true
  register: whmcs
  no_log: true

- name: Work out its settings
  ansible.builtin.set_fact:
    settings: "{{ whmcs | ispsystem.dcimanager.service_settings(state='active', products=dedicated_server_products) }}"
  no_log: true

- name: Show where its server will be
  ansible.builtin.debug:
    msg: "{{ settings.hostname }}: package {{ settings.package }}, {{ settings.os_template }}, owner {{ settings.owner }}"
"""

RETURN = r"""
_value:
  description: The settings (secrets included, so use C(no_log)).
  type: dict
  contains:
    service_id:
      description: The WHMCS service id (V(null) without WHMCS).
      type: int
    whmcs_status:
      description: The service's status in WHMCS (V(null) without WHMCS).
      type: str
    owner:
      description: The DCImanager login that owns, or will own, the server.
      type: str
    owner_password:
      description: Its password.
      type: str
    reused_account:
      description: Whether the owner is the account of the client's other service (its password is then written back to WHMCS).
      type: bool
    accounts:
      description: Every login a server of this service may belong to (the explicit owner; else the service's and its client's other services' usernames).
      type: list
      elements: str
    hostname:
      description: The domain on the server's addresses; empty when the domain template needs a value the service lacks.
      type: str
    domain_template:
      description: The template the hostname was made from (empty when O(hostname) was given).
      type: str
    package:
      description: The package to allocate.
      type: str
    os_template:
      description: The OS template to install.
      type: str
    recipe:
      description: The recipe to run after the install (empty for none).
      type: str
    root_password:
      description: The root password of the installed OS.
      type: str
    ipv4_count:
      description: Extra IPv4 addresses.
      type: int
    ipv6_count:
      description: Extra IPv6 addresses.
      type: int
    ip_group:
      description: The address group extra addresses come from.
      type: str
    wait_for_install:
      description: Whether the activation waits for the install.
      type: bool
    new_service:
      description: Whether the service was just created in WHMCS (shown Active already), so that it is provisioned.
      type: bool
    dedicated_ip:
      description: The dedicated IP WHMCS shows.
      type: str
    assigned_ips:
      description: The assigned IPs WHMCS shows.
      type: list
      elements: str
    has_service:
      description: Whether there is a WHMCS service to write results back to.
      type: bool
    missing:
      description: The settings O(state) needs that have no value (V([]) when all are known).
      type: list
      elements: str
"""

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.rules import settings


def service_settings(whmcs, **options):
    """The filter is ``_service.rules.settings`` itself: its keyword arguments are the options above."""
    return settings(whmcs, **options)


class FilterModule:
    # pylint: disable=too-few-public-methods
    def filters(self):
        return {"service_settings": service_settings}
