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
    template. Before the module starts an install it writes one line,
    C(ansible-dcimanager: os_template=NAME recipe=RECIPE started=TIME), into the server's notes (C(server.edit)),
    so that a panel refusing changes to a server during an install cannot make a rerun reinstall; when a wait
    sees the install finish it adds C(finished=TIME). A later run with the same template and recipe, and no
    O(force), changes nothing while that line is there and the last operation did not fail.
    M(ispsystem.dcimanager.dci_server_release) removes the line. An install started outside this collection is
    not seen, so the first run after it reinstalls."
  - "When an install counts as finished: when the panel was seen running it (C(install_in_progress)) and then no
    longer shows it, or, if it was never seen running, once O(settle_time) seconds have passed since it started,
    so a panel that shows the flag late cannot end the wait early."
  - The template is checked against the install form of the server (C(server.operations), its list of templates
    allowed for that server) when the panel shows one, else against the C(osmgr) list.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
extends_documentation_fragment:
  - ispsystem.dcimanager.dcimanager
  - ispsystem.dcimanager.network
  - ispsystem.dcimanager.dcimanager.server
  - ispsystem.dcimanager.dcimanager.poll
  - ispsystem.dcimanager.dcimanager.wait
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
  wait_timeout:
    description:
      - Seconds to wait for the server to power on and for the install to finish.
      - When it runs out the task fails; the install itself goes on in the panel.
    type: int
    default: 720
  owner:
    description:
      - The account the server must belong to. Right before the install starts, the server's owner is read again
        (with its hostname, when the server is named by O(hostname)); on a mismatch no install is started and the
        task fails, so an allocation that another controller took over meanwhile never has its disk wiped.
      - Without it (and with O(server_id)) the server is installed whoever owns it.
    type: str
  settle_time:
    description:
      - Seconds after the start of an install during which a server that has not yet been seen installing
        is not taken as finished (some panels may show C(install_in_progress) only a while after the start).
      - Also how long the module looks for an install to show after a start whose answer was lost, before it
        concludes that the install did not start and sends it once more.
    type: int
    default: 60
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import (
    DCIResource,
    dci_argument_spec,
    server_selector_spec,
    wait_spec,
)
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.install import Install


class DCIOSInstall(DCIResource):
    represent = "server"

    def __init__(self, module):
        super().__init__(module)
        self.install_finished = False

    def get_result(self):
        result = super().get_result()
        result.update(os_template=self.module.params["os_template"], recipe=self.module.params["recipe"], install_finished=self.install_finished)
        return result

    def install(self):
        params = self.module.params
        panel = self.panel()
        install = Install(
            panel,
            params["os_template"],
            params["root_password"],
            recipe=params["recipe"],
            force=params["force"],
            start=params["start"],
            wait=params["wait"],
            wait_timeout=params["wait_timeout"],
            settle_time=params["settle_time"],
            owner=params["owner"],
            hostname=params["hostname"],
        )
        install.check_recipe()
        try:
            install.run(panel.find_server(params["server_id"], params["hostname"]))
        finally:
            self.install_finished = install.finished
        self.take(install)


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
        settle_time=dict(type="int", default=60),
        owner=dict(type="str"),
    )
    module = AnsibleModule(
        argument_spec=argument_spec, supports_check_mode=True, required_one_of=[("server_id", "hostname")], mutually_exclusive=[("server_id", "hostname")]
    )
    if module.params["force"] and not module.params["start"]:
        module.fail_json(msg="force=true starts an install, start=false forbids it: set only one of them")
    run(module, DCIOSInstall, DCIOSInstall.install)


if __name__ == "__main__":
    main()
