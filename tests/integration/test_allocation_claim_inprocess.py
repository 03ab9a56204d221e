# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The timed claim (issue 16) in-process, on a virtual clock: each way a contender can lose its footing.

docs/lifecycle.md, "Allocation across controllers: the timed claim", gives the argument; these tests hold
each of its steps, one scene each, against the real modules. The other contender is played by the test:
``another_allocation`` writes what its requests would leave on the panel, at the moment the scene needs
(right after this run's free read, during a wait). tests/integration/test_allocation_race.py races real
ansible-playbook processes instead.
"""

from __future__ import annotations

import pytest

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service import allocation
from inprocess import another_allocation, start_panel
from simulators.dcimanager import FREE_DOMAIN, make_state

pytestmark = pytest.mark.quick

PACKAGE = "DL360-G9"
BOB = {"owner": "bob", "hostname": "bob.example.net", "package": PACKAGE, "claim_bound": 2.0, "claim_settle": 4.0}
INSTALL = {"os_template": "ISPsystem__Debian-12-amd64", "root_password": "Root-pw-123456", "wait": False, "wait_timeout": 600}


@pytest.fixture
def panel(tmp_path, monkeypatch):
    """Three free servers, bob's account; (simulator, runner, clock)."""
    sim, runner, clock = start_panel(tmp_path, monkeypatch, state=make_state(3, package=PACKAGE, ipv4=8, ipv6=8))
    assert not runner.run("dci_user", {"name": "bob", "password": "bob-pw-123456"}).get("failed")
    yield sim, runner, clock
    sim.close()
    assert sim.errors == []


def claims(sim, server_id=None):
    """The domains written to main addresses, as sent: [(server id, domain)]."""
    sent = [(c["params"]["plid"], c["params"]["domain"]) for c in sim.calls if c["name"] == "iplist.edit" and c["write"] and "domain" in c["params"]]
    return [entry for entry in sent if server_id is None or entry[0] == str(server_id)]


def domains(sim, server_id):
    return {a["domain"] for a in sim.server_state(server_id)["addresses"]}


def after_the_free_read(monkeypatch, then):
    """Run ``then(server_id)`` once, right after the first free read of a claim came back (before the claim is sent)."""
    main_address = allocation.Allocation.main_address
    done = []

    def read_then(self, row):
        main = main_address(self, row)
        if not done:
            done.append(row["id"])
            then(row["id"])
        return main

    monkeypatch.setattr(allocation.Allocation, "main_address", read_then)
    return done


def at_the_first_pause(monkeypatch, clock, then):
    """Run ``then()`` once, when the module first pauses (a settle wait, a power-on wait ...)."""
    sleep = clock.sleep
    done = []

    def sleep_then(seconds):
        if not done:
            done.append(seconds)
            then()
        sleep(seconds)

    monkeypatch.setattr(clock, "sleep", sleep_then)
    return done


def test_an_uncontended_claim_pays_the_settle_wait_once(panel):
    sim, runner, dummy = panel
    result = runner.run("dci_server_allocate", BOB)
    assert not result.get("failed"), result["msg"]
    claim = result["claim"]
    assert (claim["attempts"], claim["untrusted"], claim["settle"], claim["bound"]) == (1, 0, 4.0, 2.0)
    assert 0 < claim["read_to_answer"] < 2.0
    assert claims(sim) == [(claim["server_id"], "bob.example.net")]


def test_a_claim_that_lands_after_its_answer_was_lost_is_waited_out_and_then_undone(panel):
    """The connection of the first claim drops at once and the panel carries the claim out 1.5 s later (less than
    claim_settle - claim_bound): not trusted, never sent again, read back after the settle wait, where it has landed
    on a server nobody owns, so it is undone; the next free server is claimed."""
    sim, runner, dummy = panel
    sim.lose_next_answer("iplist.edit", kind="drop", apply_after=1.5, writes_only=True)
    result = runner.run("dci_server_allocate", BOB)
    assert not result.get("failed"), result["msg"]
    [lost] = [c for c in sim.calls if c["name"] == "iplist.edit" and c["fault"]]
    first = lost["params"]["plid"]
    assert lost["applied_at"] is not None  # the lost claim did land, after its answer was lost
    assert (result["claim"]["attempts"], result["claim"]["untrusted"]) == (2, 1)
    assert result["claim"]["server_id"] != first
    assert claims(sim, first) == [(first, "bob.example.net"), (first, FREE_DOMAIN)]  # sent once, then undone
    assert any("was not trusted" in w and "was undone" in w for w in result["warnings"]), result["warnings"]
    assert domains(sim, first) == {FREE_DOMAIN} and sim.server_state(first)["owner"] is None  # nothing left claimed


def test_a_contender_paused_between_its_read_and_its_claim_does_not_claim(panel, monkeypatch):
    """Stopped for 3 s right after its free read (its process's clock runs on): the read is stale, so no claim is
    sent on that server at all; the next one is claimed."""
    sim, runner, clock = panel
    paused = after_the_free_read(monkeypatch, lambda server_id: clock.sleep(3.0))
    result = runner.run("dci_server_allocate", BOB)
    assert not result.get("failed"), result["msg"]
    assert claims(sim, paused[0]) == [] and result["claim"]["server_id"] != paused[0]
    assert (result["claim"]["attempts"], result["claim"]["untrusted"]) == (2, 1)
    assert any("the read before the claim took" in w and "not claimed" in w for w in result["warnings"]), result["warnings"]


def test_a_pause_the_clock_did_not_see_is_caught_by_the_verify_and_by_the_check_before_the_install(panel, monkeypatch):
    """A virtual machine stopped right after its free read, whose clock stopped with it: meanwhile carol's allocation
    claimed the server, verified the claim and made it hers. bob's claim, trusted by its clock, lands over hers; the
    read after the settle wait shows carol as the owner, so bob's allocation fails, saying so, and takes nothing back
    (the server is carol's). An install for bob on it is refused: its owner is not bob."""
    sim, runner, dummy = panel
    taken = after_the_free_read(monkeypatch, lambda server_id: another_allocation(sim, server_id, "carol.example.net", "carol"))
    result = runner.run("dci_server_allocate", BOB)
    server = taken[0]
    assert result.get("failed") and "carries hostname bob.example.net but belongs to carol" in result["msg"], result
    carol = next(u for u in sim.dump_state()["users"] if u["name"] == "carol")
    assert sim.server_state(server)["owner"] == carol["id"]  # nothing undone or released: it is carol's
    assert claims(sim, server) == [(server, "bob.example.net")]

    refused = runner.run("dci_os_install", dict(INSTALL, hostname="bob.example.net", owner="bob"))
    assert refused.get("failed") and "does not belong to bob" in refused["msg"] and "install was not started" in refused["msg"], refused
    assert sim.installs == []


def test_no_install_on_a_server_whose_hostname_changed_after_it_was_allocated(panel, monkeypatch):
    """A stray claim of another allocation (one that broke the timing assumptions) lands while the install powers
    the server on: the check right before the install sees another hostname on the main address, and nothing is
    installed."""
    sim, runner, clock = panel
    result = runner.run("dci_server_allocate", BOB)
    assert not result.get("failed"), result["msg"]
    server = result["server"]["id"]
    assert sim.server_state(server)["power"] == "off"
    at_the_first_pause(monkeypatch, clock, lambda: another_allocation(sim, server, "carol.example.net"))
    refused = runner.run("dci_os_install", dict(INSTALL, hostname="bob.example.net", owner="bob"))
    assert refused.get("failed") and "no longer carries hostname bob.example.net (it shows carol.example.net)" in refused["msg"], refused
    assert sim.installs == []


def test_a_claim_this_hostname_already_has_is_verified_before_it_is_taken(panel, monkeypatch):
    """bob.example.net sits on a server nobody owns (a claim of an interrupted run, or of another run of the service
    at work): it is a claim like any other. Carol's claim, sent on a read made before bob's landed, lands during the
    settle wait and holds; bob's run takes another server and leaves carol's alone."""
    sim, runner, clock = panel
    another_allocation(sim, "1", "bob.example.net")
    at_the_first_pause(monkeypatch, clock, lambda: another_allocation(sim, "1", "carol.example.net"))
    result = runner.run("dci_server_allocate", BOB)
    assert not result.get("failed"), result["msg"]
    assert result["server"]["id"] != "1" and result["claim"]["attempts"] == 2
    assert domains(sim, "1") == {"carol.example.net"} and sim.server_state("1")["owner"] is None
    assert claims(sim, "1") == []


def test_a_claim_this_hostname_already_has_is_taken_after_the_settle_wait(panel):
    sim, runner, dummy = panel
    another_allocation(sim, "2", "bob.example.net")
    result = runner.run("dci_server_allocate", BOB)
    assert not result.get("failed"), result["msg"]
    assert result["server"]["id"] == "2" and result["claim"]["read_to_answer"] is None and result["claim"]["settle"] == 4.0
    bob = next(u for u in sim.dump_state()["users"] if u["name"] == "bob")
    assert sim.server_state("2")["owner"] == bob["id"] and claims(sim) == []
