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
  - ispsystem.dcimanager.network
  - ispsystem.dcimanager.dcimanager.poll
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
      - The domain set on the server's addresses (compared case-insensitively).
      - A hostname that no server carries any more counts as released already (nothing to do), so a rerun
        after a release succeeds. Not so while O(main_ip) is still the main address of a server that is not
        free; the task then fails and names that server.
    type: str
  main_ip:
    description:
      - The address the service is known by elsewhere (WHMCS's dedicated IP), to cross-check a O(hostname) that
        no server carries. If it is the main address of a server that is not free, that server may still be the
        service's under another hostname (or another service's), and the release fails rather than report success.
    type: str
  wait_timeout:
    description:
      - Seconds to wait for each step (unblocking, connections, power off).
    type: int
    default: 600
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

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.panel import (
    FREE_HOSTNAME,
    hostname_key,
    is_free,
    is_suspended,
    same_hostname,
)
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import (
    DCIResource,
    dci_argument_spec,
    server_selector_spec,
    wait_spec,
)
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._install_record import read_record, without_record
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run


class DCIServerRelease(DCIResource):
    represent = "server"

    def _connections_idle(self, server_id):
        return not any(conn["func_in_progress"] for conn in self.connections(server_id))

    def _summary(self, row, addresses, notes):
        return {
            "owner": self.owner_login(row),
            "hostname": hostname_key(row.get("hostname")),
            "blocked": is_suspended(row),
            "addresses": sorted(address["ip"] for address in addresses),
            "install_record": read_record(notes) is not None,
        }

    def _already_released(self, rows):
        """Whether the hostname names no server and nothing says the service still has one."""
        params = self.module.params
        if any(same_hostname(row.get("hostname"), params["hostname"]) for row in rows):
            return False
        held = [row for row in rows if params["main_ip"] and row.get("ip") == params["main_ip"] and not is_free(row)]
        if held:
            row = held[0]
            self.module.fail_json(
                msg="no server carries hostname %s, but its address %s is still the main address of server %s "
                "(hostname %s, owner %s), which is not free; not counted as released. If server %s is "
                "this service's, release it by server_id; if it is another service's, correct the "
                "address where it came from (WHMCS's dedicated IP)"
                % (params["hostname"], params["main_ip"], row["id"], row.get("hostname") or "(none)", self.owner_login(row) or "(none)", row["id"])
            )
        return True

    def release(self):
        params = self.module.params
        timeout = params["wait_timeout"]
        rows = self.list_servers()
        if params["hostname"] is not None and self._already_released(rows):
            self.before = self.after = {"hostname": params["hostname"], "state": "released"}
            return
        row = self.find_server(params["server_id"], params["hostname"], rows=rows)
        server_id = row["id"]
        main_ip = row.get("ip")
        addresses = self.addresses(server_id, with_domains=True)
        notes = self.client.form("server.edit", elid=server_id).get("notes", "")
        self.before = self._summary(row, addresses, notes)
        self.after = {"owner": "", "hostname": FREE_HOSTNAME, "blocked": False, "addresses": [main_ip] if main_ip else [], "install_record": False}
        # An address whose domain the panel does not show is not assumed to be free.ds.
        unnamed = [a for a in addresses if "domain" not in a or not same_hostname(a["domain"], FREE_HOSTNAME)]
        if self.before == self.after and not unnamed:
            self.result = self.describe_server(row)
            return
        if self.module.check_mode:
            self._mark_as_changed()
            self.result = self.describe_server(row)
            return
        if is_suspended(row):
            row = self.unblock(server_id, timeout)
        self.wait_server(server_id, lambda r: self._connections_idle(server_id), "the switch and IPMI operations finishing", timeout)
        if not row["poweroff"] and not row["powererror"]:
            self.power(server_id, "off", timeout)
        for address in addresses:
            if address["ip"] != main_ip:
                self.delete_address(server_id, address)
        changes = {}
        if row.get("owner"):
            changes["owner"] = "no_owner"
        if self.before["install_record"]:
            changes["notes"] = without_record(notes)
        if changes:
            self.edit_server(server_id, **changes)
        self.set_domain(server_id, FREE_HOSTNAME, main_ip=main_ip)
        self.result = self.describe_server(self.server_row(server_id))


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(server_selector_spec())
    argument_spec.update(wait_spec(600, wait=False))
    argument_spec.update(main_ip=dict(type="str"))
    module = AnsibleModule(
        argument_spec=argument_spec, supports_check_mode=True, required_one_of=[("server_id", "hostname")], mutually_exclusive=[("server_id", "hostname")]
    )
    run(module, DCIServerRelease, DCIServerRelease.release)


if __name__ == "__main__":
    main()
