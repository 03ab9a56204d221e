#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dci_panel_info
short_description: Check what a DCImanager 5 panel shows against what the collection assumes of it
version_added: 1.1.0
description:
  - Reads the lists and forms the modules use (C(server), C(user), C(osmgr), and for a few servers C(iplist),
    C(server.connection), C(server.edit), C(server.operations) and C(iplist.edit)) and reports, for every
    assumption the collection makes about the panel where ISPsystem's API reference is silent, whether the panel
    C(confirmed) it, C(contradicted) it, or shows nothing to tell (C(unknown)), with the evidence.
  - Run it (or the C(ispsystem.dcimanager.check_panel) playbook, which prints a table and fails on a
    contradiction) before using the collection on a production panel, and attach its output to a bug report.
  - It writes nothing, in check mode or not.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
extends_documentation_fragment:
  - ispsystem.dcimanager.dcimanager
  - ispsystem.dcimanager.network
  - ispsystem.dcimanager.attributes
  - ispsystem.dcimanager.attributes.info_module
  - ispsystem.dcimanager.attributes.actiongroup_dcimanager
options:
  sample:
    description:
      - How many servers to look at closely (their addresses, connections and forms, five reads each).
      - Owned servers come first, then a blocked one and a free one, so that every check has something to read.
    type: int
    default: 3
"""

EXAMPLES = r"""
- name: What does this panel show?
  ispsystem.dcimanager.dci_panel_info:
  delegate_to: localhost
  register: panel

- name: Stop on a contradicted assumption
  ansible.builtin.assert:
    that: panel.assumptions | selectattr('status', 'equalto', 'contradicted') | list | length == 0
"""

RETURN = r"""
lists:
  description: What each list read showed.
  returned: success
  type: dict
  sample:
    server:
      rows: 120
      columns: [chassis_templ, hostname, id, ip, name, owner, rack]
      flags: [blocked, poweron]
      flag_texts: [""]
      paged: false
assumptions:
  description: One entry per assumption, in the order of docs/lifecycle.md.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The assumption's id, as docs/lifecycle.md lists it (C(P1) ...).
      type: str
      sample: P7
    assumption:
      description: What the collection assumes.
      type: str
    status:
      description: C(confirmed), C(contradicted) or C(unknown).
      type: str
      sample: confirmed
    evidence:
      description: What the panel showed, or why nothing could tell.
      type: str
    used_by:
      description: The modules (or plugins) that rely on it, and what they do when it does not hold.
      type: str
table:
  description: The assumptions as the lines of a Markdown table (id, status, assumption, evidence).
  returned: success
  type: list
  elements: str
contradicted:
  description: The ids of the contradicted assumptions.
  returned: success
  type: list
  elements: str
"""

import secrets

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.answers import CONNECTION_FLAGS, SERVER_FLAGS, element_to_dict
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.errors import DCIError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.panel import (
    PORT_STATE_COLUMNS,
    is_free,
    is_switch,
    port_state,
    read_servers,
    same_hostname,
)
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import DCIResource, dci_argument_spec
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run

CONFIRMED = "confirmed"
CONTRADICTED = "contradicted"
UNKNOWN = "unknown"


class DCIPanelInfo(DCIResource):
    represent = "assumptions"

    def __init__(self, module):
        super().__init__(module)
        self.lists = {}
        self.checks = []

    def get_result(self):
        table = ["| id | status | assumption | evidence |", "|---|---|---|---|"]
        table += ["| %(id)s | %(status)s | %(assumption)s | %(evidence)s |" % check for check in self.checks]
        return {
            "changed": False,
            "assumptions": self.checks,
            "lists": self.lists,
            "table": table,
            "contradicted": [check["id"] for check in self.checks if check["status"] == CONTRADICTED],
        }

    def _note(self, check_id, assumption, status, evidence, used_by):
        self.checks.append({"id": check_id, "assumption": assumption, "status": status, "evidence": evidence, "used_by": used_by})

    def _list(self, name, func, flags=(), **params):
        root = self.client.document(func, **params)
        # Flags as the panel writes them (their text too), not as booleans: the evidence of P7.
        rows = [element_to_dict(elem) for elem in root.iter("elem")]
        columns = sorted(set(key for row in rows for key in row) - set(flags))
        self.lists[name] = {
            "rows": len(rows),
            "columns": columns,
            "flags": sorted(set(f for row in rows for f in flags if f in row)),
            "flag_texts": sorted(set(row[f] for row in rows for f in flags if f in row)),
            "paged": root.find("p_elems") is not None,
        }
        return rows

    def check(self):
        self._check_login()
        servers = self._check_server_list()
        users = self.list_users()
        self._check_owner_column(servers, users)
        self._check_flags()
        sample = self._sample(servers)
        self._check_suspension(servers, sample)
        self._check_addresses(sample)
        self._check_connections(sample)
        self._check_forms(sample, users)
        self._check_templates(sample)
        self._untestable()

    # Log-in and sessions -------------------------------------------------------------------------

    def _check_login(self):
        sessions = self.client.uses_sessions
        self._note(
            "P1",
            "a good func=auth answer carries a session (<auth>SESSION</auth>); only such an answer counts as a good login",
            CONFIRMED if sessions else CONTRADICTED,
            "the API user's login gave a session" if sessions else "the API user's login gave no session: every call sends authinfo instead",
            "the client (falls back to authinfo); dci_user update_password=always cannot check a password and fails",
        )
        error = self.client.try_foreign_session("server", "ansible-check-%s" % secrets.token_hex(8))
        if error is not None and error.error_type == "auth":
            status, evidence = CONFIRMED, "a session the panel never gave was refused with type auth, object %s" % error.error_object
        elif error is None:
            status, evidence = CONTRADICTED, "a session the panel never gave was accepted"
        else:
            status, evidence = CONTRADICTED, "a session the panel never gave got type %s, object %s" % (error.error_type, error.error_object)
        self._note(
            "P2",
            "an expired or foreign session answers an error of type auth (the client then logs in again once)",
            status,
            evidence,
            "every module (a run that outlives its session)",
        )

    # The server list ---------------------------------------------------------------------------

    def _check_server_list(self):
        raw = self._list("server", "server", SERVER_FLAGS)
        try:
            servers = read_servers(self.client)
        except DCIError as exc:
            self._note(
                "P3",
                "the server list is complete and exact: every server once, with its id (paged lists are read page by page)",
                CONTRADICTED,
                exc.msg,
                "every module that looks a server up; the drift plan",
            )
            return []
        paged = self.lists["server"]["paged"]
        self._note(
            "P3",
            "the server list is complete and exact: every server once, with its id (paged lists are read page by page)",
            CONFIRMED,
            "%d servers, ids unique%s" % (len(servers), ", read in pages of %d" % len(raw) if paged else ", one answer"),
            "every module that looks a server up; the drift plan",
        )
        missing = [column for column in ("id", "hostname", "ip") if not any(column in row for row in raw)]
        packages = any(row.get("chassis_templ") or row.get("type") for row in raw)
        self._note(
            "P4",
            "server rows show id, hostname (free.ds when free), ip (the main address) and chassis_templ or type",
            CONTRADICTED if missing or not packages else CONFIRMED,
            "missing: %s" % ", ".join(missing + ([] if packages else ["chassis_templ/type"]))
            if missing or not packages
            else "columns %s" % ", ".join(self.lists["server"]["columns"]),
            "dci_server_allocate (free servers, packages), every module finding a server by hostname",
        )
        return servers

    def _check_owner_column(self, servers, users):
        names = set(user.get("name") for user in users)
        ids = set(user.get("id") for user in users)
        cells = [row["owner"] for row in servers if row["owner"]]
        as_login = sum(1 for cell in cells if cell in names)
        as_id = sum(1 for cell in cells if cell in ids and cell not in names)
        neither = sorted(set(cell for cell in cells if cell not in names and cell not in ids))
        if not cells:
            status, evidence = UNKNOWN, "no server has an owner"
        elif neither:
            status, evidence = CONTRADICTED, "owner cells name no account: %s" % ", ".join(neither[:5])
        else:
            status, evidence = CONFIRMED, "%d owner cells hold logins, %d hold account ids" % (as_login, as_id)
        self._note(
            "P5",
            "the server list's owner column holds the owner's login or its account id (both are matched)",
            status,
            evidence,
            "dci_server_info owner, dci_server_allocate (idempotency), dci_user state=absent, the inventory",
        )
        free = [row for row in servers if is_free(row)]
        self._note(
            "P6",
            "a free server has no owner and hostname free.ds [H]",
            CONFIRMED if free else UNKNOWN,
            "%d free servers" % len(free) if free else "no server is free now",
            "dci_server_allocate, dci_server_info free",
        )

    def _check_flags(self):
        texts = self.lists["server"]["flag_texts"]
        odd = [text for text in texts if text.lower() not in ("", "on", "yes", "true", "1")]
        self._note(
            "P7",
            "flags are elements present when true (empty, or a word such as on); a flag saying off/no is false",
            CONTRADICTED if odd else (CONFIRMED if self.lists["server"]["flags"] else UNKNOWN),
            "flag texts seen: %s" % (", ".join(repr(text) for text in texts) or "none"),
            "every module reading server flags",
        )

    # Suspension --------------------------------------------------------------------------------

    def _sample(self, servers):
        owned = [row for row in servers if row["owner"]]
        blocked = [row for row in servers if row["blocked"] or row["disabled"]]
        free = [row for row in servers if is_free(row)]
        chosen = []
        for row in owned[: max(1, self.module.params["sample"] - 2)] + blocked[:1] + free[:1] + servers:
            if row not in chosen and len(chosen) < max(1, self.module.params["sample"]):
                chosen.append(row)
        return chosen

    def _check_suspension(self, servers, sample):
        flags = sorted(set(flag for row in servers for flag in ("blocked", "disabled") if row[flag]))
        mismatched = []
        for row in sample:
            form = self.client.form("server.edit", elid=row["id"])
            if form.get("disabled", "").lower() == "on" and not (row["blocked"] or row["disabled"]):
                mismatched.append(row["id"])
        if mismatched:
            status, evidence = CONTRADICTED, "server.edit shows disabled=on while the list shows neither flag: servers %s" % mismatched
        elif flags:
            status, evidence = CONFIRMED, "blocked servers show %s in the list" % " and ".join(flags)
        else:
            status, evidence = UNKNOWN, "no server is blocked now: block one (dci_server blocked: true) and run this again"
        self._note(
            "P8",
            "server.disable shows as blocked or disabled in the server list (ISPsystem's module waits on disabled)",
            status,
            evidence,
            "dci_server blocked, dci_server_release, the drift plan",
        )

    # Addresses -----------------------------------------------------------------------------------

    def _check_addresses(self, sample):
        in_list = in_form = shown = main_seen = 0
        hostname_ok, hostname_bad = [], []
        for row in sample:
            addresses = self.addresses(row["id"])
            main = [a for a in addresses if a.get("ip") == row.get("ip")]
            main_seen += bool(main)
            for address in addresses[:1] + main[:1]:
                shown += 1
                if "domain" in address:
                    in_list += 1
                elif "domain" in self.client.form("iplist.edit", plid=row["id"], elid=address["id"]):
                    in_form += 1
            if main and "domain" in main[0]:
                (hostname_ok if same_hostname(main[0]["domain"], row.get("hostname")) else hostname_bad).append(row["id"])
        if not shown:
            status, evidence = UNKNOWN, "no sampled server has addresses"
        elif in_list == shown:
            status, evidence = CONFIRMED, "iplist rows show domain"
        elif in_list + in_form == shown:
            status, evidence = CONFIRMED, "iplist rows show no domain; each address's iplist.edit form does (one more read per address)"
        else:
            status, evidence = (
                CONTRADICTED,
                (
                    "neither iplist nor the iplist.edit form shows the domain of %d of %d addresses: "
                    "domains are written on every run" % (shown - in_list - in_form, shown)
                ),
            )
        self._note(
            "P9",
            "an address's domain shows in its iplist row or its iplist.edit form",
            status,
            evidence,
            "dci_server_allocate (idempotency), dci_server_release",
        )
        if hostname_bad:
            status, evidence = CONTRADICTED, "servers %s: hostname differs from the main address's domain" % hostname_bad
        elif hostname_ok:
            status, evidence = CONFIRMED, "servers %s: hostname is the main address's domain" % hostname_ok
        else:
            status, evidence = UNKNOWN, "no sampled server shows the domain of its main address"
        self._note(
            "P10",
            "the server list's hostname is the domain of the main address (the claim is checked there, as ISPsystem's module relies on it)",
            status,
            evidence,
            "dci_server_allocate (claim), every lookup by hostname",
        )
        self._note(
            "P11",
            "iplist lists the server's main address (the ip column) [H]",
            CONFIRMED if main_seen == len(sample) and sample else (UNKNOWN if not sample else CONTRADICTED),
            "%d of %d sampled servers" % (main_seen, len(sample)),
            "dci_server_allocate (claim), dci_server_release",
        )

    # Connections -----------------------------------------------------------------------------------

    def _check_connections(self, sample):
        switches, states, unknown_words = 0, set(), set()
        columns = set()
        for row in sample:
            for conn in self.client.list("server.connection", flags=CONNECTION_FLAGS, elid=row["id"]):
                if not is_switch(conn):
                    continue
                switches += 1
                state = port_state(conn)
                columns.update(column for column in PORT_STATE_COLUMNS if conn.get(column))
                if state:
                    states.update(conn.get(column) for column in PORT_STATE_COLUMNS if conn.get(column))
                else:
                    unknown_words.update(conn.get(column) for column in PORT_STATE_COLUMNS if conn.get(column))
        if not switches:
            status, evidence = UNKNOWN, "no sampled server has a switch connection"
        elif unknown_words:
            status, evidence = CONTRADICTED, "port state words not understood: %s" % ", ".join(sorted(unknown_words))
        elif states:
            status, evidence = CONFIRMED, "switch ports show %s in column %s" % ("/".join(sorted(states)), ", ".join(sorted(columns)))
        else:
            status, evidence = (
                CONFIRMED,
                ("switch ports show no state: dci_server network switches every port and waits for the operation to end, as ISPsystem's module does"),
            )
        self._note(
            "P12", "a switch port's on/off state shows in a state-like column with an on/off word, or not at all", status, evidence, "dci_server network"
        )

    # Forms -----------------------------------------------------------------------------------------

    def _check_forms(self, sample, users):
        missing, owner_select = set(), 0
        for row in sample:
            form = self.client.form("server.edit", elid=row["id"])
            missing.update(key for key in ("name", "mac", "notes", "owner") if key not in form)
            owner_select += bool(form.selects.get("owner"))
        self._note(
            "P13",
            "the server.edit form shows name, mac, notes and owner, which a save echoes back (a save replaces notes with what is sent)",
            CONTRADICTED if missing else (CONFIRMED if sample else UNKNOWN),
            "missing: %s" % ", ".join(sorted(missing)) if missing else "the fields are shown",
            "dci_server_allocate (owner), dci_os_install (install record), dci_server_release",
        )
        self._note(
            "P14",
            "the server.edit form's owner select list maps account ids to logins (else the user list is read)",
            CONFIRMED if owner_select else UNKNOWN,
            "%d of %d forms have it" % (owner_select, len(sample)),
            "dci_server_allocate",
        )
        customers = [user for user in users if user.get("level") == "16"]
        if customers:
            form = self.client.form("user.edit", elid=customers[0]["id"])
            status = CONFIRMED if form.get("name") == customers[0]["name"] else CONTRADICTED
            evidence = (
                "the form of account %s shows its name" % customers[0]["id"]
                if status == CONFIRMED
                else "the form of account %s does not show its name" % customers[0]["id"]
            )
        else:
            status, evidence = UNKNOWN, "no customer account to read"
        self._note(
            "P15",
            "user.edit with elid edits that account (a password change); the save itself is not tried here",
            status,
            evidence,
            "dci_user update_password=always",
        )

    def _check_templates(self, sample):
        names = set(row.get("name") for row in self._list("osmgr", "osmgr"))
        keys = set()
        for row in sample[:1]:
            keys = set(self.client.form("server.operations", elid=row["id"]).selects.get("ostemplate", {}))
        if not keys:
            status, evidence = UNKNOWN, "the install form shows no template list"
        elif names <= keys:
            status, evidence = CONFIRMED, "every osmgr name is a template the install form offers"
        else:
            status, evidence = (
                CONTRADICTED,
                (
                    "osmgr names %s are not the install form's templates (%s): dci_os_install checks "
                    "against the form" % (sorted(names - keys)[:3], sorted(keys)[:3])
                ),
            )
        self._note("P16", "osmgr's name column is what server.operations takes as ostemplate", status, evidence, "dci_os_install, dci_os_template_info")

    def _untestable(self):
        """Assumptions that only a write would test: named, with what the collection does about them."""
        for check_id, assumption, used_by in (
            (
                "P17",
                "install_in_progress shows as soon as server.operations is accepted",
                "dci_os_install waits settle_time (60 s) for it before taking an install as finished",
            ),
            (
                "P18",
                "server.edit is refused during an install, or not",
                "dci_os_install writes its install record before it starts the install, so either way works",
            ),
            ("P19", "user.delete deletes an account that owns no server", "dci_user state=absent (refuses itself while the account owns servers)"),
            ("P20", "session.newkey is taken from a session (else the call is repeated with authinfo)", "dci_login_key"),
            (
                "P21",
                "WHMCS: UpdateClientProduct's unset[] blanks text fields, not bwusage; 0 is an empty value it may ignore",
                "whmcs_service (reads the service back and fails when WHMCS does not show what was written)",
            ),
        ):
            self._note(check_id, assumption, UNKNOWN, "only a write would tell; not tried", used_by)


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(sample=dict(type="int", default=3))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module, DCIPanelInfo, DCIPanelInfo.check)


if __name__ == "__main__":
    main()
