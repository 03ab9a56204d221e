# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dci_user and the connection options, through real ansible-playbook runs against the simulator."""

from __future__ import annotations

import socket

from harness import run_playbook

USER = "ispsystem.dcimanager.dci_user"


def user_task(args, task="user"):
    return {"name": task, USER: args, "register": "out", "ignore_errors": True}


def users(dci):
    return {user["name"]: user for user in dci.dump_state()["users"]}


def test_user_lifecycle(tmp_path, dci, dci_env):
    # Missing parameter: a clear failure, nothing written.
    run = run_playbook(tmp_path, [user_task({"password": "pw-123456"})], env=dci_env)
    assert run.status("user") == "failed"
    assert "missing required arguments: name" in run.result("user")["msg"]
    assert not dci.writes()

    # Create in check mode: changed, and not one writing call.
    dci.clear_calls()
    run = run_playbook(tmp_path, [user_task({"name": "bob", "password": "bob-pw-123456"})], env=dci_env, check=True, diff=True)
    assert run.status("user") == "changed"
    assert run.result("user")["user"] == {"id": None, "name": "bob", "level": 16}
    assert run.result("user")["diff"]["before"] == {"state": "absent"}
    assert dci.calls and not dci.writes()
    assert "bob" not in users(dci)

    # Create.
    run = run_playbook(tmp_path, [user_task({"name": "bob", "password": "bob-pw-123456"})], env=dci_env)
    assert run.status("user") == "changed"
    created = users(dci)["bob"]
    assert run.result("user")["user"] == {"id": created["id"], "name": "bob", "level": 16}
    assert created["password"] == "bob-pw-123456"

    # Rerun: nothing to do, no write.
    dci.clear_calls()
    run = run_playbook(tmp_path, [user_task({"name": "bob", "password": "another-pw-999"})], env=dci_env)
    assert run.status("user") == "ok"
    assert not dci.writes()
    assert users(dci)["bob"]["password"] == "bob-pw-123456"

    # update_password: always with the same password: no change, no write.
    run = run_playbook(tmp_path, [user_task({"name": "bob", "password": "bob-pw-123456", "update_password": "always"})], env=dci_env)
    assert run.status("user") == "ok"
    assert not dci.writes()

    # Update in check mode: changed, nothing written.
    run = run_playbook(tmp_path, [user_task({"name": "bob", "password": "new-pw-777777", "update_password": "always"})], env=dci_env, check=True)
    assert run.status("user") == "changed"
    assert not dci.writes()
    assert users(dci)["bob"]["password"] == "bob-pw-123456"

    # Update.
    run = run_playbook(tmp_path, [user_task({"name": "bob", "password": "new-pw-777777", "update_password": "always"})], env=dci_env)
    assert run.status("user") == "changed"
    assert users(dci)["bob"]["password"] == "new-pw-777777"
    assert [call["name"] for call in dci.writes()] == ["user.edit"]

    # Delete in check mode, delete, delete again.
    dci.clear_calls()
    run = run_playbook(tmp_path, [user_task({"name": "bob", "state": "absent"})], env=dci_env, check=True)
    assert run.status("user") == "changed" and not dci.writes() and "bob" in users(dci)
    run = run_playbook(tmp_path, [user_task({"name": "bob", "state": "absent"})], env=dci_env)
    assert run.status("user") == "changed" and "bob" not in users(dci)
    run = run_playbook(tmp_path, [user_task({"name": "bob", "state": "absent"})], env=dci_env)
    assert run.status("user") == "ok"
    assert run.warnings == []

    # No password in any URL the panel saw, nor in the output.
    for call in dci.calls:
        assert "pw" not in call["query"]
    assert "new-pw-777777" not in run.output


def test_create_needs_a_password_and_refuses_admin_logins(tmp_path, dci, dci_env):
    run = run_playbook(tmp_path, [user_task({"name": "carol"}), user_task({"name": "admin", "password": "x-123456"}, "admin")], env=dci_env)
    assert run.status("user") == "failed"
    assert run.result("user")["msg"] == "password is required to create the account carol"
    assert run.status("admin") == "failed"
    assert "not a customer" in run.result("admin")["msg"]
    assert not dci.writes()


def test_delete_refused_while_the_user_owns_servers(tmp_path, dci, dci_env):
    run = run_playbook(tmp_path, [user_task({"name": "alice", "state": "absent"})], env=dci_env)
    assert run.status("user") == "failed"
    assert "still owns 1 server(s): alice1.example.com (id 6)" in run.result("user")["msg"]
    assert not dci.writes()


def test_panel_error_is_returned_as_api_error(tmp_path, dci, dci_env):
    run = run_playbook(tmp_path, [user_task({"name": "bad name!", "password": "pw-123456"})], env=dci_env)
    assert run.status("user") == "failed"
    result = run.result("user")
    assert result["api_error"]["type"] == "value" and result["api_error"]["object"] == "name"
    assert "DCImanager refused user.edit" in result["msg"]
    assert "Traceback" not in run.output


def test_bad_credentials(tmp_path, dci, dci_env):
    env = dict(dci_env, DCIMANAGER_PASSWORD="wrong-password-42")
    run = run_playbook(tmp_path, [user_task({"name": "bob", "password": "pw-123456"})], env=env, args=["-vvv"])
    assert run.status("user") == "failed"
    result = run.result("user")
    assert "rejected the login of api_username 'admin'" in result["msg"]
    assert result["api_error"]["object"] == "badpassword"
    assert "wrong-password-42" not in run.output
    assert "Traceback" not in run.output


def test_unreachable_panel(tmp_path, dci_env):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        env = dict(dci_env, DCIMANAGER_URL="https://127.0.0.1:%d/dcimgr" % port)
        run = run_playbook(tmp_path, [user_task({"name": "bob", "password": "pw-123456"})], env=env)
    assert run.status("user") == "failed"
    assert "cannot connect to DCImanager at https://127.0.0.1:%d/dcimgr" % port in run.result("user")["msg"]
    assert "Traceback" not in run.output


def test_self_signed_certificate_is_refused_unless_its_ca_is_given(tmp_path, dci, dci_env):
    no_ca = {key: value for key, value in dci_env.items() if key != "DCIMANAGER_CA_PATH"}
    run = run_playbook(tmp_path, [user_task({"name": "bob", "password": "pw-123456"})], env=no_ca)
    assert run.status("user") == "failed"
    assert "TLS verification of %s failed" % dci.url in run.result("user")["msg"]
    assert "ca_path" in run.result("user")["msg"]
    assert not dci.calls  # refused before any request reached the panel

    run = run_playbook(tmp_path, [user_task({"name": "bob", "password": "pw-123456", "ca_path": dci.ca_path})], env=no_ca)
    assert run.status("user") == "changed"

    run = run_playbook(tmp_path, [user_task({"name": "eve", "password": "pw-123456", "validate_certs": False})], env=no_ca)
    assert run.status("user") == "changed"


def test_module_defaults_group(tmp_path, dci):
    play_vars = {}
    tasks = [
        {
            "name": "user",
            "module_defaults": {
                "group/ispsystem.dcimanager.dcimanager": {
                    "api_url": "127.0.0.1:%d" % dci.port,
                    "api_username": dci.admin_user,
                    "api_password": dci.admin_password,
                    "ca_path": dci.ca_path,
                }
            },
            USER: {"name": "dora", "password": "dora-pw-12345"},
        }
    ]
    run = run_playbook(tmp_path, tasks, play_vars=play_vars)
    assert run.status("user") == "changed", run.output
    assert "dora" in users(dci)
