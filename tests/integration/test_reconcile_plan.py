# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The reconcile's drift plan, end to end: real ansible-playbook ispsystem.dcimanager.reconcile against
both simulators loaded with tests/simulators/fleet.py's consistent shop and chosen drift.

What is asserted comes from the simulators' call logs and states: the plan is printed; only the
drifted services are touched (no call names an in-sync service or its server, no module runs for
one); --check writes nothing; conflicts fail the run at the end while the other services are done;
reconcile_full=true still converges service by service; a panel that cannot be read, or shows no
server, fails the run before anything is changed.
"""

from __future__ import annotations

import pytest
import yaml

from harness import FAST, run_ansible_playbook
from simulators.dcimanager import DCImanagerSimulator
from simulators.fleet import drift_plan, make_consistent_shop
from simulators.whmcs import WHMCSSimulator

STATUSES = ["Pending", "Active", "Suspended", "Terminated", "Cancelled", "Fraud"]
# What the plan play runs (once, on the play's first host); nothing else may run for an in-sync service.
# The tasks the plan and the apply run once for the whole play (on its first host): no service's own.
PLAN_TASKS = {
    "Plan from one read of each panel's server list",
    "Read DCImanager's server list once",
    "Read each panel's server list once",
    "Compare every service with its panel",
    "Show the plan",
    "Keep the plan on localhost for the playbook's last play",
    "Converge the services that drifted",
    "Converge the services to WHMCS",
    "Keep the run's result for the playbook's last play",
    "Record each service's result on its host",
    "Group the services in conflict",
}
CHANGES = {"active_blocked": 1, "suspended_unblocked": 1, "terminated_allocated": 1, "terminated_ip_left": 1}
CONFLICTS = {"foreign_owner": 1, "hostname_twice": 1, "active_no_server": 1, "ip_on_other_server": 1, "no_domain_duplicate": 1}


class DriftShop:
    """Both simulators holding a consistent shop with drift, and what a playbook run needs."""

    def __init__(self, directory, n, pending, drift, seed=3):
        self.args = dict(n=n, pending=pending, drift=drift, seed=seed)
        dci_state, whmcs_state, products = make_consistent_shop(n, pending=pending, drift=drift, seed=seed)
        self.original = whmcs_state["services"]
        self.dci = DCImanagerSimulator(state=dci_state, tls_dir=str(directory / "dci-tls"), **FAST)
        self.whmcs = WHMCSSimulator(state=whmcs_state, tls_dir=str(directory / "whmcs-tls"))
        self.dci.start()
        self.whmcs.start()
        self.directory = directory
        self.env = {
            **self.dci.env(),
            **self.whmcs.env(),
            "DCIMANAGER_LOCK_DIR": str(directory),
            # An inventory that cannot be read must fail the run (as AWX does).
            "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
        }
        (directory / "products.yml").write_text(yaml.safe_dump({"dedicated_server_products": products}))
        self.inventory = directory / "shop.whmcs.yml"
        self.inventory.write_text(yaml.safe_dump({"plugin": "ispsystem.dcimanager.whmcs", "statuses": STATUSES}))

    def close(self):
        self.dci.stop()
        self.whmcs.close()

    def drifted(self):
        return drift_plan(**self.args)

    def reconcile(self, *args, check=False):
        self.dci.clear_calls()
        self.whmcs.clear_calls()
        run = run_ansible_playbook(
            self.directory,
            ["ispsystem.dcimanager.reconcile", "-e", "@products.yml", "-e", "dedicated_server_poll_interval=1", "-e", "dedicated_server_install_settle_time=1"]
            + list(args),
            env=self.env,
            check=check,
            inventory=str(self.inventory),
        )
        assert "Traceback" not in run.output, run.output
        return run

    def writes(self):
        return self.dci.writes() + self.whmcs.writes()

    def calls_naming(self, service_ids):
        """The API calls that name one of these services, or the server of an Active or Suspended one (service
        1000 + i has server 5000 + i; a Terminated service's old server is free, any allocation may take it)."""
        statuses = dict((s["id"], s["status"]) for s in self.original)
        servers = set(str(4000 + sid) for sid in service_ids if statuses[sid] in ("Active", "Suspended"))
        services = set(str(sid) for sid in service_ids)
        named = [c for c in self.dci.calls if str(c["params"].get("elid", "")) in servers or str(c["params"].get("plid", "")) in servers]
        named += [c for c in self.whmcs.calls if str(c["params"].get("serviceid", "")) in services]
        return named

    def blocked(self, server_id):
        return self.dci.server_state(server_id)["blocked"]


@pytest.fixture
def drift_shop(tmp_path):
    shops = []

    def make(n, pending, drift):
        shops.append(DriftShop(tmp_path, n, pending, drift))
        return shops[-1]

    yield make
    for shop in shops:
        shop.close()


def task_name(record):
    """A recorded task's name without its role's prefix."""
    return record["task"].split(" : ", 1)[-1]


def hosts_that_ran(run):
    """The services (hosts) that ran any task of their own (not the plan's and the apply's, run once for all)."""
    return {r["host"] for r in run.records if r["host"] != "localhost" and task_name(r) not in PLAN_TASKS and "Validating arguments" not in task_name(r)}


def converged(run):
    """fleet_apply's result: {host: its service's result} of the services it converged."""
    [applied] = [r["result"] for r in run.records if task_name(r) == "Converge the services to WHMCS"]
    return dict((service["host"], service) for service in applied["services"])


def test_plan_then_only_the_drifted_services(drift_shop):
    shop = drift_shop(30, 1, dict(CHANGES, **CONFLICTS))
    drifted = {e["service_id"]: e for e in shop.drifted()}
    changes = {sid for sid, e in drifted.items() if e["drift"] in CHANGES} | {1000}  # 1000: the Pending one
    conflicts = {sid for sid, e in drifted.items() if e["drift"] in CONFLICTS}
    conflicts |= {e["other_service_id"] for e in drifted.values() if e["other_service_id"]}
    in_sync = {s["id"] for s in shop.original} - changes - conflicts
    assert len(in_sync) == 31 - 5 - 6

    # --check: the plan, and nothing else.
    check = shop.reconcile(check=True)
    assert shop.writes() == [], [c["name"] for c in shop.writes()]
    assert "%d services, " % 31 in check.output and "%d in sync, 5 to change, 6 in conflict" % len(in_sync) in check.output
    for column in ("service", "WHMCS status", "panel state", "action", "reason"):
        assert column in check.output
    assert hosts_that_ran(check) == {"whmcs-%s" % sid for sid in conflicts}  # only their conflict reports
    assert check.rc == 2
    assert [c["name"] for c in shop.dci.calls] == ["auth", "server"]  # the plan's one read of the panel

    # The real run: the five services that drifted are converged, the conflicts fail at the end.
    run = shop.reconcile()
    assert run.rc == 2, run.output
    assert shop.calls_naming(in_sync) == []
    assert not hosts_that_ran(run) & {"whmcs-%s" % sid for sid in in_sync}
    assert set(converged(run)) == {"whmcs-%s" % sid for sid in changes}
    assert not any(service["failed"] for service in converged(run).values())
    by_kind = {e["drift"]: e for e in drifted.values()}
    assert shop.blocked(by_kind["active_blocked"]["server_id"]) is False
    assert shop.blocked(by_kind["suspended_unblocked"]["server_id"]) is True
    assert shop.dci.server_state(by_kind["terminated_allocated"]["server_id"])["owner"] is None
    assert shop.whmcs.service(by_kind["terminated_ip_left"]["service_id"])["dedicatedip"] == ""
    assert shop.whmcs.service(1000)["status"] == "Active" and shop.whmcs.service(1000)["dedicatedip"]
    # Conflicts: reported one by one, after the summary, and left as they were.
    failed = {r["host"]: r["result"]["msg"] for r in run.records if r["status"] == "failed"}
    assert set(failed) == {"whmcs-%s" % sid for sid in conflicts}
    assert "conflict foreign_owner" in failed["whmcs-%s" % by_kind["foreign_owner"]["service_id"]]
    assert "conflict hostname_on_two_servers" in failed["whmcs-%s" % by_kind["hostname_twice"]["service_id"]]
    assert "conflict no_server" in failed["whmcs-%s" % by_kind["active_no_server"]["service_id"]]
    assert "conflict ip_on_other_server" in failed["whmcs-%s" % by_kind["ip_on_other_server"]["service_id"]]
    assert "conflict hostname_shared" in failed["whmcs-%s" % by_kind["no_domain_duplicate"]["service_id"]]
    assert run.output.index("PLAY [Summary]") < run.output.index("PLAY [Fail on the conflicts and on a panel that cannot be trusted]")
    assert shop.calls_naming(conflicts) == [] or all(not c["write"] for c in shop.calls_naming(conflicts))
    assert shop.dci.server_state(by_kind["foreign_owner"]["server_id"])["owner"] is not None

    # Again: only the conflicts are left, nothing is written.
    again = shop.reconcile()
    assert again.rc == 2 and shop.writes() == []
    assert "%d in sync, 0 to change, 6 in conflict" % (len(in_sync) + 5) in again.output

    # --limit: the plan covers those services only.
    one = "whmcs-%s" % by_kind["foreign_owner"]["service_id"]
    limited = shop.reconcile("--limit", one)
    assert "1 services, " in limited.output and "0 in sync, 0 to change, 1 in conflict" in limited.output
    assert limited.rc == 2 and {r["host"] for r in limited.records} == {one}


def test_reconcile_full_still_runs_every_service(drift_shop):
    shop = drift_shop(10, 0, {"active_blocked": 1, "suspended_unblocked": 1})
    by_kind = {e["drift"]: e for e in shop.drifted()}
    run = shop.reconcile("-e", "reconcile_full=true")
    assert run.rc == 0, run.output
    assert "Show the plan" not in {task_name(r) for r in run.records}
    assert shop.blocked(by_kind["active_blocked"]["server_id"]) is False
    assert shop.blocked(by_kind["suspended_unblocked"]["server_id"]) is True
    # Every service of the inventory was converged, each read from WHMCS: in sync or not.
    assert set(converged(run)) == {"whmcs-%s" % s["id"] for s in shop.original}
    assert sorted(service["action"] or "-" for service in converged(run).values() if service["action"]) == ["block", "unblock"]


def test_a_panel_that_cannot_be_read_changes_nothing(drift_shop):
    shop = drift_shop(10, 1, {"active_blocked": 1})
    password = shop.env["DCIMANAGER_PASSWORD"]
    shop.env["DCIMANAGER_PASSWORD"] = "not-the-password"
    run = shop.reconcile()
    assert run.rc != 0 and shop.writes() == []
    assert hosts_that_ran(run) == set()
    assert [task_name(r) for r in run.records if r["status"] == "failed"] == ["Read DCImanager's server list once"]
    assert "Converge the services to WHMCS" not in {task_name(r) for r in run.records}

    # A panel that shows no server at all: the plan says so, and nothing is acted on.
    shop.env["DCIMANAGER_PASSWORD"] = password
    state = shop.dci.dump_state()
    state["servers"] = []
    shop.dci.load_state(state)
    run = shop.reconcile()
    assert run.rc != 0 and shop.writes() == []
    assert "server_list_empty" in run.output and "came back empty" in run.output
    assert hosts_that_ran(run) == set()
    assert [task_name(r) for r in run.records if r["status"] == "failed"] == ["Report the panels whose server list cannot be trusted"]
    assert converged(run) == {}  # the panel's services held back
