#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dci_server_release
short_description: Give a server back to the free pool of DCImanager 5
version_added: 0.1.0
description:
  - The termination sequence of ISPsystem's WHMCS module, made idempotent.
  - Unblocks the server and waits until it is enabled, waits until no switch or IPMI connection has an
    operation in progress, powers it off and waits for it, deletes every address but the main one,
    clears the owner, sets the domain of its addresses back to C(free.ds), and removes the install
    record that M(ispsystem.dcimanager.dci_os_install) keeps in the server's notes.
  - Releasing a free server changes nothing. A run that was interrupted half-way finishes the job.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
extends_documentation_fragment:
  - ispsystem.dcimanager.dcimanager
  - ispsystem.dcimanager.attributes
  - ispsystem.dcimanager.attributes.actiongroup_dcimanager
attributes:
  check_mode:
    support: full
    details: Check mode reports whether the server would be released, and changes nothing.
  diff_mode:
    support: full
options:
  server_id:
    description:
      - The panel's id of the server. Exactly one of O(server_id) and O(hostname) is required.
    type: str
  hostname:
    description:
      - The domain set on the server's addresses.
      - A hostname that no server carries any more counts as released already (nothing to do), so a rerun
        after a release succeeds.
    type: str
  wait_timeout:
    description:
      - Seconds to wait for each step (unblocking, connections, power off).
    type: int
    default: 600
  poll_interval:
    description:
      - The longest pause, in seconds, between two looks at the server.
    type: int
    default: 15
"""

EXAMPLES = r"""
- name: Terminate the service's server
  ispsystem.dcimanager.dci_server_release:
    hostname: 1042.example.net
  delegate_to: localhost
"""

RETURN = r"""
server:
  description:
    - The server as it is after the release, with the keys described in M(ispsystem.dcimanager.dci_server_info).
    - V(null) when O(hostname) names no server (already released).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_client import CONNECTION_FLAGS
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import (
    FREE_HOSTNAME,
    DCIResource,
    dci_argument_spec,
    installed_marker,
    run,
    server_selector_spec,
    without_marker,
)


class DCIServerRelease(DCIResource):
    represent = "server"

    def _connections_idle(self, server_id):
        return not any(conn["func_in_progress"] for conn in
                       self.client.list("server.connection", flags=CONNECTION_FLAGS, elid=server_id))

    def _summary(self, row, addresses, notes):
        return {"owner": row.get("owner", ""), "hostname": row.get("hostname", ""), "blocked": row["blocked"],
                "addresses": sorted(address["ip"] for address in addresses),
                "install_record": installed_marker(notes) is not None}

    def release(self):
        params = self.module.params
        timeout = params["wait_timeout"]
        rows = self.list_servers()
        if params["hostname"] is not None and not any(row.get("hostname") == params["hostname"] for row in rows):
            self.before = self.after = {"hostname": params["hostname"], "state": "released"}
            return
        row = self.find_server(params["server_id"], params["hostname"], rows=rows)
        server_id = row["id"]
        main_ip = row.get("ip")
        addresses = self.addresses(server_id)
        notes = self.client.form("server.edit", elid=server_id).get("notes", "")
        self.before = self._summary(row, addresses, notes)
        self.after = {"owner": "", "hostname": FREE_HOSTNAME, "blocked": False,
                      "addresses": [main_ip] if main_ip else [], "install_record": False}
        if self.before == self.after:
            self.result = self.describe_server(row)
            return
        self._mark_as_changed()
        if self.module.check_mode:
            self.result = self.describe_server(row)
            return
        if row["blocked"] or row["disabled"]:
            self.client.write("server.enable", elid=server_id)
            row = self.wait_server(server_id, lambda r: not r["blocked"] and not r["disabled"], "unblocking", timeout)
        self.wait_server(server_id, lambda r: self._connections_idle(server_id), "the switch and IPMI operations finishing", timeout)
        if not row["poweroff"] and not row["powererror"]:
            self.client.write("server.poweroff", elid=server_id)
            self.wait_server(server_id, lambda r: r["poweroff"] or r["powererror"], "powering off", timeout)
        for address in addresses:
            if address["ip"] != main_ip:
                self.client.write("iplist.delete", plid=server_id, elid=address["id"])
        changes = {}
        if row.get("owner"):
            changes["owner"] = "no_owner"
        if self.before["install_record"]:
            changes["notes"] = without_marker(notes)
        if changes:
            self.edit_server(server_id, **changes)
        self.set_domain(server_id, FREE_HOSTNAME)
        self.result = self.describe_server(self.server_row(server_id))


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(server_selector_spec())
    argument_spec.update(
        wait_timeout=dict(type="int", default=600),
        poll_interval=dict(type="int", default=15),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("server_id", "hostname")], mutually_exclusive=[("server_id", "hostname")])
    run(module, DCIServerRelease, DCIServerRelease.release)


if __name__ == "__main__":
    main()
