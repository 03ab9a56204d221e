# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The playbook server_control (the WHMCS provisioning module's buttons), run by ansible-playbook against the shop."""

from __future__ import annotations

import pytest

from harness import run_ansible_playbook


def server_control(shop, tmp_path, service_id, operation, requested_by, *args, check=False):
    extra = ["-e", "service_id=%s" % service_id, "-e", "operation=%s" % operation, "-e", "requested_by=%s" % requested_by]
    extra += ["-e", "@%s" % shop.products_file, "-e", "dedicated_server_poll_interval=1", "-e", "dedicated_server_install_settle_time=2"]
    run = run_ansible_playbook(tmp_path, ["ispsystem.dcimanager.server_control"] + extra + list(args), env=shop.env, check=check)
    assert "Traceback" not in run.output
    return run


def names(calls):
    return [call["name"] for call in calls]


def test_client_reboot_of_an_active_service(shop, tmp_path):
    shop.dci.apply_settings({"poweron_seconds": 0.2, "poweroff_seconds": 0.2})
    shop.clear_calls()
    run = server_control(shop, tmp_path, 20, "reboot", "client")  # carol: Active, server 101
    assert run.rc == 0, run.output
    assert [call["params"].get("elid") for call in shop.dci.writes()] == ["101"]
    assert names(shop.dci.writes()) == ["server.reboot"]
    assert shop.whmcs.writes() == []
    assert "service 20 (carol.example.net): reboot requested by the client done on server 101" in run.output


def test_check_mode_writes_nothing(shop, tmp_path):
    shop.clear_calls()
    run = server_control(shop, tmp_path, 20, "power_off", "admin", check=True)
    assert run.rc == 0, run.output
    assert shop.writes() == []
    assert "would be done on server 101" in run.output


@pytest.mark.parametrize(
    "service_id, operation, requested_by, expected",
    [
        pytest.param(
            21, "power_on", "client", "service 21 is Suspended in WHMCS: a client may power on its server only while the service is Active", id="suspended"
        ),
        pytest.param(20, "reinstall", "client", "reinstall: admin only", id="client-reinstall"),
        pytest.param(10, "reboot", "admin", "service 10 (10.domain): no server to reboot", id="pending-no-server"),
        pytest.param(20, "format", "admin", "server_control needs", id="unknown-operation"),
    ],
)
def test_refusals_change_nothing(shop, tmp_path, service_id, operation, requested_by, expected):
    shop.clear_calls()
    run = server_control(shop, tmp_path, service_id, operation, requested_by)
    assert run.rc != 0
    assert expected in " ".join(run.output.split())
    assert shop.writes() == []


def test_admin_reinstall_installs_the_services_template_again(shop, tmp_path):
    shop.clear_calls()
    run = server_control(shop, tmp_path, 20, "reinstall", "admin", "-e", "dedicated_server_wait_for_install=false")
    assert run.rc == 0, run.output
    [install] = [call for call in shop.dci.writes() if call["name"] == "server.operations"]
    assert install["params"]["elid"] == "101" and install["params"]["ostemplate"] == "ISPsystem__Debian-12-amd64"
    assert "carol-Pw-5t1r" not in run.output


def test_a_panel_per_whmcs_server_entry(shop, tmp_path):
    """With dcimanager_panels, the panel is the one of the service's server entry; a missing entry is refused."""
    panels = {1: {"url": shop.dci.url, "username": shop.dci.admin_user, "password": shop.dci.admin_password, "ca_path": shop.dci.ca_path}}
    env = {key: value for key, value in shop.env.items() if not key.startswith("DCIMANAGER_")}
    vars_file = tmp_path / "panels.json"
    import json  # pylint: disable=import-outside-toplevel

    vars_file.write_text(json.dumps({"dcimanager_panels": panels}))
    shop.clear_calls()
    extra = ["-e", "service_id=20", "-e", "operation=power_on", "-e", "requested_by=admin", "-e", "@%s" % shop.products_file, "-e", "@%s" % vars_file]
    run = run_ansible_playbook(tmp_path, ["ispsystem.dcimanager.server_control"] + extra, env=env)
    assert run.rc == 0, run.output
    assert shop.dci.admin_password not in run.output

    vars_file.write_text(json.dumps({"dcimanager_panels": {"7": panels[1]}}))
    run = run_ansible_playbook(tmp_path, ["ispsystem.dcimanager.server_control"] + extra, env=env)
    assert run.rc != 0 and "service 20: no panel for WHMCS server 1 in dcimanager_panels" in run.output
