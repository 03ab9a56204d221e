#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: whmcs_service_info
short_description: Read one WHMCS service (a dedicated server order)
version_added: 0.1.0
description:
  - Reads one service (a client's product) from WHMCS with the API action C(GetClientsProducts)
    and returns it normalised, with the same keys as the host variables of the
    P(ispsystem.dcimanager.whmcs#inventory) inventory plugin, without their C(whmcs_) prefix.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
options:
  service_id:
    description:
      - The WHMCS service id (C(tblhosting.id), shown as the service's ID in the admin area).
    type: int
    required: true
  include_password:
    description:
      - Also return the service's password (WHMCS sends it decrypted).
      - The password is a secret; set C(no_log=true) on a task that uses this.
    type: bool
    default: false
  client_services:
    description:
      - Also return the client's other services in RV(client_services) (one more paged C(GetClientsProducts) read).
    type: bool
    default: false
notes:
  - The API credential's role must allow C(GetClientsProducts).
extends_documentation_fragment:
  - ispsystem.dcimanager.whmcs
  - ispsystem.dcimanager.network
  - ispsystem.dcimanager.attributes
  - ispsystem.dcimanager.attributes.info_module
  - ispsystem.dcimanager.attributes.actiongroup_whmcs
seealso:
  - module: ispsystem.dcimanager.whmcs_service
  - plugin: ispsystem.dcimanager.whmcs
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Read service 42 from WHMCS
  ispsystem.dcimanager.whmcs_service_info:
    whmcs_url: https://billing.example.com/
    whmcs_identifier: "{{ vault_whmcs_identifier }}"
    whmcs_secret: "{{ vault_whmcs_secret }}"
    service_id: 42
  delegate_to: localhost
  register: result

- name: Show the operating system the customer ordered
  ansible.builtin.debug:
    msg: "{{ result.service.config_options.OS | default('no OS option') }}"

- name: Read the service with its password (credentials from WHMCS_URL, WHMCS_API_IDENTIFIER, WHMCS_API_SECRET)
  ispsystem.dcimanager.whmcs_service_info:
    service_id: 42
    include_password: true
  delegate_to: localhost
  no_log: true
  register: with_password
"""

RETURN = r"""
client_services:
  description:
    - The client's other services, each normalised like RV(service) (with passwords only with O(include_password=true)).
    - The role uses them to reuse the client's DCImanager account, as ISPsystem's module does.
  returned: when O(client_services=true)
  type: list
  elements: dict
service:
  description: The service, normalised.
  returned: success
  type: dict
  contains:
    service_id:
      description: The service id.
      type: int
      sample: 42
    client_id:
      description: The owning client's id.
      type: int
      sample: 7
    order_id:
      description: The id of the order that created the service.
      type: int
      sample: 1003
    product_id:
      description: The product's id (C(pid)).
      type: int
      sample: 3
    product_name:
      description: The product's name.
      type: str
      sample: Dedicated E3-1230
    product_group:
      description: The product group's name.
      type: str
      sample: Dedicated Servers
    status:
      description: The service status.
      type: str
      sample: Active
      choices: [Pending, Active, Suspended, Terminated, Cancelled, Fraud, Completed]
    domain:
      description: The order's domain (empty when the order has none).
      type: str
      sample: srv42.example.com
    dedicated_ip:
      description: The dedicated IP address (empty when not set).
      type: str
      sample: 203.0.113.42
    assigned_ips:
      description: The other assigned addresses, one list item per line of WHMCS's free text.
      type: list
      elements: str
      sample: [203.0.113.43, "2001:db8::42"]
    username:
      description: The service's username.
      type: str
      sample: client7
    password:
      description: The service's password. Only with O(include_password=true).
      type: str
      returned: when O(include_password=true)
    billing_cycle:
      description: The billing cycle.
      type: str
      sample: Monthly
    next_due_date:
      description: The next due date (V(null) when WHMCS has none, e.g. for free services).
      type: str
      sample: "2025-01-15"
    reg_date:
      description: The registration date.
      type: str
      sample: "2024-01-15"
    server_id:
      description: The id of the WHMCS server (the panel) the service is on; V(0) when none.
      type: int
      sample: 1
    server_name:
      description: The WHMCS server's name.
      type: str
      sample: DCImanager
    server_ip:
      description: The WHMCS server's IP address.
      type: str
      sample: 198.51.100.10
    server_hostname:
      description: The WHMCS server's hostname (the panel, not the dedicated server).
      type: str
      sample: dci.example.com
    config_options:
      description:
        - The configurable options, option name -> value.
        - Dropdown and radio options give the chosen option's name; yes/no and quantity options a number.
      type: dict
      sample: {"OS": "Debian 12", "IP": 2, "IPv6": 0}
    custom_fields:
      description: The product's custom fields, field name -> value.
      type: dict
      sample: {"Rack": "A-12"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.billing import read_service
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs_module import WHMCSResource, whmcs_argument_spec


class WHMCSServiceInfo(WHMCSResource):
    represent = "service"

    def __init__(self, module):
        super().__init__(module)
        self.client_services = None

    def get_service(self):
        params = self.module.params
        self.result, self.client_services = read_service(
            self.client, params["service_id"], include_password=params["include_password"], client_services=params["client_services"]
        )

    def get_result(self):
        result = {"changed": False, self.represent: self.result}
        if self.client_services is not None:
            result["client_services"] = self.client_services
        return result


def main():
    argument_spec = whmcs_argument_spec()
    argument_spec.update(
        service_id=dict(type="int", required=True),
        include_password=dict(type="bool", default=False, no_log=False),
        client_services=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module, WHMCSServiceInfo, WHMCSServiceInfo.get_service)


if __name__ == "__main__":
    main()
