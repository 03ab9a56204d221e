# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A lost answer is a question, not an error: every writing call of the collection, with its answer lost.

For each write the modules make, the simulator loses the answer once: after handling the request
(the change was made; the module must read it back and carry on without sending it again) and
before (nothing changed; the module must read back, see that, and send it once more). Either way the
task succeeds with the panel as asked, and says what happened in a warning. Two writes are never
sent twice (NEVER_SENT_TWICE: a copy whose answer was lost may still arrive): when they were not
made the task fails, saying so, and leaves the panel as it was. The modules run in-process on a
virtual clock (tests/integration/inprocess.py).
"""

from __future__ import annotations

import pytest

from inprocess import ModuleRunner, VirtualClock, connection_args, start_panel
from simulators.whmcs import WHMCSSimulator, make_state as whmcs_state
from write_cases import CASES, WAIT, alice_server

pytestmark = pytest.mark.quick

# Writes whose lost copy may still arrive: never sent again, so "not made" fails the task, with the
# panel as before (the truth after) and the message's words. (The claim's lost copy is waited out instead:
# UNTRUSTED_CLAIM.)
NEVER_SENT_TWICE = {
    "iplist.edit (a new address)": (lambda sim: len(alice_server(sim)["addresses"]) == 1, "the addresses added by this run were removed"),
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
    if not after and case == UNTRUSTED_CLAIM:
        # A lost claim is not trusted and never sent again at once: after claim_settle (when a copy still on its way
        # has landed, or never will) it is read back, not there, and the server, free, is claimed anew.
        assert not result.get("failed"), result["msg"]
        assert (result["claim"]["attempts"], result["claim"]["untrusted"]) == (2, 1), result["claim"]
        assert any("was not trusted" in warning and "is not there" in warning for warning in result["warnings"]), result["warnings"]
        assert sends == expected + 1, "%s sent %d times, %d without faults" % (write, sends, expected)
        assert truth(sim), "the panel is not as asked after %s: %s" % (case, result)
        return
    if not after and case in NEVER_SENT_TWICE:
        unchanged, words = NEVER_SENT_TWICE[case]
        assert result.get("failed") and "was not made; it is never sent twice" in result["msg"] and words in result["msg"], result
        assert unchanged(sim), "the panel changed after %s: %s" % (case, result)
        assert sends == 1, "%s sent %d times" % (write, sends)  # the lost copy only: not again, and nothing after it
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
