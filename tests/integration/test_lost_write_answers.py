# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A lost answer is a question, not an error: every writing call of the collection, with its answer lost.

For each write the modules make, the simulator loses the answer once: after handling the request
(the change was made; the module must read it back and carry on without sending it again) and
before (nothing changed; the module must read back, see that, and send it once more). Either way the
task succeeds with the panel as asked, and says what happened in a warning. Two writes are never
sent again while a copy whose answer was lost may still arrive (WAITED_OUT): they are read back once
more after claim_settle, and only then, not there, made anew. The modules run in-process on a
virtual clock (tests/integration/inprocess.py).
"""

from __future__ import annotations

import pytest

from inprocess import ModuleRunner, VirtualClock, connection_args, start_panel
from simulators.whmcs import WHMCSSimulator, make_state as whmcs_state
from write_cases import CASES, WAIT, alice_server, block

pytestmark = pytest.mark.quick

# Writes whose lost copy may still arrive: never sent again at once. After claim_settle (when a copy still on its
# way has landed, or never will) each is read back again and, not there, made anew: case -> the warning's words.
WAITED_OUT = {
    "iplist.edit (the claim)": "is not there, so another server is tried",
    "iplist.edit (a new address)": "it was still not made, and no copy of it can land any more: a new one was asked for",
}
UNTRUSTED_CLAIM = "iplist.edit (the claim)"


@pytest.fixture
def panel(tmp_path, monkeypatch):
    sim, runner, dummy = start_panel(tmp_path, monkeypatch)
    yield sim, runner
    sim.close()
    assert sim.errors == []


def sends_of(sim, name):
    return [call for call in sim.calls if call["name"] == name and call["write"]]


def run_case(sim, runner, case, lose=None):
    """Set the scene of ``case`` and run its module: (its result, how many times it sent its write).

    ``lose``: (fault kind, after) to lose the answer of the module's first send of its write (the scene's
    own writes come before the fault is set)."""
    setup, module, args, write, dummy = CASES[case]
    if setup is not None:
        setup(sim, runner)
    if lose is not None:
        kind, after = lose
        sim.set_faults(rate=1.0, kinds=[kind], names=[write], count=1, after=1.0 if after else 0.0, writes_only=True)
    before = len(sends_of(sim, write))
    result = runner.run(module, args)
    return result, len(sends_of(sim, write)) - before


# case -> how many times the module sends its write when no answer is lost, measured once per case.
FAULT_FREE_SENDS = {}


def fault_free_sends(case, tmp_path, monkeypatch):
    """Measured on a panel of its own, without faults: the claim, for one, is one iplist.edit of several."""
    if case not in FAULT_FREE_SENDS:
        sim, runner, dummy = start_panel(tmp_path / "fault-free", monkeypatch)
        try:
            result, sends = run_case(sim, runner, case)
            assert not result.get("failed"), result["msg"]
            assert CASES[case][4](sim), "the panel is not as asked after %s without faults: %s" % (case, result)
        finally:
            sim.close()
        assert sends >= 1, "%s sends no %s at all" % (case, CASES[case][3])
        FAULT_FREE_SENDS[case] = sends
    return FAULT_FREE_SENDS[case]


@pytest.mark.parametrize("after", [True, False], ids=["the write was made", "the write was not made"])
@pytest.mark.parametrize("kind", ["drop", "http500", "badbody"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_lost_answer_is_read_back(case, kind, after, tmp_path, monkeypatch):
    expected = fault_free_sends(case, tmp_path, monkeypatch)
    # Started after the fault-free panel: the modules' virtual clock is this panel's.
    sim, runner, dummy = start_panel(tmp_path, monkeypatch)
    try:
        check_a_lost_answer(sim, runner, case, kind, after, expected)
    finally:
        sim.close()
    assert sim.errors == []


def check_a_lost_answer(sim, runner, case, kind, after, expected):
    write, truth = CASES[case][3], CASES[case][4]
    result, sends = run_case(sim, runner, case, lose=(kind, after))
    if not after and case in WAITED_OUT:
        # Not sent again at once: after claim_settle it is read back, not there, and made anew (the claim: the server,
        # still free, is claimed anew).
        assert not result.get("failed"), result["msg"]
        if case == UNTRUSTED_CLAIM:
            assert (result["claim"]["attempts"], result["claim"]["untrusted"]) == (2, 1), result["claim"]
        assert any(WAITED_OUT[case] in warning for warning in result["warnings"]), result["warnings"]
        assert sends == expected + 1, "%s sent %d times, %d without faults" % (write, sends, expected)
        assert truth(sim), "the panel is not as asked after %s: %s" % (case, result)
        return
    assert not result.get("failed"), result["msg"]
    assert result["changed"] is True
    assert truth(sim), "the panel is not as asked after %s: %s" % (case, result)
    faulted = [call for call in sim.calls if call["fault"]]
    assert len(faulted) == 1 and faulted[0]["name"] == write
    warnings = " ".join(result.get("warnings", []))
    if after:
        # The panel shows the change: not one more send of it than without faults.
        assert "read back" in warnings and "was made" in warnings, warnings
        assert sends == expected, "%s sent %d times, %d without faults" % (write, sends, expected)
    else:
        assert "was not made, so it was sent again" in warnings, warnings
        assert sends == expected + 1, "%s sent %d times, %d without faults" % (write, sends, expected)


def test_a_write_lost_four_times_in_a_row_is_still_made(panel):
    sim, runner = panel
    sim.set_faults(rate=1.0, kinds=["http500", "drop"], names=["server.disable"], count=4, writes_only=True)
    result = runner.run("dci_server", dict(WAIT, server_id="6", blocked=True))
    assert not result.get("failed"), result["msg"]
    assert alice_server(sim)["blocked"] and len(sends_of(sim, "server.disable")) == 5
    assert any("was not made, so it was sent again" in warning for warning in result["warnings"])  # equal warnings are shown once


def test_repeats_of_a_write_not_made_end_with_the_tasks_time_and_leave_nothing_half_done(panel):
    sim, runner = panel
    clock = runner.clock
    before = sim.server_state("6")
    sim.set_faults(rate=1.0, kinds=["http500"], names=["server.disable"], writes_only=True)
    started = clock.monotonic()
    result = runner.run("dci_server", dict(WAIT, server_id="6", blocked=True, wait_timeout=300))
    spent = clock.monotonic() - started
    sends = len(sends_of(sim, "server.disable"))
    assert result["failed"] and "read back after %d sends in" % sends in result["msg"], result
    assert "blocking server 6 (server.disable) was not made (a write that was not made is sent again for 300 seconds at most)" in result["msg"]
    # Pauses of 1, 2, 4, 8, then about 10 seconds (jittered by a quarter either way) within 300 s.
    assert 20 <= sends <= 45 and 250 < spent < 300, (sends, spent)
    assert sim.server_state("6") == before


def test_a_lost_write_that_lands_during_the_pause_is_not_sent_again(panel):
    """The fault soak's at 30 %: server.disable's answer lost at once, the panel carrying it out 0.5 s later, after the
    read-back (not there) and before the repeat. The read-back right before the repeat sees it: one send."""
    sim, runner = panel
    sim.lose_next_answer("server.disable", kind="delayed_apply", apply_after=0.5)
    result = runner.run("dci_server", dict(WAIT, server_id="6", blocked=True))
    assert not result.get("failed"), result["msg"]
    assert alice_server(sim)["blocked"] and len(sends_of(sim, "server.disable")) == 1
    assert any("read back again before sending it again: blocking server 6 (server.disable) was made" in w for w in result["warnings"]), result["warnings"]


def test_the_read_back_of_an_unblock_reads_the_row_after_the_switch_ports_settled(panel):
    """The fault soak's at 30 %: server.enable's answer lost at once, the panel carrying it out 0.5 s later; the read-back
    read the server list at once (blocked), then the switch ports, whose answers were lost until the unblock had ended.
    The row it judged by was the one read before: 'not made', and server.enable was sent again after it took effect."""
    sim, runner = panel
    block(sim, runner)
    # The read-back's look at the switch ports: four answers lost (each read handled), 7.5 s or more of pauses, while
    # the unblock, landed at the second, takes 5 s.
    sim.set_faults(rate=1.0, kinds=["http500"], names=["server.connection"], count=4, after=1.0)
    sim.lose_next_answer("server.enable", kind="delayed_apply", apply_after=0.5)
    result = runner.run("dci_server", dict(WAIT, server_id="6", blocked=False))
    assert not result.get("failed"), result["msg"]
    assert not alice_server(sim)["blocked"] and len(sends_of(sim, "server.enable")) == 1
    assert any("read back: unblocking server 6 (server.enable) was made" in w for w in result["warnings"]), result["warnings"]


def test_a_new_address_whose_lost_copy_lands_late_is_taken_not_asked_for_again(panel):
    """The fault soak's: the create's answer lost at once (a proxy gave up), the panel carries it out 1.5 s later.
    Read back at once it is not there; read back after claim_settle it is, and is the address: one create, one address."""
    sim, runner = panel
    sim.lose_next_answer("iplist.edit", kind="delayed_apply", apply_after=1.5, writes_only=True)
    result = runner.run("dci_server_allocate", {"owner": "alice", "hostname": "alice1.example.com", "server_id": "6", "ipv4_count": 1})
    assert not result.get("failed"), result["msg"]
    addresses = [a["ip"] for a in alice_server(sim)["addresses"]]
    assert len(addresses) == 2 and result["server"]["ipv4"] == addresses
    assert len(sends_of(sim, "iplist.edit")) == 1
    assert any("landed late and was made" in warning for warning in result["warnings"]), result["warnings"]


def test_a_new_address_never_made_fails_within_the_tasks_time_and_leaves_the_server_as_it_was(panel):
    sim, runner = panel
    clock = runner.clock
    before = alice_server(sim)
    sim.set_faults(rate=1.0, kinds=["http500"], names=["iplist.edit"], writes_only=True)
    started = clock.monotonic()
    result = runner.run("dci_server_allocate", {"owner": "alice", "hostname": "alice1.example.com", "server_id": "6", "ipv4_count": 1, "timeout": 30})
    spent = clock.monotonic() - started
    assert result["failed"] and "a new ipv4 address on server 6 was not made" in result["msg"], result
    assert "read back again after claim_settle (4s), it was still not made" in result["msg"] and "the addresses added by this run were removed" in result["msg"]
    # One send per claim_settle (4 s) within the 60 s a write has at least: never two copies on their way at once.
    assert len(sends_of(sim, "iplist.edit")) == 14 and 52 <= spent <= 60, (len(sends_of(sim, "iplist.edit")), spent)
    assert alice_server(sim) == before


def test_a_reboot_whose_answer_is_lost_is_not_repeated_when_the_panel_cannot_tell(panel):
    sim, runner = panel
    sim.set_faults(rate=1.0, kinds=["http500"], names=["server.reboot"], count=1, writes_only=True)
    result = runner.run("dci_server", dict(WAIT, server_id="6", power="restarted"))
    assert result["failed"] and "nothing the panel shows tells whether the restart of server 6 was made" in result["msg"]
    assert len(sends_of(sim, "server.reboot")) == 1


def test_a_login_key_whose_answer_is_lost_is_made_anew(panel):
    sim, runner = panel
    sim.set_faults(rate=1.0, kinds=["drop"], names=["session.newkey"], count=1, after=1.0)
    result = runner.run("dci_login_key", {"login": "alice"})
    assert not result.get("failed"), result["msg"]
    keys = sim.dump_state()["login_keys"]
    assert len(keys) == 2  # the lost one was never shown to anyone; the link names the second
    assert [key for key in keys if result["url"].endswith("key=" + key)]


@pytest.mark.parametrize("after", [True, False])
def test_a_lost_whmcs_update_is_read_back(tmp_path, monkeypatch, after):
    whmcs = WHMCSSimulator(state=whmcs_state(3), tls_dir=str(tmp_path / "tls")).start()
    try:
        # WHMCS keeps no timed state: the virtual clock only spares the pause before a repeat.
        runner = ModuleRunner(connection_args(whmcs=whmcs), clock=VirtualClock(), monkeypatch=monkeypatch)
        whmcs.set_faults(rate=1.0, kinds=["drop"], names=["UpdateClientProduct"], count=1, after=1.0 if after else 0.0)
        result = runner.run("whmcs_service", {"service_id": 1, "notes": "lost and found", "dedicated_ip": "192.0.2.99"})
        assert not result.get("failed"), result["msg"]
        assert whmcs.service(1)["notes"] == "lost and found" and whmcs.service(1)["dedicatedip"] == "192.0.2.99"
        sends = [call for call in whmcs.calls if call["name"] == "UpdateClientProduct"]
        assert len(sends) == (1 if after else 2)
    finally:
        whmcs.close()
