#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dci_os_install
short_description: Install an OS template on an allocated server in DCImanager 5
version_added: 0.1.0
description:
  - Starts the installation of an operating system template (and optionally a recipe) on a server,
    and by default waits until it finishes.
  - Enables (unblocks) and powers the server on first when needed, and waits for it.
  - Never starts a second install while one runs; it waits for the running one instead, and fails
    when that one fails. A task with O(start=false) waits for an install that an earlier task started
    with O(wait=false) (see the examples).
  - "How the module knows what is installed: the panel's API does not report a server's installed
    template. When the module starts an install it writes one line,
    C(ansible-dcimanager: os_template=NAME recipe=RECIPE), into the server's notes (C(server.edit));
    a later run with the same template and recipe, and no O(force), changes nothing while that line is there
    and the last operation did not fail. M(ispsystem.dcimanager.dci_server_release) removes the line.
    An install started outside this collection is not seen, so the first run after it reinstalls."
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
extends_documentation_fragment:
  - ispsystem.dcimanager.dcimanager
  - ispsystem.dcimanager.dcimanager.server
  - ispsystem.dcimanager.attributes
  - ispsystem.dcimanager.attributes.actiongroup_dcimanager
attributes:
  check_mode:
    support: full
    details: Check mode reports whether an install would start, and changes nothing.
  diff_mode:
    support: full
options:
  os_template:
    description:
      - The template to install, as the panel's C(osmgr) list names it (see M(ispsystem.dcimanager.dci_os_template_info)).
      - An unknown name fails, listing the valid ones.
    type: str
    required: true
  recipe:
    description:
      - A recipe to run after the install, C(#local__NAME) for a local recipe or C(REPOSITORY__NAME) for a repository's.
    type: str
  root_password:
    description:
      - The new root password.
    type: str
    required: true
  force:
    description:
      - Reinstall even when the requested template is already installed.
    type: bool
    default: false
  start:
    description:
      - Whether the module may start an install.
      - With V(false) it only waits for the install of O(os_template) (and O(recipe)) that an earlier task
        started, and checks how it ended; it fails when that install failed or when the server has no
        such install, and never starts one (so a failed install is never started again behind your back).
    type: bool
    default: true
  wait:
    description:
      - Wait until the install finishes.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the server to power on and for the install to finish.
      - When it runs out the task fails; the install itself goes on in the panel.
    type: int
    default: 720
  poll_interval:
    description:
      - The longest pause, in seconds, between two looks at the server. The first look comes after a
        second and the pauses grow up to this.
    type: int
    default: 15
"""

EXAMPLES = r"""
- name: Install Debian 12 and wait for it
  ispsystem.dcimanager.dci_os_install:
    hostname: 1042.example.net
    os_template: ISPsystem__Debian-12-amd64
    recipe: "#local__base-hardening"
    root_password: "{{ service_password }}"
  delegate_to: localhost

- name: Reinstall, without waiting
  ispsystem.dcimanager.dci_os_install:
    server_id: "17"
    os_template: ISPsystem__AlmaLinux-9-amd64
    root_password: "{{ service_password }}"
    force: true
    wait: false
  delegate_to: localhost

# Installs take minutes: start them all first, then wait, so that they run side by side
# whatever the number of forks.
- name: Start the install
  ispsystem.dcimanager.dci_os_install:
    hostname: "{{ inventory_hostname }}"
    os_template: ISPsystem__Debian-12-amd64
    root_password: "{{ service_password }}"
    wait: false
  delegate_to: localhost

- name: Wait for the install
  ispsystem.dcimanager.dci_os_install:
    hostname: "{{ inventory_hostname }}"
    os_template: ISPsystem__Debian-12-amd64
    root_password: "{{ service_password }}"
    start: false
    wait_timeout: 1800
  delegate_to: localhost
"""

RETURN = r"""
server:
  description: The server after the task, with the keys described in M(ispsystem.dcimanager.dci_server_info).
  returned: success
  type: dict
os_template:
  description: The template installed (or being installed).
  returned: success
  type: str
  sample: ISPsystem__Debian-12-amd64
recipe:
  description: The recipe, or V(null).
  returned: success
  type: str
install_finished:
  description: Whether the install has finished (false when O(wait=false) or in check mode).
  returned: success
  type: bool
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import (
    DCIResource,
    dci_argument_spec,
    installed_marker,
    run,
    server_selector_spec,
    wait_spec,
    with_marker,
)

RECIPE_FORM = re.compile(r"^(#local|[A-Za-z0-9][A-Za-z0-9_.-]*)__[^\s_][^\s]*$")


class DCIOSInstall(DCIResource):
    represent = "server"

    def __init__(self, module):
        super().__init__(module)
        self.install_finished = False

    def get_result(self):
        result = super().get_result()
        result.update(os_template=self.module.params["os_template"], recipe=self.module.params["recipe"],
                      install_finished=self.install_finished)
        return result

    def _validate(self):
        params = self.module.params
        names = [row.get("name") for row in self.client.list("osmgr")]
        if params["os_template"] not in names:
            self.module.fail_json(msg="unknown os_template %s; the panel offers: %s" % (params["os_template"], ", ".join(sorted(names))))
        recipe = params["recipe"]
        if recipe not in (None, "", "null") and not RECIPE_FORM.match(recipe):
            self.module.fail_json(msg="recipe %s is not of the form #local__NAME or REPOSITORY__NAME" % recipe)

    def _wait_for_install(self, server_id, which):
        """Wait until the install running on the server ends; fail when the panel says it failed."""
        row = self.wait_server(server_id, lambda row: not row["install_in_progress"], "the OS install finishing",
                               self.module.params["wait_timeout"])
        if row["operation_failed"]:
            self.result = self.describe_server(row)
            self.module.fail_json(msg="%s on server %s failed (the panel flags operation_failed); see the server's operation "
                                      "log in the panel, then re-run to try again" % (which, server_id), server=self.result)
        self.install_finished = True
        return row

    def _power_on(self, server_id, row):
        timeout = self.module.params["wait_timeout"]
        if row["blocked"] or row["disabled"]:
            self.client.write("server.enable", elid=server_id)
            row = self.wait_server(server_id, lambda r: not r["blocked"] and not r["disabled"], "unblocking", timeout)
        if not row["poweron"]:
            self.client.write("server.poweron", elid=server_id)
            row = self.wait_server(server_id, lambda r: r["poweron"] or r["powererror"], "powering on", timeout)
            if row["powererror"]:
                self.module.fail_json(msg="server %s did not power on (the panel flags powererror); check its IPMI connection"
                                      % server_id)
        return row

    def install(self):
        params = self.module.params
        recipe = params["recipe"] or "null"
        self._validate()
        row = self.find_server(params["server_id"], params["hostname"])
        server_id = row["id"]
        if row["install_in_progress"]:
            if not params["wait"] or self.module.check_mode:
                # Never a second install while one runs; without waiting there is nothing to decide yet.
                self.result = self.describe_server(row)
                return
            # A failed install is reported, not silently started again: a re-run starts a new one.
            row = self._wait_for_install(server_id, "the install that was running")
        form = self.client.form("server.edit", elid=server_id)
        notes = form.get("notes", "")
        current = installed_marker(notes)
        self.before = {"os_template": current[0] if current else None, "recipe": current[1] if current else None}
        self.after = {"os_template": params["os_template"], "recipe": recipe}
        if current == (params["os_template"], recipe) and not params["force"]:
            if row["operation_failed"] and not params["start"]:
                self.result = self.describe_server(row)
                self.module.fail_json(msg="the install of %s on server %s failed (the panel flags operation_failed); see the "
                                          "server's operation log in the panel, then re-run to try again"
                                      % (params["os_template"], server_id), server=self.result)
            if not row["operation_failed"]:
                self.install_finished = True
                self.result = self.describe_server(row)
                return
        elif not params["start"]:
            if self.module.check_mode:
                # In a check run the task that would have started the install started nothing.
                self.result = self.describe_server(row)
                return
            self.module.fail_json(msg="server %s has no install of %s to wait for (start=false); its notes record %s"
                                  % (server_id, params["os_template"], "%s with recipe %s" % current if current else "no install"))
        self._mark_as_changed()
        if self.module.check_mode:
            self.result = self.describe_server(row)
            return
        row = self._power_on(server_id, row)
        self.client.write("server.operations", sok="ok", elid=server_id, operation="ostemplate", ostemplate=params["os_template"],
                          passwd=params["root_password"], confirm=params["root_password"], checkpasswd=params["root_password"],
                          recipe=recipe)
        self.edit_server(server_id, form=form, notes=with_marker(notes, params["os_template"], recipe))
        if params["wait"]:
            row = self._wait_for_install(server_id, "the install of %s" % params["os_template"])
        else:
            row = self.server_row(server_id)
        self.result = self.describe_server(row)


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(server_selector_spec())
    argument_spec.update(wait_spec(720))
    argument_spec.update(
        os_template=dict(type="str", required=True),
        recipe=dict(type="str"),
        root_password=dict(type="str", required=True, no_log=True),
        force=dict(type="bool", default=False),
        start=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("server_id", "hostname")], mutually_exclusive=[("server_id", "hostname")])
    if module.params["force"] and not module.params["start"]:
        module.fail_json(msg="force=true starts an install, start=false forbids it: set only one of them")
    run(module, DCIOSInstall, DCIOSInstall.install)


if __name__ == "__main__":
    main()
