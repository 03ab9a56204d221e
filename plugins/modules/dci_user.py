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

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.errors import DCIError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.panel import CUSTOMER_LEVEL
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import DCIResource, dci_argument_spec
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._writes import NOT_SHOWN


class DCIUser(DCIResource):
    represent = "user"

    def _represent(self, user):
        if user is None:
            return None
        return {"id": user.get("id"), "name": user.get("name"), "level": int(user.get("level") or 0)}

    def _get_user(self):
        user = self.find_user(self.module.params["name"])
        if user is not None and user.get("level") != CUSTOMER_LEVEL:
            self.module.fail_json(
                msg="login %s belongs to a panel account of level %s, not a customer (level %s); "
                "dci_user manages customer accounts only" % (user["name"], user.get("level"), CUSTOMER_LEVEL)
            )
        return user

    def _create_user(self):
        """Create the account; returns it, or None when another run created it meanwhile."""
        params = self.module.params
        if not params["password"]:
            self.module.fail_json(msg="password is required to create the account %s" % params["name"])

        def read_back():
            user = self.find_user(params["name"])
            return {"id": user.get("id")} if user is not None else NOT_SHOWN

        try:
            answer = self.write("user.edit", read_back, "the account %s" % params["name"], level="lvUser", name=params["name"], passwd=params["password"])
        except DCIError as exc:
            if exc.error_type != "exists":
                raise
            return None
        user = {"id": None, "name": params["name"], "level": CUSTOMER_LEVEL}
        if answer is not None:
            user["id"] = answer.get("id") or (self._get_user() or {}).get("id")
        return user

    def _update_password(self, user):
        params = self.module.params
        if params["update_password"] != "always" or not params["password"]:
            return
        if self.client.check_login(params["name"], params["password"]):
            return

        def read_back():
            return {} if self.client.check_login(params["name"], params["password"]) else NOT_SHOWN

        self.write("user.edit", read_back, "the new password of %s" % params["name"], elid=user["id"], passwd=params["password"], confirm=params["password"])
        # The password itself never goes into the diff; only that it changed.
        self.before["password"] = "(old)"
        self.after["password"] = "(changed)"

    def present_user(self):
        user = self._get_user()
        created = self._create_user() if user is None else None
        if user is None and created is None:
            # Another run created the account between the look and the create (two orders of one
            # client reconciled in parallel): carry on with it as if it had been there.
            user = self._get_user()
            if user is None:
                self.module.fail_json(msg="DCImanager says the account %s exists but does not list it" % self.module.params["name"])
        self.before = {"state": "absent"} if created else {"state": "present", **self._represent(user)}
        if created:
            user = created
        else:
            self._update_password(user)
        self.result = self._represent(user)
        self.after.update({"state": "present", **self.result})

    def delete_user(self):
        name = self.module.params["name"]
        user = self._get_user()
        if user is None:
            self.before = self.after = {"state": "absent"}
            return
        self.before = {"state": "present", **self._represent(user)}
        # The owner column may hold the login or the account id: both count.
        owned = [row for row in self.list_servers() if self.owned_by(row, name)]
        if owned:
            self.module.fail_json(
                msg="the account %s still owns %d server(s): %s; release them (dci_server_release) before deleting it"
                % (name, len(owned), ", ".join("%s (id %s)" % (row.get("hostname") or row.get("name"), row["id"]) for row in owned))
            )
        self.write("user.delete", lambda: {} if self.find_user(name) is None else NOT_SHOWN, "the deletion of %s" % name, elid=user["id"])
        self.after = {"state": "absent"}


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        password=dict(type="str", no_log=True),
        update_password=dict(type="str", choices=["on_create", "always"], default="on_create", no_log=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module, DCIUser, lambda user: user.delete_user() if module.params["state"] == "absent" else user.present_user())


if __name__ == "__main__":
    main()
