# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The modules' state machines, run in-process against the simulator on a virtual clock (quick).

The same steps the playbook-based lifecycle tests take, each checked against the simulator's
true state: allocation (and its rollback), install (and its failure, late flag, refused start),
release (and its cross-check by address), and the server details.
"""

from __future__ import annotations

import pytest

from inprocess import start_panel

pytestmark = pytest.mark.quick

DEBIAN = "ISPsystem__Debian-12-amd64"
WAIT = {"poll_interval": 15, "wait_timeout": 1800}


@pytest.fixture
def panel(tmp_path, monkeypatch):
    sim, runner, clock = start_panel(tmp_path, monkeypatch)
    yield sim, runner, clock
    sim.close()
    assert sim.errors == []


def servers_view(state):
    return [(s["id"], s["owner"], [(a["ip"], a["domain"]) for a in s["addresses"]]) for s in state["servers"]]


def test_allocation_rolls_back_when_the_pool_runs_dry(panel):
    sim, runner, dummy = panel
    before = sim.dump_state()
    result = runner.run("dci_server_allocate", {"owner": "alice", "hostname": "big.example.net", "package": "DL360-G9", "ipv4_count": 8})
    assert result["failed"] and "was put back free" in result["msg"] and result["api_error"]["type"] == "limit"
    after = sim.dump_state()
    assert servers_view(after) == servers_view(before)
    assert sorted(after["ip_pools"]["public"]["ipv4"]) == sorted(before["ip_pools"]["public"]["ipv4"])


def test_allocation_check_mode_and_diff(panel):
    sim, runner, dummy = panel
    args = {"owner": "alice", "hostname": "a2.example.net", "package": "DL360-G9", "ipv6_count": 1}
    check = runner.run("dci_server_allocate", args, check=True, diff=True)
    assert check["changed"] and sim.writes() == []
    assert check["diff"]["after"] == {
        "server_id": check["server"]["id"],
        "owner": "alice",
        "hostname": "a2.example.net",
        "new_ipv4_addresses": 0,
        "new_ipv6_addresses": 1,
    }
    real = runner.run("dci_server_allocate", args, diff=True)
    assert real["changed"] and real["server"]["id"] == check["server"]["id"]
    assert real["diff"]["before"]["hostname"] == "free.ds" and len(real["server"]["ipv6"]) == 1


def test_install_waits_for_a_flag_that_shows_late_and_reports_a_failed_one(panel):
    sim, runner, clock = panel
    sim.apply_settings({"install_flag_delay": 40})
    install = dict(WAIT, server_id="6", os_template=DEBIAN, root_password="root-pw-1", force=True)
    result = runner.run("dci_os_install", install)
    assert not result.get("failed"), result["msg"]
    state = sim.server_state("6")
    assert result["install_finished"] and state["install"] is None and state["installed_template"] == DEBIAN
    assert "finished=" in state["notes"]
    # A rerun at once: recorded, seen finished, nothing to do.
    sim.clear_calls()
    again = runner.run("dci_os_install", dict(install, force=False))
    assert again["changed"] is False and again["install_finished"] and sim.writes() == []

    sim.fail_installs("6")
    failed = runner.run("dci_os_install", install)
    assert failed["failed"] and "failed (the panel flags operation_failed)" in failed["msg"]


def test_a_start_without_wait_is_not_finished_until_seen_or_settled(panel):
    sim, runner, clock = panel
    sim.apply_settings({"install_flag_delay": 30})
    start = dict(WAIT, server_id="6", os_template="ISPsystem__Ubuntu-24.04-amd64", root_password="root-pw-1", wait=False)
    started = runner.run("dci_os_install", start)
    assert started["changed"] and started["install_finished"] is False
    # Moments later the panel shows nothing yet: a rerun must not call that finished, and starts nothing.
    sim.clear_calls()
    rerun = runner.run("dci_os_install", dict(start, wait=False))
    assert rerun["install_finished"] is False and sim.writes() == []
    waited = runner.run("dci_os_install", dict(start, wait=True, start=False))
    assert waited["install_finished"] and sim.server_state("6")["install"] is None


def test_a_refused_start_removes_the_install_record(panel):
    sim, runner, dummy = panel
    notes = sim.server_state("6")["notes"]
    # A recipe the panel does not have: it refuses the start with an error of its own (not a lost answer).
    result = runner.run("dci_os_install", dict(WAIT, server_id="6", os_template=DEBIAN, root_password="root-pw-1", recipe="#local__missing", force=True))
    assert result["failed"] and result["api_error"] == {"type": "value", "object": "recipe", "msg": "Unknown recipe '#local__missing'"}
    assert sim.server_state("6")["notes"] == notes and sim.server_state("6")["install"] is None


def test_release_cross_checks_the_address_and_refuses_an_empty_list(panel):
    sim, runner, dummy = panel
    # alice1.example.com is on server 6; a service whose hostname is gone but whose address is still that
    # server's main address is not counted as released.
    result = runner.run("dci_server_release", {"hostname": "gone.example.net", "main_ip": "192.0.2.16"})
    assert result["failed"] and "still the main address of server 6" in result["msg"] and sim.writes() == []
    fine = runner.run("dci_server_release", {"hostname": "gone.example.net", "main_ip": "192.0.2.11"})  # a free server's
    assert fine["changed"] is False and fine["server"] is None
    upper = runner.run("dci_server_release", dict(WAIT, hostname="ALICE1.Example.COM"))
    assert upper["changed"] and sim.server_state("6")["owner"] is None
    state = sim.dump_state()
    state["servers"] = []
    sim.load_state(state)
    empty = runner.run("dci_server_release", {"hostname": "any.example.net"})
    assert empty["failed"] and "server list came back empty" in empty["msg"]


def test_server_details(panel):
    sim, runner, dummy = panel
    result = runner.run("dci_server_info", {"server_id": "6"})
    server = result["servers"][0]
    assert server["owner"] == "alice" and server["hostname"] == "alice1.example.com"
    assert server["ipmi_ip"] and server["switch_port"] and server["mac"]
    assert server["ipv4"] == [server["main_ip"]] and server["power"] == "on" and server["blocked"] is False


def test_a_read_whose_answers_fail_eight_times_in_a_row_is_still_read(panel):
    """The fault soak's at 30 %: six answers of one server-list read all lost failed the service. A read is now
    asked again for as long as a minute (the pauses, on the virtual clock), whatever the count."""
    sim, runner, clock = panel
    sim.set_faults(rate=1.0, kinds=["http500", "badbody", "drop", "truncate"], names=["server"], count=8, seed=1)
    started = clock.monotonic()
    result = runner.run("dci_server_info", {"server_id": "6"})
    assert not result.get("failed"), result["msg"]
    assert [server["hostname"] for server in result["servers"]] == ["alice1.example.com"]
    assert len([call for call in sim.calls if call["name"] == "server"]) == 9 and clock.monotonic() - started < 60
