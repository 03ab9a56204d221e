# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The dedicated_server role and the playbooks, end to end through both simulators."""

from __future__ import annotations

from harness import run_ansible_playbook
from simulators.shop import PACKAGE


def playbook(shop, tmp_path, name, *args, check=False, inventory=None):
    args = list(args) + ["-e", "@%s" % shop.products_file, "-e", "dedicated_server_poll_interval=1", "-e", "dedicated_server_install_settle_time=2"]
    run = run_ansible_playbook(tmp_path, ["ispsystem.dcimanager.%s" % name] + args, env=shop.env, check=check, inventory=str(inventory) if inventory else None)
    assert "Traceback" not in run.output
    return run


def servers_by_hostname(shop):
    result = {}
    for server in shop.dci.dump_state()["servers"]:
        domains = {address["domain"] for address in server["addresses"]}
        assert len(domains) == 1, server  # never half-renamed
        result.setdefault(domains.pop(), []).append(server)
    return result


def login_of(shop, user_id):
    return {user["id"]: user["name"] for user in shop.dci.dump_state()["users"]}.get(user_id)


def test_one_service_through_its_lifecycle(shop, tmp_path):
    run = playbook(shop, tmp_path, "provision", "-e", "service_id=12")
    assert run.rc == 0, run.output
    service = shop.whmcs.service(12)
    server = servers_by_hostname(shop)["bob.example.net"][0]
    assert login_of(shop, server["owner"]) == "bob"
    assert server["installed_template"] == "ISPsystem__Ubuntu-24.04-amd64"  # the customer's OS option wins
    assert service["status"] == "Active"
    assert service["dedicatedip"] == server["main_ip"]
    extra = [address["ip"] for address in server["addresses"] if address["ip"] != server["main_ip"]]
    assert len(extra) == 2  # IP = 1 and IPv6 = 1
    assert sorted(service["assignedips"].split()) == sorted(extra)
    assert service["username"] == "bob"
    assert "service 12 (bob.example.net): active, server %s %s owner bob" % (server["id"], server["main_ip"]) in run.output

    shop.clear_calls()
    again = playbook(shop, tmp_path, "provision", "-e", "service_id=12")
    assert again.rc == 0 and again.changed_tasks == [] and shop.writes() == []

    run = playbook(shop, tmp_path, "suspend", "-e", "service_id=12")
    assert run.rc == 0, run.output
    assert shop.dci.server_state(server["id"])["blocked"] is True
    assert shop.whmcs.service(12)["status"] == "Suspended"

    run = playbook(shop, tmp_path, "unsuspend", "-e", "service_id=12")
    assert run.rc == 0, run.output
    assert shop.dci.server_state(server["id"])["blocked"] is False
    assert shop.whmcs.service(12)["status"] == "Active"

    run = playbook(shop, tmp_path, "terminate", "-e", "service_id=12")
    assert run.rc == 0, run.output
    released = shop.dci.server_state(server["id"])
    assert released["owner"] is None and [a["domain"] for a in released["addresses"]] == ["free.ds"]
    service = shop.whmcs.service(12)
    assert service["status"] == "Terminated" and service["dedicatedip"] == "" and service["assignedips"] == ""

    shop.clear_calls()
    again = playbook(shop, tmp_path, "terminate", "-e", "service_id=12")
    assert again.rc == 0 and again.changed_tasks == [] and shop.writes() == []


def test_account_is_reused_for_a_clients_second_server(shop, tmp_path):
    assert playbook(shop, tmp_path, "provision", "-e", "service_id=10").rc == 0
    run = playbook(shop, tmp_path, "provision", "-e", "service_id=11")
    assert run.rc == 0, run.output
    by_name = servers_by_hostname(shop)
    first, second = by_name["10.domain"][0], by_name["ada-second.example.net"][0]
    assert first["owner"] == second["owner"] and login_of(shop, first["owner"]) == "ada"
    assert [user["name"] for user in shop.dci.dump_state()["users"]].count("ada") == 1


def test_reconcile_a_mixed_fleet_twice(shop, tmp_path):
    check = playbook(shop, tmp_path, "reconcile", check=True, inventory=shop.inventory)
    assert check.rc == 0, check.output
    assert shop.writes() == [], "check mode wrote: %s" % [call["name"] for call in shop.writes()]

    run = playbook(shop, tmp_path, "reconcile", inventory=shop.inventory)
    assert run.rc == 0, run.output
    by_name = servers_by_hostname(shop)
    for sid, hostname in ((10, "10.domain"), (11, "ada-second.example.net"), (12, "bob.example.net")):
        assert shop.whmcs.service(sid)["status"] == "Active"
        assert shop.whmcs.service(sid)["dedicatedip"] == by_name[hostname][0]["main_ip"]
    assert shop.dci.server_state(101)["blocked"] is False  # Active: unblocked
    assert shop.dci.server_state(102)["blocked"] is True  # Suspended: blocked
    assert shop.dci.server_state(103)["owner"] is None  # Terminated: released
    assert shop.whmcs.service(22)["dedicatedip"] == ""
    assert shop.whmcs.service(23)["status"] == "Cancelled"  # untouched
    assert shop.whmcs.service(24)["status"] == "Fraud"  # untouched
    assert len(by_name["free.ds"]) == 8 + 1 - 3  # 8 free + erin's released - 3 new

    shop.clear_calls()
    again = playbook(shop, tmp_path, "reconcile", inventory=shop.inventory)
    assert again.rc == 0, again.output
    assert again.changed_tasks == []
    assert shop.writes() == []


def fail_every_install(shop):
    """Every later install on a server of the product's package fails (the simulator's fail_installs)."""
    for server in shop.dci.dump_state()["servers"]:
        if server.get("chassis_templ") == PACKAGE:
            shop.dci.fail_installs(server["id"])


def test_failed_activation_leaves_the_service_pending_and_the_server_free(shop, tmp_path):
    fail_every_install(shop)
    before = servers_by_hostname(shop)

    run = playbook(shop, tmp_path, "provision", "-e", "service_id=10")
    assert run.rc != 0
    assert "activation of service 10 (10.domain) failed" in run.output
    assert "The server was put back free" in run.output
    assert shop.whmcs.service(10)["status"] == "Pending" and shop.whmcs.service(10)["dedicatedip"] == ""
    after = servers_by_hostname(shop)
    assert "10.domain" not in after
    assert len(after["free.ds"]) == len(before["free.ds"])


def test_a_service_that_failed_fails_the_converge_run_at_its_end(shop, tmp_path):
    """converge and reconcile converge every service, then fail on the ones that failed (playbooks/failed.yml)."""
    fail_every_install(shop)
    run = playbook(shop, tmp_path, "converge", "-e", "service_id=10")
    assert run.rc == 2, run.output
    # fleet_apply's own failure is ignored there (each service runs to its end), then reported at the end.
    failed = [r for r in run.records if r["status"] == "failed"]
    assert [r["task"].split(" : ")[-1] for r in failed] == ["Converge the services to WHMCS", "Report the services that failed"], run.output
    assert "1 of 1 services failed" in failed[1]["result"]["msg"] and "activation of service 10 (10.domain) failed" in failed[1]["result"]["msg"]
    assert run.output.index("PLAY [Summary]") < run.output.index("PLAY [Fail on the services that failed]")
    assert shop.whmcs.service(10)["status"] == "Pending"


def test_missing_product_settings_are_a_clear_error(shop, tmp_path):
    run = run_ansible_playbook(tmp_path, ["ispsystem.dcimanager.provision", "-e", "service_id=10"], env=shop.env)
    assert run.rc != 0
    assert "service 10: no value for package" in run.output
    assert shop.writes() == []


def test_single_service_playbooks_refuse_the_whole_inventory(shop, tmp_path):
    run = playbook(shop, tmp_path, "terminate", inventory=shop.inventory)
    assert run.rc != 0
    assert "give one service (-e service_id=N), a --limit, or -e target_hosts=PATTERN" in run.output
    assert shop.writes() == []
    assert shop.dci.server_state(101)["owner"] is not None


def test_a_service_whmcs_has_just_created_is_provisioned_with_new_service(shop, tmp_path):
    """WHMCS marks a service Active when its module Create returns, before any server exists."""
    shop.whmcs.module_event(11, "create")
    assert shop.whmcs.service(11)["status"] == "Active"
    refused = playbook(shop, tmp_path, "provision", "-e", "service_id=11")
    assert refused.rc != 0 and "no DCImanager server carries hostname ada-second.example.net" in refused.output
    assert "ada-second.example.net" not in servers_by_hostname(shop)

    run = playbook(shop, tmp_path, "provision", "-e", "service_id=11", "-e", "dedicated_server_new_service=true")
    assert run.rc == 0, run.output
    [server] = servers_by_hostname(shop)["ada-second.example.net"]
    assert login_of(shop, server["owner"]) == "ada" and server["installed_template"] == "ISPsystem__Debian-12-amd64"
    assert shop.whmcs.service(11)["dedicatedip"] == server["main_ip"]

    # Again (the event emitted a second time after a restart): nothing to do, no second server.
    shop.clear_calls()
    again = playbook(shop, tmp_path, "provision", "-e", "service_id=11", "-e", "dedicated_server_new_service=true")
    assert again.rc == 0 and again.changed_tasks == [] and shop.dci.writes() == []
