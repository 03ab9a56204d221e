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

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.services import (
    SERVICE_FIELDS,
    STATUSES,
    custom_field_ids,
    normalize_service,
)
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs_module import WHMCSResource, whmcs_argument_spec
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._writes import NOT_SHOWN


def whole_mb(value):
    """A bandwidth figure as WHMCS keeps it: a whole number of MB."""
    try:
        return int(round(float(value or 0)))
    except (TypeError, ValueError):
        return 0


# Shown in --diff instead of a password.
MASKED = "********"
# Plain text fields: option name -> the key of the raw GetClientsProducts entry.
TEXT_FIELDS = (("status", "status"), ("domain", "domain"), ("dedicated_ip", "dedicatedip"), ("username", "username"), ("notes", "notes"))


class WHMCSService(WHMCSResource):
    represent = "service"

    def __init__(self, module):
        super().__init__(module)
        self.fields = {}  # UpdateClientProduct field -> new value
        self.unset = []  # UpdateClientProduct fields to blank
        self.custom_values = {}  # custom field id -> new value
        self.wanted = {}  # option -> the value WHMCS should show after the update

    def _get_service(self):
        service_id = self.module.params["service_id"]
        raw = self.client.get_service(service_id)
        if raw is None:
            self.module.fail_json(msg="WHMCS has no service with id %s" % service_id)
        return raw

    def _want(self, option, current, desired, shown_before=None, shown_after=None):
        """Record a change of ``option`` when ``desired`` differs from ``current``."""
        if desired is None or desired == current:
            return
        field = SERVICE_FIELDS[option]
        if desired in ("", []):
            self.unset.append(field)
        elif isinstance(desired, list):
            self.fields[field] = "\n".join(desired)
        else:
            self.fields[field] = desired
        self.before[option] = current if shown_before is None else shown_before
        self.after[option] = desired if shown_after is None else shown_after
        self.wanted[option] = desired

    def _custom_field_ids(self, raw, names):
        """{name: id} for the custom fields named; the service's own list first, then its product's."""
        ids = custom_field_ids(raw)
        if any(name not in ids for name in names):
            for product in self.client.get_products(pid=raw.get("pid")):
                for name, field_id in custom_field_ids(product).items():
                    ids.setdefault(name, field_id)
        unknown = sorted(name for name in names if ids.get(name) is None)
        if unknown:
            self.module.fail_json(
                msg="product %s of service %s has no custom field named %s; its custom fields are: %s"
                % (raw.get("pid"), raw.get("id"), ", ".join(unknown), ", ".join(sorted(ids)) or "none")
            )
        return ids

    def _plan(self, raw, current):
        params = self.module.params
        for option, key in TEXT_FIELDS:
            self._want(option, raw.get(key) or "", params[option])
        if params["assigned_ips"] is not None:
            desired = [address.strip() for address in params["assigned_ips"] if address.strip()]
            self._want("assigned_ips", current["assigned_ips"], desired)
        if params["password"] is not None:
            current_password = raw.get("password") or ""
            self._want(
                "password",
                current_password,
                params["password"],
                shown_before=MASKED if current_password else "",
                shown_after=MASKED if params["password"] else "",
            )
        if params["bandwidth_usage"] is not None:
            self._plan_bandwidth(whole_mb(raw.get("bwusage")), whole_mb(params["bandwidth_usage"]))
        wanted = params["custom_fields"]
        if wanted:
            # WHMCS keeps custom field values as text: compare and write them as text.
            wanted = dict((str(name), "" if value is None else str(value)) for name, value in wanted.items())
            ids = self._custom_field_ids(raw, list(wanted))
            changed = dict((name, value) for name, value in wanted.items() if current["custom_fields"].get(name) != value)
            if changed:
                self.custom_values = dict((ids[name], value) for name, value in changed.items())
                self.before["custom_fields"] = dict((name, current["custom_fields"].get(name)) for name in changed)
                self.after["custom_fields"] = self.wanted["custom_fields"] = changed

    def _plan_bandwidth(self, current, desired):
        if desired == current:
            return
        self.fields["bwusage"] = str(desired)
        self.before["bandwidth_usage"] = current
        self.after["bandwidth_usage"] = self.wanted["bandwidth_usage"] = desired

    def _not_shown(self, raw):
        """The options a fresh read of the service does not show as this run wants them."""
        current = normalize_service(raw)
        text_keys = dict(TEXT_FIELDS)
        missing = []
        for option, desired in self.wanted.items():
            if option in text_keys:
                now = raw.get(text_keys[option]) or ""
            elif option == "password":
                now = raw.get("password") or ""
            elif option == "bandwidth_usage":
                now = whole_mb(raw.get("bwusage"))
            elif option == "custom_fields":
                now = dict((name, current["custom_fields"].get(name)) for name in desired)
            else:
                now = current[option]
            if now != desired:
                missing.append(option)
        return missing

    @staticmethod
    def _simulate(current, after):
        """The normalised service as it will be once the planned change is written (for check mode)."""
        service = copy.deepcopy(current)
        for option, value in after.items():
            if option == "custom_fields":
                service["custom_fields"].update(value)
            elif option in service:
                service[option] = value
        return service

    def present_service(self):
        raw = self._get_service()
        current = normalize_service(raw)
        self._plan(raw, current)
        if not (self.fields or self.unset or self.custom_values):
            self.result = self._simulate(current, self.after)
            return

        def read_back():
            # WHMCS writes one row at once: the update took effect when anything planned shows.
            return NOT_SHOWN if len(self._not_shown(self._get_service())) == len(self.wanted) else {}

        self.update_service(raw.get("id"), read_back, fields=self.fields, unset=self.unset, custom_fields=self.custom_values)
        if self.module.check_mode:
            self.result = self._simulate(current, self.after)
            return
        after = self._get_service()
        self.result = normalize_service(after)
        missing = self._not_shown(after)
        if missing:
            hint = (
                " (WHMCS ignores 0 as an empty value, and unset[] does not cover bwusage: the figure can only be reset in WHMCS itself)"
                if "bandwidth_usage" in missing and self.wanted["bandwidth_usage"] == 0
                else ""
            )
            self.module.fail_json(
                msg="WHMCS accepted the update of service %s but does not show %s as written%s" % (raw.get("id"), ", ".join(sorted(missing)), hint),
                service=self.result,
            )


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
