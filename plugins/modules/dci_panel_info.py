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
  - An assumption is C(contradicted) only where the collection would act wrongly on such a panel or a step of a
    service's life would fail; a panel that differs in a way the collection reads right (for example flags shown as
    C(on) and C(off), or a form that leaves out an empty field) confirms it, and the evidence says how it differs.
  - It also times its own reads of the panel and compares them with O(claim_bound), the time an allocation's claim
    may take (RV(answer_times)); it warns when they come near it.
  - Run it (or the C(ispsystem.dcimanager.check_panel) playbook, which prints a table per panel and fails on a
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
  claim_bound:
    description:
      - The seconds an allocation's claim may take from the read of its server to the claim's answer, as
        M(ispsystem.dcimanager.dci_server_allocate)'s option of that name (give the same value).
      - The panel's answer times are compared with it; writes are not tried, so the slowest form read stands in
        for the claim's write. Over half of it the module warns.
    type: float
    default: 2.0
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
      description: The modules (or plugins) that rely on it.
      type: str
    handling:
      description: What the collection does about it, and how it copes when the panel differs.
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
answer_times:
  description:
    - How fast the panel answered this module's reads, per kind (C(list) and C(form); a paged list counts as one
      read), and what that makes of an allocation's claim against O(claim_bound).
  returned: success
  type: dict
  contains:
    list:
      description: C(reads), C(median) and C(slowest) seconds, and the C(slowest_function).
      type: dict
      sample: {reads: 9, median: 0.021, slowest: 0.094, slowest_function: server}
    form:
      description: The same for form reads.
      type: dict
    claim_bound:
      description: The bound compared with (O(claim_bound)).
      type: float
      sample: 2.0
    claim_estimate:
      description:
        - Seconds a claim would take on this panel's answers (the server's C(iplist) read, the address form or the
          server list where P9 says they are needed, and the slowest form read for the write); null when no
          address was read.
      type: float
      sample: 0.061
    verdict:
      description: C(well under) (at most half the bound), C(near) (over half), C(over), or C(unknown).
      type: str
      sample: well under
    summary:
      description: The estimate in words, its parts and the verdict.
      type: str
"""

import secrets
import statistics
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.answers import CONNECTION_FLAGS, FALSE_WORDS, SERVER_FLAGS, element_to_dict
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.assumptions import ASSUMPTIONS, UNTESTED
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.errors import DCIError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.panel import (
    CUSTOMER_LEVEL,
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

# The texts of a flag element the collection reads as set (the element alone, or a yes-word); FALSE_WORDS as not set.
TRUE_WORDS = ("", "on", "yes", "true", "1")
POWER_FLAGS = ("poweron", "poweroff", "powererror")
# The server.edit fields a save echoes, and the server list column that shows each (notes shows in none).
FORM_FIELDS = (("name", "name"), ("mac", "mac"), ("notes", None), ("owner", "owner"))


class TimedReads:
    """The panel's client, timing each read this module makes (it makes nothing else): ``times`` holds
    (kind, function, seconds), kind ``list`` or ``form``. A paged list counts as one read."""

    def __init__(self, client):
        self._client = client
        self.times = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def list(self, func, flags=(), **params):
        return self._timed("list", func, self._client.list, func, flags=flags, **params)

    def document(self, func, **params):
        return self._timed("list", func, self._client.document, func, **params)

    def form(self, func, **params):
        return self._timed("form", func, self._client.form, func, **params)

    def _timed(self, kind, func, read, *args, **kwargs):
        started = time.monotonic()
        answer = read(*args, **kwargs)
        self.times.append((kind, func, time.monotonic() - started))
        return answer

    def slowest(self, kind=None, func=None):
        seconds = [spent for (k, f, spent) in self.times if kind in (None, k) and func in (None, f)]
        return max(seconds) if seconds else None


class DCIPanelInfo(DCIResource):
    represent = "assumptions"

    def __init__(self, module):
        super().__init__(module)
        self.lists = {}
        self.found = {}
        self.checks = []
        self.answer_times = None
        # Where the domain of an address shows (P9): "row", "form", "nowhere", or None (no address sampled).
        self.domain_shown = None

    def make_client(self, params):
        return TimedReads(super().make_client(params))

    def get_result(self):
        table = ["| id | status | assumption | evidence |", "|---|---|---|---|"]
        table += ["| %(id)s | %(status)s | %(assumption)s | %(evidence)s |" % check for check in self.checks]
        return {
            "changed": False,
            "assumptions": self.checks,
            "lists": self.lists,
            "table": table,
            "contradicted": [check["id"] for check in self.checks if check["status"] == CONTRADICTED],
            "answer_times": self.answer_times,
        }

    def _note(self, check_id, status, evidence):
        if check_id in self.found:
            raise DCIError("dci_panel_info checked %s twice; please report this bug" % check_id)
        self.found[check_id] = (status, evidence)

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
        users = self.panel().users()
        self._check_owner_column(servers, users)
        self._check_flags(servers)
        sample = self._sample(servers)
        self._check_suspension(servers, sample)
        self._check_addresses(sample)
        self._check_connections(sample)
        self._check_forms(sample, users)
        self._check_templates(sample)
        self._collect()
        self._time_answers()

    def _collect(self):
        """One row per assumption of the table, in its order; one that needs a write is reported unknown."""
        for item in ASSUMPTIONS:
            if item.checked is None:
                status, evidence = UNKNOWN, UNTESTED
            elif item.id in self.found:
                status, evidence = self.found.pop(item.id)
            else:
                raise DCIError("dci_panel_info has no check of %s; please report this bug" % item.id)
            self.checks.append(
                {"id": item.id, "assumption": item.assumption, "status": status, "evidence": evidence, "used_by": item.used_by, "handling": item.handling}
            )
        if self.found:
            raise DCIError("dci_panel_info checked %s, which the table of assumptions does not list; please report this bug" % ", ".join(sorted(self.found)))

    # Log-in and sessions -------------------------------------------------------------------------

    def _check_login(self):
        sessions = self.client.uses_sessions
        self._note(
            "P1",
            CONFIRMED if sessions else CONTRADICTED,
            "the API user's login gave a session" if sessions else "the API user's login gave no session: every call sends authinfo instead",
        )
        error = self.client.try_foreign_session("server", "ansible-check-%s" % secrets.token_hex(8))
        if error is not None and error.error_type == "auth":
            status, evidence = CONFIRMED, "a session the panel never gave was refused with type auth, object %s" % error.error_object
        elif error is None:
            status, evidence = CONTRADICTED, "a session the panel never gave was accepted"
        else:
            status, evidence = CONTRADICTED, "a session the panel never gave got type %s, object %s" % (error.error_type, error.error_object)
        self._note("P2", status, evidence)

    # The server list ---------------------------------------------------------------------------

    def _check_server_list(self):
        raw = self._list("server", "server", SERVER_FLAGS)
        try:
            servers = read_servers(self.client)
        except DCIError as exc:
            self._note("P3", CONTRADICTED, exc.msg)
            self._note("P4", UNKNOWN, "the server list could not be read whole")
            return []
        paged = self.lists["server"]["paged"]
        self._note("P3", CONFIRMED, "%d servers, ids unique%s" % (len(servers), ", read in pages of %d" % len(raw) if paged else ", one answer"))
        missing = [column for column in ("id", "hostname", "ip") if not any(column in row for row in raw)]
        packages = any(row.get("chassis_templ") or row.get("type") for row in raw)
        if missing or not packages:
            self._note("P4", CONTRADICTED, "missing: %s" % ", ".join(missing + ([] if packages else ["chassis_templ/type"])))
        else:
            self._note("P4", CONFIRMED, "columns %s" % ", ".join(self.lists["server"]["columns"]))
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
        self._note("P5", status, evidence)
        free = [row for row in servers if is_free(row)]
        self._note("P6", CONFIRMED if free else UNKNOWN, "%d free servers" % len(free) if free else "no server is free now")

    def _check_flags(self, servers):
        """P7: every flag text is one the collection reads (as set or not set), and read so, no row is
        powered on and off at once (each row shows one power flag, or none while a change runs)."""
        texts = self.lists["server"]["flag_texts"]
        unread = [text for text in texts if text.lower() not in TRUE_WORDS + FALSE_WORDS]
        both = [row["id"] for row in servers if sum(1 for flag in POWER_FLAGS if row[flag]) > 1]
        seen = "flag texts seen: %s" % (", ".join(repr(text) for text in texts) or "none")
        if unread:
            status, evidence = CONTRADICTED, "%s; read as set although the panel may mean otherwise: %s" % (seen, ", ".join(repr(text) for text in unread))
        elif both:
            status, evidence = CONTRADICTED, "%s; so read, servers %s show more than one power flag set" % (seen, ", ".join(both[:5]))
        elif self.lists["server"]["flags"]:
            off = [text for text in texts if text.lower() in FALSE_WORDS]
            status, evidence = CONFIRMED, seen + ("; %s read as not set" % ", ".join(repr(text) for text in off) if off else "")
        else:
            status, evidence = UNKNOWN, seen
        self._note("P7", status, evidence)

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
        self._note("P8", status, evidence)

    # Addresses -----------------------------------------------------------------------------------

    def _check_addresses(self, sample):
        in_list = in_form = shown = main_seen = 0
        hostname_ok, hostname_bad = [], []
        for row in sample:
            addresses = self.panel().addresses(row["id"])
            main = [a for a in addresses if a.get("ip") == row.get("ip")]
            main_seen += bool(main)
            main_domain = None
            for address in addresses[:1] + main[:1]:
                shown += 1
                domain = address.get("domain")
                if domain is not None:
                    in_list += 1
                else:
                    domain = self.client.form("iplist.edit", plid=row["id"], elid=address["id"]).get("domain")
                    in_form += domain is not None
                if main and address is main[0]:
                    main_domain = domain
            if main_domain is not None:
                (hostname_ok if same_hostname(main_domain, row.get("hostname")) else hostname_bad).append(row["id"])
        if not shown:
            status, evidence = UNKNOWN, "no sampled server has addresses"
        elif in_list == shown:
            status, evidence = CONFIRMED, "iplist rows show domain"
            self.domain_shown = "row"
        elif in_list + in_form == shown:
            status, evidence = CONFIRMED, "iplist rows show no domain; each address's iplist.edit form does (one more read per address)"
            self.domain_shown = "form"
        else:
            status, evidence = (
                CONTRADICTED,
                (
                    "neither iplist nor the iplist.edit form shows the domain of %d of %d addresses: "
                    "domains are written on every run" % (shown - in_list - in_form, shown)
                ),
            )
            self.domain_shown = "nowhere"
        self._note("P9", status, evidence)
        if hostname_bad:
            status, evidence = CONTRADICTED, "servers %s: hostname differs from the main address's domain" % hostname_bad
        elif hostname_ok:
            status, evidence = CONFIRMED, "servers %s: hostname is the main address's domain" % hostname_ok
        else:
            status, evidence = UNKNOWN, "no sampled server shows the domain of its main address"
        self._note("P10", status, evidence)
        self._note(
            "P11",
            CONFIRMED if main_seen == len(sample) and sample else (UNKNOWN if not sample else CONTRADICTED),
            "%d of %d sampled servers" % (main_seen, len(sample)),
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
        self._note("P12", status, evidence)

    # Forms -----------------------------------------------------------------------------------------

    def _check_forms(self, sample, users):
        """P13: a field the form leaves out is one the server has empty (as its list row shows), so a save
        that echoes the form loses nothing. Only ``notes`` shows in no list: a form that never shows it
        leaves open whether the panel hides notes or only leaves out empty ones."""
        hidden, left_out, notes_shown, owner_select = [], [], 0, 0
        for row in sample:
            form = self.client.form("server.edit", elid=row["id"])
            owner_select += bool(form.selects.get("owner"))
            notes_shown += "notes" in form
            for field, column in FORM_FIELDS:
                if field in form or column is None:
                    continue
                if row.get(column):
                    hidden.append("server %s's %s (the list shows %s)" % (row["id"], field, row[column]))
                else:
                    left_out.append("server %s's %s" % (row["id"], field))
        if hidden:
            status = CONTRADICTED
            evidence = "the server.edit form leaves out %s: a save that echoes the form would not carry it" % ", ".join(hidden)
        elif not sample:
            status, evidence = UNKNOWN, "no server to read"
        elif not notes_shown:
            status, evidence = UNKNOWN, "no sampled form shows notes (left out when empty?): a server with notes, such as an install record, would tell"
        else:
            status = CONFIRMED
            evidence = "the fields are shown" + ("; left out only where empty: %s" % ", ".join(left_out) if left_out else "")
        self._note("P13", status, evidence)
        self._note("P14", CONFIRMED if owner_select else UNKNOWN, "%d of %d forms have it" % (owner_select, len(sample)))
        customers = [user for user in users if user.get("level") == CUSTOMER_LEVEL]
        if customers:
            form = self.client.form("user.edit", elid=customers[0]["id"])
            shows = form.get("name") == customers[0]["name"]
            self._note(
                "P15",
                CONFIRMED if shows else CONTRADICTED,
                "the form of account %s %s its name" % (customers[0]["id"], "shows" if shows else "does not show"),
            )
        else:
            self._note("P15", UNKNOWN, "no customer account to read")

    def _check_templates(self, sample):
        """P16: every name ``osmgr`` lists is one ``dci_os_install`` takes: a key of the install form's
        template list, or the text of exactly one of them (which it maps to that key)."""
        names = set(row.get("name") for row in self._list("osmgr", "osmgr") if row.get("name"))
        offered = {}
        for row in sample[:1]:
            offered = self.client.form("server.operations", elid=row["id"]).selects.get("ostemplate", {})
        texts = list(offered.values())
        as_text = sorted(name for name in names if name not in offered and texts.count(name) == 1)
        unknown = sorted(name for name in names if name not in offered and texts.count(name) != 1)
        if not offered:
            status, evidence = UNKNOWN, "the install form shows no template list"
        elif unknown:
            status, evidence = (
                CONTRADICTED,
                "osmgr names %s are neither keys nor texts of the install form's templates (%s): dci_os_install refuses them"
                % (unknown[:3], sorted(offered)[:3]),
            )
        elif as_text:
            status, evidence = (
                CONFIRMED,
                "osmgr names are the install form's template texts (%s ...); dci_os_install takes each for its key" % ", ".join(as_text[:2]),
            )
        else:
            status, evidence = CONFIRMED, "every osmgr name is a template the install form offers"
        self._note("P16", status, evidence)

    # Answer times ------------------------------------------------------------------------------------

    def _time_answers(self):
        """The panel's answer times against the allocation's claim bound (issue: claims across controllers).

        An allocation's claim must go from sending its read of the one server to receiving the claim's
        answer within ``claim_bound``: a read of the server's ``iplist`` (and of the main address's
        ``iplist.edit`` form where rows show no domain, and the ``server`` list where neither shows
        it), then the claim, a write. Writes are not tried here: the slowest form read stands in for
        it. Near the bound (over half of it) the allocation warns and, over it, distrusts its claims.
        """
        bound = self.module.params["claim_bound"]
        kinds = {}
        for kind in ("list", "form"):
            spent = sorted((seconds, func) for (k, func, seconds) in self.client.times if k == kind)
            if spent:
                kinds[kind] = {
                    "reads": len(spent),
                    "median": round(statistics.median(seconds for seconds, dummy in spent), 3),
                    "slowest": round(spent[-1][0], 3),
                    "slowest_function": spent[-1][1],
                }
        parts = [("iplist", self.client.slowest("list", "iplist"))]
        if self.domain_shown in ("form", "nowhere"):
            parts.append(("iplist.edit form", self.client.slowest("form", "iplist.edit")))
        if self.domain_shown == "nowhere":
            parts.append(("server list", self.client.slowest("list", "server")))
        parts.append(("a write (the slowest form read)", self.client.slowest("form")))
        estimate = None
        if all(seconds is not None for dummy, seconds in parts):
            estimate = round(sum(seconds for dummy, seconds in parts), 3)
        if estimate is None:
            verdict, summary = UNKNOWN, "no sampled server's addresses were read: nothing to estimate a claim from"
        else:
            verdict = "over" if estimate > bound else ("near" if estimate > bound / 2 else "well under")
            summary = "a claim would take about %.3f s (%s) of claim_bound %.1f s: %s" % (
                estimate,
                " + ".join("%s %.3f s" % (what, seconds) for what, seconds in parts),
                bound,
                verdict,
            )
        self.answer_times = dict(kinds, claim_bound=bound, claim_estimate=estimate, verdict=verdict, summary=summary)
        if verdict in ("near", "over"):
            self.module.warn(
                "the panel's answers come near the allocation's claim bound: %s; allocations warn from half the bound and do not trust "
                "a claim over it. Find out why the panel is slow, or raise claim_bound (and claim_settle) for the allocations" % summary
            )


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(sample=dict(type="int", default=3), claim_bound=dict(type="float", default=2.0))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params["claim_bound"] <= 0:
        module.fail_json(msg="claim_bound must be a positive number of seconds, not %s" % module.params["claim_bound"])
    run(module, DCIPanelInfo, DCIPanelInfo.check)


if __name__ == "__main__":
    main()
