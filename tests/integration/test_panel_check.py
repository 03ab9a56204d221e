# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The read-only panel check: dci_panel_info and the check_panel playbook, on the default panel and every variant."""

from __future__ import annotations

import pytest

from harness import run_ansible_playbook
from inprocess import ModuleRunner, connection_args
from simulators.dcimanager import VARIANTS, DCImanagerSimulator, default_state

# The assumption a variant flips, and what the check must then say of it.
EXPECTED = {
    "auth_ok_only": {"P1": "contradicted"},
    "iplist_no_domain_anywhere": {"P9": "contradicted"},
    "osmgr_title": {"P16": "contradicted"},
    "owner_id": {"P5": "confirmed"},
    "port_state_hidden": {"P12": "confirmed"},
    "disable_sets_disabled": {"P8": "confirmed"},
}
# What a variant must show in the evidence, so that a user sees which detail differs.
EVIDENCE = {
    "auth_ok_only": ("P1", "gave no session"),
    "iplist_no_domain": ("P9", "iplist rows show no domain"),
    "iplist_no_domain_anywhere": ("P9", "neither iplist nor the iplist.edit form"),
    "osmgr_title": ("P16", "are not the install form's templates"),
    "owner_id": ("P5", "0 owner cells hold logins, 1 hold account ids"),
    "port_state_hidden": ("P12", "switch ports show no state"),
    "port_state_status": ("P12", "in column status"),
    "port_updown": ("P12", "up in column state"),
    "disable_sets_disabled": ("P8", "blocked servers show disabled in the list"),
    "disable_sets_blocked": ("P8", "blocked servers show blocked in the list"),
    "paged_lists": ("P3", "read in pages of 2"),
    "flag_text_on": ("P7", "'on'"),
    # Its error documents come with HTTP 500: still the panel's answer, so a foreign session's refusal is read.
    "errors_http500": ("P2", "refused with type auth, object session"),
}


@pytest.mark.quick
@pytest.mark.parametrize("variant", ["default"] + sorted(VARIANTS))
def test_the_check_names_the_differing_detail_and_writes_nothing(variant, tmp_path):
    sim = DCImanagerSimulator(state=default_state(), tls_dir=str(tmp_path / "tls"), **VARIANTS.get(variant, {})).start()
    try:
        runner = ModuleRunner(connection_args(sim))
        # A blocked server, as this panel's server.disable leaves it, so the suspension check has evidence.
        assert not runner.run("dci_server", {"server_id": "6", "blocked": True, "poll_interval": 1}).get("failed")
        sim.clear_calls()
        result = runner.run("dci_panel_info", {"sample": 4})
        assert not result.get("failed"), result["msg"]
        assert sim.writes() == [], [call["name"] for call in sim.writes()]
        statuses = {check["id"]: check["status"] for check in result["assumptions"]}
        expected = EXPECTED.get(variant, {})
        contradicted = sorted(check_id for check_id, status in statuses.items() if status == "contradicted")
        assert contradicted == sorted(check_id for check_id, status in expected.items() if status == "contradicted"), result["table"]
        for check_id, status in expected.items():
            assert statuses[check_id] == status, result["table"]
        if variant in EVIDENCE:
            check_id, words = EVIDENCE[variant]
            evidence = next(check["evidence"] for check in result["assumptions"] if check["id"] == check_id)
            assert words in evidence, (variant, evidence)
        assert len(result["table"]) == 2 + len(result["assumptions"]) and result["contradicted"] == contradicted
    finally:
        sim.close()


def test_the_playbook_prints_the_table_and_fails_on_a_contradiction(tmp_path, dci, dci_env):
    run = run_ansible_playbook(tmp_path, ["ispsystem.dcimanager.check_panel"], env=dci_env)
    assert run.rc == 0, run.output
    assert "| P5 | confirmed | the server list's owner column holds" in run.output
    assert dci.writes() == []
    dci.apply_settings({"osmgr_name": "title"})
    run = run_ansible_playbook(tmp_path, ["ispsystem.dcimanager.check_panel"], env=dci_env)
    assert run.rc != 0
    assert "the panel contradicts P16" in run.output
    assert "| P16 | contradicted |" in run.output
    assert dci.writes() == []
