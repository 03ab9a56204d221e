# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the drift function.

``decide()`` says, for one service and the panel's servers, what the dedicated_server role does:
nothing (in sync), one action, or a conflict it must not repair blindly, and why. The role takes
its decisions with it (the ``server_action`` filter, on the servers it looked up by hostname);
the reconcile's plan (``plan()``, the ``drift_plan`` filter) takes them for every service of the
WHMCS inventory at once, on one read of the panel's server list. So the plan and what the role
does never disagree.

It decides only from evidence: a server is the service's when it carries the service's hostname
(compared case-insensitively); "in sync" needs the panel to show the owner; blocked is ``blocked``
or ``disabled``; an empty server list proves nothing.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

from .._dci.panel import FREE_HOSTNAME, hostname_key
from .rules import client_accounts, settings, text

# What the role makes of a service in each WHMCS status, when the status is the source of truth.
STATE_OF_STATUS = {"Pending": "active", "Active": "active", "Suspended": "suspended", "Terminated": "terminated", "Cancelled": "terminated"}
ACTIVE_STATUSES = ("Active", "Suspended")

# Actions, in the order the role's states take them.
PROVISION, UNBLOCK, BLOCK, RELEASE, CLEAR_IP = "provision", "unblock", "block", "release", "clear_ip"
CONFLICT = "conflict"
ACTIONS = (PROVISION, UNBLOCK, BLOCK, RELEASE, CLEAR_IP)
# Conflicts: the action is CONFLICT and ``conflict`` is one of these.
NO_HOSTNAME = "no_hostname"
HOSTNAME_SHARED = "hostname_shared"
HOSTNAME_ON_TWO_SERVERS = "hostname_on_two_servers"
NO_SERVER = "no_server"
FOREIGN_OWNER = "foreign_owner"
IP_ON_OTHER_SERVER = "ip_on_other_server"
NO_PANEL = "no_panel"
CONFLICTS = (NO_HOSTNAME, HOSTNAME_SHARED, HOSTNAME_ON_TWO_SERVERS, NO_SERVER, FOREIGN_OWNER, IP_ON_OTHER_SERVER, NO_PANEL)
# Plan-wide problems: nothing is acted on.
SERVER_LIST_EMPTY = "server_list_empty"
SERVER_LIST_SHORT = "server_list_short"
# At least this many Active / Suspended services without a server, and more than half of them,
# and the server list is taken for cut short (a permission, a proxy, a panel half-answering).
SHORT_LIST_MIN_MISSING = 3


# --- the panel's servers ---------------------------------------------------------------------


def is_free_server(server):
    """Whether a server of the plan (a ``dci_fleet_info`` / ``fleet_server`` dict) is free: its ``free``, which
    ``_dci.panel.is_free`` decided from the panel's row (no owner, ``free.ds``, not blocked, failed or under
    diagnostics). A server without it is not known to be free, so it counts as held."""
    return server.get("free") is True


def panel_state(servers):
    """The panel column of the plan: what the panel shows for a service's hostname."""
    if not servers:
        return "no server"
    if len(servers) > 1:
        return "%d servers: %s" % (len(servers), ", ".join(text(s.get("id")) for s in servers))
    server = servers[0]
    state = server.get("state") or ("suspended" if server.get("blocked") else "owned")
    if state == "owned" and server.get("blocked"):
        state = "suspended"
    owner = server.get("owner") or "(none)"
    return "server %s: %s, owner %s" % (server.get("id"), state, owner)


def _describe(server):
    return "server %s (hostname %s, owner %s)" % (server.get("id"), server.get("hostname") or "(none)", server.get("owner") or "(none)")


# --- one service ---------------------------------------------------------------------------------


def subject_of(settings_):
    """What ``decide()`` needs of one service, from the role's settings (``rules.settings``)."""
    return {
        "service_id": settings_.get("service_id"),
        "status": settings_.get("whmcs_status"),
        "hostname": settings_.get("hostname") or "",
        "accounts": list(settings_.get("accounts") or ()),
        "dedicated_ip": settings_.get("dedicated_ip") or "",
        "assigned_ips": list(settings_.get("assigned_ips") or ()),
        "domain_template": settings_.get("domain_template") or "",
        "package": settings_.get("package") or "",
        "new_service": bool(settings_.get("new_service")),
    }


def decision(action, reason, servers=(), conflict=None):
    servers = list(servers)
    return {
        "action": action,
        "conflict": conflict,
        "reason": reason,
        "panel": panel_state(servers),
        "server_id": servers[0].get("id") if len(servers) == 1 else None,
        "servers": servers,
    }


def _owner_conflict(subject, server, allow_none):
    """The reason the server's owner is not the service's account, or None.

    A server that shows no owner is a conflict unless ``allow_none`` (a claim or a release left
    half-done, which the role finishes); the service's accounts unknown (no WHMCS username, no
    dedicated_server_owner) leaves only that check.
    """
    owner = server.get("owner") or ""
    accounts = subject["accounts"]
    if not owner:
        if allow_none:
            return None
        return (
            "%s carries hostname %s but shows no owner, so it cannot be told to be the service's; set its owner in "
            "DCImanager (%s), or release it if it is left over" % (_describe(server), subject["hostname"], " or ".join(accounts) or "the service's account")
        )
    if accounts and owner not in accounts:
        return (
            "%s carries hostname %s but is owned by %s, not by the service's account %s; find out whose server it is, "
            "then correct its owner in DCImanager or the username in WHMCS" % (_describe(server), subject["hostname"], owner, " or ".join(accounts))
        )
    return None


def _ip_conflict(subject, server, by_ip):
    """The reason WHMCS's dedicated IP is another server's main address, or None (also without the evidence)."""
    address = subject["dedicated_ip"]
    if not address or by_ip is None or (server is not None and server.get("main_ip") == address):
        return None
    others = [other for other in by_ip.get(address, ()) if server is None or other.get("id") != server.get("id")]
    if server is None:
        # Released already: only an address now held by an allocated server is in the way.
        others = [other for other in others if not is_free_server(other)]
    if not others:
        return None
    if server is None:
        return (
            "no server carries hostname %s, but WHMCS's dedicated IP %s is the main address of %s, which is not free; "
            "if that is this service's server, release it by server_id; if it is another service's, clear the address "
            "in WHMCS" % (subject["hostname"], address, _describe(others[0]))
        )
    return "WHMCS's dedicated IP %s is the main address of %s, not of the service's %s; correct the dedicated IP in WHMCS" % (
        address,
        _describe(others[0]),
        _describe(server),
    )


def decide(state, subject, servers, by_ip=None):
    """What the role does for one service: a ``decision()`` dict (``action`` None = in sync).

    ``state``: the role's state (``active``, ``suspended``, ``terminated``); ``subject``: see
    ``subject_of()``; ``servers``: the panel's servers carrying the service's hostname; ``by_ip``:
    main address -> servers, from the whole list (None when the caller has only ``servers``: the
    address check is then left to the modules).
    """
    status = subject["status"]
    hostname = subject["hostname"]
    if not hostname:
        template = subject.get("domain_template")
        return decision(
            CONFLICT,
            "no hostname: %s; give the order a domain in WHMCS, or set a domain_template with @ID@ "
            "for its product, or dedicated_server_hostname for the service"
            % (
                "the domain template %s needs a value the service does not have" % template if template else "the service has neither a domain nor a service id"
            ),
            conflict=NO_HOSTNAME,
        )
    if len(servers) > 1:
        return decision(
            CONFLICT,
            "hostname %s is on %d servers (ids %s); release or rename the extra ones in DCImanager, "
            "then run again" % (hostname, len(servers), ", ".join(text(s.get("id")) for s in servers)),
            servers,
            conflict=HOSTNAME_ON_TWO_SERVERS,
        )
    server = servers[0] if servers else None

    if state == "active" and (status not in ACTIVE_STATUSES or subject.get("new_service")):
        if server is not None:
            reason = _owner_conflict(subject, server, allow_none=True)
            if reason:
                return decision(CONFLICT, reason, servers, conflict=FOREIGN_OWNER)
        return decision(
            PROVISION,
            "%s: the role makes or reuses the client's account, allocates a free server%s, installs "
            "the OS and marks the service Active in WHMCS%s"
            % (
                ("%s in WHMCS (just created)" if subject.get("new_service") else "%s in WHMCS") % status if status else "no WHMCS service",
                " of package %s" % subject["package"] if subject.get("package") else "",
                "; server %s already carries its hostname (an earlier activation), which it finishes" % server.get("id") if server is not None else "",
            ),
            servers,
        )

    if state in ("active", "suspended"):
        if server is None and subject.get("new_service"):
            # A create merged with a suspend: WHMCS suspended the service before anything was provisioned.
            return decision(None, "%s in WHMCS right after its creation, and no server yet: nothing to do until it is Active" % status, servers)
        if server is None:
            return decision(
                CONFLICT,
                "%s, but no DCImanager server carries hostname %s; check the domain template, or set "
                "the service Pending to provision it again" % ("%s in WHMCS" % status if status else "to be %s" % state, hostname),
                conflict=NO_SERVER,
            )
        reason = _owner_conflict(subject, server, allow_none=False)
        if reason:
            return decision(CONFLICT, reason, servers, conflict=FOREIGN_OWNER)
        reason = _ip_conflict(subject, server, by_ip)
        if reason:
            return decision(CONFLICT, reason, servers, conflict=IP_ON_OTHER_SERVER)
        if state == "active" and server.get("blocked"):
            return decision(
                UNBLOCK,
                "%s in WHMCS, but its server is blocked: the role unblocks it (server.enable)%s"
                % (status, " and marks the service Active" if status != "Active" else ""),
                servers,
            )
        if state == "suspended" and not server.get("blocked"):
            return decision(
                BLOCK,
                "%s, but its server is not blocked: the role blocks it (server.disable)"
                % ("Suspended in WHMCS" if status == "Suspended" else "to be suspended"),
                servers,
            )
        return decision(None, "in sync", servers)

    # terminated
    if server is not None:
        reason = _owner_conflict(subject, server, allow_none=True)
        if reason:
            return decision(CONFLICT, reason, servers, conflict=FOREIGN_OWNER)
        return decision(
            RELEASE,
            "%s, but server %s still carries its hostname: the role releases it (owner cleared, extra "
            "addresses deleted, free.ds, powered off) and clears the addresses in WHMCS"
            % ("%s in WHMCS" % status if status else "to be terminated", server.get("id")),
            servers,
        )
    reason = _ip_conflict(subject, None, by_ip)
    if reason:
        return decision(CONFLICT, reason, servers, conflict=IP_ON_OTHER_SERVER)
    if subject["dedicated_ip"] or subject["assigned_ips"]:
        return decision(
            CLEAR_IP,
            "%s and no server carries hostname %s, but WHMCS still shows %s: the role clears the "
            "addresses in WHMCS"
            % (
                "%s in WHMCS" % status if status else "to be terminated",
                hostname,
                ", ".join(([subject["dedicated_ip"]] if subject["dedicated_ip"] else []) + subject["assigned_ips"]),
            ),
            servers,
        )
    return decision(None, "in sync", servers)


# --- the whole inventory -------------------------------------------------------------------------


def _field(item, name, default=None):
    """A service's field from the WHMCS inventory's host variables (``whmcs_`` prefix) or a normalised service."""
    if "whmcs_" + name in item:
        return item["whmcs_" + name]
    return item.get(name, default)


def _service(item):
    """The normalised service (``whmcs_service_info``'s keys) of one input item."""
    return {
        "service_id": _field(item, "service_id"),
        "client_id": _field(item, "client_id"),
        "product_id": _field(item, "product_id"),
        "server_id": _field(item, "server_id"),
        "status": _field(item, "status") or "",
        "domain": _field(item, "domain") or "",
        "dedicated_ip": (_field(item, "dedicated_ip") or "").strip(),
        "assigned_ips": [ip for ip in (_field(item, "assigned_ips") or ()) if ip],
        "username": _field(item, "username") or "",
        # What the WHMCS inventory saw beyond this play (an AWX slice, a --limit): see whmcs_client_accounts and
        # whmcs_domain_services in the plugin's documentation.
        "client_accounts": _field(item, "client_accounts") or {},
        "domain_services": _field(item, "domain_services") or [],
    }


def _host_setting(item, name, default):
    """A dedicated_server_* variable as the role would see it on this host (host variables win over the filter's arguments)."""
    value = item.get("dedicated_server_" + name)
    return default if value is None else value


def panel_of(server_id):
    """The key of a service's panel in a ``dcimanager_panels`` mapping: its WHMCS server entry's id, as text."""
    return text(server_id).strip()


class _Panel:
    """One panel's servers, indexed the way the plan looks them up."""

    def __init__(self, panel_id, servers):
        self.panel_id = panel_id
        self.servers = list(servers or ())
        self.by_hostname, self.by_ip = collections.defaultdict(list), collections.defaultdict(list)
        for server in self.servers:
            key = hostname_key(server.get("hostname"))
            if key and key != FREE_HOSTNAME:
                self.by_hostname[key].append(server)
            if server.get("main_ip"):
                self.by_ip[server["main_ip"]].append(server)


def plan(items, servers, products=None, hostname=None, domain_template=None, owner=None):
    """The reconcile's plan: every service of ``items`` against the panel's ``servers``.

    ``items``: the WHMCS inventory's host variables (or normalised services); a host's own
    ``dedicated_server_products`` / ``_hostname`` / ``_domain_template`` / ``_owner`` win over the
    keyword arguments, as they would in the role. ``servers``: ``dci_fleet_info``'s list, or, with several
    panels (``dcimanager_panels``), a mapping from WHMCS server id to that panel's list: each service is then
    compared with the panel of its own WHMCS server entry only, and one whose server id has none is a conflict.
    """
    several = isinstance(servers, Mapping)
    panels = dict((panel_of(key), _Panel(panel_of(key), rows)) for key, rows in servers.items()) if several else {None: _Panel(None, servers)}
    entries, left_alone = [], 0

    services = []
    for item in items or ():
        service = _service(item)
        if service["service_id"] in (None, "") or service["status"] not in STATE_OF_STATUS:
            left_alone += 1
            continue
        services.append((item, service))
    accounts_of_client = collections.defaultdict(list)
    for dummy, service in services:
        accounts_of_client[service["client_id"]].append(service)
    accounts_of_client = dict((client, client_accounts(group)) for client, group in accounts_of_client.items())
    in_play = set(text(service["service_id"]) for dummy, service in services)

    claims = collections.defaultdict(list)
    for item, service in services:
        host_products = _host_setting(item, "products", products)
        explicit_owner = _host_setting(item, "owner", owner)
        template = _host_setting(item, "domain_template", domain_template)
        found = settings(
            {"service": service},
            products=host_products,
            owner=explicit_owner,
            hostname=_host_setting(item, "hostname", hostname),
            domain_template=template,
            accounts=_merged(accounts_of_client.get(service["client_id"]), service["client_accounts"]),
        )
        subject = subject_of(found)
        panel_id = panel_of(service["server_id"]) if several else None
        entry = {
            "host": item.get("inventory_hostname") or "whmcs-%s" % service["service_id"],
            "service_id": service["service_id"],
            "status": service["status"],
            "state": STATE_OF_STATUS[service["status"]],
            "hostname": subject["hostname"],
            "panel_id": panel_id,
            "panel": panels.get(panel_id),
            "subject": subject,
        }
        entries.append(entry)
        if entry["panel"] is None:
            entry["decision"] = decision(
                CONFLICT,
                "no panel for WHMCS server %s: add its connection to dcimanager_panels (keyed by the WHMCS server id), "
                "or move the service to a server entry that has one; it is never handled on another panel" % (panel_id or "(none)"),
                conflict=NO_PANEL,
            )
        elif subject["hostname"]:
            claims[(panel_id, hostname_key(subject["hostname"]))].append(entry)
            for other in service["domain_services"]:
                # A service of the same domain that this play does not hold still claims its hostname.
                outside = _outside(other, in_play, several, host_products, template, claims, panels)
                if outside is not None:
                    in_play.add(text(other.get("service_id")))

    for (panel_id, key), group in claims.items():
        # Two services, one hostname: the role would find one server for both. Only services that are
        # done and hold nothing (terminated, no address in WHMCS, no server) may share a name.
        on_panel = panels[panel_id].by_hostname.get(key, ())
        live = [e for e in group if e["state"] != "terminated" or on_panel or e["subject"]["dedicated_ip"] or e["subject"]["assigned_ips"]]
        if len(group) > 1 and live:
            for entry in group:
                if entry.get("outside"):
                    continue  # not this play's to report: the play (slice) that holds it does
                others = ", ".join("%s (%s)" % (o["service_id"], o["status"]) for o in group if o is not entry)
                entry["decision"] = decision(
                    CONFLICT,
                    "hostname %s is also the hostname of service %s; one hostname must name one service: change "
                    "the domain of one of them in WHMCS, or use a domain_template with @ID@" % (entry["hostname"], others),
                    on_panel,
                    conflict=HOSTNAME_SHARED,
                )

    for entry in entries:
        if "decision" not in entry:
            panel = entry["panel"]
            entry["decision"] = decide(entry["state"], entry["subject"], panel.by_hostname.get(hostname_key(entry["hostname"]), []), panel.by_ip)
    return _assemble(entries, panels, left_alone, several)


def _merged(accounts, more):
    """Two ``client_accounts()`` mappings (product id -> logins) in one."""
    merged = dict((key, set(value)) for key, value in (accounts or {}).items())
    for key, logins in (more or {}).items():
        merged.setdefault(text(key).strip(), set()).update(text(login) for login in logins or ())
    return merged


def _outside(other, in_play, several, products, template, claims, panels):
    """Add a service of the same domain that the play does not hold (``whmcs_domain_services``) to ``claims``, as an
    entry that is only compared, never planned; returns it, or None when it is in the play, has no hostname or is
    on a panel the plan did not read."""
    if text(other.get("service_id")) in in_play or other.get("status") not in STATE_OF_STATUS:
        return None
    panel_id = panel_of(other.get("server_id")) if several else None
    if panel_id not in panels:
        return None
    service = dict(_service(dict(("whmcs_" + key, value) for key, value in other.items())), client_accounts={}, domain_services=[])
    subject = subject_of(settings({"service": service}, products=products, domain_template=template))
    if not subject["hostname"]:
        return None
    entry = {
        "host": "whmcs-%s" % service["service_id"],
        "service_id": service["service_id"],
        "status": service["status"],
        "state": STATE_OF_STATUS[service["status"]],
        "hostname": subject["hostname"],
        "subject": subject,
        "outside": True,
    }
    claims[(panel_id, hostname_key(subject["hostname"]))].append(entry)
    return entry


def _panel_problems(panel, entries, several):
    """Why a panel's server list cannot be trusted (an empty list, one that looks cut short), or []."""
    where = "DCImanager panel %s" % panel.panel_id if several else "DCImanager"
    if not panel.servers:
        return [
            {
                "problem": SERVER_LIST_EMPTY,
                "panel_id": panel.panel_id,
                "reason": (
                    "%s's server list came back empty; the API user may lack the right to see servers, or a proxy "
                    "answered instead of the panel. Nothing is changed on it: check the API user's rights, then run again" % where
                ),
            }
        ]
    live = [e for e in entries if e["status"] in ACTIVE_STATUSES]
    missing = [e for e in live if e["decision"]["conflict"] == NO_SERVER]
    if len(missing) >= SHORT_LIST_MIN_MISSING and 2 * len(missing) > len(live):
        return [
            {
                "problem": SERVER_LIST_SHORT,
                "panel_id": panel.panel_id,
                "reason": (
                    "%d of the %d Active and Suspended services have no server in %s's server list (%d servers): the list "
                    "looks cut short (the API user's rights, a proxy, the panel's paging). Nothing is changed on it: check "
                    "with dci_server_info what the API user sees, then run again" % (len(missing), len(live), where, len(panel.servers))
                ),
            }
        ]
    return []


def _assemble(entries, panels, left_alone, several):
    problems = []
    for panel in panels.values():
        on_panel = [e for e in entries if e["panel"] is panel]
        if several and not on_panel:
            continue  # a panel no service of the play lives on says nothing
        found = _panel_problems(panel, on_panel, several)
        problems.extend(found)
        if found:
            # Nothing is acted on, nor listed one by one, while a panel's list cannot be trusted (with an
            # empty list every Active service would show as a conflict): the problem is that panel's plan.
            for entry in on_panel:
                entry["held_back"] = True
    changes, conflicts, in_sync = [], [], 0
    for entry in entries:
        if entry.get("held_back"):
            continue
        made = entry["decision"]
        row = {
            "host": entry["host"],
            "service_id": entry["service_id"],
            "status": entry["status"],
            "state": entry["state"],
            "hostname": entry["hostname"],
            "panel_id": entry["panel_id"],
            "panel": made["panel"],
            "action": made["action"],
            "conflict": made["conflict"],
            "reason": made["reason"],
            "server_id": made["server_id"],
            "servers": made["servers"],
        }
        if made["action"] == CONFLICT:
            conflicts.append(row)
        elif made["action"]:
            changes.append(row)
        else:
            in_sync += 1
    servers = sum(len(panel.servers) for panel in panels.values())
    return {
        "services": len(entries) + left_alone,
        "in_sync": in_sync,
        "left_alone": left_alone,
        "servers": servers,
        "panels": sorted(panel_id for panel_id in panels if panel_id is not None),
        "changes": changes,
        "conflicts": conflicts,
        "problems": problems,
        "hosts": [row["host"] for row in changes],
        "conflict_hosts": [row["host"] for row in conflicts],
        "table": table(changes, conflicts, problems, in_sync, left_alone, len(entries) + left_alone, servers, several),
    }


COLUMNS = ("service", "WHMCS status", "panel state", "action", "reason")


def table(changes, conflicts, problems, in_sync, left_alone, total, servers, several=False):
    """The plan as lines of text: a count line, then one line per service to change or in conflict
    (in-sync services are only counted), columns separated by `` | ``."""
    lines = [
        "%d services, %d servers in DCImanager: %d in sync, %d to change, %d in conflict, %d left alone (status not "
        "reconciled)" % (total, servers, in_sync, len(changes), len(conflicts), left_alone)
    ]
    lines += ["PANEL (%s): %s" % (problem["problem"], problem["reason"]) for problem in problems]
    rows = [
        (
            "%s (%s)" % (row["service_id"], row["hostname"] or "no hostname"),
            row["status"],
            "panel %s: %s" % (row["panel_id"], row["panel"]) if several and row["panel_id"] is not None else row["panel"],
            row["action"] if row["action"] != CONFLICT else "conflict: %s" % row["conflict"],
            row["reason"],
        )
        for row in changes + conflicts
    ]
    if rows:
        widths = [max(len(text(cells[i])) for cells in rows + [COLUMNS]) for i in range(len(COLUMNS) - 1)]
        for cells in [COLUMNS] + rows:
            lines.append(" | ".join([text(cell).ljust(width) for cell, width in zip(cells, widths)] + [text(cells[-1])]))
    return lines
