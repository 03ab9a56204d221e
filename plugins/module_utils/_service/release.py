# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: giving a server back to the free pool.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from .._dci.panel import FREE_HOSTNAME, hostname_key, is_free, is_suspended, same_hostname
from .errors import OperationFailed
from .install_record import read_record, without_record


class Release:
    """Release the server named by ``server_id`` or ``hostname`` (as ISPsystem's module terminates a service);
    ``main_ip`` is the service's address where its hostname is on no server. ``run(rows)`` does it (``rows``: a
    server list, read when not given) and fills ``server``, ``before``, ``after``, ``changed``, ``released``."""

    def __init__(self, panel, server_id=None, hostname=None, main_ip=None, wait_timeout=600):
        self.panel = panel
        self.server_id = server_id
        self.hostname = hostname
        self.main_ip = main_ip
        self.wait_timeout = wait_timeout
        self.changed = False
        self.server = None
        self.before = {}
        self.after = {}

    def _connections_idle(self, server_id):
        return not any(conn["func_in_progress"] for conn in self.panel.connections(server_id))

    def _summary(self, row, addresses, notes):
        return {
            "owner": self.panel.owner_login(row),
            "hostname": hostname_key(row.get("hostname")),
            "blocked": is_suspended(row),
            "addresses": sorted(address["ip"] for address in addresses),
            "install_record": read_record(notes) is not None,
        }

    def already_released(self, rows):
        """Whether the hostname names no server and nothing says the service still has one."""
        if any(same_hostname(row.get("hostname"), self.hostname) for row in rows):
            return False
        held = [row for row in rows if self.main_ip and row.get("ip") == self.main_ip and not is_free(row)]
        if held:
            row = held[0]
            raise OperationFailed(
                "no server carries hostname %s, but its address %s is still the main address of server %s (hostname %s, owner %s), "
                "which is not free; not counted as released. If server %s is this service's, release it by server_id; if it is "
                "another service's, correct the address where it came from (WHMCS's dedicated IP)"
                % (self.hostname, self.main_ip, row["id"], row.get("hostname") or "(none)", self.panel.owner_login(row) or "(none)", row["id"])
            )
        return True

    def run(self, rows=None):
        rows = self.panel.servers() if rows is None else rows
        if self.hostname is not None and self.already_released(rows):
            self.before = self.after = {"hostname": self.hostname, "state": "released"}
            return self
        row = self.panel.find_server(self.server_id, self.hostname, rows=rows)
        server_id = row["id"]
        main_ip = row.get("ip")
        addresses = self.panel.addresses(server_id, with_domains=True)
        form = self.panel.server_form(server_id)
        notes = form.get("notes", "")
        self.before = self._summary(row, addresses, notes)
        self.after = {"owner": "", "hostname": FREE_HOSTNAME, "blocked": False, "addresses": [main_ip] if main_ip else [], "install_record": False}
        # An address whose domain the panel does not show is not assumed to be free.ds.
        unnamed = [a for a in addresses if "domain" not in a or not same_hostname(a["domain"], FREE_HOSTNAME)]
        if self.before == self.after and not unnamed:
            self.server = self.panel.describe_server(row, addresses=addresses)
            return self
        self.changed = True
        if self.panel.check_mode:
            self.server = self.panel.describe_server(row, addresses=addresses)
            return self
        if is_suspended(row):
            row = self.panel.unblock(server_id, self.wait_timeout)
        self.panel.wait_server(server_id, lambda r: self._connections_idle(server_id), "the switch and IPMI operations finishing", self.wait_timeout)
        if not row["poweroff"] and not row["powererror"]:
            self.panel.power(server_id, "off", self.wait_timeout)
        for address in addresses:
            if address["ip"] != main_ip:
                self.panel.delete_address(server_id, address)
        changes = {}
        if row.get("owner"):
            changes["owner"] = "no_owner"
        if self.before["install_record"]:
            changes["notes"] = without_record(notes)
        if changes:
            self.panel.edit_server(server_id, **changes)
        self.panel.set_domain(server_id, FREE_HOSTNAME, main_ip=main_ip)
        self.server = self.panel.describe_server(self.panel.row(server_id))
        return self
