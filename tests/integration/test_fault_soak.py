# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A short fault soak: the reconcile under 15 % injected API faults leaves nothing half-done.

The invariants and the soak itself are those of benchmarks/fault_soak.py (imported, not copied).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import fault_soak  # noqa: E402  pylint: disable=wrong-import-position
from fleet import hostname_of, make_fleet  # noqa: E402  pylint: disable=wrong-import-position


def test_the_checks_see_a_half_done_shop():
    """The checker itself: a consistent shop passes, each kind of damage is reported."""
    dci, whmcs, dummy = make_fleet(2, active=1, terminated=1, clients=2)
    original = copy.deepcopy(whmcs["services"])
    # Make the shop look reconciled: the Active server unblocked, the Terminated one released,
    # the Pending ones failed (reported) with nothing taken.
    active, terminated = [s for s in dci["servers"] if s["owner"]]
    active["blocked"] = active["disabled"] = False
    terminated.update(owner=None)
    terminated["addresses"][0]["domain"] = "free.ds"
    whmcs["services"][3].update(status="Terminated", dedicatedip="")
    records = [
        {"task": "Report the failed activation", "host": "whmcs-%s" % s["id"], "status": "failed", "result": {"msg": "activation failed: boom"}}
        for s in original[:2]
    ]
    # fleet_apply's result names them too (reconcile and converge run it once for every service).
    applied = {
        "task": "Converge the services to WHMCS",
        "host": "whmcs-%s" % original[0]["id"],
        "status": "failed",
        "result": {"services": [{"host": "whmcs-%s" % s["id"], "failed": True, "msg": "activation failed: boom"} for s in original[:2]]},
    }
    assert fault_soak.failures([applied]) == fault_soak.failures(records) == {"whmcs-%s" % s["id"]: "activation failed: boom" for s in original[:2]}
    records = fault_soak.failures(records)
    assert fault_soak.check(original, dci, whmcs, records, final=False) == []
    assert len(fault_soak.check(original, dci, whmcs, records, final=True)) == 2  # the Pending ones are not done

    broken = copy.deepcopy(dci)
    free = next(s for s in broken["servers"] if s["addresses"][0]["domain"] == "free.ds" and not s["owner"])
    free["owner"] = active["owner"]
    assert any("without a hostname" in p for p in fault_soak.check(original, broken, whmcs, records, final=False))
    assert any("neither done nor reported" in p for p in fault_soak.check(original, dci, whmcs, {}, final=False))

    # A release cut short after the owner was cleared: tolerated while reported (the rerun finds
    # the server by its hostname), a broken invariant otherwise.
    half = copy.deepcopy(dci)
    next(s for s in half["servers"] if s["id"] == terminated["id"])["addresses"][0]["domain"] = hostname_of(original[3])
    reported = {**records, "whmcs-%s" % original[3]["id"]: "release failed: boom"}
    assert fault_soak.check(original, half, whmcs, reported, final=False) == []
    assert any("without an owner" in p for p in fault_soak.check(original, half, whmcs, records, final=False))


def test_repeated_writes_are_found_in_the_call_log():
    write = {
        "name": "iplist.edit",
        "params": {"auth": "s1", "plid": "3", "elid": "9", "domain": "a.example.net"},
        "write": True,
        "fault": None,
        "fault_after": False,
    }
    lost = dict(write, fault="drop", fault_after=True)
    assert fault_soak.repeated_writes([write, dict(write)]) == []  # sent twice, but the first one's answer was not lost
    assert fault_soak.repeated_writes([dict(write, fault="drop"), write]) == []  # lost before it was handled: may go again
    assert len(fault_soak.repeated_writes([lost, write])) == 1
    assert fault_soak.repeated_writes([lost, dict(write, params=dict(write["params"], auth="s2"))]) == []  # another run
    # A claim not trusted, undone (another write of the same address), then claimed again: a new decision.
    undo = dict(write, params=dict(write["params"], domain="free.ds"))
    assert fault_soak.repeated_writes([lost, undo, write]) == []
    assert len(fault_soak.repeated_writes([lost, dict(undo, params=dict(undo["params"], elid="10")), write])) == 1  # another address


def test_a_delayed_write_counts_from_when_it_took_effect():
    write = {"name": "server.disable", "params": {"auth": "s1", "elid": "4"}, "write": True, "fault": None, "fault_after": False, "time": 10.0}
    delayed = dict(write, fault="delayed_apply", fault_after=True, apply_at=12.0, applied_at=12.0)
    # Sent again at 11 s, before the first copy landed at 12 s: the read-back could not have seen it.
    assert fault_soak.repeated_writes([delayed, dict(write, time=11.0)]) == []
    # Sent again at 13 s, after it landed: a repeat of a write that had taken effect.
    assert len(fault_soak.repeated_writes([delayed, dict(write, time=13.0)])) == 1
    # Never carried out (the panel went away first): it never took effect.
    assert fault_soak.repeated_writes([dict(delayed, applied_at=None), dict(write, time=13.0)]) == []
    # An ordinary lost answer takes effect when the request came.
    assert len(fault_soak.repeated_writes([dict(write, fault="drop", fault_after=True), dict(write, time=10.5)])) == 1


def test_reconcile_under_faults_converges_in_one_run_and_leaves_nothing_half_done(tmp_path):
    result = fault_soak.soak(tmp_path, rate=0.15, seed=3, pending=5, forks=8, stall_seconds=1.0, install_seconds=4.0, timeout=300)
    assert result["runs"][0]["faults"] > 0
    assert result["problems"] == []
    assert result["converged"] == 1, result["runs"][0]["failed"]
