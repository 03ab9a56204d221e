#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dci_login_key
short_description: Make a one-time login link for DCImanager 5 (single sign-on)
version_added: 0.1.0
description:
  - Creates a one-time key with C(session.newkey) and returns the link that logs O(login) into the panel
    with it. Opening the link consumes the key.
  - For customer sign-on give the customer's login; for admin sign-on leave O(login) out.
  - Every run makes a new key, so the task always reports a change.
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
    details: Check mode makes no key and returns no link.
  diff_mode:
    support: none
options:
  login:
    description:
      - The account to log in as. Defaults to O(api_username).
    type: str
"""

EXAMPLES = r"""
- name: A sign-on link for the customer
  ispsystem.dcimanager.dci_login_key:
    login: client1042
  delegate_to: localhost
  register: sso
  no_log: true  # the link is a credential until it is opened
"""

RETURN = r"""
url:
  description:
    - The one-time login link. It is a credential until opened; treat the task's output as sensitive
      (O(ignore:no_log=true) on the task).
    - V(null) in check mode.
  returned: success
  type: str
  sample: https://dci.example.com:1500/dcimgr?checkcookie=no&func=auth&username=client1042&key=0123456789abcdefghijklmnopqrstuv
login:
  description: The account the link logs in.
  returned: success
  type: str
  sample: client1042
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import DCIResource, dci_argument_spec
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run


class DCILoginKey(DCIResource):
    represent = "url"

    def get_result(self):
        result = super().get_result()
        result["login"] = self.module.params["login"] or self.module.params["api_username"]
        return result

    def make_key(self):
        login = self.module.params["login"] or self.module.params["api_username"]
        if self.module.params["login"] and self.panel().find_user(login) is None:
            self.module.fail_json(msg="DCImanager has no account %s" % login)
        self.result = self.panel().login_key(login)


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(login=dict(type="str"))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module, DCILoginKey, DCILoginKey.make_key)


if __name__ == "__main__":
    main()
