# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: converging one service.

WHMCS decides, the collection converges: a run reads the service's status in WHMCS now, works out its
settings (``rules``) and its panel (``dcimanager_panels``), decides with the drift function
(``drift.decide``, the same as the reconcile's plan), acts (provision, block, unblock, release, clear the
addresses), and, after its last write, reads WHMCS once more and converges again when the status changed
meanwhile. The only status it writes is the one ISPsystem's module writes, Pending -> Active after a
provisioning, and only while WHMCS still shows Pending; for products on the collection's own WHMCS
module none at all. A person running a manual playbook decides instead (``set``): the status of the
state they asked for, written only while WHMCS still shows the status the run started from.
Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import threading
import time

from .._dci.panel import fleet_server, same_hostname
from .._transport import ClientError
from .._wait import WaitTimeout
from .._writes import CANNOT_TELL, Writes
from .account import Account
from .allocation import Allocation
from .billing import PROVISIONING_MODULE, ServiceUpdate, read_service
from .drift import BLOCK, CLEAR_IP, CONFLICT, NO_PANEL, PROVISION, RELEASE, STATE_OF_STATUS, UNBLOCK, decide, decision, panel_of, subject_of
from .errors import NotTheirs, OperationFailed
from .install import Install, check_still_theirs
from .panel import Panel
from .release import Release
from .rules import settings as service_settings

# Rounds of one service's convergence: a status WHMCS changed while a round acted is converged again.
MAX_ROUNDS = 3
FOLLOW, SET = "follow", "set"
# The status each state stands for, written by a manual run (``set``).
STATUS_OF_STATE = {"active": "Active", "suspended": "Suspended", "terminated": "Terminated"}
# The line the collection's WHMCS module writes into a service's admin notes when its CreateAccount gave up waiting.
CREATE_GAVE_UP = "ispsystem-dcimanager: create gave up"
# The line a run writes there when it failed, for that CreateAccount to report.
RUN_FAILED = "ispsystem-dcimanager: run failed"
# Settings a run may be given for one service (the role's dedicated_server_* variables), none of them secret.
SETTING_NAMES = ("owner", "hostname", "domain_template", "package", "os_template", "recipe", "ipv4_count", "ipv6_count", "ip_group", "wait_for_install")
SECRET_NAMES = ("owner_password", "root_password")


class Run:
    """What every service of one run shares: ``panels`` (a Panels), ``whmcs_client`` (a WHMCSClient, or None),
    ``products`` (dedicated_server_products), ``policy`` (FOLLOW or SET), the waits and the claim's timings,
    ``check_mode`` and ``warn(host, message)``."""

    def __init__(
        self,
        panels,
        whmcs_client=None,
        products=None,
        policy=FOLLOW,
        check_mode=False,
        wait_for_install=True,
        install_timeout=720,
        settle_time=60,
        poll_interval=15,
        wait_timeout=600,
        claim_bound=2.0,
        claim_settle=4.0,
        warn=None,
    ):
        self.panels = panels
        self.whmcs_client = whmcs_client
        self.products = products or {}
        self.policy = policy
        self.check_mode = check_mode
        self.wait_for_install = wait_for_install
        self.install_timeout = install_timeout
        self.settle_time = settle_time
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self.claim_bound = claim_bound
        self.claim_settle = claim_settle
        self.warn = warn or (lambda host, message: None)
        self._modules = {}
        self._modules_lock = threading.Lock()  # held while a product is read: the services that ask meanwhile wait for it

    def product_module(self, product_id):
        """The WHMCS provisioning module of a product (GetProducts, read once per product and run)."""
        key = str(product_id)
        with self._modules_lock:
            return self._product_module(key, product_id)

    def _product_module(self, key, product_id):
        if key not in self._modules:
            products = self.whmcs_client.get_products(pid=product_id) if self.whmcs_client is not None and product_id else []
            self._modules[key] = next((p.get("module") or "" for p in products if str(p.get("pid")) == key), "")
        return self._modules[key]


class ServiceConvergence:
    """One service of a run: ``entry`` names it (``service_id`` and/or settings, ``state`` for a manual run,
    ``new_service``, and what a plan already read: ``status``, ``panel_id``, ``servers``); ``secrets`` are its
    passwords when given rather than read from WHMCS. ``run()`` returns the service's result."""

    def __init__(self, run, entry, secrets=None):
        self.run_ = run
        self.entry = entry
        self.secrets = secrets or {}
        self.host = entry.get("host") or ("whmcs-%s" % entry["service_id"] if entry.get("service_id") not in (None, "") else "service")
        self.writes = Writes(
            check_mode=run.check_mode,
            warn=lambda message: run.warn(self.host, message),
            deadline=max(60, run.wait_timeout),
            late_copy=run.claim_settle - run.claim_bound,
        )
        self.result = {
            "host": self.host,
            "service_id": entry.get("service_id"),
            "panel_id": None,
            "status": None,
            "state": entry.get("state"),
            "action": None,
            "conflict": None,
            "reason": "",
            "changed": False,
            "failed": False,
            "msg": "",
            "server": None,
            "rounds": 0,
            "status_kept": None,
        }
        self.settings = None
        self.panel = None
        self.product_id = None
        self.left_status = None  # the WHMCS status as this run last read or wrote it
        self.read_after_writes = None  # a read of the service in WHMCS made after this round's last write, or None

    # Reading ---------------------------------------------------------------------------------------

    def read_whmcs(self):
        """The service and its client's other services from WHMCS, now; ``{}`` for a run without WHMCS."""
        service_id = self.entry.get("service_id")
        if service_id in (None, ""):
            return {}
        if self.run_.whmcs_client is None:
            raise OperationFailed("service %s: no WHMCS connection to read it from (whmcs_url ...)" % service_id)
        service, others = read_service(self.run_.whmcs_client, service_id, include_password=True, client_services=True)
        return {"service": service, "client_services": others}

    def work_out(self, whmcs):
        given = self.entry.get("settings") or {}
        state = self.entry.get("state") or STATE_OF_STATUS.get((whmcs.get("service") or {}).get("status"))
        found = service_settings(
            whmcs,
            state=state,
            service_id=self.entry.get("service_id"),
            products=self.run_.products,
            new_service=self.entry.get("new_service", False),
            **dict(
                [(name, given.get(name)) for name in SETTING_NAMES if given.get(name) is not None] + [(name, self.secrets.get(name)) for name in SECRET_NAMES]
            ),
        )
        return state, found

    def panel_for(self, whmcs):
        """The panel of the service's WHMCS server entry (the entry's own when it names one), or None."""
        if self.entry.get("panel_id") not in (None, ""):
            key = panel_of(self.entry["panel_id"])
        else:
            key = self.run_.panels.key_of((whmcs.get("service") or {}).get("server_id"))
        self.result["panel_id"] = key
        if key is None or not self.run_.panels.has(key):
            return None
        return Panel(
            self.run_.panels.client(key),
            self.writes,
            view=self.run_.panels.view(key),
            wait_timeout=self.run_.wait_timeout,
            poll_interval=self.run_.poll_interval,
            warn=lambda message: self.run_.warn(self.host, message),
            name=key if self.run_.panels.several else None,
            shared_users=lambda: self.run_.panels.users(key),
            claimed=self.run_.panels.claimed(key),
        )

    def servers_of(self, hostname, status, first_round):
        """The panel's servers carrying ``hostname`` (as the plan shows them) and the main-address index, or None."""
        planned = self.entry.get("servers")
        if first_round and planned is not None and self.entry.get("status") == status:
            return list(planned), None  # what the plan read, passed on rather than read again
        rows = self.panel.servers()
        servers = []
        by_ip = {}
        for row in rows:
            shown = fleet_server(dict(row, owner_login=self.panel.owner_login(row) if row.get("owner") else ""))
            if same_hostname(row.get("hostname"), hostname):
                servers.append(shown)
            if shown["main_ip"]:
                by_ip.setdefault(shown["main_ip"], []).append(shown)
        return servers, by_ip

    # Converging ------------------------------------------------------------------------------------

    def converge(self):
        try:
            self._converge()
        except (ClientError, WaitTimeout) as exc:
            self.result["failed"] = True
            self.result["msg"] = getattr(exc, "msg", None) or str(exc)
            if getattr(exc, "api_error", None):
                self.result["api_error"] = exc.api_error
            if isinstance(exc, OperationFailed) and exc.details.get("server"):
                self.result["server"] = exc.details["server"]
            self.note_failure()
        self.result["changed"] = self.writes.changed
        return self.result

    def note_failure(self):
        """A Pending service of the collection's WHMCS module: the failure goes into its admin notes, where the module's
        CreateAccount, waiting for the run, reads it (in event-source mode it has no other way to learn it)."""
        if self.run_.check_mode or self.result["status"] != "Pending" or self.product_id is None:
            return
        try:
            if self.run_.product_module(self.product_id) != PROVISIONING_MODULE:
                return
            notes = (self.run_.whmcs_client.get_service(self.entry["service_id"]) or {}).get("notes") or ""
            kept = [line for line in notes.splitlines() if not line.startswith(RUN_FAILED)]
            line = "%s %s: %s" % (RUN_FAILED, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time())), " ".join(self.result["msg"].split()))
            ServiceUpdate(self.run_.whmcs_client, self.writes, self.entry["service_id"], notes="\n".join(kept + [line])).apply()
        except (ClientError, WaitTimeout) as exc:
            self.run_.warn(self.host, "the failure could not be noted in service %s's notes (%s)" % (self.entry["service_id"], getattr(exc, "msg", exc)))

    def _converge(self):
        for round_ in range(1, MAX_ROUNDS + 1):
            self.result["rounds"] = round_
            whmcs = self.read_whmcs()
            service = whmcs.get("service") or {}
            status = service.get("status")
            self.product_id = service.get("product_id")
            state, self.settings = self.work_out(whmcs)
            self.result.update(status=status, state=state, hostname=self.settings["hostname"])
            if state is None:
                self.result["reason"] = "%s in WHMCS: left alone (only Pending, Active, Suspended, Terminated and Cancelled are converged)" % status
                return
            self.panel = self.panel_for(whmcs)
            if self.panel is None:
                made = decision(
                    CONFLICT,
                    "no panel for WHMCS server %s: add its connection to dcimanager_panels (keyed by the WHMCS server id); the service "
                    "is never handled on another panel" % (self.result["panel_id"] or service.get("server_id") or "(none)"),
                    conflict=NO_PANEL,
                )
            elif not self.settings["hostname"]:
                made = decide(state, subject_of(self.settings), [])
            else:
                servers, by_ip = self.servers_of(self.settings["hostname"], status, round_ == 1)
                made = decide(state, subject_of(self.settings), servers, by_ip)
            self.result.update(conflict=made["conflict"], reason=made["reason"])
            if made["action"] is not None or round_ == 1:
                self.result["action"] = made["action"]  # what was done (a later round in sync keeps it)
            self.left_status = status
            if made["action"] == CONFLICT:
                raise OperationFailed("service %s (%s): %s" % (self.result["service_id"], self.settings["hostname"] or "no hostname", made["reason"]))
            if made["action"] == PROVISION and self.settings["missing"]:
                raise OperationFailed(
                    "service %s: no value for %s; set the dedicated_server_* variable, or the product's entry in dedicated_server_products "
                    "(product id %s)" % (self.result["service_id"] or "(no WHMCS service)", ", ".join(self.settings["missing"]), self.product_id or "?")
                )
            self.act(made, status, whmcs)
            if self.run_.policy == SET or self.run_.check_mode or not self.settings["has_service"]:
                return
            # The read the round's WHMCS update made after its write serves as the look after the last write.
            now = self.read_after_writes or self.run_.whmcs_client.get_service(self.entry["service_id"])
            if now is None or (now.get("status") or "") == (self.left_status or ""):
                return
            self.run_.warn(
                self.host,
                "WHMCS changed service %s from %s to %s while this run acted: converging again" % (self.result["service_id"], status, now.get("status")),
            )
        self.run_.warn(self.host, "service %s: WHMCS kept changing its status; the next event or reconcile converges it" % self.result["service_id"])

    def act(self, made, status, whmcs):
        """Do what the decision says, then what WHMCS needs to hear of it."""
        action = made["action"]
        self.read_after_writes = None
        if self.run_.check_mode:
            # Check mode returns the plan: the decision, from what the run read; nothing more is read or written.
            self.writes.changed = action is not None or self._status_to_write(status, None) is not None
            return
        server_id = made["server_id"]
        if action == PROVISION:
            self.provision(made, status, whmcs)
            return
        if action == UNBLOCK:
            self.panel.unblock(server_id, self.run_.wait_timeout)
        elif action == BLOCK:
            self.panel.block(server_id, self.run_.wait_timeout)
        elif action == RELEASE:
            released = Release(
                self.panel, hostname=self.settings["hostname"], main_ip=self.settings["dedicated_ip"] or None, wait_timeout=self.run_.wait_timeout
            ).run()
            self.result["server"] = released.server
        if action in (UNBLOCK, BLOCK):
            self.result["server"] = self.panel.describe_server(self.panel.row(server_id))
        elif action is None and len(made.get("servers") or ()) == 1:
            self.result["server"] = made["servers"][0]  # in sync: the server as the look found it
        clear = action in (RELEASE, CLEAR_IP)
        self.tell_whmcs(status, whmcs, dedicated_ip="" if clear else None, assigned_ips=[] if clear else None)

    def _status_to_write(self, status, provisioned):
        """The WHMCS status this run may write (None: none), by the run's policy."""
        if not self.settings["has_service"]:
            return None
        if self.run_.product_module(self.product_id) == PROVISIONING_MODULE:
            return None  # WHMCS's own module sets the status from its functions' answers
        if self.run_.policy == SET:
            wanted = STATUS_OF_STATE[self.result["state"]]
            if self.result["state"] == "terminated" and status in ("Terminated", "Cancelled"):
                return None
            return wanted if wanted != status else None
        return "Active" if provisioned and status == "Pending" else None

    def tell_whmcs(self, status, whmcs, provisioned=False, **fields):
        """Write the service's fields (and the status the policy allows, while WHMCS still shows ``status``)."""
        if not self.settings["has_service"]:
            return None
        wanted = dict((key, value) for key, value in fields.items() if value is not None)
        new_status = self._status_to_write(status, provisioned)
        if new_status is not None:
            wanted["status"] = new_status
        if not wanted:
            return None
        update = ServiceUpdate(self.run_.whmcs_client, self.writes, self.entry["service_id"], status_if=status, **wanted).apply()
        self.read_after_writes = update.latest
        if "status" in update.wanted:
            self.left_status = update.wanted["status"]  # this run's own write is no change of WHMCS's mind
        if update.status_kept is not None:
            self.result["status_kept"] = update.status_kept
            self.run_.warn(
                self.host,
                "WHMCS changed service %s from %s to %s meanwhile: its status was left as WHMCS has it"
                % (self.entry["service_id"], status, update.status_kept),
            )
        return update

    # Provisioning --------------------------------------------------------------------------------

    def provision(self, made, status, whmcs):
        found = self.settings
        had_server = bool(made.get("servers"))
        account = Account(self.panel, found["owner"], found["owner_password"]).present()
        allocation = Allocation(
            self.panel,
            found["owner"],
            found["hostname"],
            package=found["package"],
            ipv4_count=found["ipv4_count"],
            ipv6_count=found["ipv6_count"],
            ip_group=found["ip_group"],
            claim_bound=self.run_.claim_bound,
            claim_settle=self.run_.claim_settle,
            rows=self.panel.view.rows(after=time.monotonic() - self.run_.poll_interval),
            account=account.row,
            defer_owner=True,  # saved with the install record, one save for two
        )
        try:
            allocation.present()
        except (ClientError, WaitTimeout) as exc:
            # All or nothing already: the allocation put back what it did, and a server that shows another
            # allocation's claim or owner is never this run's to release.
            self._failed_activation(exc)
            raise
        server = allocation.server
        self.result["claim"] = allocation.claim
        try:
            # Started and waited for in one pass: nothing read twice. The install record gets no "finished" note: WHMCS
            # is told right after, and a rerun that finds the record only waits out settle_time.
            Install(
                self.panel,
                found["os_template"],
                found["root_password"],
                recipe=found["recipe"] or None,
                wait=found["wait_for_install"],
                wait_timeout=self.run_.install_timeout,
                settle_time=self.run_.settle_time,
                owner=found["owner"],
                hostname=found["hostname"],
                addresses=allocation.addresses,
                note_finished=False,
                account=account.row,
                templates=self.run_.panels.templates(self.result["panel_id"]),
                save_owner=allocation.owner_to_save,
            ).run(allocation.row, form=allocation.form)
        except (ClientError, WaitTimeout) as exc:
            if not had_server:
                self._put_back(exc, allocation.row, owner_saved=allocation.owner_to_save is None)
            raise
        self.result["server"] = server
        self.tell_whmcs(
            status,
            whmcs,
            provisioned=True,
            dedicated_ip=server["main_ip"],
            assigned_ips=server["ipv4"][1:] + server["ipv6"],
            username=found["owner"],
            password=found["owner_password"] if found["reused_account"] else None,
        )
        self.finish_module_create(status)

    def _failed_activation(self, exc, what=None):
        """Name the service in the message of the failure that ended its activation, and ``what`` became of its server
        (a sentence); WHMCS is left as it is."""
        stays = "the service stays %s in WHMCS" % (self.result["status"] or "as it was")
        exc.msg = "activation of service %s (%s) failed: %s. %s" % (
            self.result["service_id"] or "",
            self.settings["hostname"],
            exc.msg,
            "%s; %s" % (what, stays) if what else stays[0].upper() + stays[1:],
        )

    def _put_back(self, exc, row, owner_saved=True):
        """A failed install gives back the server this run allocated (``row``), but only while the server still
        carries the service's hostname and owner: one that shows another allocation's claim or owner may be another
        customer's, and is left as it is. ``owner_saved=False``: the owner was left to the install's save, which may
        not have been made, so a server nobody owns with the hostname is this run's claim, given back too."""
        if isinstance(exc, NotTheirs):
            self._failed_activation(exc, "Server %s was not put back free" % row["id"])
            return
        try:
            check_still_theirs(
                self.panel,
                row,
                self.panel.server_form(row["id"]),
                self.settings["hostname"],
                self.settings["owner"],
                refused="it was not put back free",
                nobody_ok=not owner_saved,
            )
            Release(self.panel, server_id=row["id"], wait_timeout=self.run_.wait_timeout).run()
        except NotTheirs as problem:
            self._failed_activation(exc, problem.msg[0].upper() + problem.msg[1:])
            return
        except (ClientError, WaitTimeout) as problem:
            exc.msg = "%s; putting the server back free failed too (%s): check it in the panel" % (exc.msg, getattr(problem, "msg", problem))
            return
        self._failed_activation(exc, "The server was put back free")

    def finish_module_create(self, status):
        """A Pending service of the collection's WHMCS module whose CreateAccount gave up waiting: the create is
        finished through WHMCS (ModuleCreate), which runs the module's CreateAccount again; it finds the server there."""
        if status != "Pending" or self.run_.product_module(self.product_id) != PROVISIONING_MODULE:
            return
        notes = (self.run_.whmcs_client.get_service(self.entry["service_id"]) or {}).get("notes") or ""
        if CREATE_GAVE_UP not in notes:
            return
        service_id = self.entry["service_id"]
        self.read_after_writes = None  # the writes below come after it

        def read_back():
            now = self.run_.whmcs_client.get_service(service_id) or {}
            return {} if now.get("status") == "Active" else CANNOT_TELL

        self.writes.change(lambda: self.run_.whmcs_client.module_create(service_id), read_back, "ModuleCreate of service %s" % service_id)
        self.left_status = "Active"  # WHMCS's module create, which this run asked for
        kept = "\n".join(line for line in notes.splitlines() if not line.startswith(CREATE_GAVE_UP))
        ServiceUpdate(self.run_.whmcs_client, self.writes, service_id, notes=kept).apply()
