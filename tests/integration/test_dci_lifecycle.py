# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The server lifecycle through real ansible-playbook runs: allocate, install, suspend, power, release."""

from __future__ import annotations

import os

from harness import run_playbook
from simulators.dcimanager import make_state

PREFIX = "ispsystem.dcimanager."
ROOT_PW = "root-pw-5a7c9e1b"


def task(module, args, name="step"):
    return {"name": name, PREFIX + module: args, "register": "out", "ignore_errors": True}


def converge(tmp_path, dci, env, module, args):
    """Check mode (changed, zero writes), the real run (changed), the rerun (unchanged, zero writes)."""
    dci.clear_calls()
    before = dci.dump_state()
    check = run_playbook(tmp_path, [task(module, args)], env=env, check=True, diff=True)
    assert check.status("step") == "changed", check.output
    assert dci.writes() == [], "check mode wrote: %s" % [call["name"] for call in dci.writes()]
    assert strip_clock(dci.dump_state()) == strip_clock(before)

    real = run_playbook(tmp_path, [task(module, args)], env=env, diff=True)
    assert real.status("step") == "changed", real.output
    assert dci.writes()

    dci.clear_calls()
    again = run_playbook(tmp_path, [task(module, args)], env=env)
    assert again.status("step") == "ok", again.output
    assert dci.writes() == [], "rerun wrote: %s" % [call["name"] for call in dci.writes()]
    assert again.warnings == []
    for call in dci.calls:
        assert ROOT_PW not in call["query"] and "pw" not in call["query"]
    assert ROOT_PW not in check.output + real.output + again.output
    return real.result("step")


def strip_clock(state):
    state.pop("sessions", None)
    return state


def server_of(dci, server_id):
    return dci.server_state(server_id)


def test_whole_lifecycle(tmp_path, dci, dci_env):
    converge(tmp_path, dci, dci_env, "dci_user", {"name": "bob", "password": "bob-pw-123456"})

    alloc = converge(
        tmp_path, dci, dci_env, "dci_server_allocate", {"owner": "bob", "hostname": "bob1.example.net", "package": "DL360-G9", "ipv4_count": 2, "ipv6_count": 1}
    )
    server = alloc["server"]
    assert server["owner"] == "bob" and server["hostname"] == "bob1.example.net"
    assert server["id"] in ("1", "2")  # the free DL360-G9 servers; 5 runs diagnostics, 6 is alice's
    assert len(server["ipv4"]) == 3 and server["ipv4"][0] == server["main_ip"] and len(server["ipv6"]) == 1
    state = server_of(dci, server["id"])
    assert {address["domain"] for address in state["addresses"]} == {"bob1.example.net"}

    install = converge(
        tmp_path,
        dci,
        dci_env,
        "dci_os_install",
        {
            "hostname": "bob1.example.net",
            "os_template": "ISPsystem__Debian-12-amd64",
            "recipe": "#local__hello",
            "root_password": ROOT_PW,
            "settle_time": 3,
            "poll_interval": 1,
        },
    )
    assert install["install_finished"] is True
    assert install["server"]["power"] == "on" and install["server"]["install_in_progress"] is False
    state = server_of(dci, server["id"])
    assert state["installed_template"] == "ISPsystem__Debian-12-amd64" and state["root_password"] == ROOT_PW

    suspended = converge(tmp_path, dci, dci_env, "dci_server", {"hostname": "bob1.example.net", "blocked": True, "poll_interval": 1})
    assert suspended["server"]["blocked"] is True
    unsuspended = converge(tmp_path, dci, dci_env, "dci_server", {"hostname": "bob1.example.net", "blocked": False, "poll_interval": 1})
    assert unsuspended["server"]["blocked"] is False
    off = converge(tmp_path, dci, dci_env, "dci_server", {"hostname": "bob1.example.net", "power": "off", "poll_interval": 1})
    assert off["server"]["power"] == "off"
    on = converge(tmp_path, dci, dci_env, "dci_server", {"hostname": "bob1.example.net", "power": "on", "poll_interval": 1})
    assert on["server"]["power"] == "on"

    released = converge(tmp_path, dci, dci_env, "dci_server_release", {"server_id": server["id"], "poll_interval": 1})
    assert released["server"]["owner"] == "" and released["server"]["hostname"] == "free.ds"
    state = server_of(dci, server["id"])
    assert [address["ip"] for address in state["addresses"]] == [server["main_ip"]]
    assert state["power"] == "off" and "ansible-dcimanager" not in state["notes"]
    pools = dci.dump_state()["ip_pools"]["public"]
    for ip in server["ipv4"][1:] + server["ipv6"]:
        assert ip in pools["ipv4"] + pools["ipv6"]  # the extra addresses went back to the pool

    # The released server is free again, and a release by hostname now finds nothing to do.
    run = run_playbook(tmp_path, [task("dci_server_release", {"hostname": "bob1.example.net"})], env=dci_env)
    assert run.status("step") == "ok"


def test_allocation_by_old_style_type_and_forced_server(tmp_path, dci, dci_env):
    run = run_playbook(
        tmp_path,
        [
            task("dci_server_allocate", {"owner": "alice", "hostname": "a-old.example.net", "package": "X11-old"}, "old"),
            task("dci_server_allocate", {"owner": "alice", "hostname": "a-forced.example.net", "server_id": "7"}, "forced"),
            task("dci_server_allocate", {"owner": "alice", "hostname": "a-busy.example.net", "server_id": "4"}, "busy"),
            task("dci_server_allocate", {"owner": "alice", "hostname": "a-none.example.net", "package": "X11-old"}, "none"),
            task("dci_server_allocate", {"owner": "nobody", "hostname": "n.example.net", "package": "R640"}, "nobody"),
        ],
        env=dci_env,
    )
    assert run.result("old")["server"]["id"] == "3"  # srv04 has a hardware problem
    assert run.result("forced")["server"]["id"] == "7"
    assert run.status("busy") == "failed"
    assert run.result("busy")["msg"] == "server 4 is not free: 4 (hwproblem)"
    assert run.status("none") == "failed"
    assert run.result("none")["msg"] == (
        "no free server of package X11-old (2 servers of that package, 2 busy: 3 (owner alice, hostname a-old.example.net); 4 (hwproblem))"
    )
    assert run.status("nobody") == "failed"
    assert "no account nobody" in run.result("nobody")["msg"]


def test_rollback_when_the_address_group_runs_dry(tmp_path, dci, dci_env):
    before = dci.dump_state()
    run = run_playbook(
        tmp_path, [task("dci_server_allocate", {"owner": "alice", "hostname": "big.example.net", "package": "DL360-G9", "ipv4_count": 8})], env=dci_env
    )
    assert run.status("step") == "failed"
    result = run.result("step")
    assert "was put back free" in result["msg"]
    assert result["api_error"]["type"] == "limit"
    after = dci.dump_state()
    assert [(s["id"], s["owner"], [(a["ip"], a["domain"]) for a in s["addresses"]]) for s in after["servers"]] == [
        (s["id"], s["owner"], [(a["ip"], a["domain"]) for a in s["addresses"]]) for s in before["servers"]
    ]
    assert sorted(after["ip_pools"]["public"]["ipv4"]) == sorted(before["ip_pools"]["public"]["ipv4"])


def test_install_failure_timeout_and_unknown_template(tmp_path, dci, dci_env):
    dci.fail_installs("6")
    run = run_playbook(
        tmp_path,
        [
            task("dci_os_install", {"server_id": "6", "os_template": "ISPsystem__Debian-13", "root_password": ROOT_PW}, "unknown"),
            task(
                "dci_os_install",
                {"server_id": "6", "os_template": "ISPsystem__Debian-12-amd64", "root_password": ROOT_PW, "settle_time": 3, "recipe": "not a recipe"},
                "badrecipe",
            ),
            task(
                "dci_os_install",
                {"server_id": "6", "os_template": "ISPsystem__Debian-12-amd64", "root_password": ROOT_PW, "settle_time": 3, "poll_interval": 1},
                "failing",
            ),
        ],
        env=dci_env,
    )
    assert run.status("unknown") == "failed"
    assert run.result("unknown")["msg"] == (
        "unknown os_template ISPsystem__Debian-13; the panel offers: ISPsystem__AlmaLinux-9-amd64, ISPsystem__Debian-12-amd64, ISPsystem__Ubuntu-24.04-amd64"
    )
    assert run.status("badrecipe") == "failed" and "#local__NAME or REPOSITORY__NAME" in run.result("badrecipe")["msg"]
    assert run.status("failing") == "failed"
    assert "failed (the panel flags operation_failed)" in run.result("failing")["msg"]
    assert run.result("failing")["server"]["operation_failed"] is True

    dci.apply_settings({"install_seconds": 30})
    run = run_playbook(
        tmp_path,
        [
            task(
                "dci_os_install",
                {
                    "server_id": "2",
                    "os_template": "ISPsystem__Debian-12-amd64",
                    "root_password": ROOT_PW,
                    "settle_time": 3,
                    "wait_timeout": 3,
                    "poll_interval": 1,
                },
            )
        ],
        env=dci_env,
    )
    assert run.status("step") == "failed"
    assert run.result("step")["msg"] == "on server 2, the OS install finishing did not happen within 3 seconds"
    # No second install while one runs: the rerun (without waiting) starts nothing.
    dci.clear_calls()
    run = run_playbook(
        tmp_path,
        [task("dci_os_install", {"server_id": "2", "os_template": "ISPsystem__Ubuntu-24.04-amd64", "root_password": ROOT_PW, "settle_time": 3, "wait": False})],
        env=dci_env,
    )
    assert run.status("step") == "ok" and run.result("step")["install_finished"] is False
    assert dci.writes() == []


def test_start_false_only_waits_for_the_install_an_earlier_task_started(tmp_path, dci, dci_env):
    """The role's pattern: start every install (wait: false), then wait for each (start: false)."""
    dci.fail_installs("6")
    debian = {"os_template": "ISPsystem__Debian-12-amd64", "root_password": ROOT_PW, "settle_time": 3, "poll_interval": 1}
    run = run_playbook(
        tmp_path,
        [
            task("dci_os_install", dict(debian, server_id="4", wait=False), "start 4"),
            task("dci_os_install", dict(debian, server_id="6", wait=False), "start 6"),
            task("dci_os_install", dict(debian, server_id="4", start=False), "wait 4"),
            task("dci_os_install", dict(debian, server_id="6", start=False), "wait 6"),
        ],
        env=dci_env,
    )
    assert run.status("start 4") == "changed" and run.result("start 4")["install_finished"] is False
    assert run.status("wait 4") == "ok" and run.result("wait 4")["install_finished"] is True
    assert run.status("start 6") == "changed"
    assert run.status("wait 6") == "failed"
    # Still running when the task looked, or already over: either way the failure is reported.
    assert "on server 6 failed (the panel flags operation_failed)" in run.result("wait 6")["msg"]

    # Asked again once the install has failed, or with nothing started: a failure, and not one write.
    dci.clear_calls()
    run = run_playbook(
        tmp_path,
        [
            task("dci_os_install", dict(debian, server_id="6", start=False), "wait 6 again"),
            task("dci_os_install", dict(debian, server_id="3", start=False), "wait 3"),
            task("dci_os_install", dict(debian, server_id="3", start=False, force=True), "force"),
        ],
        env=dci_env,
    )
    assert run.status("wait 6 again") == "failed"
    assert run.result("wait 6 again")["msg"].startswith("the install of ISPsystem__Debian-12-amd64 on server 6 failed")
    assert run.status("wait 3") == "failed"
    assert run.result("wait 3")["msg"] == ("server 3 has no install of ISPsystem__Debian-12-amd64 to wait for (start=false); its notes record no install")
    assert run.status("force") == "failed" and "set only one of them" in run.result("force")["msg"]
    assert dci.writes() == []

    # In a check run the earlier task started nothing: nothing to wait for, and no failure.
    run = run_playbook(tmp_path, [task("dci_os_install", dict(debian, server_id="3", start=False), "check")], env=dci_env, check=True)
    assert run.status("check") == "ok"


def test_network_is_refused_while_blocked(tmp_path, dci, dci_env):
    run = run_playbook(
        tmp_path,
        [
            task("dci_server", {"server_id": "6", "network": "off", "poll_interval": 1}, "off"),
            task("dci_server", {"server_id": "6", "network": "off", "poll_interval": 1}, "off again"),
            task("dci_server", {"server_id": "6", "blocked": True, "poll_interval": 1}, "block"),
            task("dci_server", {"server_id": "6", "network": "on"}, "on while blocked"),
            task("dci_server", {"server_id": "6", "blocked": False, "network": "on", "poll_interval": 1}, "unblock and on"),
            task("dci_server", {"server_id": "6", "power": "restarted", "poll_interval": 1}, "restart"),
        ],
        env=dci_env,
    )
    assert run.status("off") == "changed" and run.status("off again") == "ok"
    assert run.status("block") == "changed"
    assert run.status("on while blocked") == "failed"
    assert "is blocked" in run.result("on while blocked")["msg"]
    assert run.status("unblock and on") == "changed"
    assert run.status("restart") == "changed" and run.result("restart")["server"]["power"] == "on"
    switch = [conn for conn in dci.server_state("6")["connections"] if conn["type"] == "Switch"][0]
    assert switch["state"] == "on"


def test_login_key_and_traffic(tmp_path, dci, dci_env):
    run = run_playbook(
        tmp_path,
        [
            task("dci_login_key", {"login": "alice"}, "key"),
            task("dci_login_key", {}, "admin key"),
            task("dci_login_key", {"login": "nobody"}, "unknown"),
            task("dci_traffic_info", {"hostname": "alice1.example.com"}, "traffic"),
        ],
        env=dci_env,
    )
    url = run.result("key")["url"]
    assert run.status("key") == "changed"
    assert url.startswith(dci.url + "?checkcookie=no&func=auth&username=alice&key=")
    assert len(url.rsplit("=", 1)[1]) == 32
    assert run.result("admin key")["login"] == dci.admin_user
    assert run.status("unknown") == "failed"
    assert run.result("traffic")["traffic"] == [{"server_id": "6", "burst": "12.5"}]
    # The key logs alice in once.
    import requests  # pylint: disable=import-outside-toplevel

    params = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    answer = requests.post(dci.url, data={"func": "auth", "username": "alice", "key": params["key"], "out": "xml"}, verify=dci.ca_path, timeout=10)
    assert "<auth" in answer.text
    answer = requests.post(dci.url, data={"func": "auth", "username": "alice", "key": params["key"], "out": "xml"}, verify=dci.ca_path, timeout=10)
    assert "badpassword" in answer.text


def parallel_inventory(tmp_path, count):
    inventory = tmp_path / "orders.ini"
    inventory.write_text("[orders]\n" + "".join("order%02d\n" % i for i in range(1, count + 1)) + "[orders:vars]\nansible_connection=local\n")
    return str(inventory)


def test_parallel_allocations_never_share_a_server(tmp_path, dci_env, dci):
    dci.load_state(make_state(10, package="P1", ipv4=40, ipv6=40))
    tasks = [
        task("dci_server_allocate", {"owner": "admin-customer", "hostname": "{{ inventory_hostname }}.example.net", "package": "P1", "ipv4_count": 1}, "alloc")
    ]
    setup = run_playbook(tmp_path, [task("dci_user", {"name": "admin-customer", "password": "pw-123456789"})], env=dci_env)
    assert setup.status("step") == "changed"

    run = run_playbook(tmp_path, tasks, env=dci_env, hosts="orders", inventory=parallel_inventory(tmp_path, 10), args=["-f", "10"])
    results = [record for record in run.records if record["task"] == "alloc"]
    assert len(results) == 10 and all(record["status"] == "changed" for record in results), run.output
    ids = [record["result"]["server"]["id"] for record in results]
    assert len(set(ids)) == 10
    assert_consistent(dci)


def test_twelve_allocations_against_ten_servers(tmp_path, dci_env, dci):
    dci.load_state(make_state(10, package="P1", ipv4=40, ipv6=40))
    run_playbook(tmp_path, [task("dci_user", {"name": "cust", "password": "pw-123456789"})], env=dci_env)
    tasks = [task("dci_server_allocate", {"owner": "cust", "hostname": "{{ inventory_hostname }}.example.net", "package": "P1"}, "alloc")]
    run = run_playbook(tmp_path, tasks, env=dci_env, hosts="orders", inventory=parallel_inventory(tmp_path, 12), args=["-f", "12"])
    results = [record for record in run.records if record["task"] == "alloc"]
    assert len(results) == 12
    ok = [record for record in results if record["status"] == "changed"]
    failed = [record for record in results if record["status"] == "failed"]
    assert len(ok) == 10 and len(failed) == 2, run.output
    for record in failed:
        assert record["result"]["msg"].startswith("no free server of package P1 (10 servers of that package, 10 busy")
    assert len({record["result"]["server"]["id"] for record in ok}) == 10
    assert_consistent(dci)


def assert_consistent(dci):
    """No server half-claimed: each is free (no owner, free.ds everywhere) or fully owned with one hostname."""
    for server in dci.dump_state()["servers"]:
        domains = {address["domain"] for address in server["addresses"]}
        assert len(domains) == 1, server
        if server["owner"] in (None, "", "no_owner"):
            assert domains == {"free.ds"} and len(server["addresses"]) == 1, server
        else:
            assert domains != {"free.ds"}, server


def test_lifecycle_under_injected_faults(tmp_path, dci, dci_env):
    """15 % of requests fail (5xx, broken bodies, dropped connections, stalls); reruns end consistent."""
    dci.set_faults(rate=0.15, kinds=("http500", "badbody", "drop"), seed=int(os.environ.get("FAULT_SEED", "7")))
    steps = [
        ("dci_user", {"name": "fran", "password": "fran-pw-123456"}),
        ("dci_server_allocate", {"owner": "fran", "hostname": "fran.example.net", "package": "DL360-G9", "ipv4_count": 1, "ipv6_count": 1}),
        (
            "dci_os_install",
            {"hostname": "fran.example.net", "os_template": "ISPsystem__Debian-12-amd64", "root_password": ROOT_PW, "settle_time": 3, "poll_interval": 1},
        ),
        ("dci_server", {"hostname": "fran.example.net", "blocked": True, "poll_interval": 1}),
        ("dci_server", {"hostname": "fran.example.net", "blocked": False, "poll_interval": 1}),
        ("dci_server_release", {"hostname": "fran.example.net", "poll_interval": 1}),
    ]
    for module, args in steps:
        # A task may fail on a write the client refuses to repeat blindly; the rerun reads and finishes.
        for _attempt in range(4):
            run = run_playbook(tmp_path, [task(module, args)], env=dci_env)
            # A fault may fail the task, but only with a clear message, never an unexpected exception.
            # (ansible-core reports an exception a module did not handle as "Task failed: ..." in msg.)
            assert "Traceback" not in run.output and not run.result("step").get("msg", "").startswith("Task failed"), run.output
            if run.status("step") != "failed":
                break
        assert run.status("step") != "failed", run.output
    dci.set_faults(rate=0.0)
    assert any(call["fault"] for call in dci.calls)
    assert_consistent(dci)
    assert not [server for server in dci.dump_state()["servers"] if any(address["domain"] == "fran.example.net" for address in server["addresses"])]
