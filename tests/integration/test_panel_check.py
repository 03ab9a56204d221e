# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The read-only panel check: dci_panel_info and the check_panel playbook, on the default panel and every variant.

The check contradicts an assumption only where the collection would go wrong on such a panel: on
exactly the variants where one service's life (test_panel_variants.py) has a step that fails or a
rerun that is not idempotent. Everywhere else it may say how the panel differs, never fail.
"""

from __future__ import annotations

import json

import pytest
from test_panel_variants import CANNOT_KNOW, NOT_IDEMPOTENT

from harness import run_ansible_playbook
from inprocess import ModuleRunner, connection_args
from simulators.dcimanager import VARIANTS, DCImanagerSimulator, default_state

# The variants the check must fail, and the assumptions it must name: the panels where the lifecycle goes wrong.
CONTRADICTS = {
    "auth_ok_only": ["P1"],  # dci_user update_password=always cannot tell a good password (a step fails)
    "iplist_no_domain_anywhere": ["P9"],  # the allocation writes every domain again on every run
}
# Other statuses a variant must give (it differs from the default panel in what they test).
EXPECTED = {
    "owner_id": {"P5": "confirmed"},
    "port_state_hidden": {"P12": "confirmed"},
    "disable_sets_disabled": {"P8": "confirmed"},
    "osmgr_title": {"P16": "confirmed"},
    "flags_on_off": {"P7": "confirmed"},
    "flag_text_on": {"P7": "confirmed"},
    "form_omits_empty": {"P13": "unknown"},
    "iplist_no_domain": {"P9": "confirmed", "P10": "confirmed"},
}
# What a variant must show in the evidence, so that a user sees which detail differs.
EVIDENCE = {
    "auth_ok_only": ("P1", "gave no session"),
    "iplist_no_domain": ("P9", "iplist rows show no domain"),
    "iplist_no_domain_anywhere": ("P9", "neither iplist nor the iplist.edit form"),
    "osmgr_title": ("P16", "osmgr names are the install form's template texts"),
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
    "flags_on_off": ("P7", "'off' read as not set"),
    "form_omits_empty": ("P13", "no sampled form shows notes"),
}


def check_panel(sim, **args):
    """dci_panel_info on ``sim`` with a blocked server (as this panel's server.disable leaves it, so the
    suspension check has evidence); asserts that the check itself wrote nothing."""
    runner = ModuleRunner(connection_args(sim))
    assert not runner.run("dci_server", {"server_id": "6", "blocked": True, "poll_interval": 1}).get("failed")
    sim.clear_calls()
    result = runner.run("dci_panel_info", dict({"sample": 4}, **args))
    assert not result.get("failed"), result["msg"]
    assert sim.writes() == [], [call["name"] for call in sim.writes()]
    return result


def statuses(result):
    return {check["id"]: check["status"] for check in result["assumptions"]}


def evidence(result, check_id):
    return next(check["evidence"] for check in result["assumptions"] if check["id"] == check_id)


def test_the_check_fails_exactly_where_the_lifecycle_goes_wrong():
    wrong = {variant for variant, dummy in CANNOT_KNOW} | {variant for variant, dummy in NOT_IDEMPOTENT}
    assert set(CONTRADICTS) == wrong
    assert set(CONTRADICTS) | set(EXPECTED) | set(EVIDENCE) <= set(VARIANTS)


@pytest.mark.quick
@pytest.mark.parametrize("variant", ["default"] + sorted(VARIANTS))
def test_the_check_names_the_differing_detail_and_writes_nothing(variant, tmp_path):
    sim = DCImanagerSimulator(state=default_state(), tls_dir=str(tmp_path / "tls"), **VARIANTS.get(variant, {})).start()
    try:
        result = check_panel(sim)
        found = statuses(result)
        contradicted = sorted(check_id for check_id, status in found.items() if status == "contradicted")
        assert contradicted == sorted(CONTRADICTS.get(variant, [])), result["table"]
        for check_id, status in EXPECTED.get(variant, {}).items():
            assert found[check_id] == status, result["table"]
        if variant in EVIDENCE:
            check_id, words = EVIDENCE[variant]
            assert words in evidence(result, check_id), (variant, evidence(result, check_id))
        assert [check["id"] for check in result["assumptions"]] == ["P%d" % n for n in range(1, 22)]
        assert len(result["table"]) == 2 + len(result["assumptions"]) and result["contradicted"] == contradicted
        times = result["answer_times"]
        assert times["claim_bound"] == 2.0 and times["verdict"] == "well under", times
        assert times["list"]["reads"] >= 4 and times["form"]["reads"] >= 4 and 0 < times["claim_estimate"] < 1.0
    finally:
        sim.close()


class HidesOwner(DCImanagerSimulator):
    """A panel whose server.edit form never shows the owner, set or not."""

    def _form(self, values, slists=None):
        return super()._form([(key, value) for key, value in values if key != "owner"], slists)


def test_a_form_that_hides_a_set_owner_is_a_contradiction(tmp_path):
    sim = HidesOwner(state=default_state(), tls_dir=str(tmp_path / "tls")).start()
    try:
        result = check_panel(sim)
        assert result["contradicted"] == ["P13"]
        assert "server 6's owner (the list shows alice)" in evidence(result, "P13")
    finally:
        sim.close()


def test_the_owner_left_out_of_a_free_servers_form_is_no_contradiction(tmp_path):
    state = default_state()
    state["servers"][0]["notes"] = "rack label 7"  # a form that shows notes somewhere
    sim = DCImanagerSimulator(state=state, tls_dir=str(tmp_path / "tls"), **VARIANTS["form_omits_empty"]).start()
    try:
        result = check_panel(sim, sample=7)
        assert statuses(result)["P13"] == "confirmed", result["table"]
        said = evidence(result, "P13")
        assert "left out only where empty:" in said and "server 1's owner" in said and "server 6's owner" not in said, said
    finally:
        sim.close()


def test_flag_words_the_collection_cannot_read_are_a_contradiction(tmp_path):
    # Unset flags as "nein": read as set, so every server would be powered on and off at once.
    sim = DCImanagerSimulator(state=default_state(), tls_dir=str(tmp_path / "tls"), flag_off_text="nein").start()
    try:
        result = check_panel(sim)
        assert result["contradicted"] == ["P7"]
        assert "'nein'" in evidence(result, "P7")
    finally:
        sim.close()


def test_a_template_name_the_install_cannot_take_is_a_contradiction(tmp_path):
    # Two templates with one title: osmgr lists the title, which names no single install template.
    state = default_state()
    for template in state["os_templates"][:2]:
        template["title"] = "Linux"
    sim = DCImanagerSimulator(state=state, tls_dir=str(tmp_path / "tls"), osmgr_name="title").start()
    try:
        result = check_panel(sim)
        assert result["contradicted"] == ["P16"]
        assert "neither keys nor texts" in evidence(result, "P16")
    finally:
        sim.close()


@pytest.mark.quick
def test_answer_times_near_the_claim_bound_are_reported(tmp_path):
    sim = DCImanagerSimulator(state=default_state(), tls_dir=str(tmp_path / "tls"), latency=0.03).start()
    try:
        result = check_panel(sim, sample=1, claim_bound=0.1)
        times = result["answer_times"]
        assert times["verdict"] in ("near", "over") and times["claim_estimate"] >= 0.06, times
        assert times["list"]["median"] >= 0.03 and times["form"]["slowest"] >= 0.03
        assert any("come near the allocation's claim bound" in warning for warning in result["warnings"])
        result = check_panel(sim, sample=1, claim_bound=60.0)
        assert result["answer_times"]["verdict"] == "well under" and not result.get("warnings")
    finally:
        sim.close()


def test_the_playbook_prints_the_table_and_fails_on_a_contradiction(tmp_path, dci, dci_env):
    run = run_ansible_playbook(tmp_path, ["ispsystem.dcimanager.check_panel"], env=dci_env)
    assert run.rc == 0, run.output
    assert "| P5 | confirmed | the `server` list's `owner` column holds" in run.output
    assert "a claim would take about" in run.output
    assert dci.writes() == []
    dci.apply_settings({"auth_answer": "ok"})
    run = run_ansible_playbook(tmp_path, ["ispsystem.dcimanager.check_panel"], env=dci_env)
    assert run.rc != 0
    assert "panel default contradicts P1" in run.output
    assert "| P1 | contradicted |" in run.output
    assert dci.writes() == []


def test_the_playbook_checks_every_panel_of_dcimanager_panels(tmp_path):
    """Two panels by WHMCS server id: one table each; one contradicts, so the run fails naming it alone."""
    first = DCImanagerSimulator(state=default_state(), tls_dir=str(tmp_path / "tls1"), admin_password="first-panel-pw").start()
    second = DCImanagerSimulator(state=default_state(), tls_dir=str(tmp_path / "tls2"), admin_password="second-panel-pw", auth_answer="ok").start()
    try:
        panels = {
            1: {"url": first.url, "username": first.admin_user, "password": first.admin_password, "ca_path": first.ca_path},
            "7": {"url": second.url, "username": second.admin_user, "password": second.admin_password, "ca_path": second.ca_path, "use_proxy": False},
        }
        extra = tmp_path / "panels.json"
        extra.write_text(json.dumps({"dcimanager_panels": panels}))
        run = run_ansible_playbook(tmp_path, ["ispsystem.dcimanager.check_panel"], args=["-e", "@%s" % extra])
        assert run.rc != 0, run.output
        assert "panel 1:" in run.output and "panel 7:" in run.output
        assert run.output.count("| P5 | confirmed |") == 2
        assert "panel 7 contradicts P1" in run.output and "panel 1 contradicts" not in run.output
        assert first.calls and second.calls and first.writes() == [] and second.writes() == []
        assert "first-panel-pw" not in run.output and "second-panel-pw" not in run.output

        second.apply_settings({"auth_answer": "session"})
        second.stop()  # a panel that does not answer fails the check too, and the other is still checked
        run = run_ansible_playbook(tmp_path, ["ispsystem.dcimanager.check_panel"], args=["-e", "@%s" % extra])
        assert run.rc != 0
        assert "panel 7 could not be read" in run.output and "panel 1:" in run.output
    finally:
        first.close()
        second.close()
