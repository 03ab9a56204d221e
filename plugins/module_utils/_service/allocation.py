# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: giving a free server to a customer.

The claim of a free server is a timed claim (Fischer's mutual exclusion, on the panel's one register
that every allocation reads: the domain of a server's main address), safe between controllers that
share nothing; docs/lifecycle.md, "Allocation across controllers", gives the argument and its
assumptions. After the claim, the owner, the domain on every address and the extra addresses; a
failure puts back what this run did. Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import hashlib
import time

from .._dci.errors import DCIError
from .._dci.panel import CUSTOMER_LEVEL, FREE_HOSTNAME, is_free, is_ipv6, owner_may_be_id, package_of, same_hostname, why_busy
from .._transport import AnswerLost
from .._writes import CANNOT_TELL, NOT_SHOWN, WriteNotMade
from .errors import NotTheirs, OperationFailed
from .lock import controller_lock

# Free servers tried in one pass over the list, at most, and passes over a fresh list, at most, while
# other allocations take the servers tried.
CANDIDATES = 10
PASSES = 3
ROLLBACK_PASSES = 3
# A claim is sent only while at least this share of claim_bound is left: the request itself takes time.
MIN_LEFT_SHARE = 0.25
# A warning when a claim took more than this share of claim_bound.
SLOW_SHARE = 0.5
# Looks at the server list, one second apart, for it to show a verified claim (a list may lag behind writes).
LIST_LOOKS = 3
# Seconds the verification's first look at the server list may wait for the read the run's waits make next.
LIST_PATIENCE = 1.0

HELD, TAKEN, BUSY, UNTRUSTED = "held", "taken", "busy", "untrusted"


def rendezvous_order(hostname, rows):
    """Free servers in this hostname's own order, so allocations on different controllers start on different servers."""
    return sorted(rows, key=lambda row: hashlib.sha256(("%s/%s" % (hostname, row["id"])).encode()).hexdigest())


class Allocation:
    """Give ``owner`` a free server of ``package`` (or the server ``server_id``) named ``hostname``, with extra
    addresses; ``present()`` does it and fills ``server``, ``surplus``, ``claim``, ``before``, ``after``.

    ``account``: the owner's ``user`` row when the caller has just read or made it (``Account.row``), else it is read."""

    def __init__(
        self,
        panel,
        owner,
        hostname,
        package=None,
        server_id=None,
        ipv4_count=0,
        ipv6_count=0,
        ip_group="public",
        claim_bound=2.0,
        claim_settle=4.0,
        rows=None,
        account=None,
        defer_owner=False,
    ):
        if claim_settle <= claim_bound:
            raise OperationFailed("claim_settle (%ss) must be longer than claim_bound (%ss)" % (claim_settle, claim_bound))
        self.panel = panel
        self.owner = owner
        self.hostname = hostname
        self.package = package
        self.server_id = None if server_id is None else str(server_id)
        self.counts = {"ipv4": int(ipv4_count or 0), "ipv6": int(ipv6_count or 0)}
        self.ip_group = ip_group
        self.bound = float(claim_bound)
        self.settle = float(claim_settle)
        self.rows = rows
        self.changed = False
        self.row = None  # the server's ``server`` row (as listed, with the owner and hostname it has now)
        self.server = None
        self.form = None  # the server's server.edit form as the allocation read it (its owner as saved), or None
        self.addresses = None  # the server's addresses after the allocation (``iplist`` rows, ``{"ip": ...}`` for new ones)
        self.surplus = []
        self.claim = None
        # defer_owner: the caller saves the owner with the install record (Install(save_owner=...)), one save for two;
        # owner_to_save is then the account id still to save (None: the server is the owner's already).
        self.defer_owner = defer_owner
        self.owner_to_save = None
        self.before = {}
        self.after = {}
        # An account without its id (a create answered without one, not listed yet) is read when it is needed.
        self._account = account if account and account.get("id") and account.get("name") == owner else None

    # The owner's account ---------------------------------------------------------------------------

    def owner_account(self):
        """The owner's account (``user`` row); in check mode an account an earlier task would create counts."""
        if self._account is None:
            user = self.panel.find_user(self.owner)
            if user is None and self.panel.check_mode:
                user = {"id": None, "name": self.owner, "level": CUSTOMER_LEVEL}
            if user is None:
                raise OperationFailed("DCImanager has no account %s; create it first (ispsystem.dcimanager.dci_user)" % self.owner)
            if user.get("level") != CUSTOMER_LEVEL:
                raise OperationFailed("account %s is not a customer account (level %s)" % (self.owner, user.get("level")))
            self._account = user
        return self._account

    def owner_shown(self, form, row):
        """Who the server belongs to now, from its form (account id; ``no_owner``/empty = nobody), else the list row.
        Returns None for nobody, True for the owner, or the other account as shown."""
        cell = form.get("owner") if "owner" in form else row.get("owner")
        cell = (cell or "").strip()
        if cell in ("", "no_owner"):
            return None
        account = self.owner_account()
        if cell in (account.get("id"), self.owner) or self.panel.owned_by({"owner": cell}, self.owner):
            return True
        # Another account, most likely made after this run read the accounts (another allocation's customer): named
        # by the form's own owner list where it has one [P14], else by a fresh read of the accounts.
        login = (getattr(form, "selects", None) or {}).get("owner", {}).get(cell) or self.panel.accounts().login_of(cell)
        if login == cell and owner_may_be_id(cell):
            self.panel.users()
            login = self.panel.accounts().login_of(cell)
        return login or cell

    # Which server ----------------------------------------------------------------------------------

    def existing(self, rows):
        """The server this (owner, hostname) already has, or None; refuses a hostname used by someone else."""
        mine = [row for row in rows if same_hostname(row.get("hostname"), self.hostname)]
        others = [row for row in mine if row.get("owner") and not self.panel.owned_by(row, self.owner)]
        if others:
            raise OperationFailed(
                "hostname %s is already set on server %s, owned by %s; choose another hostname"
                % (self.hostname, others[0]["id"], self.panel.owner_login(others[0]))
            )
        if len(mine) > 1:
            raise OperationFailed(
                "hostname %s is set on %d servers (ids %s); release the extra ones" % (self.hostname, len(mine), ", ".join(row["id"] for row in mine))
            )
        if mine and self.server_id is not None and mine[0]["id"] != self.server_id:
            raise OperationFailed("hostname %s is already given to server %s, not to the requested server %s" % (self.hostname, mine[0]["id"], self.server_id))
        # A server with our hostname and no owner is our own claim, left half-done by an interrupted run
        # (or another run of the same service at work: the hostname names one service).
        return mine[0] if mine else None

    def candidates(self, rows):
        """The free servers to try, in this hostname's order; OperationFailed when there is none."""
        if self.server_id is not None:
            row = self.panel.find_server(server_id=self.server_id, rows=rows)
            if not is_free(row):
                self.owner_account()  # an unknown owner is the error to report first
                raise OperationFailed("server %s is not free: %s" % (row["id"], why_busy(row)))
            return [row]
        of_package = [row for row in rows if package_of(row) == self.package]
        free = [row for row in of_package if is_free(row)]
        if not free:
            self.owner_account()  # an unknown owner is the error to report first
            busy = [why_busy(row) for row in of_package]
            where = " on panel %s" % self.panel.name if self.panel.name else ""
            raise OperationFailed(
                "no free server of package %s%s (%d servers of that package, %d busy%s)"
                % (self.package, where, len(of_package), len(busy), (": " + "; ".join(busy[:20])) if busy else "")
            )
        # Servers another allocation of this run claimed since the list was read come last: trying them costs a read.
        return sorted(rendezvous_order(self.hostname, free), key=lambda row: row["id"] in self.panel.claimed)

    # The timed claim -------------------------------------------------------------------------------

    def main_address(self, row):
        """The server's main address (its ``iplist`` row, with its domain where the panel shows one)."""
        main = [a for a in self.panel.addresses(row["id"], with_domains=True) if a["ip"] == row.get("ip")]
        if not main:
            raise OperationFailed(
                "server %s's main address %s is not in its address list (iplist); it cannot be claimed" % (row["id"], row.get("ip") or "(none)")
            )
        return main[0]

    def shown_domain(self, row, main):
        """The main address's domain now: from the single-server reads, else the server list's hostname."""
        if "domain" in main:
            return main["domain"]
        fresh = self.panel.row(row["id"])
        return fresh.get("hostname")

    def claim_free_server(self, rows, own=None):
        """Claim a free server (see the module docstring); returns (row, form, addresses) of the claimed server.

        ``own``: the row of a server that carries this hostname and has no owner (a claim of an earlier run of this
        service, or of one at work now), tried first: it is trusted only as any claim is, after the settle wait."""
        attempts = untrusted = 0
        timings = {"read_to_answer": None, "settle": self.settle, "bound": self.bound}
        for dummy in range(PASSES):
            outcomes = []
            tries = [own] if own is not None else self.candidates(rows)[:CANDIDATES]
            own = None
            for row in tries:
                attempts += 1
                outcome, found = self._try_claim(row, timings)
                outcomes.append(outcome)
                if outcome == HELD:
                    self.claim = dict(timings, server_id=row["id"], attempts=attempts, untrusted=untrusted)
                    return found
                untrusted += outcome == UNTRUSTED
            if TAKEN not in outcomes and UNTRUSTED not in outcomes and BUSY not in outcomes:
                break
            rows = self.panel.servers()  # others took what this pass tried: a fresh list, a new pass
        raise OperationFailed(
            "every free server tried (%d attempts) was taken by another allocation at the same time, or its claim could not be "
            "trusted; run the task again" % attempts
        )

    def _try_claim(self, row, timings):
        """One claim of ``row``: (outcome, (row, form, addresses) when HELD)."""
        server_id = row["id"]
        with controller_lock("claim " + self.panel.client.url):
            if server_id in self.panel.claimed:
                return BUSY, None  # claimed by another allocation of this run while this one waited for the lock
            # The span that must stay within claim_bound runs from sending the free read to receiving the
            # claim's answer, on this process's monotonic clock (a pause of this process counts in it).
            start = time.monotonic()
            main = self.main_address(row)
            shown = self.shown_domain(row, main)
            if same_hostname(shown, self.hostname):
                answered = None  # this hostname's own claim already: nothing to send, verify it
            elif not same_hostname(shown, FREE_HOSTNAME):
                return BUSY, None
            else:
                left = self.bound - (time.monotonic() - start)
                if left < self.bound * MIN_LEFT_SHARE:
                    self.panel.warn(
                        "server %s: the read before the claim took %.2fs of the %.2fs claim_bound; not claimed" % (server_id, self.bound - left, self.bound)
                    )
                    return UNTRUSTED, None
                self.panel.claimed.add(server_id)
                answered = self._send_claim(row, main, left)
                span = time.monotonic() - start
                if answered:
                    timings["read_to_answer"] = round(span, 3)
                    if span > self.bound * SLOW_SHARE:
                        self.panel.warn(
                            "server %s: the claim took %.2fs from read to answer, over half the %.2fs claim_bound; the panel is slow: "
                            "raise claim_bound (and claim_settle) if it stays so" % (server_id, span, self.bound)
                        )
                if answered and span > self.bound:
                    answered = False
        if answered is False:
            self._forget_claim(row, main)
            return UNTRUSTED, None
        time.sleep(self.settle)
        return self._verify(row, main, settled=time.monotonic())

    def _send_claim(self, row, main, left):
        """Send the claim (the hostname on the main address) once; True when its answer came, False when it was lost."""

        def send():
            return self.panel.client.write("iplist.edit", request_timeout=left, plid=row["id"], elid=main["id"], domain=self.hostname)

        def read_back():
            shown = self.panel.address_domain(row["id"], main["id"], row.get("ip"), main["ip"])
            if shown is None:
                return CANNOT_TELL
            return {} if same_hostname(shown, self.hostname) else NOT_SHOWN

        try:
            answer = self.panel.writes.change(send, read_back, "the claim of server %s for %s" % (row["id"], self.hostname), repeat=False)
        except WriteNotMade:
            return False
        except DCIError as exc:
            if isinstance(exc, AnswerLost):
                return False
            raise
        self.changed = True
        return answer is not None

    def _forget_claim(self, row, main):
        """A claim that cannot be trusted (its answer lost or late): never sent again, and undone only where, once
        any copy of it still on its way has had time to land, it shows on a server that nobody owns."""
        self.changed = True
        time.sleep(self.settle)
        shown = self.panel.address_domain(row["id"], main["id"], row.get("ip"), main["ip"])
        if not same_hostname(shown, self.hostname):
            self.panel.claimed.discard(row["id"])
            self.panel.warn(
                "server %s: the claim for %s was not trusted (its answer was lost or came too late); read back after claim_settle it "
                "is not there, so another server is tried" % (row["id"], self.hostname)
            )
            return
        form = self.panel.server_form(row["id"])
        if self.owner_shown(form, row) is not None:
            raise NotTheirs(
                "server %s carries hostname %s from a claim whose answer was lost, but it belongs to %s: another allocation "
                "took it and this claim landed later; set that allocation's hostname back on the server's main address %s"
                % (row["id"], self.hostname, self.owner_shown(form, row), main["ip"])
            )
        self.panel.warn(
            "server %s: the claim for %s was not trusted (its answer was lost or came too late); read back after claim_settle it "
            "was there, on a server nobody owns, and was undone; another server is tried" % (row["id"], self.hostname)
        )
        self.panel.set_address_domain(row["id"], main, FREE_HOSTNAME, row.get("ip"))
        self.panel.claimed.discard(row["id"])

    def _verify(self, row, main, settled):
        """After the settle wait (ended at ``settled``, monotonic): whether the claim held; (outcome, (row, form, addresses))."""
        server_id = row["id"]
        # One read of the server's addresses: the main address's domain now, and the addresses the rest of the
        # allocation works on (read after the settle wait, as every read of the verification).
        addresses = self.panel.addresses(server_id, with_domains=True)
        shown = next((a["domain"] for a in addresses if a.get("id") == main["id"] and "domain" in a), None)
        if shown is None and row.get("ip") == main["ip"]:
            shown = self.panel.row(server_id).get("hostname")  # a panel that shows no address's domain
        if not same_hostname(shown, self.hostname):
            return TAKEN, None  # another allocation's hostname: its claim, not ours to undo
        form = self.panel.server_form(server_id)
        owner = self.owner_shown(form, row)
        if owner not in (None, True):
            raise NotTheirs(
                "server %s carries hostname %s but belongs to %s: a claim landed on a server another allocation had "
                "already taken; set that allocation's hostname back on address %s and check both services" % (server_id, self.hostname, owner, main["ip"])
            )
        for look in range(LIST_LOOKS):
            if look:
                time.sleep(1.0)
            # Any list read sent after the settle wait ended will do, such as the next one of the run's waits.
            rows = self.panel.servers(after=settled, patience=LIST_PATIENCE) if not look else self.panel.servers()
            listed = [r for r in rows if r["id"] == server_id]
            twins = [r["id"] for r in rows if r["id"] != server_id and same_hostname(r.get("hostname"), self.hostname)]
            if twins or (listed and same_hostname(listed[0].get("hostname"), self.hostname)):
                break
        if listed and same_hostname(listed[0].get("hostname"), self.hostname) and not twins:
            return HELD, (listed[0], form, addresses)
        self.panel.set_address_domain(server_id, main, FREE_HOSTNAME, row.get("ip"))
        self.panel.claimed.discard(server_id)
        if twins:
            raise OperationFailed(
                "hostname %s appeared on server %s while this task claimed server %s: another run allocates the same hostname; "
                "this claim was undone" % (self.hostname, ", ".join(twins), server_id)
            )
        raise OperationFailed(
            "the server list does not show hostname %s on server %s after it was set on the server's main address %s, so the "
            "claim cannot be verified; it was undone. Run the check_panel playbook to see what this panel shows" % (self.hostname, server_id, row.get("ip"))
        )

    # The rest of the allocation ------------------------------------------------------------------

    def _add_address(self, server_id, family, known):
        """Allocate one extra address of ``family``; returns it. ``known``: the server's addresses before.

        Never sent again while a copy of it may still land: a second copy of a create whose answer was
        lost would take a second address. A create the read-back shows not made is looked for again
        after claim_settle, the longest a late copy may take to land (the bound the timed claim rests
        on): shown then, it landed late and is the address; still not shown, no copy of it can land any
        more, and a new one is asked for, while the task's time for a write lasts."""

        def read_back():
            new = [a["ip"] for a in self.panel.addresses(server_id) if a["ip"] not in known and is_ipv6(a["ip"]) == (family == "ipv6")]
            return {"ip": new[0]} if new else NOT_SHOWN

        what = "a new %s address on server %s" % (family, server_id)
        started = time.monotonic()
        while True:
            try:
                answer = self.panel.write(
                    "iplist.edit", read_back, what, repeat=False, plid=server_id, family=family, iptype=self.ip_group, ip="", domain=self.hostname
                )
                break
            except WriteNotMade as exc:
                time.sleep(self.settle)
                found = read_back()
                if found is not NOT_SHOWN:
                    self.panel.warn("%s: read back again after claim_settle (%gs), it landed late and was made" % (what, self.settle))
                    return found["ip"]
                if time.monotonic() - started + self.settle >= self.panel.writes.deadline:
                    exc.msg += "; read back again after claim_settle (%gs), it was still not made" % self.settle
                    exc.args = (exc.msg,)
                    raise
                self.panel.warn(
                    "%s: read back again after claim_settle (%gs), it was still not made, and no copy of it can land any more: "
                    "a new one was asked for" % (what, self.settle)
                )
        address = (answer or {}).get("ip")
        if not address:
            # The answer carried no address (a bare <ok/>): what the write produced is read back.
            found = read_back()
            address = found.get("ip") if found is not NOT_SHOWN else None
        if not address:
            raise OperationFailed(
                "DCImanager answered the new %s address on server %s without the address, and its address list shows none" % (family, server_id)
            )
        return address

    def _finish(self, row, form, addresses, added):
        """Owner, domain on every address, extra addresses. Records what it added, for a rollback."""
        server_id = row["id"]
        if not self.panel.owned_by(row, self.owner):
            form = self.panel.server_form(server_id) if form is None else form
            shown = self.owner_shown(form, row)
            if shown is None and self.defer_owner:
                self.owner_to_save = self.owner_account()["id"]  # saved with the install record
            elif shown is not True:
                self.panel.edit_server(server_id, form=form, owner=self.owner_account()["id"])
                form = dict(form, owner=self.owner_account()["id"])
        self.form = form
        # ``addresses``: this run's read, after the claim settled (or, for a server found with the hostname, just before
        # the owner's save); an address that does not show the hostname is written, never assumed set.
        self.panel.set_domain(server_id, self.hostname, addresses, main_ip=row.get("ip"))
        for family, wanted in (("ipv4", self.counts["ipv4"]), ("ipv6", self.counts["ipv6"])):
            have = [a["ip"] for a in addresses if is_ipv6(a["ip"]) == (family == "ipv6") and a["ip"] != row.get("ip")]
            self.surplus.extend(have[wanted:])
            for dummy in range(max(wanted - len(have), 0)):
                added.append(self._add_address(server_id, family, [a["ip"] for a in addresses] + added))
        return addresses

    def _roll_back(self, server_id, added, took, main_ip):
        """Put back what this run did, so no server is left half-allocated; None, or why it could not.

        Undoing is idempotent (a deleted address is gone, no owner stays no owner) and each pass
        reads the server again before it writes, so a pass cut short by an error is repeated,
        a bounded number of times, without writing anything blindly.
        """
        problem = None
        for attempt in range(ROLLBACK_PASSES):
            if attempt:
                time.sleep(attempt)
            try:
                for address in self.panel.addresses(server_id):
                    if address["ip"] in added:
                        self.panel.delete_address(server_id, address)
                if took:
                    # Owner first: while the hostname is still on the server, a rerun finds it and
                    # finishes the job, so a rollback cut short leaves nothing unnamed behind.
                    form = self.panel.server_form(server_id)
                    if form.get("owner") not in ("", "no_owner", None):
                        self.panel.edit_server(server_id, form=form, owner="no_owner")
                    self.panel.set_domain(server_id, FREE_HOSTNAME, main_ip=main_ip)
                    self.panel.claimed.discard(server_id)
                return None
            except DCIError as exc:
                problem = exc.msg
        return problem

    def present(self):
        """Find or claim the server, then finish the allocation (all or nothing)."""
        rows = self.rows if self.rows is not None else self.panel.servers()
        row = self.existing(rows)
        form = addresses = None
        if row is not None and not row.get("owner") and not self.panel.check_mode:
            # This hostname on a server nobody owns is a claim, of an interrupted run of this service or of one at
            # work now, and may still be overwritten by a claim another allocation sent before it landed: it is
            # taken only as a claim of this run would be, once a read after the settle wait still shows it.
            self.owner_account()
            row, form, addresses = self.claim_free_server(rows, own=row)
        elif row is None:
            if self.panel.check_mode:
                self.owner_account()
                row = self.candidates(rows)[0]
                self.changed = True
            else:
                self.owner_account()  # an unknown owner fails before anything is written
                row, form, addresses = self.claim_free_server(rows)
        if self.panel.check_mode:
            self._plan_in_check_mode(row, self.panel.addresses(row["id"], with_domains=True))
            return self
        server_id = row["id"]
        took = not row.get("owner")  # a free server, or our own half-done claim
        if addresses is None:
            addresses = self.panel.addresses(server_id, with_domains=True)
        self.before = {
            "server_id": server_id,
            "owner": self.panel.owner_login(row),
            "hostname": FREE_HOSTNAME if self.changed else row["hostname"],
            "ipv4": [a["ip"] for a in addresses if not is_ipv6(a["ip"])],
            "ipv6": [a["ip"] for a in addresses if is_ipv6(a["ip"])],
        }
        added = []
        writes_before = self.panel.writes.made
        try:
            addresses = self._finish(row, form, addresses, added)
        except DCIError as exc:
            problem = self._roll_back(server_id, added, took, row.get("ip"))
            where = "server %s was put back free" % server_id if took else "the addresses added by this run were removed"
            if problem:
                where = "putting server %s back failed too (%s): check it in the panel" % (server_id, problem)
            raise OperationFailed("allocating server %s to %s failed: %s; %s" % (server_id, self.owner, exc.msg, where), cause=exc) from None
        self.changed = self.changed or self.panel.writes.made > writes_before
        row = self.row = dict(row, owner=self.owner, hostname=self.hostname)
        self.addresses = [a for a in addresses if a["ip"] not in added] + [{"ip": ip} for ip in added]
        self.server = self.panel.describe_server(row, addresses=self.addresses)
        self.after = {"server_id": server_id, "owner": self.owner, "hostname": self.hostname, "ipv4": self.server["ipv4"], "ipv6": self.server["ipv6"]}
        return self

    def _plan_in_check_mode(self, row, addresses):
        server = self.panel.describe_server(row, addresses=addresses)
        missing = {}
        for family in ("ipv4", "ipv6"):
            have = [ip for ip in server[family] if ip != server["main_ip"]]
            self.surplus.extend(have[self.counts[family] :])
            missing[family] = max(self.counts[family] - len(have), 0)
        unnamed = any("domain" not in a or not same_hostname(a["domain"], self.hostname) for a in addresses)
        if not self.panel.owned_by(row, self.owner) or not same_hostname(row.get("hostname"), self.hostname) or unnamed or missing["ipv4"] or missing["ipv6"]:
            self.changed = True
        self.before = {"server_id": row["id"], "owner": self.panel.owner_login(row), "hostname": row.get("hostname", "")}
        server.update(owner=self.owner, hostname=self.hostname)
        self.server = server
        self.after = {
            "server_id": row["id"],
            "owner": self.owner,
            "hostname": self.hostname,
            "new_ipv4_addresses": missing["ipv4"],
            "new_ipv6_addresses": missing["ipv6"],
        }
