# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: how the collection reads the panel's lists.

One place for what a ``server`` row, a switch connection or an owner cell means, used by the
modules, the ``dcimanager`` inventory plugin and the drift plan. Where the API reference is silent
it reads every plausible form of a field, and says "cannot tell" (None) rather than guess from a
field that is absent; docs/lifecycle.md lists each assumption and the check_panel check that tests it.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from .answers import SERVER_FLAGS
from .errors import DCIError

FREE_HOSTNAME = "free.ds"
CUSTOMER_LEVEL = "16"
# Columns of the ``server`` list the collection reads; the panel leaves empty cells out.
SERVER_COLUMNS = ("id", "name", "hostname", "owner", "chassis_templ", "type", "ip", "mac", "rack")

# A switch port's on/off state: no column for it is evidenced anywhere (ISPsystem's module never
# reads one), so every plausible column name and spelling is read, and a row that shows none has
# no known state.
PORT_STATE_COLUMNS = ("state", "status", "port_state", "portstate", "link", "admin_state")
PORT_ON_WORDS = ("on", "up", "1", "true", "yes", "enabled", "enable", "active")
PORT_OFF_WORDS = ("off", "down", "0", "false", "no", "disabled", "disable", "inactive")


def read_servers(client, allow_empty=False):
    """The panel's whole ``server`` list, every known column filled in (absent cells are empty).

    An empty list is an error unless ``allow_empty``: a panel that shows no server at all is far
    more likely a permission or proxy problem than a panel without servers, and nothing may be
    concluded from it ("already released", "in sync").
    """
    rows = client.list("server", flags=SERVER_FLAGS)
    for row in rows:
        for column in SERVER_COLUMNS:
            row.setdefault(column, "")
    if not rows and not allow_empty:
        raise DCIError(
            "DCImanager's server list came back empty; the API user may lack the right to see servers, "
            "or a proxy answered instead of the panel. Nothing was changed",
            call="server",
        )
    ids = [row["id"] for row in rows]
    if "" in ids or len(set(ids)) != len(ids):
        raise DCIError(
            "DCImanager's server list has rows without an id or the same id twice; refused, since the collection decides from the whole list", call="server"
        )
    return rows


def read_fleet(client, allow_empty=False):
    """The bulk read the inventory plugin and the drift plan share: every ``server`` row, with
    ``owner_login`` added (the owner's login, whether the ``owner`` cell holds the login or the
    account id). The ``user`` list is read only when some owner cell may be an id."""
    rows = read_servers(client, allow_empty=allow_empty)
    accounts = Accounts(client.list("user")) if any(owner_may_be_id(row["owner"]) for row in rows) else None
    for row in rows:
        cell = row["owner"]
        row["owner_login"] = accounts.login_of(cell) if accounts is not None and owner_may_be_id(cell) else cell
    return rows


def state_of(row):
    """One word for a server's condition: ``hwproblem``, ``diag``, ``installing``, ``suspended``, ``free`` or ``owned``
    (the first that applies, in that order)."""
    if row["hwproblem"]:
        return "hwproblem"
    if row["diag_in_progress"]:
        return "diag"
    if row["install_in_progress"]:
        return "installing"
    if is_suspended(row):
        return "suspended"
    return "free" if is_free(row) else "owned"


def fleet_server(row):
    """A ``read_fleet`` row as the collection shows a server in bulk: the ``dcimanager`` inventory
    plugin's host variables (without their ``dci_`` prefix), the drift plan and ``dci_fleet_info``."""
    return {
        "id": row["id"],
        "name": row.get("name", ""),
        "hostname": row.get("hostname", ""),
        "owner": row.get("owner_login", row.get("owner", "")),
        "package": package_of(row),
        "main_ip": row.get("ip", ""),
        "rack": row.get("rack", ""),
        "blocked": is_suspended(row),
        "power": power_of(row),
        "state": state_of(row),
        "free": is_free(row),
    }


def hostname_key(name):
    """A hostname as compared: domains are case-insensitive and may carry a trailing dot."""
    return (name or "").strip().rstrip(".").lower()


def same_hostname(one, other):
    return hostname_key(one) == hostname_key(other)


def is_suspended(row):
    """Blocked (suspended) as the panel may show it: ``server.disable`` sets ``disabled`` (ISPsystem's
    module waits on it) and, on the panels this collection was first written for, ``blocked``."""
    return bool(row["blocked"] or row["disabled"])


def is_free(row):
    """The panel's (and ISPsystem's module's) definition of a free server, from a ``server`` row [H]."""
    return (
        not row.get("owner")
        and same_hostname(row.get("hostname"), FREE_HOSTNAME)
        and not row["blocked"]
        and not row["hwproblem"]
        and not row["diag_in_progress"]
    )


def why_busy(row):
    """Why a server is not free, for messages: ``"4 (owner alice, hwproblem)"``."""
    reasons = []
    if row.get("owner"):
        reasons.append("owner %s" % row["owner"])
    if not same_hostname(row.get("hostname"), FREE_HOSTNAME):
        reasons.append("hostname %s" % (row.get("hostname") or "(none)"))
    for flag in ("blocked", "hwproblem", "diag_in_progress"):
        if row[flag]:
            reasons.append(flag)
    return "%s (%s)" % (row["id"], ", ".join(reasons))


def package_of(row):
    """A server's package: its new-style ``chassis_templ`` or, on older panels, its ``type`` [H]."""
    return row.get("chassis_templ") or row.get("type") or ""


def power_of(row):
    """``on`` / ``off`` / ``error``, or ``unknown`` while a power change runs (no power flag shown)."""
    if row["powererror"]:
        return "error"
    if row["poweron"]:
        return "on"
    if row["poweroff"]:
        return "off"
    return "unknown"


def is_ipv6(address):
    return ":" in address


def port_state(connection):
    """``on`` / ``off`` as a switch connection row shows it, or None when it shows no state."""
    for column in PORT_STATE_COLUMNS:
        word = (connection.get(column) or "").strip().lower()
        if word in PORT_ON_WORDS:
            return "on"
        if word in PORT_OFF_WORDS:
            return "off"
    return None


def is_switch(connection):
    return (connection.get("type") or "").strip().lower() == "switch"


class Accounts:
    """The panel's accounts, to read an ``owner`` cell that may hold a login or an account id.

    The reference only evidences that an empty cell means "no owner"; a cell is matched against
    both the login and the id, and shown as the login.
    """

    def __init__(self, users):
        self.by_name = dict((user.get("name"), user) for user in users if user.get("name"))
        self.by_id = dict((user.get("id"), user) for user in users if user.get("id"))

    def login_of(self, cell):
        """The login an owner cell names (the cell itself when it names no known account)."""
        if not cell or cell in self.by_name:
            return cell
        user = self.by_id.get(cell)
        return user["name"] if user else cell

    def owned_by(self, cell, login):
        """Whether an owner cell names the account ``login`` (by login or by id)."""
        if not cell or not login:
            return False
        user = self.by_name.get(login)
        return cell == login or (user is not None and cell == user.get("id"))


def owner_may_be_id(cell):
    """Whether an owner cell could be an account id (the panel's ids are numbers), so the account list is needed."""
    return bool(cell) and cell.isdigit()
