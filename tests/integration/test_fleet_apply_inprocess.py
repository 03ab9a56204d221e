# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""fleet_apply's engine (module_utils/_fleet_apply.py, _service/) in-process, on a virtual clock, against both simulators.

What the reconcile, the converge playbook and the role run through: the drift plan applied, WHMCS as
the truth (status read now, read again after the last write, no status written but Pending -> Active),
products on the collection's WHMCS module (no status, the Create that gave up finished), several panels,
one shared server list for every wait, and check mode that writes nothing. One service at a time
(parallelism 1): the virtual clock is one for the whole process, so services in flight at once would
each see the others' pauses as their own (the playbook tests run them side by side in real time).
"""

from __future__ import annotations

import importlib

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ispsystem.dcimanager.plugins.module_utils import _fleet_apply
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.errors import DCIError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.panel import fleet_server, read_fleet
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service import allocation, converge
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.drift import plan
from inprocess import PACKAGE, PANEL_TIMINGS, TIMED, VirtualClock, another_allocation
from simulators.dcimanager import DCImanagerSimulator
from simulators.shop import make_shop
from simulators.whmcs import WHMCSSimulator

pytestmark = pytest.mark.quick

MODULE = "ispsystem_dcimanager"


class Shop:
    """The sample shop (simulators/shop.py) on one or more panels, and fleet_apply's options for it."""

    def __init__(self, tmp_path, monkeypatch, server_ids=None):
        dci_states, whmcs_state, self.products = make_shop(server_ids)
        if server_ids is None:
            dci_states = {"1": dci_states}
        self.panels = {}
        for key, state in dci_states.items():
            self.panels[key] = DCImanagerSimulator(state=state, tls_dir=str(tmp_path / ("dci-tls-" + key)), **PANEL_TIMINGS)
            self.panels[key].start()
        self.whmcs = WHMCSSimulator(state=whmcs_state, tls_dir=str(tmp_path / "whmcs-tls"))
        self.whmcs.start()
        self.several = server_ids is not None
        self.clock = VirtualClock(*self.panels.values())
        for name in TIMED:
            monkeypatch.setattr(importlib.import_module(PACKAGE + name), "time", self.clock)

    @property
    def dci(self):
        return self.panels["1"]

    def close(self):
        for sim in self.panels.values():
            sim.stop()
        self.whmcs.close()

    def params(self, **options):
        args = dict(
            whmcs_url=self.whmcs.url,
            whmcs_identifier=self.whmcs.identifier,
            whmcs_secret=self.whmcs.secret,
            whmcs_ca_path=self.whmcs.ca_path,
            products=self.products,
            parallelism=1,
            poll_interval=5,
            settle_time=5,
        )
        if self.several:
            args["panels"] = dict(
                (key, dict(url=sim.url, username=sim.admin_user, password=sim.admin_password, ca_path=sim.ca_path)) for key, sim in self.panels.items()
            )
        else:
            args.update(api_url=self.dci.url, api_username=self.dci.admin_user, api_password=self.dci.admin_password, ca_path=self.dci.ca_path)
        args.update(options)
        validated = ArgumentSpecValidator(_fleet_apply.argument_spec()).validate(args)
        assert not validated.error_messages, validated.error_messages
        return validated.validated_parameters

    def apply(self, plan_, check_mode=False, **options):
        lines = []
        result = _fleet_apply.apply_plan(
            self.params(plan=plan_, **options), check_mode=check_mode, progress=lambda service, total: lines.append(service["line"])
        )
        result["lines"] = lines
        return result

    def plan(self):
        """The drift plan of every service, as the reconcile makes it (the inventory's host variables)."""
        items = [
            {
                "inventory_hostname": "whmcs-%s" % sid,
                "whmcs_service_id": sid,
                "whmcs_client_id": s["clientid"],
                "whmcs_product_id": s["pid"],
                "whmcs_status": s["status"],
                "whmcs_domain": s["domain"],
                "whmcs_dedicated_ip": s["dedicatedip"],
                "whmcs_assigned_ips": s["assignedips"].split(),
                "whmcs_username": s["username"],
                "whmcs_server_id": s["serverid"],
            }
            for sid, s in sorted(self.whmcs.services.items())
        ]
        servers = {}
        for key, sim in self.panels.items():
            from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.client import DCIClient  # pylint: disable=import-outside-toplevel

            client = DCIClient(sim.url, sim.admin_user, sim.admin_password, ca_path=sim.ca_path)
            servers[key] = [fleet_server(row) for row in read_fleet(client)]
            client.close()
        return plan(items, servers if self.several else servers["1"], products=self.products)

    def status_writes(self):
        """The statuses written to WHMCS: (service id, status) per UpdateClientProduct that set one."""
        return [(int(call["params"]["serviceid"]), call["params"]["status"]) for call in self.whmcs.writes() if "status" in call["params"]]

    def writes(self):
        return self.whmcs.writes() + [call for sim in self.panels.values() for call in sim.writes()]

    def clear_calls(self):
        self.whmcs.clear_calls()
        for sim in self.panels.values():
            sim.clear_calls()


@pytest.fixture
def shop(tmp_path, monkeypatch):
    shop_ = Shop(tmp_path, monkeypatch)
    yield shop_
    shop_.close()


def by_hostname(sim):
    found = {}
    for server in sim.dump_state()["servers"]:
        found.setdefault(server["addresses"][0]["domain"], []).append(server)
    return found


def test_the_plan_is_applied_and_a_rerun_changes_nothing(shop):
    made = shop.plan()
    assert sorted(row["service_id"] for row in made["changes"]) == [10, 11, 12, 20, 21, 22]

    checked = shop.apply(made, check_mode=True)
    assert shop.writes() == [], "check mode wrote: %s" % [call["name"] for call in shop.writes()]
    assert [(s["service_id"], s["action"]) for s in checked["services"]] == [(r["service_id"], r["action"]) for r in made["changes"]]
    assert all(line.split(": ")[1].startswith("would ") for line in checked["lines"]), checked["lines"]

    result = shop.apply(made)
    assert not result.get("failed"), result.get("msg")
    assert [s["action"] for s in result["services"]] == [r["action"] for r in made["changes"]]
    servers = by_hostname(shop.dci)
    for sid, hostname in ((10, "10.domain"), (11, "ada-second.example.net"), (12, "bob.example.net")):
        [server] = servers[hostname]
        assert shop.whmcs.service(sid)["status"] == "Active" and shop.whmcs.service(sid)["dedicatedip"] == server["main_ip"]
        assert server["installed_template"]
    assert shop.dci.server_state(101)["blocked"] is False and shop.dci.server_state(102)["blocked"] is True
    assert shop.dci.server_state(103)["owner"] is None and shop.whmcs.service(22)["dedicatedip"] == ""
    # WHMCS decides: the one status written is Pending -> Active, after each provisioning.
    assert sorted(shop.status_writes()) == [(10, "Active"), (11, "Active"), (12, "Active")]
    assert shop.whmcs.service(21)["status"] == "Suspended" and shop.whmcs.service(22)["status"] == "Terminated"
    # Each new allocation claimed its server with the timed claim.
    assert all(s["claim"]["server_id"] for s in result["services"] if s["action"] == "provision")
    # The owner went to the server in the save that recorded the install: one server.edit for both.
    users = {u["name"]: u["id"] for u in shop.dci.dump_state()["users"]}
    for sid, hostname, login in ((10, "10.domain", "ada"), (11, "ada-second.example.net", "ada"), (12, "bob.example.net", "bob")):
        [server] = servers[hostname]
        assert server["owner"] == users[login], (sid, server)
        saves = [c["params"] for c in shop.dci.writes() if c["name"] == "server.edit" and str(c["params"].get("elid")) == str(server["id"])]
        assert len(saves) == 1 and saves[0]["owner"] == users[login] and "ostemplate" not in saves[0] and saves[0]["notes"], saves

    shop.clear_calls()
    again = shop.apply(shop.plan())
    assert again["services"] == [] and shop.writes() == []


def test_a_status_changed_in_whmcs_meanwhile_is_converged_again(shop, monkeypatch):
    """An admin suspends the service while the run unblocks it: the run reads WHMCS again and blocks it."""
    act = converge.ServiceConvergence.act

    def act_then_admin_suspends(self, made, status, whmcs):
        act(self, made, status, whmcs)
        if self.result["rounds"] == 1:
            shop.whmcs.services[20]["status"] = "Suspended"

    monkeypatch.setattr(converge.ServiceConvergence, "act", act_then_admin_suspends)
    result = shop.apply({"service_id": 20})
    [service] = result["services"]
    assert not service["failed"], service["msg"]
    assert service["rounds"] == 2 and service["action"] == "block" and service["status"] == "Suspended"
    assert shop.dci.server_state(101)["blocked"] is True
    assert shop.whmcs.service(20)["status"] == "Suspended" and shop.status_writes() == []


def test_the_status_is_never_written_over_a_decision_whmcs_made_meanwhile(shop, monkeypatch):
    """Pending when read, Cancelled by the time the run writes back: WHMCS's Cancelled stands (and is converged)."""
    tell = converge.ServiceConvergence.tell_whmcs

    def cancelled_before_the_write(self, status, whmcs, provisioned=False, **fields):
        if provisioned:
            shop.whmcs.services[12]["status"] = "Cancelled"
        return tell(self, status, whmcs, provisioned, **fields)

    monkeypatch.setattr(converge.ServiceConvergence, "tell_whmcs", cancelled_before_the_write)
    result = shop.apply({"service_id": 12})
    [service] = result["services"]
    assert service["status_kept"] == "Cancelled" and shop.status_writes() == []
    assert shop.whmcs.service(12)["status"] == "Cancelled"
    # The next round converged it to Cancelled: its server is released again.
    assert service["rounds"] == 2 and service["action"] == "release"
    assert "bob.example.net" not in by_hostname(shop.dci)


def test_a_product_on_the_collections_whmcs_module_gets_addresses_and_no_status(shop):
    shop.whmcs.products[1]["module"] = MODULE
    result = shop.apply({"service_id": 10})
    [service] = result["services"]
    assert not service["failed"], service["msg"]
    assert shop.whmcs.service(10)["status"] == "Pending" and shop.whmcs.service(10)["dedicatedip"] == service["server"]["main_ip"]
    assert shop.status_writes() == []


def test_a_create_that_gave_up_is_finished_through_module_create(shop):
    shop.whmcs.products[1]["module"] = MODULE
    shop.whmcs.services[10]["notes"] = "VIP customer\nispsystem-dcimanager: create gave up 2026-12-03T10:00:00Z"
    result = shop.apply({"service_id": 10})
    assert not result["services"][0]["failed"], result["services"][0]["msg"]
    assert [call["name"] for call in shop.whmcs.writes() if call["name"] == "ModuleCreate"] == ["ModuleCreate"]
    assert shop.whmcs.service(10)["status"] == "Active"  # WHMCS's module create made it so, not the run
    assert shop.whmcs.service(10)["notes"] == "VIP customer"


def test_a_failed_activation_puts_the_server_back_and_leaves_the_service_pending(shop):
    state = shop.dci.dump_state()
    for server in state["servers"]:
        server["fail_install"] = True
    shop.dci.load_state(state)
    free_before = len(by_hostname(shop.dci)["free.ds"])
    result = shop.apply({"service_id": 10})
    [service] = result["services"]
    assert result["failed"] and service["failed"] and result["failed_hosts"] == ["whmcs-10"]
    assert "The server was put back free" in service["msg"] and "--limit whmcs-10" in result["msg"]
    assert len(by_hostname(shop.dci)["free.ds"]) == free_before
    assert shop.whmcs.service(10)["status"] == "Pending" and shop.whmcs.service(10)["dedicatedip"] == ""


def test_a_refused_save_of_the_owner_and_install_record_puts_the_claimed_server_back(shop, monkeypatch):
    """The owner is saved with the install record; when the panel refuses that save the server carries only this run's
    claim (its hostname, nobody as owner), and is put back free all the same."""
    edit_server = converge.Panel.edit_server

    def refuse_the_record(self, server_id, form=None, **changes):
        if "notes" in changes and "owner" in changes:
            raise DCIError("the panel refused: busy", error_type="busy", error_object="server")
        return edit_server(self, server_id, form=form, **changes)

    monkeypatch.setattr(converge.Panel, "edit_server", refuse_the_record)
    free_before = len(by_hostname(shop.dci)["free.ds"])
    result = shop.apply({"service_id": 10})
    [service] = result["services"]
    assert service["failed"] and "The server was put back free" in service["msg"], service["msg"]
    assert "10.domain" not in by_hostname(shop.dci) and len(by_hostname(shop.dci)["free.ds"]) == free_before
    assert shop.dci.installs == [] and shop.whmcs.service(10)["status"] == "Pending"


def test_a_claim_that_lands_on_another_allocations_server_takes_nothing_back(shop, monkeypatch):
    """Service 10's run stopped right after its free read, its clock with it (a paused virtual machine); meanwhile
    another controller gave that server to zoe. The run's claim lands over zoe's, its verify sees zoe's owner, and
    the run fails: it must not put back (release) the server, which is zoe's, powered on and installed."""
    main_address = allocation.Allocation.main_address
    taken = []

    def paused_after_the_read(self, row):
        main = main_address(self, row)
        if not taken:
            taken.append(row["id"])
            another_allocation(shop.dci, row["id"], "zoe.example.net", "zoe")
            with shop.dci.lock:
                next(s for s in shop.dci.state["servers"] if s["id"] == row["id"]).update(power="on", installed_template="ISPsystem__Debian-12-amd64")
        return main

    monkeypatch.setattr(allocation.Allocation, "main_address", paused_after_the_read)
    result = shop.apply({"service_id": 10})
    [service] = result["services"]
    assert service["failed"] and "carries hostname 10.domain but belongs to zoe" in service["msg"], service["msg"]
    server = shop.dci.server_state(taken[0])
    zoe = next(u for u in shop.dci.dump_state()["users"] if u["name"] == "zoe")
    assert server["owner"] == zoe["id"] and server["power"] == "on", server  # zoe's server: not released, not powered off
    assert [c for c in shop.dci.calls if c["name"] in ("server.poweroff", "server.operations")] == []
    assert shop.whmcs.service(10)["status"] == "Pending" and shop.whmcs.service(10)["dedicatedip"] == ""


def test_a_failed_install_puts_back_only_a_server_that_is_still_the_services(shop, monkeypatch):
    """The install refuses a server whose hostname changed after its allocation (a stray claim): the run fails
    without putting that server back, since it cannot tell whose it is now."""
    run = converge.Install.run

    def stray_claim_then_run(self, row, **kwargs):
        if self.start and not shop.dci.installs:
            another_allocation(shop.dci, row["id"], "zoe.example.net")
        return run(self, row, **kwargs)

    monkeypatch.setattr(converge.Install, "run", stray_claim_then_run)
    result = shop.apply({"service_id": 10})
    [service] = result["services"]
    assert service["failed"] and "no longer carries hostname 10.domain" in service["msg"], service["msg"]
    assert "was not put back free; the service stays Pending in WHMCS" in service["msg"], service["msg"]
    assert shop.dci.installs == [] and [c for c in shop.dci.calls if c["name"] == "server.poweroff"] == []
    [server] = [s for s in shop.dci.dump_state()["servers"] if s["addresses"][0]["domain"] == "zoe.example.net"]
    # Left as it is, for a person to sort out. The owner is saved with the install record (one save for two), which
    # never came: the server shows no owner, and no save of ada's was sent.
    assert not server["owner"], server
    assert [c for c in shop.dci.writes() if c["name"] == "server.edit" and "owner" in c["params"]] == []


def test_services_on_several_panels_stay_on_their_own(tmp_path, monkeypatch):
    shop = Shop(tmp_path, monkeypatch, server_ids=(1, 2))
    try:
        made = shop.plan()
        assert {row["panel_id"] for row in made["changes"]} == {"1", "2"}
        result = shop.apply(made)
        assert not result.get("failed"), result.get("msg")
        assert by_hostname(shop.panels["1"])["bob.example.net"] and "bob.dc2.example.net" not in by_hostname(shop.panels["1"])
        assert by_hostname(shop.panels["2"])["bob.dc2.example.net"] and "bob.example.net" not in by_hostname(shop.panels["2"])
        assert set(result["list_reads"]) == {"1", "2"}
        # A service of a server entry without a panel is refused, never sent to another panel.
        shop.whmcs.services[10]["serverid"] = 9
        shop.whmcs.services[10]["status"] = "Pending"
        shop.clear_calls()
        refused = shop.apply({"service_id": 10})
        assert refused["services"][0]["conflict"] == "no_panel" and "no panel for WHMCS server 9" in refused["services"][0]["msg"]
        assert [call for sim in shop.panels.values() for call in sim.writes()] == []
    finally:
        shop.close()


def test_a_service_given_without_whmcs_takes_its_settings_and_secrets(shop):
    entry = {
        "host": "manual",
        "state": "active",
        "settings": {"owner": "zoe", "hostname": "zoe.example.org", "package": "DL360-G9", "os_template": "ISPsystem__Debian-12-amd64"},
    }
    result = shop.apply(entry, whmcs_status="set", secrets={"manual": {"owner_password": "zoe-Pw-12345"}})
    [service] = result["services"]
    assert not service["failed"], service["msg"]
    [server] = by_hostname(shop.dci)["zoe.example.org"]
    assert server["installed_template"] == "ISPsystem__Debian-12-amd64" and shop.whmcs.writes() == []
    assert "zoe-Pw-12345" not in repr(result)


def test_bad_plans_are_refused_before_anything_is_read(shop):
    assert "names no service" in shop.apply([{"host": "x"}])["msg"]
    assert "is not a dict" in shop.apply(["12"])["msg"]
    assert shop.writes() == []


def test_a_failed_run_of_a_module_product_is_noted_for_its_create(shop):
    """Event-source mode: the WHMCS module's CreateAccount learns why the run failed from the service's admin notes."""
    shop.whmcs.products[1]["module"] = MODULE
    shop.whmcs.services[10]["notes"] = "VIP customer\nispsystem-dcimanager: run failed 2026-12-01T00:00:00Z: an older failure"
    result = shop.apply({"service_id": 10}, products={})
    assert result["services"][0]["failed"] and "no value for package" in result["services"][0]["msg"]
    notes = shop.whmcs.service(10)["notes"].splitlines()
    assert notes[0] == "VIP customer" and len(notes) == 2
    assert notes[1].startswith("ispsystem-dcimanager: run failed 20") and notes[1].endswith(
        ": service 10: no value for package; set the dedicated_server_* variable, or the product's entry in dedicated_server_products (product id 1)"
    )
    assert shop.status_writes() == []
