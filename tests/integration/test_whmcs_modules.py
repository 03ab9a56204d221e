# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""whmcs_service and whmcs_service_info, through real ansible-playbook runs against the simulator."""

from __future__ import annotations

import base64

from harness import run_playbook
from simulators.whmcs import php_unserialize
from whmcs_fixtures import api_calls, whmcs, whmcs_env  # noqa: F401 pylint: disable=unused-import

SERVICE = "ispsystem.dcimanager.whmcs_service"
INFO = "ispsystem.dcimanager.whmcs_service_info"


def task(module, args, name="t", **extra):
    return dict({"name": name, module: args, "register": "out", "ignore_errors": True}, **extra)


def test_info_returns_the_normalised_service(tmp_path, whmcs, whmcs_env):
    run = run_playbook(
        tmp_path,
        [
            task(INFO, {"service_id": 1}, "plain"),
            task(INFO, {"service_id": 1, "include_password": True}, "secret", no_log=True),
            task(INFO, {"service_id": 99}, "missing"),
        ],
        env=whmcs_env,
        check=True,
    )
    service = run.result("plain")["service"]
    assert run.status("plain") == "ok"
    assert service["service_id"] == 1 and service["client_id"] == 1 and service["product_id"] == 1
    assert service["assigned_ips"] == ["203.0.113.11", "2001:db8::1"]
    assert service["config_options"] == {"OS": "Debian 12", "IP": 2, "IPv6": 1, "Backup": 1, "recipe": "#local__docker"}
    assert service["custom_fields"] == {"Rack": "A-12", "Serial": "SN-0001"}
    assert "password" not in service
    assert run.status("secret") == "ok"
    assert run.status("missing") == "failed" and "no service with id 99" in run.result("missing")["msg"]
    assert not whmcs.writes()
    assert "ada-Pw-1" not in run.output


def test_service_update_check_mode_idempotency_and_diff(tmp_path, whmcs, whmcs_env):
    args = {
        "service_id": 2,
        "status": "Active",
        "domain": "srv2.example.com",
        "dedicated_ip": "203.0.113.2",
        "assigned_ips": ["203.0.113.21", "203.0.113.22"],
        "username": "ada2",
        "notes": "racked",
    }

    # Missing parameter: a clear failure, nothing written.
    run = run_playbook(tmp_path, [task(SERVICE, {"domain": "x.example.com"})], env=whmcs_env)
    assert run.status("t") == "failed" and "service_id" in run.result("t")["msg"]
    assert not whmcs.writes()

    # Check mode: changed, a diff of exactly the fields that change, and not one writing call.
    whmcs.clear_calls()
    run = run_playbook(tmp_path, [task(SERVICE, args)], env=whmcs_env, check=True, diff=True)
    result = run.result("t")
    assert run.status("t") == "changed", run.output
    assert result["diff"]["before"] == {"status": "Pending", "domain": "", "dedicated_ip": "", "assigned_ips": [], "username": "ada", "notes": ""}
    assert result["diff"]["after"] == {
        "status": "Active",
        "domain": "srv2.example.com",
        "dedicated_ip": "203.0.113.2",
        "assigned_ips": ["203.0.113.21", "203.0.113.22"],
        "username": "ada2",
        "notes": "racked",
    }
    assert result["service"]["domain"] == "srv2.example.com" and result["service"]["status"] == "Active"
    assert api_calls(whmcs) and not whmcs.writes()
    assert whmcs.service(2)["status"] == "Pending"

    # Apply: one UpdateClientProduct with the changed fields.
    whmcs.clear_calls()
    run = run_playbook(tmp_path, [task(SERVICE, args)], env=whmcs_env)
    assert run.status("t") == "changed", run.output
    writes = whmcs.writes()
    assert [w["name"] for w in writes] == ["UpdateClientProduct"]
    assert writes[0]["params"]["serviceid"] == "2" and writes[0]["params"]["serviceusername"] == "ada2"
    stored = whmcs.service(2)
    assert (stored["status"], stored["domain"], stored["dedicatedip"], stored["username"], stored["notes"]) == (
        "Active",
        "srv2.example.com",
        "203.0.113.2",
        "ada2",
        "racked",
    )
    assert stored["assignedips"].splitlines() == ["203.0.113.21", "203.0.113.22"]
    assert run.result("t")["service"]["assigned_ips"] == ["203.0.113.21", "203.0.113.22"]

    # Rerun, also in check mode: nothing to do, no write.
    whmcs.clear_calls()
    run = run_playbook(tmp_path, [task(SERVICE, args, "again")], env=whmcs_env)
    assert run.status("again") == "ok" and not whmcs.writes()
    run = run_playbook(tmp_path, [task(SERVICE, args, "again")], env=whmcs_env, check=True, diff=True)
    assert run.status("again") == "ok" and not whmcs.writes()
    assert run.result("again")["diff"] == {"before": {}, "after": {}}


def test_blanking_fields_uses_unset(tmp_path, whmcs, whmcs_env):
    args = {"service_id": 1, "domain": "", "dedicated_ip": "", "assigned_ips": [], "notes": ""}
    run = run_playbook(tmp_path, [task(SERVICE, args)], env=whmcs_env, diff=True)
    assert run.status("t") == "changed", run.output
    write = whmcs.writes()[0]["params"]
    assert sorted(write["unset[]"]) == ["assignedips", "dedicatedip", "domain", "notes"]
    assert not {"domain", "dedicatedip", "assignedips", "notes"} & set(write)
    stored = whmcs.service(1)
    assert (stored["domain"], stored["dedicatedip"], stored["assignedips"], stored["notes"]) == ("", "", "", "")
    assert run.result("t")["diff"]["after"]["assigned_ips"] == []
    whmcs.clear_calls()
    run = run_playbook(tmp_path, [task(SERVICE, args)], env=whmcs_env)
    assert run.status("t") == "ok" and not whmcs.writes()


def test_custom_fields_by_name(tmp_path, whmcs, whmcs_env):
    # Service 2 has no stored custom field values: names still resolve (from the product's field list).
    args = {"service_id": 2, "custom_fields": {"Rack": "C-3", "Serial": 1234}}
    run = run_playbook(tmp_path, [task(SERVICE, args)], env=whmcs_env, check=True, diff=True)
    assert run.status("t") == "changed" and not whmcs.writes()
    assert run.result("t")["diff"] == {"before": {"custom_fields": {"Rack": "", "Serial": ""}}, "after": {"custom_fields": {"Rack": "C-3", "Serial": "1234"}}}
    run = run_playbook(tmp_path, [task(SERVICE, args)], env=whmcs_env)
    assert run.status("t") == "changed", run.output
    sent = whmcs.writes()[0]["params"]["customfields"]
    assert php_unserialize(base64.b64decode(sent).decode()) == {1: "C-3", 2: "1234"}
    assert whmcs.service(2)["customfields"] == {"1": "C-3", "2": "1234"}
    assert run.result("t")["service"]["custom_fields"] == {"Rack": "C-3", "Serial": "1234"}

    # Partly given: only the named field is compared and written; the other keeps its value.
    whmcs.clear_calls()
    run = run_playbook(tmp_path, [task(SERVICE, {"service_id": 2, "custom_fields": {"Serial": ""}})], env=whmcs_env)
    assert run.status("t") == "changed"
    assert php_unserialize(base64.b64decode(whmcs.writes()[0]["params"]["customfields"]).decode()) == {2: ""}
    assert whmcs.service(2)["customfields"] == {"1": "C-3", "2": ""}
    whmcs.clear_calls()
    run = run_playbook(tmp_path, [task(SERVICE, {"service_id": 2, "custom_fields": {"Rack": "C-3", "Serial": ""}})], env=whmcs_env)
    assert run.status("t") == "ok" and not whmcs.writes()

    # An unknown name fails, naming the known ones, and writes nothing.
    run = run_playbook(tmp_path, [task(SERVICE, {"service_id": 2, "custom_fields": {"Shelf": "x"}})], env=whmcs_env)
    assert run.status("t") == "failed"
    assert "no custom field named Shelf" in run.result("t")["msg"] and "Rack, Serial" in run.result("t")["msg"]
    assert not whmcs.writes()


def test_password_is_compared_masked_and_never_shown(tmp_path, whmcs, whmcs_env):
    new_password = "N3w-Serv1ce-Pw!"
    args = {"service_id": 3, "password": new_password}
    run = run_playbook(tmp_path, [task(SERVICE, args)], env=whmcs_env, check=True, diff=True, args=["-vvv"])
    assert run.status("t") == "changed" and not whmcs.writes()
    assert run.result("t")["diff"] == {"before": {"password": "********"}, "after": {"password": "********"}}
    run = run_playbook(tmp_path, [task(SERVICE, args)], env=whmcs_env, diff=True, args=["-vvv"])
    assert run.status("t") == "changed"
    assert whmcs.service(3)["password"] == new_password
    assert whmcs.writes()[0]["params"]["servicepassword"] == new_password
    whmcs.clear_calls()
    run = run_playbook(tmp_path, [task(SERVICE, args)], env=whmcs_env, diff=True, args=["-vvv"])
    assert run.status("t") == "ok" and not whmcs.writes()
    for text in (run.output, repr(run.records)):
        assert new_password not in text and "bob-Pw-2" not in text and whmcs.secret not in text


def test_bad_credentials_refused_ip_and_access_key(tmp_path, whmcs, whmcs_env):
    args = {"service_id": 1, "notes": "x"}
    run = run_playbook(tmp_path, [task(SERVICE, args)], env=dict(whmcs_env, WHMCS_API_SECRET="Wrong-Secret-1"), args=["-vvv"])
    result = run.result("t")
    assert run.status("t") == "failed"
    assert result["api_error"] == {"type": "error", "object": "GetClientsProducts", "msg": "Invalid or missing credentials"}
    assert "check the API identifier and secret" in result["msg"]
    assert "Wrong-Secret-1" not in run.output and "Traceback" not in run.output

    whmcs.refuse_ip = "403"
    run = run_playbook(tmp_path, [task(SERVICE, args)], env=whmcs_env)
    assert run.status("t") == "failed"
    assert "HTTP 403" in run.result("t")["msg"] and "allow-list" in run.result("t")["msg"]
    assert not whmcs.writes()

    whmcs.access_key = "Acc-Key-99"
    run = run_playbook(tmp_path, [task(SERVICE, dict(args, whmcs_access_key="Acc-Key-99"))], env=whmcs_env, args=["-vvv"])
    assert run.status("t") == "changed", run.output
    assert whmcs.service(1)["notes"] == "x"
    assert "Acc-Key-99" not in run.output


def test_module_defaults_group_and_explicit_options(tmp_path, whmcs):
    """The action group carries the connection options; no environment variables at all."""
    connection = {"whmcs_url": whmcs.url + "includes/api.php", "whmcs_identifier": whmcs.identifier, "whmcs_secret": whmcs.secret, "ca_path": whmcs.ca_path}
    play_tasks = [
        {"name": "read", "module_defaults": {"group/ispsystem.dcimanager.whmcs": connection}, INFO: {"service_id": 8}, "register": "out"},
    ]
    run = run_playbook(tmp_path, play_tasks)
    assert run.status("read") == "ok", run.output
    assert run.result("read")["service"]["custom_fields"]["Rack"] == 'Rück-7 "north"'
    assert whmcs.calls[0]["path"] == "/includes/api.php"


def test_a_write_whose_answer_is_lost_is_read_back_before_it_is_sent_again(tmp_path, whmcs, whmcs_env):
    # The update never reached WHMCS's database (the fault came first): the read-back shows the old
    # notes, so the update is sent once more and goes through.
    whmcs.set_faults(rate=1.0, kinds=("http500",), names=["UpdateClientProduct"], seed=1, count=1)
    run = run_playbook(tmp_path, [task(SERVICE, {"service_id": 1, "notes": "after fault"})], env=whmcs_env)
    assert run.status("t") == "changed", run.output
    assert whmcs.service(1)["notes"] == "after fault"
    assert len(api_calls(whmcs, "UpdateClientProduct")) == 2
    # ansible-core 2.16 wraps warnings at 80 columns: compare with the line breaks taken out.
    assert "read back: the update of service 1 was not made, so it was sent again" in " ".join(run.output.split())
    # Three answers lost in a row, each read back as not made: sent again after growing pauses (1, 2, 4 s)
    # within the task's time (max(60, timeout) seconds; its end is tested in-process, test_lost_write_answers.py).
    whmcs.clear_calls()
    whmcs.set_faults(rate=1.0, kinds=("http500",), names=["UpdateClientProduct"], seed=1, count=3)
    run = run_playbook(tmp_path, [task(SERVICE, {"service_id": 1, "notes": "after three faults"})], env=whmcs_env)
    assert run.status("t") == "changed", run.output
    assert len(api_calls(whmcs, "UpdateClientProduct")) == 4 and whmcs.service(1)["notes"] == "after three faults"
