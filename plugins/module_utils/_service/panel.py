# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: one DCImanager panel as one run works on it.

``Panel`` holds the client, the write path and the shared view of the server list, and offers the
reads and writes the service operations share (a server's form, the domain of its addresses, the
calls that change a server's state), each write with the read-back that resolves a lost answer.
It knows nothing of AnsibleModule: the dci_* modules and fleet_apply both build one. Reading rows is
``_dci_panel``'s job. Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import secrets
import string
import time

from .._dci.answers import CONNECTION_FLAGS
from .._dci.panel import Accounts, is_ipv6, is_suspended, is_switch, owner_may_be_id, package_of, power_of, same_hostname
from .._writes import CANNOT_TELL, NOT_SHOWN
from .errors import OperationFailed
from .view import ServerGone, ServerList

# The letters of a one-time login key.
KEY_ALPHABET = string.ascii_lowercase + string.digits
# How many times a read-back waits for the operations under way to end before it judges the row it read.
SETTLE_LOOKS = 3


def saved(field, value):
    """A form value as compared after a save: the panel may end lines otherwise or trim them, and may
    show "no owner" as ``no_owner`` (what a save sends) or as an empty field."""
    value = "\n".join(line.rstrip() for line in (value or "").replace("\r\n", "\n").strip().split("\n"))
    return "" if field == "owner" and value == "no_owner" else value


class Panel:
    """One panel for one run: ``client`` (a DCIClient), ``writes`` (the run's write path, _writes.Writes),
    ``view`` (the shared ServerList; one is made when not given), the run's waits' ``wait_timeout`` and
    ``poll_interval``, and ``warn`` for what a person should hear of. ``shared_users``: a callable giving the ``user``
    list as the run read it once for every service of the panel (fleet_apply), for a look that need not be fresh.
    ``claimed``: the ids of the servers the run's allocations on this panel claimed (a set they share), which
    the other allocations try last."""

    def __init__(self, client, writes, view=None, wait_timeout=600, poll_interval=15, warn=None, name=None, shared_users=None, claimed=None):
        self.client = client
        self.writes = writes
        self.view = view if view is not None else ServerList(client, max_pause=poll_interval)
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.warn = warn or (lambda message: None)
        self.name = name
        self.shared_users = shared_users
        self.claimed = set() if claimed is None else claimed
        self._accounts = None

    @property
    def check_mode(self):
        return self.writes.check_mode

    # Reads -----------------------------------------------------------------------------------

    def servers(self, after=None, patience=0.0):
        """The whole server list, from a read sent at or after ``after`` (default: a new read); ``patience``: see
        ServerList.rows."""
        return self.view.rows(after, patience)

    def row(self, server_id, after=None):
        """A fresh ``server`` row (the panel has no single-server read: a list read shared through the view)."""
        row = self.view.row(server_id, after)
        if row is None:
            raise OperationFailed("server %s is no longer listed by the panel" % server_id)
        return row

    def users(self):
        users = self.client.list("user")
        self._accounts = Accounts(users)
        return users

    def accounts(self):
        """The account index (the ``user`` list, read once per run, and only when an owner cell needs it)."""
        if self._accounts is None:
            self.users()
        return self._accounts

    def find_user(self, name, fresh=True):
        """The account ``name`` (a ``user`` row) or None. ``fresh=False``: from the run's shared read of the list when
        there is one (a look whose answer a later step proves, as the account step's create does)."""
        users = self.shared_users() if not fresh and self.shared_users is not None else self.users()
        for user in users:
            if user.get("name") == name:
                return user
        return None

    def owner_login(self, row):
        """The login of the server's owner ("" when free), whether the panel's cell holds the login or the id."""
        cell = row.get("owner", "")
        return self.accounts().login_of(cell) if owner_may_be_id(cell) else cell

    def owned_by(self, row, login):
        cell = row.get("owner", "")
        return cell == login or (owner_may_be_id(cell) and self.accounts().owned_by(cell, login))

    def find_server(self, server_id=None, hostname=None, rows=None):
        """The ``server`` row named by id or hostname, or OperationFailed."""
        rows = self.servers() if rows is None else rows
        if server_id is not None:
            matches = [row for row in rows if row.get("id") == str(server_id)]
            if not matches:
                raise OperationFailed("DCImanager has no server with id %s" % server_id)
            return matches[0]
        matches = [row for row in rows if same_hostname(row.get("hostname"), hostname)]
        if not matches:
            raise OperationFailed("DCImanager has no server with hostname %s" % hostname)
        if len(matches) > 1:
            raise OperationFailed(
                "hostname %s is set on %d servers (ids %s); name the server with server_id" % (hostname, len(matches), ", ".join(row["id"] for row in matches))
            )
        return matches[0]

    def addresses(self, server_id, with_domains=False):
        """The server's addresses (``iplist`` rows, without the group headings).

        Whether ``iplist`` rows show an address's ``domain`` is not evidenced: with ``with_domains``,
        a row without one is completed from that address's ``iplist.edit`` form; a row whose domain
        neither shows keeps no ``domain`` key, so no caller can take it for "already set".
        """
        rows = [row for row in self.client.list("iplist", elid=server_id) if row.get("type") != "group" and row.get("ip")]
        if with_domains:
            for row in rows:
                if "domain" not in row and row.get("id"):
                    form = self.client.form("iplist.edit", plid=server_id, elid=row["id"])
                    if "domain" in form:
                        row["domain"] = form["domain"]
        return rows

    def server_form(self, server_id):
        return self.client.form("server.edit", elid=server_id)

    def connections(self, server_id):
        return self.client.list("server.connection", flags=CONNECTION_FLAGS, elid=server_id)

    def wait_server(self, server_id, predicate, what, timeout=None, after=None):
        """Read the server's row (through the shared view) until ``predicate(row)``; returns that row."""
        try:
            return self.view.wait(server_id, predicate, self.wait_timeout if timeout is None else timeout, "on server %s, %s" % (server_id, what), after)
        except ServerGone as exc:
            raise OperationFailed(str(exc)) from None

    # Writes ----------------------------------------------------------------------------------

    def write(self, func, read_back, what, repeat=True, deadline=None, **params):
        """Send the panel function ``func`` with ``params`` through the run's one write path.

        ``read_back`` and ``what`` as in ``Writes.change``; ``repeat=False`` for a write that must never be
        sent twice (the allocation's claim, a new address); ``deadline``: how long a write provably not made
        may be sent again (default: the run's)."""
        return self.writes.change(lambda: self.client.write(func, **params), read_back, what, repeat=repeat, deadline=deadline)

    def login_key(self, login):
        """A one-time key for ``login`` (``session.newkey``); the link that consumes it (None in check mode).

        32 lower-case letters and digits, as ISPsystem's module makes them (the panel wants 16 or more),
        and a new key every send: a key whose answer was lost was never shown to anyone, so it is as
        good as not made (keys cannot be listed to read it back), and no send repeats another.
        """
        keys = []

        def send():
            keys.append("".join(secrets.choice(KEY_ALPHABET) for dummy in range(32)))
            return self.client.new_login_key(login, keys[-1])

        if self.writes.change(send, lambda: NOT_SHOWN, "a one-time key for %s" % login) is None:
            return None
        return self.client.login_url(login, keys[-1])

    def edit_server(self, server_id, form=None, **changes):
        """Save the server's form with ``changes``, echoing back every other field it shows.

        ISPsystem's module echoes name, mac, notes and type (and sets owner) on every save;
        echoing the form keeps a save from blanking a field the request did not mention.
        Give ``form`` when it was just read, to save a call. A lost answer is resolved by reading
        the form again: the save took effect when it shows every changed value.
        """
        form = self.server_form(server_id) if form is None else form
        values = {key: form[key] for key in ("name", "mac", "notes", "type", "owner") if key in form}
        values.update(changes)

        def read_back():
            now = self.server_form(server_id)
            if all(saved(key, now.get(key)) == saved(key, value) for key, value in changes.items()):
                return {}
            return NOT_SHOWN

        self.write("server.edit", read_back, "the save of server %s's %s" % (server_id, " and ".join(sorted(changes))), elid=server_id, **values)

    def set_domain(self, server_id, domain, addresses=None, main_ip=None):
        """Set ``domain`` on every address of the server (the panel's "hostname" of a server).

        An address whose domain the panel does not show is written, never assumed set.
        Returns whether anything was written.
        """
        changed = False
        for address in self.addresses(server_id, with_domains=True) if addresses is None else addresses:
            if "domain" in address and same_hostname(address["domain"], domain):
                continue
            self.set_address_domain(server_id, address, domain, main_ip)
            changed = True
        return changed

    def address_domain(self, server_id, address_id, main_ip=None, ip=None):
        """The domain of one address as the panel shows it now: its ``iplist`` row or form, else (for the main
        address) the server list's ``hostname``; None when nothing shows it."""
        for row in self.addresses(server_id, with_domains=True):
            if row.get("id") == address_id and "domain" in row:
                return row["domain"]
        if main_ip and ip == main_ip:
            return self.row(server_id).get("hostname")
        return None

    def set_address_domain(self, server_id, address, domain, main_ip=None):
        """Set ``domain`` on one address. After a lost answer the address's domain is read back or,
        where the panel does not show it, the server list's ``hostname`` for the main address."""

        def read_back():
            shown = self.address_domain(server_id, address["id"], main_ip, address.get("ip"))
            if shown is None:
                return CANNOT_TELL
            return {} if same_hostname(shown, domain) else NOT_SHOWN

        self.write(
            "iplist.edit",
            read_back,
            "the domain %s on address %s of server %s" % (domain, address.get("ip"), server_id),
            plid=server_id,
            elid=address["id"],
            domain=domain,
        )
        address["domain"] = domain

    def delete_address(self, server_id, address):
        """Give an extra address back to the pool (``iplist.delete``); read back: it is no longer listed."""
        self.write(
            "iplist.delete",
            lambda: NOT_SHOWN if any(a.get("id") == address["id"] for a in self.addresses(server_id)) else {},
            "the removal of address %s from server %s" % (address["ip"], server_id),
            plid=server_id,
            elid=address["id"],
        )

    def server_call(self, server_id, func, shows, busy=None, what=None):
        """Send ``func`` (``server.enable``, ``server.poweron`` ...) for the server.

        After a lost answer the server is read back once no operation shows as under way (``busy``:
        one may be an earlier operation's, which proves nothing of this one), for at most
        ``wait_timeout``: the call took effect when the row ``shows(row)`` its result.
        """

        def read_back():
            row = self.settled_row(server_id, busy)
            return {} if shows(row) else NOT_SHOWN

        self.write(func, read_back, what or "%s on server %s" % (func, server_id), elid=server_id)

    def settled_row(self, server_id, busy=None):
        """The server's row once ``busy(row)`` is false (at once without ``busy``), from a read sent after that.

        ``busy`` may look at more than the row (the switch ports): a row read before it showed nothing under
        way may be older than the operation it waited out, so the row is read again after."""
        if busy is None:
            return self.row(server_id)
        idle = []

        def settled(row):
            if busy(row):
                return False
            idle.append(time.monotonic())
            return True

        for dummy in range(SETTLE_LOOKS):
            self.wait_server(server_id, settled, "the operation under way ending")
            row = self.row(server_id, after=idle[-1])
            # An operation that began after the idle row was read (a lost request's copy landing late) is
            # waited out too: a row read in its midst shows its result not yet, which is no proof it was not made.
            if not busy(row):
                break
        return row

    def switch_ports_busy(self, server_id):
        return any(conn["func_in_progress"] for conn in self.connections(server_id) if is_switch(conn))

    def unblock(self, server_id, timeout=None, wait=True):
        """``server.enable`` and (with ``wait``) the wait for it, as ISPsystem's module does before a
        termination: until the row shows neither ``disabled`` nor ``blocked``. The row after it, or None."""
        self.server_call(
            server_id,
            "server.enable",
            lambda r: not is_suspended(r),
            lambda r: self.switch_ports_busy(server_id),
            "unblocking server %s (server.enable)" % server_id,
        )
        if not wait:
            return None
        return self.wait_server(server_id, lambda r: not is_suspended(r), "unblocking", timeout)

    def block(self, server_id, timeout=None, wait=True):
        """``server.disable`` (suspend) and (with ``wait``) the wait until the row shows it. The row after it, or None."""
        self.server_call(
            server_id, "server.disable", is_suspended, lambda r: self.switch_ports_busy(server_id), "blocking server %s (server.disable)" % server_id
        )
        if not wait:
            return None
        return self.wait_server(server_id, is_suspended, "blocking", timeout)

    def power(self, server_id, target, timeout=None, wait=True):
        """Power the server on or off and (with ``wait``) wait for the flag; the row after it, or None."""
        flag = "poweron" if target == "on" else "poweroff"
        self.server_call(
            server_id, "server." + flag, lambda r: r[flag] or r["powererror"], lambda r: power_of(r) == "unknown", "powering server %s %s" % (server_id, target)
        )
        if not wait:
            return None
        return self.wait_server(server_id, lambda r: r[flag] or r["powererror"], "powering %s" % target, timeout)

    # The result ---------------------------------------------------------------------------------

    def describe_server(self, row, addresses=None, details=False):
        """The ``server`` dict the dci_* modules return (see interface.md).

        ``addresses`` are the server's ``iplist`` rows when the caller has them (else they are read).
        ``details`` also reads the MAC address (when the list does not show it), the IPMI address and
        the switch port: two to four more calls, so only dci_server_info does it.
        """
        server_id = row["id"]
        server = {
            "id": server_id,
            "name": row.get("name", ""),
            "hostname": row.get("hostname", ""),
            "owner": self.owner_login(row),
            "package": package_of(row),
            "main_ip": row.get("ip", ""),
            "ipv4": [],
            "ipv6": [],
            "mac": row.get("mac") or None,
            "ipmi_ip": None,
            "switch_port": None,
            "blocked": is_suspended(row),
            "power": power_of(row),
            "install_in_progress": row["install_in_progress"],
            "operation_failed": row["operation_failed"],
            "hwproblem": row["hwproblem"],
        }
        # The main address first: it is the one that stays with the box.
        ips = sorted((a["ip"] for a in (self.addresses(server_id) if addresses is None else addresses)), key=lambda ip: ip != server["main_ip"])
        server["ipv4"] = [ip for ip in ips if not is_ipv6(ip)]
        server["ipv6"] = [ip for ip in ips if is_ipv6(ip)]
        if details:
            self._add_details(server)
        return server

    def _add_details(self, server):
        server_id = server["id"]
        if server["mac"] is None:
            server["mac"] = self.server_form(server_id).get("mac") or None
        for conn in self.connections(server_id):
            kind = conn.get("type", "").lower()
            if kind == "switch" and server["switch_port"] is None:
                server["switch_port"] = self.client.form("server.connection.edit", plid=server_id, elid=conn["id"]).get("port") or None
            elif kind == "ipmi" and server["ipmi_ip"] is None:
                server["ipmi_ip"] = self.client.form("server.connection.edit", plid=server_id, elid=conn["id"]).get("ip") or None
