# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the base of every dci_* module.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback, missing_required_lib

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
CUSTOMER_LEVEL = "16"


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


class DCIResource:
    """One kind of DCImanager object managed by one module (hetzner.hcloud's pattern).

    Subclasses set ``represent`` (the result key), fill ``self.result`` and, for ``--diff``,
    ``self.before`` / ``self.after``.
    """

    represent = None

    def __init__(self, module):
        self.module = module
        self.changed = False
        self.result = None
        self.before = {}
        self.after = {}
        if not HAS_REQUESTS:
            module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        if not HAS_LXML:
            module.fail_json(msg=missing_required_lib("lxml"), exception=str(LXML_IMPORT_ERROR))
        params = module.params
        try:
            self.client = DCIClient(
                params["api_url"], params["api_username"], params["api_password"],
                validate_certs=params["validate_certs"], ca_path=params["ca_path"], timeout=params["timeout"])
        except DCIError as exc:
            self.fail_json_dci(exc)

    def _mark_as_changed(self):
        self.changed = True

    def fail_json_dci(self, exc, msg=None, **kwargs):
        """End the module with the panel's error, if it gave one, beside a message a person can act on."""
        if exc.api_error is not None:
            kwargs["api_error"] = exc.api_error
        self.module.fail_json(msg=msg or exc.msg, **kwargs)

    def get_result(self):
        result = {"changed": self.changed, self.represent: self.result}
        if self.module._diff:  # pylint: disable=protected-access
            result["diff"] = {"before": self.before, "after": self.after}
        return result

    # Lookups shared by the modules ----------------------------------------------------------

    def list_servers(self):
        return self.client.list("server", flags=SERVER_FLAGS)

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

    def describe_server(self, row, details=True):
        """The ``server`` dict the dci_* modules return (see interface.md)."""
        server = {
            "id": row.get("id"),
            "name": row.get("name", ""),
            "hostname": row.get("hostname", ""),
            "owner": row.get("owner", ""),
            "package": package_of(row),
            "main_ip": row.get("ip", ""),
            "ipv4": [],
            "ipv6": [],
            "mac": None,
            "ipmi_ip": None,
            "switch_port": None,
            "blocked": row["blocked"],
            "power": power_of(row),
            "install_in_progress": row["install_in_progress"],
            "operation_failed": row["operation_failed"],
            "hwproblem": row["hwproblem"],
        }
        if not details:
            return server
        server_id = row["id"]
        for address in self.addresses(server_id):
            server["ipv6" if is_ipv6(address["ip"]) else "ipv4"].append(address["ip"])
        # The main address first: it is the one that stays with the box.
        for family in ("ipv4", "ipv6"):
            if server["main_ip"] in server[family]:
                server[family].remove(server["main_ip"])
                server[family].insert(0, server["main_ip"])
        server["mac"] = self.client.form("server.edit", elid=server_id).get("mac") or None
        for conn in self.client.list("server.connection", flags=CONNECTION_FLAGS, elid=server_id):
            kind = conn.get("type", "").lower()
            if kind not in ("switch", "ipmi"):
                continue
            form = self.client.form("server.connection.edit", plid=server_id, elid=conn["id"])
            if kind == "switch" and server["switch_port"] is None:
                server["switch_port"] = form.get("port") or None
            elif kind == "ipmi" and server["ipmi_ip"] is None:
                server["ipmi_ip"] = form.get("ip") or None
        return server


def run(module, resource_class, action):
    """Make the resource, run ``action(resource)``, and exit with its result or the panel's error."""
    resource = resource_class(module)
    try:
        action(resource)
    except DCIError as exc:
        resource.fail_json_dci(exc)
    module.exit_json(**resource.get_result())
