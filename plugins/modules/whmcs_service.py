#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: whmcs_service
short_description: Set the fields of a WHMCS service (a dedicated server order)
version_added: 0.1.0
description:
  - Reads a service (a client's product) from WHMCS and writes, with the API action C(UpdateClientProduct),
    only the fields that differ from what is asked. Fields that are not given are left alone.
  - Writing a field to an empty value (V("") or, for O(assigned_ips), V([])) blanks it with C(unset[]),
    because WHMCS ignores empty values.
  - This changes WHMCS's records only. WHMCS does not run the product's provisioning module for
    C(UpdateClientProduct), so setting O(status=Suspended) does not suspend the server. Use the
    C(ispsystem.dcimanager.dci_server) module for the server itself.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
options:
  service_id:
    description:
      - The WHMCS service id (C(tblhosting.id), shown as the service's ID in the admin area).
    type: int
    required: true
  status:
    description:
      - The service status.
    type: str
    choices: [Pending, Active, Suspended, Terminated, Cancelled, Fraud, Completed]
  domain:
    description:
      - The service's domain (hostname). V("") blanks it.
    type: str
  dedicated_ip:
    description:
      - The dedicated IP address. V("") blanks it.
    type: str
  assigned_ips:
    description:
      - The other assigned addresses; WHMCS keeps them as text, one address a line. V([]) blanks them.
      - Compared in order, as WHMCS shows them.
    type: list
    elements: str
  username:
    description:
      - The service's username. V("") blanks it.
    type: str
  password:
    description:
      - The service's password. V("") blanks it.
      - Compared with the current password (which WHMCS returns decrypted), so it is written only when it differs.
    type: str
  custom_fields:
    description:
      - The product's custom fields, field name -> value. Fields not named are left alone.
      - Names are resolved to WHMCS field ids; an unknown name fails with the list of known ones.
    type: dict
  notes:
    description:
      - The service's admin notes. V("") blanks them.
    type: str
  bandwidth_usage:
    description:
      - The service's bandwidth usage (WHMCS's C(bwusage), in MB), as ISPsystem's module's usage update writes it.
      - Rounded to a whole number of MB (WHMCS keeps an integer) and written as digits, never in exponent form.
      - "V(0) is written as C(0): WHMCS's C(unset[]) does not cover C(bwusage). WHMCS may ignore a zero as an empty
        value; the module reads the service back and fails, saying so, when WHMCS still shows another figure."
    type: float
notes:
  - The API credential's role must allow C(GetClientsProducts), C(GetProducts) and C(UpdateClientProduct).
  - In check mode the module only reads; it returns the service as it would be after the change.
  - After a change the module reads the service again and fails when WHMCS does not show what was written.
extends_documentation_fragment:
  - ispsystem.dcimanager.whmcs
  - ispsystem.dcimanager.network
  - ispsystem.dcimanager.attributes
  - ispsystem.dcimanager.attributes.actiongroup_whmcs
attributes:
  check_mode:
    support: full
    details: Check mode makes no writing API call and reports what would change.
  diff_mode:
    support: full
    details: Shows the fields that change, before and after; passwords are masked.
seealso:
  - module: ispsystem.dcimanager.whmcs_service_info
  - plugin: ispsystem.dcimanager.whmcs
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Write the server's addresses back to the WHMCS service
  ispsystem.dcimanager.whmcs_service:
    whmcs_url: https://billing.example.com/
    whmcs_identifier: "{{ vault_whmcs_identifier }}"
    whmcs_secret: "{{ vault_whmcs_secret }}"
    service_id: 42
    domain: srv42.example.com
    dedicated_ip: 203.0.113.42
    assigned_ips:
      - 203.0.113.43
      - "2001:db8::42"
  delegate_to: localhost

- name: Set a custom field by name and blank the notes (credentials from WHMCS_* environment variables)
  ispsystem.dcimanager.whmcs_service:
    service_id: 42
    custom_fields:
      Rack: A-12
    notes: ""
  delegate_to: localhost

- name: Mark the service Active and set its credentials
  ispsystem.dcimanager.whmcs_service:
    service_id: 42
    status: Active
    username: client7
    password: "{{ owner_password }}"
  delegate_to: localhost
"""

RETURN = r"""
service:
  description:
    - The service, normalised as by M(ispsystem.dcimanager.whmcs_service_info), as it is after the change
      (in check mode, as it would be). The password is never returned.
  returned: success
  type: dict
  sample:
    service_id: 42
    client_id: 7
    order_id: 1003
    product_id: 3
    product_name: Dedicated E3-1230
    product_group: Dedicated Servers
    status: Active
    domain: srv42.example.com
    dedicated_ip: 203.0.113.42
    assigned_ips: [203.0.113.43]
    username: client7
    billing_cycle: Monthly
    next_due_date: "2025-01-15"
    reg_date: "2024-01-15"
    server_id: 1
    server_name: DCImanager
    server_ip: 198.51.100.10
    server_hostname: dci.example.com
    config_options: {"OS": "Debian 12", "IP": 1}
    custom_fields: {"Rack": "A-12"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.billing import ServiceUpdate
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.services import STATUSES
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs_module import WHMCSResource, whmcs_argument_spec

OPTIONS = ("status", "domain", "dedicated_ip", "assigned_ips", "username", "password", "custom_fields", "notes", "bandwidth_usage")


class WHMCSService(WHMCSResource):
    represent = "service"

    def present_service(self):
        params = self.module.params
        update = ServiceUpdate(self.client, self.writes, params["service_id"], **dict((name, params[name]) for name in OPTIONS))
        try:
            update.apply()
        finally:
            self.result = update.service
        self.take(update, result=update.service)


def main():
    argument_spec = whmcs_argument_spec()
    argument_spec.update(
        service_id=dict(type="int", required=True),
        status=dict(type="str", choices=list(STATUSES)),
        domain=dict(type="str"),
        dedicated_ip=dict(type="str"),
        assigned_ips=dict(type="list", elements="str"),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        custom_fields=dict(type="dict"),
        notes=dict(type="str"),
        bandwidth_usage=dict(type="float"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module, WHMCSService, WHMCSService.present_service)


if __name__ == "__main__":
    main()
