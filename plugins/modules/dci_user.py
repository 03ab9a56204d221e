#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dci_user
short_description: Manage a customer account in DCImanager 5
version_added: 0.1.0
description:
  - Create, update the password of, or delete a customer account (user level 16) in ISPsystem DCImanager 5.
  - A customer account owns the dedicated servers given to that customer.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
extends_documentation_fragment:
  - ispsystem.dcimanager.dcimanager
  - ispsystem.dcimanager.network
  - ispsystem.dcimanager.attributes
  - ispsystem.dcimanager.attributes.actiongroup_dcimanager
attributes:
  check_mode:
    support: full
    details: Check mode makes no writing call to the panel.
  diff_mode:
    support: full
options:
  name:
    description:
      - Login of the account.
    type: str
    required: true
  password:
    description:
      - Password of the account.
      - Required to create an account.
    type: str
  update_password:
    description:
      - V(on_create) sets the password only when the account is created.
      - V(always) also sets it on an existing account when it differs. The module finds out whether it
        differs by trying to log in as the account with it, so a matching password reports no change.
    type: str
    choices: [on_create, always]
    default: on_create
  state:
    description:
      - V(present) makes sure the account exists.
      - V(absent) deletes it; the module refuses, naming the servers, while the account owns servers.
    type: str
    choices: [present, absent]
    default: present
notes:
  - The module manages customer accounts only; a login that belongs to an administrator is refused.
"""

EXAMPLES = r"""
- name: Make sure the customer's account exists
  ispsystem.dcimanager.dci_user:
    api_url: https://dci.example.com
    api_username: whmcs
    api_password: "{{ vault_dci_password }}"
    name: client1042
    password: "{{ service_password }}"
  delegate_to: localhost

- name: Reset the customer's password (changes only when it differs)
  ispsystem.dcimanager.dci_user:
    name: client1042
    password: "{{ new_password }}"
    update_password: always
  delegate_to: localhost

- name: Delete the account once its servers are released
  ispsystem.dcimanager.dci_user:
    name: client1042
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
user:
  description: The account as it is after the task (as it would be, in check mode). V(null) after deletion.
  returned: success
  type: dict
  contains:
    id:
      description: The panel's id of the account; V(null) when it would be created in check mode.
      type: str
      sample: "42"
    name:
      description: The login.
      type: str
      sample: client1042
    level:
      description: The panel's user level; 16 is a customer.
      type: int
      sample: 16
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import DCIResource, dci_argument_spec
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.account import Account


class DCIUser(DCIResource):
    represent = "user"

    def apply(self):
        params = self.module.params
        account = Account(self.panel(), params["name"], params["password"], params["update_password"])
        self.take(account.absent() if params["state"] == "absent" else account.present(), result=account.user)


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        password=dict(type="str", no_log=True),
        update_password=dict(type="str", choices=["on_create", "always"], default="on_create", no_log=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module, DCIUser, DCIUser.apply)


if __name__ == "__main__":
    main()
