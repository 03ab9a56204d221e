# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: installing an OS template on a server.

How a run knows what is installed (the install record in the server's notes), when an install counts
as finished (seen running and then not, or ``settle_time`` after its start), and the last check before
an install wipes a disk: the server still carries the service's hostname and belongs to its owner.
Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import re
import threading
import time

from .._dci.errors import DCIError
from .._dci.panel import FREE_HOSTNAME, is_suspended, package_of, same_hostname
from .._wait import WaitTimeout
from .._writes import NOT_SHOWN
from .errors import NotTheirs, OperationFailed
from .install_record import InstallRecord, read_record, with_record

RECIPE_FORM = re.compile(r"^(#local|[A-Za-z0-9][A-Za-z0-9_.-]*)__[^\s_][^\s]*$")


class Templates:
    """The OS template keys the install forms of one panel offered in one run, by (package, template asked for)."""

    def __init__(self):
        self._keys = {}
        self._lock = threading.Lock()  # held while a form is read: the installs that ask meanwhile take its answer

    def key(self, package, template, read):
        with self._lock:
            if (package, template) not in self._keys:
                self._keys[(package, template)] = read()
            return self._keys[(package, template)]


def check_still_theirs(panel, row, form, hostname=None, owner=None, refused="the install was not started", account=None, nobody_ok=False):
    """NotTheirs unless the server still carries ``hostname`` on its main address and belongs to ``owner`` (each
    checked when given), from single-server reads (current even where the server list lags) and ``form``, the
    server's ``server.edit`` form as just read: the look before an install wipes the disk, and before a failed
    activation puts a server back. ``refused``: what was not done, for the message. ``account``: the owner's ``user``
    row when the caller has it (an account's id does not change; the owner cell itself is always ``form``'s).
    ``nobody_ok``: a server nobody owns passes the owner check too (an allocation whose owner is saved with the install
    record: its claim is the hostname, which is checked)."""
    server_id = row["id"]
    if hostname is not None:
        main = [a for a in panel.addresses(server_id, with_domains=True) if a["ip"] == row.get("ip")]
        shown = main[0].get("domain") if main and "domain" in main[0] else panel.row(server_id).get("hostname")
        if not same_hostname(shown, hostname):
            raise NotTheirs(
                "server %s no longer carries hostname %s (it shows %s): another allocation or a person changed it, so %s; "
                "check whose server it is" % (server_id, hostname, shown or FREE_HOSTNAME, refused)
            )
    if owner is not None:
        cell = (form.get("owner") if "owner" in form else row.get("owner")) or ""
        if nobody_ok and cell in ("", "no_owner"):
            return
        user = account if account and account.get("name") == owner and account.get("id") else panel.find_user(owner)
        if cell in ("", "no_owner") or user is None or cell not in (user.get("id"), owner):
            raise NotTheirs(
                "server %s does not belong to %s (the panel shows owner %s), so %s; check whose server it is"
                % (server_id, owner, panel.accounts().login_of(cell) if cell not in ("", "no_owner") else "none", refused)
            )


class Install:
    """Install ``os_template`` (and ``recipe``) with ``root_password`` on a server; ``run(row)`` does it for the
    server's ``server`` row and fills ``server``, ``finished``, ``before``, ``after``.

    ``owner`` and ``hostname``, when given, are checked once more right before the install starts: a server
    that no longer carries the hostname or no longer belongs to the owner is never installed (a claim of
    another allocation that landed late, a change by hand). ``start=False`` only waits for an install an
    earlier run started; ``wait=False`` starts it and returns.

    ``templates``: a ``Templates`` a run shares between the installs on one panel: the template key an install form
    offered, by (package, template asked for). A server of a package whose form offered the template is taken to offer it too
    (same server type, same templates); were that not so, the panel refuses the install, the record goes again and
    the activation is rolled back with the panel's message.

    ``account``: the owner's ``user`` row when the caller has it (``Account.row``), for the last check's account id
    (else the account is read).

    ``addresses``: the server's addresses (``iplist`` rows, or ``{"ip": ...}``) when the caller has just read or made
    them (an allocation), for the result instead of a read. ``note_finished=False``: the end of an install waited
    for is not added to the install record (a rerun within ``settle_time`` of the start then waits that long; the
    fleet apply, which writes WHMCS right after, saves the read and the save).

    ``save_owner``: an allocation left the owner to this install (``Allocation(defer_owner=True)``): the account id is
    saved in the same ``server.edit`` as the install record, one save instead of two; until then the server is this
    run's by its hostname (a claim), so the last check takes a server nobody owns too. Where no install is started
    (one recorded already), the owner is saved on its own.
    """

    def __init__(
        self,
        panel,
        os_template,
        root_password,
        recipe=None,
        force=False,
        start=True,
        wait=True,
        wait_timeout=720,
        settle_time=60,
        owner=None,
        hostname=None,
        addresses=None,
        note_finished=True,
        account=None,
        templates=None,
        save_owner=None,
    ):
        self.panel = panel
        self.template = os_template
        self.root_password = root_password
        self.recipe = recipe or "null"
        self.force = force
        self.start = start
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.settle_time = settle_time
        self.owner = owner
        self.hostname = hostname
        self.addresses = addresses
        self.templates = templates
        self.account = account if account and account.get("id") and account.get("name") == owner else None
        self.note_finished_ = note_finished
        self.save_owner = save_owner
        self.changed = False
        self.finished = False
        self.server = None
        self.before = {}
        self.after = {}

    def check_recipe(self):
        if self.recipe not in ("", "null") and not RECIPE_FORM.match(self.recipe):
            raise OperationFailed("recipe %s is not of the form #local__NAME or REPOSITORY__NAME" % self.recipe)

    def template_key(self, server_id, package=None):
        """The template name the install takes (see ``_offered_key``), from the run's ``templates`` when a server of the
        same package was offered it already."""
        if self.templates is None or not package:
            return self._offered_key(server_id)
        return self.templates.key(package, self.template, lambda: self._offered_key(server_id))

    def _offered_key(self, server_id):
        """The template name the install takes, checked against what the panel offers for this server.

        The install form's ``ostemplate`` list (value -> text) is the panel's own answer [M]; a name
        given as its text is taken as its value. Without that list, ``osmgr``'s ``name`` column is
        what the reference says ``ostemplate`` takes.
        """
        wanted = self.template
        offered = self.panel.client.form("server.operations", elid=server_id).selects.get("ostemplate")
        if offered:
            if wanted in offered:
                return wanted
            by_text = [key for key, text in offered.items() if text == wanted]
            if len(by_text) == 1:
                return by_text[0]
            names = sorted(offered)
        else:
            names = sorted(row.get("name") for row in self.panel.client.list("osmgr") if row.get("name"))
            if wanted in names:
                return wanted
        raise OperationFailed("unknown os_template %s; the panel offers: %s" % (wanted, ", ".join(names)))

    def wait_for_install(self, server_id, which, started=None, seen=False):
        """Wait until the install ends; OperationFailed when the panel says it failed.

        It ends when the row no longer shows ``install_in_progress`` after it was seen running, or,
        when it was never seen, once ``settle_time`` has passed since ``started`` (epoch seconds).
        """
        seen = [seen or started is None]

        def ended(row):
            if row["install_in_progress"]:
                seen[0] = True
                return False
            return seen[0] or time.time() - started >= self.settle_time

        row = self.panel.wait_server(server_id, ended, "the OS install finishing", self.wait_timeout)
        if row["operation_failed"]:
            self.server = self.describe(row)
            raise OperationFailed(
                "%s on server %s failed (the panel flags operation_failed); see the server's operation log in the panel, "
                "then re-run to try again" % (which, server_id),
                server=self.server,
            )
        self.finished = True
        return row

    def note_finished(self, server_id, record):
        """Add ``finished`` to the install record, so a rerun at once need not wait out the settle time.

        Only the run that started the install (and so changes the server anyway) does it: a run that
        only waits reports no change."""
        form = self.panel.server_form(server_id)
        current = read_record(form.get("notes", ""))
        if current is None or not current.names(record.template, record.recipe) or current.finished is not None:
            return
        notes = with_record(form.get("notes", ""), current.template, current.recipe, current.started or time.time(), time.time())
        try:
            self.panel.edit_server(server_id, form=form, notes=notes)
        except DCIError as exc:
            self.panel.warn(
                "the install finished, but noting it in server %s's notes failed (%s); a rerun within settle_time of the "
                "start waits for it again" % (server_id, exc.msg)
            )

    def power_on(self, server_id, row):
        if is_suspended(row):
            row = self.panel.unblock(server_id, self.wait_timeout)
        if not row["poweron"]:
            row = self.panel.power(server_id, "on", self.wait_timeout)
            if row["powererror"]:
                raise OperationFailed("server %s did not power on (the panel flags powererror); check its IPMI connection" % server_id)
        return row

    def check_still_theirs(self, row, form):
        """The last look before an install wipes the disk (see ``check_still_theirs``)."""
        check_still_theirs(self.panel, row, form, self.hostname, self.owner, account=self.account, nobody_ok=self.save_owner is not None)

    def start_install(self, server_id, template, before):
        """Send ``server.operations``. After a lost answer the server is watched for up to settle_time:
        the install started when it shows ``install_in_progress`` or a new ``operation_failed``."""

        def read_back():
            def started(row):
                return row["install_in_progress"] or (row["operation_failed"] and not before["operation_failed"])

            try:
                self.panel.wait_server(server_id, started, "the install showing", self.settle_time)
            except WaitTimeout:
                return NOT_SHOWN
            return {}

        self.panel.write(
            "server.operations",
            read_back,
            "the start of the install of %s on server %s" % (template, server_id),
            deadline=self.wait_timeout,  # an install's time bounds the repeats of its start
            elid=server_id,
            operation="ostemplate",
            ostemplate=template,
            passwd=self.root_password,
            confirm=self.root_password,
            checkpasswd=self.root_password,
            recipe=self.recipe,
        )

    def run(self, row, form=None):
        """Install on the server of ``row``; ``form``: its ``server.edit`` form when the caller has just read it (an
        allocation's verification), for the look at the install record. The last check before the install always
        reads the form itself."""
        self._run(row, form)
        if self.save_owner is not None and not self.panel.check_mode:
            # No install was started (one is recorded already): the owner the allocation left to it is saved alone.
            self.panel.edit_server(row["id"], owner=self.save_owner)
            self.save_owner = None
        return self

    def _run(self, row, form=None):
        self.check_recipe()
        server_id = row["id"]
        template = self.template_key(server_id, package_of(row))
        if row["install_in_progress"]:
            if not self.wait or self.panel.check_mode:
                # Never a second install while one runs; without waiting there is nothing to decide yet.
                self.server = self.describe(row)
                return self
            # A failed install is reported, not silently started again: a re-run starts a new one.
            row = self.wait_for_install(server_id, "the install that was running", seen=True)
            form = None  # what the caller read came before that install ended
        given = form is not None
        if not given:
            form = self.panel.server_form(server_id)
        notes = form.get("notes", "")
        record = read_record(notes)
        self.before = {"os_template": record.template if record else None, "recipe": record.recipe if record else None}
        self.after = {"os_template": template, "recipe": self.recipe}
        if record is not None and record.names(template, self.recipe) and not self.force:
            if row["operation_failed"] and not self.start:
                self.server = self.describe(row)
                raise OperationFailed(
                    "the install of %s on server %s failed (the panel flags operation_failed); see the server's operation log in "
                    "the panel, then re-run to try again" % (template, server_id),
                    server=self.server,
                )
            if not row["operation_failed"]:
                return self._recorded_install(server_id, row, record)
        elif not self.start:
            if self.panel.check_mode:
                # In a check run the task that would have started the install started nothing.
                self.server = self.describe(row)
                return self
            raise OperationFailed(
                "server %s has no install of %s to wait for (start=false); its notes record %s"
                % (server_id, template, "%s with recipe %s" % (record.template, record.recipe) if record else "no install")
            )
        if self.panel.check_mode:
            self.changed = True
            self.server = self.describe(row)
            return self
        if is_suspended(row) or not row["poweron"]:
            row = self.power_on(server_id, row)
            form = self.panel.server_form(server_id)  # what it shows after the wait, for the last check and the save
            notes = form.get("notes", "")
        elif given:
            form = self.panel.server_form(server_id)  # the last check reads the owner now, never the caller's copy
            notes = form.get("notes", "")
        self.check_still_theirs(row, form)
        started = time.time()
        self.changed = True
        # The record goes in first: a panel that refuses server.edit while an install runs must not
        # leave a running install unrecorded, which a rerun would start again.
        changes = {"notes": with_record(notes, template, self.recipe, started)}
        if self.save_owner is not None:
            changes["owner"] = self.save_owner
        self.panel.edit_server(server_id, form=form, **changes)
        self.save_owner = None
        try:
            self.start_install(server_id, template, row)
        except DCIError as exc:
            if exc.error_type is not None:  # the panel refused: no install runs, so the record goes again
                self._undo_record(server_id, notes, exc)
            raise
        if self.wait:
            row = self.wait_for_install(server_id, "the install of %s" % template, started=started)
            if self.note_finished_:
                self.note_finished(server_id, InstallRecord(template, self.recipe, started))
        else:
            row = self.panel.row(server_id)
        self.server = self.describe(row)
        return self

    def describe(self, row):
        """The server as the modules return it, with the caller's addresses when it gave them."""
        return self.panel.describe_server(row, addresses=self.addresses)

    def _recorded_install(self, server_id, row, record):
        """The requested install is recorded and did not fail: finished, or (within settle_time of its start,
        never seen finishing) perhaps only just started, with a flag the panel does not show yet."""
        age = record.age(time.time())
        if record.finished is not None or age is None or age >= self.settle_time:
            self.finished = True
        elif self.wait and not self.panel.check_mode:
            row = self.wait_for_install(server_id, "the install of %s" % record.template, started=record.started)
        self.server = self.describe(row)
        return self

    def _undo_record(self, server_id, notes, refusal):
        try:
            self.panel.edit_server(server_id, notes=notes)
        except DCIError as exc:
            refusal.msg += "; the install record in the server's notes could not be removed either (%s): remove it by hand" % exc.msg
