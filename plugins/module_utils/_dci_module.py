# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the base of every dci_* module.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import tempfile
import time
from contextlib import contextmanager

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ._resource import APIResource, WaitTimeout, run  # noqa: F401  pylint: disable=unused-import
from ._dci_client import (
    CONNECTION_FLAGS,
    HAS_LXML,
    HAS_REQUESTS,
    LXML_IMPORT_ERROR,
    REQUESTS_IMPORT_ERROR,
    SERVER_FLAGS,
    DCIClient,
    DCIError,
)

FREE_HOSTNAME = "free.ds"
SERVER_COLUMNS = ("id", "name", "hostname", "owner", "chassis_templ", "type", "ip", "mac", "rack")
CUSTOMER_LEVEL = "16"


# dci_os_install records what it installed in the server's notes, since the panel's API does
# not report a server's installed template; dci_server_release removes the record.
MARKER = "ansible-dcimanager:"
MARKER_LINE = re.compile(r"^ansible-dcimanager: os_template=(\S+) recipe=(\S+)\s*$", re.MULTILINE)


def installed_marker(notes):
    """(template, recipe) that this collection recorded in the server's notes, or None."""
    found = MARKER_LINE.search(notes or "")
    return (found.group(1), found.group(2)) if found else None


def without_marker(notes):
    return "\n".join(line for line in (notes or "").splitlines() if not line.startswith(MARKER))


def with_marker(notes, template, recipe):
    return "\n".join(filter(None, [without_marker(notes), "%s os_template=%s recipe=%s" % (MARKER, template, recipe)]))


def dci_argument_spec():
    """The connection options, mirrored by the ispsystem.dcimanager.dcimanager doc fragment."""
    return dict(
        api_url=dict(type="str", required=True, fallback=(env_fallback, ["DCIMANAGER_URL"])),
        api_username=dict(type="str", required=True, fallback=(env_fallback, ["DCIMANAGER_USERNAME"])),
        api_password=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["DCIMANAGER_PASSWORD"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["DCIMANAGER_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["DCIMANAGER_CA_PATH"])),
        timeout=dict(type="int", default=60),
    )


def server_selector_spec():
    """``server_id`` | ``hostname``: how a module names an existing server."""
    return dict(server_id=dict(type="str"), hostname=dict(type="str"))


def is_free(row):
    """The panel's (and ISPsystem's module's) definition of a free server, from a ``server`` row."""
    return (not row.get("owner") and row.get("hostname") == FREE_HOSTNAME and not row["blocked"]
            and not row["hwproblem"] and not row["diag_in_progress"])


def package_of(row):
    """A server's package: its new-style ``chassis_templ`` or, on older panels, its ``type``."""
    return row.get("chassis_templ") or row.get("type") or ""


def power_of(row):
    if row["powererror"]:
        return "error"
    if row["poweron"]:
        return "on"
    if row["poweroff"]:
        return "off"
    return "unknown"


def is_ipv6(address):
    return ":" in address


class DCIResource(APIResource):
    """A DCImanager object managed by one module; see APIResource."""

    error_class = DCIError

    def make_client(self, params):
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        if not HAS_LXML:
            self.module.fail_json(msg=missing_required_lib("lxml"), exception=str(LXML_IMPORT_ERROR))
        # The session id is a credential too: keep it out of every output, like the password.
        return DCIClient(params["api_url"], params["api_username"], params["api_password"],
                         validate_certs=params["validate_certs"], ca_path=params["ca_path"], timeout=params["timeout"],
                         on_session=self.module.no_log_values.add)

    # Lookups shared by the modules ----------------------------------------------------------

    def list_servers(self):
        """The ``server`` list; the panel leaves empty cells out, so every known column is filled in."""
        rows = self.client.list("server", flags=SERVER_FLAGS)
        for row in rows:
            for column in SERVER_COLUMNS:
                row.setdefault(column, "")
        return rows

    def list_users(self):
        return self.client.list("user")

    def find_user(self, name):
        for user in self.list_users():
            if user.get("name") == name:
                return user
        return None

    def find_server(self, server_id=None, hostname=None, rows=None):
        """The ``server`` row named by id or hostname, or a clear failure."""
        rows = self.list_servers() if rows is None else rows
        if server_id is not None:
            matches = [row for row in rows if row.get("id") == str(server_id)]
            if not matches:
                self.module.fail_json(msg="DCImanager has no server with id %s" % server_id)
        else:
            matches = [row for row in rows if row.get("hostname") == hostname]
            if not matches:
                self.module.fail_json(msg="DCImanager has no server with hostname %s" % hostname)
            if len(matches) > 1:
                self.module.fail_json(msg="hostname %s is set on %d servers (ids %s); name the server with server_id"
                                      % (hostname, len(matches), ", ".join(row["id"] for row in matches)))
        return matches[0]

    def addresses(self, server_id):
        """The server's addresses (``iplist`` rows, without the group headings)."""
        return [row for row in self.client.list("iplist", elid=server_id) if row.get("type") != "group" and row.get("ip")]

    def server_row(self, server_id):
        """A fresh ``server`` row (the panel has no single-server read, so this lists them all)."""
        for row in self.list_servers():
            if row.get("id") == server_id:
                return row
        raise DCIError("server %s is no longer listed by the panel" % server_id)

    def wait_server(self, server_id, predicate, what, timeout):
        """Poll the server's row until ``predicate(row)`` is true; returns that row."""
        def check():
            row = self.server_row(server_id)
            return row if predicate(row) else None
        return poll(check, timeout, self.module.params.get("poll_interval") or 15, "on server %s, %s" % (server_id, what))

    def edit_server(self, server_id, form=None, **changes):
        """Save the server's form with ``changes``, echoing back every other field it shows.

        ISPsystem's module echoes name, mac, notes and type (and sets owner) on every save;
        echoing the form keeps a save from blanking a field the request did not mention.
        Give ``form`` when it was just read, to save a call.
        """
        form = self.client.form("server.edit", elid=server_id) if form is None else form
        values = {key: form[key] for key in ("name", "mac", "notes", "type", "owner") if key in form}
        values.update(changes)
        self.client.write("server.edit", sok="ok", elid=server_id, **values)

    def set_domain(self, server_id, domain, addresses=None):
        """Set ``domain`` on every address of the server (the panel's "hostname" of a server)."""
        changed = False
        for address in self.addresses(server_id) if addresses is None else addresses:
            if address.get("domain") != domain:
                self.client.write("iplist.edit", plid=server_id, elid=address["id"], sok="ok", domain=domain)
                changed = True
        return changed

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
            "owner": row.get("owner", ""),
            "package": package_of(row),
            "main_ip": row.get("ip", ""),
            "ipv4": [],
            "ipv6": [],
            "mac": row.get("mac") or None,
            "ipmi_ip": None,
            "switch_port": None,
            "blocked": row["blocked"],
            "power": power_of(row),
            "install_in_progress": row["install_in_progress"],
            "operation_failed": row["operation_failed"],
            "hwproblem": row["hwproblem"],
        }
        # The main address first: it is the one that stays with the box.
        ips = sorted((a["ip"] for a in (self.addresses(server_id) if addresses is None else addresses)),
                     key=lambda ip: ip != server["main_ip"])
        server["ipv4"] = [ip for ip in ips if not is_ipv6(ip)]
        server["ipv6"] = [ip for ip in ips if is_ipv6(ip)]
        if details:
            self._add_details(server)
        return server

    def _add_details(self, server):
        server_id = server["id"]
        if server["mac"] is None:
            server["mac"] = self.client.form("server.edit", elid=server_id).get("mac") or None
        for conn in self.client.list("server.connection", flags=CONNECTION_FLAGS, elid=server_id):
            kind = conn.get("type", "").lower()
            if kind == "switch" and server["switch_port"] is None:
                server["switch_port"] = self.client.form("server.connection.edit", plid=server_id, elid=conn["id"]).get("port") or None
            elif kind == "ipmi" and server["ipmi_ip"] is None:
                server["ipmi_ip"] = self.client.form("server.connection.edit", plid=server_id, elid=conn["id"]).get("ip") or None


def wait_spec(default_timeout):
    """``wait`` / ``wait_timeout`` / ``poll_interval``, the same on every module that waits."""
    return dict(
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=default_timeout),
        poll_interval=dict(type="int", default=15),
    )


def poll(check, timeout, max_interval, what, sleep=time.sleep, clock=time.monotonic):
    """Call ``check()`` until it returns a true value, and return that value.

    The first pause is short and each one grows, up to ``max_interval`` seconds, so quick
    transitions are seen quickly and long installs cost few calls. Raises WaitTimeout after
    ``timeout`` seconds.
    """
    deadline = clock() + timeout
    interval = 1.0
    while True:
        value = check()
        if value:
            return value
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout("%s did not happen within %d seconds" % (what, timeout))
        sleep(min(interval, max(max_interval, 1), remaining))
        interval *= 1.6


@contextmanager
def controller_lock(name, timeout=300):
    """Serialise a critical section between the module runs on this controller (every fork).

    The panel has no compare-and-set, so two allocations racing for the same free server are
    kept apart here; the claim is still verified by re-reading it (see dci_server_allocate).
    """
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    # DCIMANAGER_LOCK_DIR: a directory that every job of one controller shares (AWX runs each job
    # in its own container, whose temporary directory the others do not see).
    directory = os.environ.get("DCIMANAGER_LOCK_DIR") or tempfile.gettempdir()
    path = os.path.join(directory, "ispsystem-dcimanager-%s.lock" % digest)
    deadline = time.monotonic() + timeout
    try:
        handle = open(path, "a", encoding="utf-8")  # pylint: disable=consider-using-with
    except OSError as exc:
        raise DCIError("cannot open the allocation lock %s (%s); set DCIMANAGER_LOCK_DIR to a writable directory"
                       % (path, exc.strerror or exc)) from None
    with handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise WaitTimeout("another task on this controller held the allocation lock %s for over %d seconds"
                                      % (path, timeout)) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
