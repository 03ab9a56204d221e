# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Two datacenters: every playbook handles each service on the panel of its own WHMCS server entry.

The sample shop on two panels (tests/integration/panel_shop.py: services 10-24 on WHMCS server entry 1,
110-124 on entry 2, the same server ids on both panels, each panel with its own CA and login). No
DCIMANAGER_* default panel exists: a run that sent a service to the wrong panel, or to none, fails.
"""

from __future__ import annotations

import json

from harness import run_ansible_playbook


def playbook(shop, tmp_path, name, *args, check=False, inventory=False, env=None):
    args = list(args) + [
        "-e",
        "@%s" % shop.products_file,
        "-e",
        "dedicated_server_poll_interval=1",
        "-e",
        "dedicated_server_install_settle_time=1",
        "-e",
        "dedicated_server_claim_settle=2.5",
    ]
    if env is None:
        args += ["-e", "@%s" % shop.panels_file]
    run = run_ansible_playbook(
        tmp_path,
        ["ispsystem.dcimanager.%s" % name] + args,
        env=dict(shop.env, **(env or {})),
        check=check,
        inventory=str(shop.inventory) if inventory else None,
    )
    assert "Traceback" not in run.output, run.output
    return run


def hostnames(sim):
    return {server["addresses"][0]["domain"]: server for server in sim.dump_state()["servers"]}


def test_each_service_on_its_own_panel(two_panels, tmp_path):
    shop = two_panels
    one, two = shop.panels["1"], shop.panels["2"]

    # A service of each datacenter, by hand (the manual playbook: a person's decision).
    for sid in (12, 112):
        run = playbook(shop, tmp_path, "provision", "-e", "service_id=%d" % sid)
        assert run.rc == 0, run.output
    assert "bob.example.net" in hostnames(one) and "bob.example.net" not in hostnames(two)
    assert "bob.dc2.example.net" in hostnames(two) and "bob.dc2.example.net" not in hostnames(one)
    assert shop.service(112)["dedicatedip"] == hostnames(two)["bob.dc2.example.net"]["main_ip"]

    run = playbook(shop, tmp_path, "suspend", "-e", "service_id=112")
    assert run.rc == 0, run.output
    assert hostnames(two)["bob.dc2.example.net"]["blocked"] and not hostnames(one)["bob.example.net"]["blocked"]

    # Terminate on panel 2: the server goes back to panel 2's pool, panel 1 is not touched.
    shop.clear_calls()
    run = playbook(shop, tmp_path, "terminate", "-e", "service_id=122")
    assert run.rc == 0, run.output
    assert {call["side"] for call in shop.writes()} <= {"2", "whmcs"}
    assert two.server_state(103)["owner"] is None and one.server_state(103)["owner"] is not None

    # Usage of each service from its own panel.
    for sid in (20, 120):
        run = playbook(shop, tmp_path, "sync_usage", "-e", "service_id=%d" % sid)
        assert run.rc == 0, run.output

    # The reconcile: each panel's list read once, each service compared with its own panel only.
    shop.clear_calls()
    check = playbook(shop, tmp_path, "reconcile", check=True, inventory=True)
    assert shop.writes() == [], [(c["side"], c["name"]) for c in shop.writes()]
    assert shop.list_reads() == {"1": 1, "2": 1}
    assert "panel 1: " in check.output and "panel 2: " in check.output

    run = playbook(shop, tmp_path, "reconcile", inventory=True)
    assert run.rc == 0, run.output
    for sid, panel, hostname in (
        (10, one, "10.domain"),
        (110, two, "110.domain"),
        (11, one, "ada-second.example.net"),
        (111, two, "ada-second.dc2.example.net"),
    ):
        assert hostname in hostnames(panel), (sid, hostname)
        assert shop.service(sid)["status"] == "Active" and shop.service(sid)["dedicatedip"] == hostnames(panel)[hostname]["main_ip"]
    for panel, other in ((one, "110.domain"), (two, "10.domain")):
        assert other not in hostnames(panel)
    assert one.server_state(103)["owner"] is None  # erin's, Terminated in WHMCS: released on its own panel now
    assert two.server_state(102)["blocked"] and one.server_state(102)["blocked"]  # dave's, Suspended, on both


def test_a_service_of_a_server_entry_without_a_panel_is_refused(two_panels, tmp_path):
    shop = two_panels
    state = shop.whmcs.dump_state()
    for service in state["services"]:
        if service["id"] == 110:
            service["serverid"] = 7
    shop.whmcs.load_state(state)
    for name in ("converge", "provision"):
        run = playbook(shop, tmp_path, name, "-e", "service_id=110")
        assert run.rc != 0 and "no panel for WHMCS server 7" in run.output, run.output
    assert [call for call in shop.writes() if call["side"] != "whmcs"] == []
    plan = playbook(shop, tmp_path, "reconcile", check=True, inventory=True)
    assert "conflict: no_panel" in plan.output and "110 (110.domain)" in plan.output
    assert shop.writes() == []


def test_the_panels_from_the_awx_credential_types_environment(two_panels, tmp_path):
    """DCIMANAGER_PANELS (JSON, what the AWX credential type injects) stands in for dcimanager_panels."""
    shop = two_panels
    run = playbook(shop, tmp_path, "converge", "-e", "service_id=110", env={"DCIMANAGER_PANELS": json.dumps(shop.dcimanager_panels)})
    assert run.rc == 0, run.output
    assert "110.domain" in hostnames(shop.panels["2"]) and "110.domain" not in hostnames(shop.panels["1"])
    for sim in shop.panels.values():
        assert sim.admin_password not in run.output
