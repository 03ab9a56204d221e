# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: what the collection assumes of a DCImanager panel.

The one table of the assumptions P1 ... P21: where ISPsystem's API reference is silent, what the
collection takes for granted, on what evidence, what it does about it, and how the read-only panel
check (``dci_panel_info``, the ``check_panel`` playbook) tests it on a real panel. ``dci_panel_info``
reports one row for each entry, in this order; docs/lifecycle.md's table is generated from it
(``scripts/gen_docs.py``). Plain data, no imports: the documentation generator loads this file alone.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from collections import namedtuple

# id; the assumption; the evidence for it (its basis; marks: MARKS); what the collection does about it (how it
# copes when the panel differs); what check_panel reads to test it (None: only a write would tell, so
# the check reports it unknown and tries nothing); the modules and plugins that rely on it.
Assumption = namedtuple("Assumption", "id assumption basis handling checked used_by")

# The marks the evidence column uses.
MARKS = (
    (
        "[H], [M], [L]",
        "the confidence marks of the API reference: [H] used in production by ISPsystem's WHMCS module or stated in "
        "ISPsystem's documentation, [M] seen in third-party client code or in what the panel's web UI sends, [L] follows "
        "the mgr5 naming pattern only",
    ),
    ("dm:N, fn:N", "line N of ISPsystem's WHMCS module (version 7.2.1): servers/dcimanager/dcimanager.php (dm) and servers/dcimanager/lib/functions.php (fn)"),
    ("none", "nothing known settles it"),
)

ASSUMPTIONS = (
    Assumption(
        "P1",
        "a good `func=auth` answer carries a session (`<auth>SESSION</auth>`); only such an answer counts as a good login",
        "[H] the session form of `auth`; nothing says what else a good answer holds",
        "no session: every call sends `authinfo` instead; `dci_user update_password: always` cannot check a password and fails clearly",
        "the API user's login",
        "every module (the client); dci_user update_password=always",
    ),
    Assumption(
        "P2",
        "an expired or foreign session answers an error of type `auth` (the client then logs in again once)",
        "[M] `auth`-family errors",
        "logs in again once, then repeats the call",
        "a made-up session id on `server`",
        "every module (a run that outlives its session)",
    ),
    Assumption(
        "P3",
        "the `server` list is complete and exact: every server once, with its id",
        "none: lists may be paged (`p_num` / `p_cnt` / `p_elems`)",
        "a paged list is read page by page; one that does not add up, ids missing or twice, or an empty list fail the task",
        "`server`",
        "every module that looks a server up; the drift plan; the dcimanager inventory",
    ),
    Assumption(
        "P4",
        "`server` rows show `id`, `hostname` (`free.ds` when free), `ip` (the main address) and `chassis_templ` or `type`",
        "[H]",
        "-",
        "`server` columns",
        "dci_server_allocate (free servers, packages), every module finding a server by hostname",
    ),
    Assumption(
        "P5",
        "the `server` list's `owner` column holds the owner's login or its account id",
        "[H] only that empty means no owner",
        "both are matched everywhere (info filters, allocation, the `dci_user` absent guard) and shown as the login",
        "owner cells against `user`",
        "dci_server_info owner, dci_server_allocate (idempotency), dci_user state=absent, the inventory",
    ),
    Assumption(
        "P6",
        "a free server has no owner and hostname `free.ds`, and is not blocked, failed or under diagnostics",
        "[H] (dm:146)",
        "-",
        "free servers seen",
        "dci_server_allocate, dci_server_info free, the drift plan",
    ),
    Assumption(
        "P7",
        "flags are elements present when set, empty or with a word such as `on`; a flag whose text says `off` / `no` / `false` / `0` is not set",
        "[H] elements present when set; (fn:487) a form's checkbox is `on` / `off`",
        "reads those words either way, so a panel that shows every flag as `on` or `off` is read right",
        "flag texts seen, and the power flags of each row",
        "every module reading server flags",
    ),
    Assumption(
        "P8",
        "`server.disable` shows as `blocked` or `disabled` in the `server` list",
        "[H] ISPsystem's module waits on `disabled` (dm:279-288)",
        "a server is suspended when either shows; suspend waits for either, unsuspend until neither",
        "a blocked server's flags, and the `server.edit` form's `disabled`",
        "dci_server blocked, dci_server_release, the drift plan",
    ),
    Assumption(
        "P9",
        "an address's domain shows in its `iplist` row or its `iplist.edit` form",
        "[H] the write; not the read",
        "reads the form when the row has none; a domain shown nowhere is written on every run (never assumed set)",
        "sampled addresses",
        "dci_server_allocate (idempotency), dci_server_release",
    ),
    Assumption(
        "P10",
        "the `server` list's `hostname` is the domain of the main address",
        "[H] ISPsystem's module relies on it (dm:146)",
        "the allocation's claim is verified there; a claim the list does not show is undone before the task fails",
        "sampled servers",
        "dci_server_allocate (claim), every lookup by hostname",
    ),
    Assumption(
        "P11",
        "`iplist` lists the server's main address (the `ip` column)",
        "[H]",
        "a server whose main address is missing cannot be claimed",
        "sampled servers",
        "dci_server_allocate (claim), dci_server_release",
    ),
    Assumption(
        "P12",
        "a switch port's on/off state shows in a state-like column (`state`, `status` ...) with an on/off word (on/off, up/down, 1/0 ...), or not at all",
        "none: ISPsystem's module never reads one (fn:459-496)",
        "not shown: switches every port and waits for its operation to end, as ISPsystem's module does, reporting a change (`network_state_shown: false`)",
        "sampled switch connections",
        "dci_server network",
    ),
    Assumption(
        "P13",
        "the `server.edit` form shows `name`, `mac`, `notes` and `owner` (or leaves out only empty ones, as lists do); "
        "a save replaces `notes` with what is sent",
        "[H] ISPsystem's module echoes them",
        "every save echoes what the form shows; a field left out is not sent",
        "sampled forms against their `server` rows",
        "dci_server_allocate (owner), dci_os_install (install record), dci_server_release",
    ),
    Assumption(
        "P14",
        "the `server.edit` form's `owner` select list maps account ids to logins",
        "[M] select lists",
        "without it, the `user` list",
        "sampled forms",
        "dci_server_allocate",
    ),
    Assumption(
        "P15",
        "`user.edit` with `elid` edits that account (a password change)",
        "[L]",
        "the password is read back by logging in with it",
        "the form of a customer account (the save itself is not tried)",
        "dci_user update_password=always",
    ),
    Assumption(
        "P16",
        "`osmgr`'s `name` is what `server.operations` takes as `ostemplate`, or the text of exactly one of its templates",
        "[M]",
        "`dci_os_install` checks the name against the install form's template list (`server.operations` without `sok`), "
        "the panel's own answer, and takes a template's text for its key",
        "`osmgr` against the install form",
        "dci_os_install, dci_os_template_info",
    ),
    Assumption(
        "P17",
        "`install_in_progress` shows as soon as `server.operations` is accepted",
        "none (dm:235-237 says nothing of timing)",
        "an install counts as finished only after it was seen running, or `settle_time` (60 s) after its start",
        None,
        "dci_os_install",
    ),
    Assumption(
        "P18",
        "`server.edit` during an install is accepted or refused",
        "none",
        "the install record is written before the install starts, so a refusal cannot make a rerun reinstall",
        None,
        "dci_os_install",
    ),
    Assumption(
        "P19",
        "`user.delete` deletes an account that owns no server",
        "[L]",
        "`dci_user state: absent` refuses while the account owns servers",
        None,
        "dci_user state=absent",
    ),
    Assumption(
        "P20",
        "`session.newkey` is taken from a session",
        "[H] with `authinfo` only",
        "refused with an `access` error: sent again with `authinfo`",
        None,
        "dci_login_key",
    ),
    Assumption(
        "P21",
        "WHMCS: `UpdateClientProduct`'s `unset[]` blanks text fields, not `bwusage`; `0` is an empty value WHMCS may ignore",
        "WHMCS's documentation",
        "bandwidth is written as whole MB in digits, zero as `0`; the service is read back and the task fails when WHMCS does not show what was written",
        None,
        "whmcs_service",
    ),
)

UNTESTED = "only a write would tell; not tried"


def by_id(check_id):
    for assumption in ASSUMPTIONS:
        if assumption.id == check_id:
            return assumption
    raise KeyError(check_id)


def markdown_table():
    """docs/lifecycle.md's table of the assumptions, and the legend of its marks, as lines."""
    lines = [
        "| id | assumption | evidence (reference, ISPsystem's module) | what the collection does | check_panel |",
        "|---|---|---|---|---|",
    ]
    for item in ASSUMPTIONS:
        lines.append("| %s | %s | %s | %s | %s |" % (item.id, item.assumption, item.basis, item.handling, item.checked or "unknown (a write would tell)"))
    lines += ["", "Marks in the evidence column:", ""]
    lines += ["- %s: %s." % (marks, meaning) for marks, meaning in MARKS]
    return lines
