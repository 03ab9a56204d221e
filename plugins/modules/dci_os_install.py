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

import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.errors import DCIError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.panel import is_suspended
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import (
    DCIResource,
    dci_argument_spec,
    server_selector_spec,
    wait_spec,
)
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._install_record import InstallRecord, read_record, with_record
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._wait import WaitTimeout
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._writes import NOT_SHOWN

RECIPE_FORM = re.compile(r"^(#local|[A-Za-z0-9][A-Za-z0-9_.-]*)__[^\s_][^\s]*$")


class DCIOSInstall(DCIResource):
    represent = "server"

    def __init__(self, module):
        super().__init__(module)
        self.install_finished = False

    def get_result(self):
        result = super().get_result()
        result.update(os_template=self.module.params["os_template"], recipe=self.module.params["recipe"], install_finished=self.install_finished)
        return result

    def _template_key(self, server_id):
        """The template name the install takes, checked against what the panel offers for this server.

        The install form's ``ostemplate`` list (value -> text) is the panel's own answer [M]; a name
        given as its text is taken as its value. Without that list, ``osmgr``'s ``name`` column is
        what the reference says ``ostemplate`` takes.
        """
        wanted = self.module.params["os_template"]
        offered = self.client.form("server.operations", elid=server_id).selects.get("ostemplate")
        if offered:
            if wanted in offered:
                return wanted
            by_text = [key for key, text in offered.items() if text == wanted]
            if len(by_text) == 1:
                return by_text[0]
            names = sorted(offered)
        else:
            names = sorted(row.get("name") for row in self.client.list("osmgr") if row.get("name"))
            if wanted in names:
                return wanted
        self.module.fail_json(msg="unknown os_template %s; the panel offers: %s" % (wanted, ", ".join(names)))
        return None  # not reached

    def _check_recipe(self):
        recipe = self.module.params["recipe"]
        if recipe not in (None, "", "null") and not RECIPE_FORM.match(recipe):
            self.module.fail_json(msg="recipe %s is not of the form #local__NAME or REPOSITORY__NAME" % recipe)

    def _wait_for_install(self, server_id, which, started=None, seen=False):
        """Wait until the install ends; fail when the panel says it failed.

        It ends when the row no longer shows ``install_in_progress`` after it was seen running, or,
        when it was never seen, once ``settle_time`` has passed since ``started``.
        """
        settle = self.module.params["settle_time"]
        seen = [seen or started is None]

        def ended(row):
            if row["install_in_progress"]:
                seen[0] = True
                return False
            return seen[0] or time.time() - started >= settle

        row = self.wait_server(server_id, ended, "the OS install finishing", self.module.params["wait_timeout"])
        if row["operation_failed"]:
            self.result = self.describe_server(row)
            self.module.fail_json(
                msg="%s on server %s failed (the panel flags operation_failed); see the server's operation "
                "log in the panel, then re-run to try again" % (which, server_id),
                server=self.result,
            )
        self.install_finished = True
        return row

    def _note_finished(self, server_id, record):
        """Add ``finished`` to the install record, so a rerun at once need not wait out the settle time.

        Only the run that started the install (and so changes the server anyway) does it: a task
        that only waits reports no change."""
        form = self.client.form("server.edit", elid=server_id)
        current = read_record(form.get("notes", ""))
        if current is None or not current.names(record.template, record.recipe) or current.finished is not None:
            return
        notes = with_record(form.get("notes", ""), current.template, current.recipe, current.started or time.time(), time.time())
        try:
            self.edit_server(server_id, form=form, notes=notes)
        except DCIError as exc:
            self.module.warn(
                "the install finished, but noting it in server %s's notes failed (%s); a rerun within "
                "settle_time of the start waits for it again" % (server_id, exc.msg)
            )

    def _power_on(self, server_id, row):
        timeout = self.module.params["wait_timeout"]
        if is_suspended(row):
            row = self.unblock(server_id, timeout)
        if not row["poweron"]:
            row = self.power(server_id, "on", timeout)
            if row["powererror"]:
                self.module.fail_json(msg="server %s did not power on (the panel flags powererror); check its IPMI connection" % server_id)
        return row

    def _start_install(self, server_id, template, recipe, before):
        """Send ``server.operations``. After a lost answer the server is watched for up to settle_time:
        the install started when it shows ``install_in_progress`` or a new ``operation_failed``."""
        params = self.module.params

        def read_back():
            def started(row):
                return row["install_in_progress"] or (row["operation_failed"] and not before["operation_failed"])

            try:
                self.wait_server(server_id, started, "the install showing", params["settle_time"])
            except WaitTimeout:
                return NOT_SHOWN
            return {}

        self.write(
            "server.operations",
            read_back,
            "the start of the install of %s on server %s" % (template, server_id),
            elid=server_id,
            operation="ostemplate",
            ostemplate=template,
            passwd=params["root_password"],
            confirm=params["root_password"],
            checkpasswd=params["root_password"],
            recipe=recipe,
        )

    def install(self):
        params = self.module.params
        recipe = params["recipe"] or "null"
        self._check_recipe()
        row = self.find_server(params["server_id"], params["hostname"])
        server_id = row["id"]
        template = self._template_key(server_id)
        if row["install_in_progress"]:
            if not params["wait"] or self.module.check_mode:
                # Never a second install while one runs; without waiting there is nothing to decide yet.
                self.result = self.describe_server(row)
                return
            # A failed install is reported, not silently started again: a re-run starts a new one.
            row = self._wait_for_install(server_id, "the install that was running", seen=True)
        form = self.client.form("server.edit", elid=server_id)
        notes = form.get("notes", "")
        record = read_record(notes)
        self.before = {"os_template": record.template if record else None, "recipe": record.recipe if record else None}
        self.after = {"os_template": template, "recipe": recipe}
        if record is not None and record.names(template, recipe) and not params["force"]:
            if row["operation_failed"] and not params["start"]:
                self.result = self.describe_server(row)
                self.module.fail_json(
                    msg="the install of %s on server %s failed (the panel flags operation_failed); see the "
                    "server's operation log in the panel, then re-run to try again" % (template, server_id),
                    server=self.result,
                )
            if not row["operation_failed"]:
                self._recorded_install(server_id, row, record)
                return
        elif not params["start"]:
            if self.module.check_mode:
                # In a check run the task that would have started the install started nothing.
                self.result = self.describe_server(row)
                return
            self.module.fail_json(
                msg="server %s has no install of %s to wait for (start=false); its notes record %s"
                % (server_id, template, "%s with recipe %s" % (record.template, record.recipe) if record else "no install")
            )
        if self.module.check_mode:
            self._mark_as_changed()
            self.result = self.describe_server(row)
            return
        row = self._power_on(server_id, row)
        started = time.time()
        # The record goes in first: a panel that refuses server.edit while an install runs must not
        # leave a running install unrecorded, which a rerun would start again.
        self.edit_server(server_id, form=form, notes=with_record(notes, template, recipe, started))
        try:
            self._start_install(server_id, template, recipe, row)
        except DCIError as exc:
            if exc.error_type is not None:  # the panel refused: no install runs, so the record goes again
                self._undo_record(server_id, notes, exc)
            raise
        if params["wait"]:
            row = self._wait_for_install(server_id, "the install of %s" % template, started=started)
            self._note_finished(server_id, InstallRecord(template, recipe, started))
        else:
            row = self.server_row(server_id)
        self.result = self.describe_server(row)

    def _recorded_install(self, server_id, row, record):
        """The requested install is recorded and did not fail: finished, or (within settle_time of its start,
        never seen finishing) perhaps only just started, with a flag the panel does not show yet."""
        params = self.module.params
        age = record.age()
        if record.finished is not None or age is None or age >= params["settle_time"]:
            self.install_finished = True
        elif params["wait"] and not self.module.check_mode:
            row = self._wait_for_install(server_id, "the install of %s" % record.template, started=record.started)
        self.result = self.describe_server(row)

    def _undo_record(self, server_id, notes, refusal):
        try:
            self.edit_server(server_id, notes=notes)
        except DCIError as exc:
            refusal.msg += "; the install record in the server's notes could not be removed either (%s): remove it by hand" % exc.msg


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
    )
    module = AnsibleModule(
        argument_spec=argument_spec, supports_check_mode=True, required_one_of=[("server_id", "hostname")], mutually_exclusive=[("server_id", "hostname")]
    )
    if module.params["force"] and not module.params["start"]:
        module.fail_json(msg="force=true starts an install, start=false forbids it: set only one of them")
    run(module, DCIOSInstall, DCIOSInstall.install)


if __name__ == "__main__":
    main()
