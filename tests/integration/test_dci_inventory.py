# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The ispsystem.dcimanager.dcimanager inventory plugin, through real ansible-inventory runs against the simulator.

Golden files: set DCI_UPDATE_GOLDEN=1 to rewrite them from the current output (then review the diff).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

from harness import ANSIBLE_CORE, cache_options, check_golden as harness_check_golden, run_command, run_inventory, run_playbook, unwrap
from simulators.dcimanager import VARIANTS, DCImanagerSimulator, default_state, new_server
from whmcs_fixtures import GOLDEN

PLUGIN = "ispsystem.dcimanager.dcimanager"
INJECTION = "{{ lookup('ansible.builtin.pipe', 'echo INJ\"\"ECTED') }}"
FAR_FUTURE = 4102444800.0  # 2100-01-01: an install that is still running whenever the test looks


def inventory_state():
    """The sample panel (simulators.dcimanager.default_state: servers 1-7) and five more servers of two customers.

    8  bob, build.example.com, an install running         11 bob, no hostname, a label that is a template,
    9  bob, web1.example.com, powererror, rack "Rack 3/B"     old-style type "Gen 10+", no rack
    10 bob, Web1.Example.com (9's, in other case), suspended  12 alice, v6.example.com, an IPv6 main address, off
    """
    state = default_state()
    bob = str(state["next_id"])
    state["next_id"] += 1
    state["users"].append({"id": bob, "name": "bob", "password": "bob-pw-456", "level": 16, "suspended": False})
    alice = next(user["id"] for user in state["users"] if user["name"] == "alice")
    new_server(
        state,
        8,
        "srv08",
        "R640",
        "192.0.2.18",
        rack="R2",
        domain="build.example.com",
        owner=bob,
        power="on",
        install={"template": "ISPsystem__Debian-12-amd64", "recipe": "null", "fail": False, "until": FAR_FUTURE},
    )
    new_server(state, 9, "srv09", "DL360-G9", "192.0.2.19", rack="Rack 3/B", domain="web1.example.com", owner=bob, power="error")
    new_server(state, 10, "srv10", "R640", "192.0.2.20", rack="R2", domain="Web1.Example.com", owner=bob, power="on", blocked=True, disabled=True)
    new_server(state, 11, INJECTION, "Gen 10+", "192.0.2.21", style="type", rack="", domain="", owner=bob, power="on")
    new_server(state, 12, "srv12", "R640", "2001:db8::12", rack="R2", domain="v6.example.com", owner=alice)
    return state


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """One simulator for the module (its state is only read; tests that change it restore it)."""
    sim = DCImanagerSimulator(state=inventory_state(), tls_dir=str(tmp_path_factory.mktemp("dci-tls")))
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def dci(panel):
    panel.clear_calls()
    panel.set_faults()
    yield panel
    panel.apply_settings(dict(_defaults(), admin_password="admin-secret-pw"))
    panel.load_state(inventory_state())
    panel.set_faults()
    assert not panel.errors, "the DCImanager simulator failed:\n" + "\n".join(panel.errors)


def _defaults():
    from simulators.dcimanager import VARIANT_KNOBS  # pylint: disable=import-outside-toplevel

    return {name: default for name, (dummy, default) in VARIANT_KNOBS.items()}


@pytest.fixture
def env(dci):
    return {"DCIMANAGER_URL": dci.url, "DCIMANAGER_USERNAME": dci.admin_user, "DCIMANAGER_PASSWORD": dci.admin_password, "DCIMANAGER_CA_PATH": dci.ca_path}


def write_source(directory, options, name="servers.dcimanager.yml"):
    path = Path(directory) / name
    path.write_text(yaml.safe_dump(dict({"plugin": PLUGIN}, **options), sort_keys=False))
    return path


def inventory(source, env, args=("--list",), extra_args=()):
    """Run ``ansible-inventory -i SOURCE --list`` (or ``args``); returns (completed process, parsed JSON or None)."""
    completed = run_inventory(source, env, PLUGIN, list(args) + list(extra_args))
    data = None
    if completed.returncode == 0 and "--list" in args and completed.stdout.strip():
        data = unwrap(json.loads(completed.stdout))
    return completed, data


def funcs(sim):
    return [call["name"] for call in sim.calls]


def check_golden(name, data):
    harness_check_golden(GOLDEN / name, data, "DCI_UPDATE_GOLDEN")


def hosts(data):
    return sorted(data["_meta"]["hostvars"])


DEFAULT_HOSTS = sorted(
    ["dci-1", "dci-2", "dci-3", "dci-4", "dci-5", "alice1.example.com", "dci-7", "build.example.com", "web1.example.com", "dci-10", "dci-11", "v6.example.com"]
)


def test_golden_default_options(tmp_path, dci, env):
    """Connection from the environment; one login and one read of the server list; a duplicate hostname warned about."""
    completed, data = inventory(write_source(tmp_path, {}), env)
    assert completed.returncode == 0, completed.stderr
    check_golden("dci-inventory-default.json", data)
    assert hosts(data) == DEFAULT_HOSTS
    assert funcs(dci) == ["auth", "server"]
    assert all(call["method"] == "POST" and call["query"] == "" for call in dci.calls)
    # Server 10 shows 9's hostname in another case: 9 (the lower id) keeps it, 10 is named by its id.
    assert "server 10 has the host name Web1.Example.com, which server 9 already has; naming it dci-10" in completed.said
    assert completed.said.count("[WARNING]") == 1
    assert dci.admin_password not in completed.stdout + completed.stderr


def test_golden_constructed(tmp_path, dci, env):
    source = write_source(
        tmp_path,
        {
            "hostname": "{{ dci_name }}.dc.example.com",
            "compose": {"ansible_user": "'root'", "owner_or_none": "dci_owner or 'nobody'"},
            "groups": {"attention": "dci_state in ['hwproblem', 'diag'] or dci_power == 'error'", "ipv6": "':' in dci_main_ip"},
            "keyed_groups": [{"key": "dci_owner or 'nobody'", "prefix": "owner"}, {"key": "dci_power", "prefix": "power"}],
        },
    )
    completed, data = inventory(source, env)
    assert completed.returncode == 0, completed.stderr
    check_golden("dci-inventory-constructed.json", data)
    assert funcs(dci) == ["auth", "server"]
    # The template over a label that is itself a template: used as text, never run.
    assert INJECTION + ".dc.example.com" in data["_meta"]["hostvars"]
    assert "INJECTED" not in completed.stdout + completed.stderr
    assert sorted(data["attention"]["hosts"]) == ["srv04.dc.example.com", "srv05.dc.example.com", "srv09.dc.example.com"]
    assert data["owner_bob"]["hosts"] == ["srv08.dc.example.com", "srv09.dc.example.com", "srv10.dc.example.com", INJECTION + ".dc.example.com"]
    assert completed.said.count("[WARNING]") == 0


def test_graph(tmp_path, dci, env):
    completed, dummy = inventory(write_source(tmp_path, {}), env, args=("--graph",))
    assert completed.returncode == 0, completed.stderr
    for line in (
        "@dci_state_suspended:",
        "|--dci-10",
        "@dci_rack_rack_3_b:",
        "|--web1.example.com",
        "@dci_package_gen_10_:",
        "|--dci-11",
        "@dci_state_installing:",
        "|--build.example.com",
    ):
        assert line in completed.stdout, completed.stdout


def test_filters(tmp_path, dci, env):
    source = write_source(tmp_path, {"packages": ["R640", "Gen 10+"], "owners": ["bob"], "states": ["owned", "suspended"]})
    completed, data = inventory(source, env)
    assert completed.returncode == 0, completed.stderr
    # Bob's R640 and Gen 10+ servers, owned or suspended: not 8 (installing) nor 9 (DL360-G9).
    assert hosts(data) == ["Web1.Example.com", "dci-11"]
    # Server 9 is filtered out: 10 keeps its own hostname (in its own case), without a warning.
    assert data["_meta"]["hostvars"]["Web1.Example.com"]["dci_server_id"] == "10"
    assert "[WARNING]" not in completed.stderr
    assert funcs(dci) == ["auth", "server"]

    completed, data = inventory(write_source(tmp_path, {"states": ["free", "hwproblem", "diag", "installing"]}), env)
    assert completed.returncode == 0, completed.stderr
    assert hosts(data) == ["build.example.com", "dci-1", "dci-2", "dci-3", "dci-4", "dci-5", "dci-7"]
    assert sorted(group for group in data if group.startswith("dci_state_")) == [
        "dci_state_diag",
        "dci_state_free",
        "dci_state_hwproblem",
        "dci_state_installing",
    ]

    # A filter nothing passes gives an empty inventory.
    completed, data = inventory(write_source(tmp_path, {"packages": ["no-such-package"]}), env)
    assert completed.returncode == 0, completed.stderr
    assert hosts(data) == []

    completed, dummy = inventory(write_source(tmp_path, {"states": ["Owned", "broken"]}), env)
    assert completed.returncode != 0
    assert ("DCImanager inventory: unknown states broken; a server's state is one of free, owned, suspended, installing, hwproblem, diag") in completed.said
    # The states are compared without regard to case.
    completed, data = inventory(write_source(tmp_path, {"states": ["Suspended"]}), env)
    assert completed.returncode == 0, completed.stderr
    assert hosts(data) == ["Web1.Example.com"]


def test_hostname_template_and_strict(tmp_path, dci, env):
    # An empty name, and names taken by an earlier server (case-insensitively) or by a server's fallback name.
    template = "{{ 'dci-12' if dci_server_id == '3' else (dci_rack | upper if dci_server_id != '1' else '') }}"
    completed, data = inventory(write_source(tmp_path, {"hostname": template}), env)
    assert completed.returncode == 0, completed.stderr
    assert hosts(data) == ["R1", "R2", "RACK 3/B", "dci-1", "dci-10", "dci-11", "dci-12", "dci-3", "dci-4", "dci-5", "dci-7", "dci-8"]
    assert data["_meta"]["hostvars"]["dci-12"]["dci_server_id"] == "12"
    said = completed.said
    assert "the hostname template gives server 1 an empty name; naming it dci-1" in said
    assert "server 3 has the host name dci-12, which is server 12's fallback name; naming it dci-3" in said
    assert "server 4 has the host name R1, which server 2 already has; naming it dci-4" in said
    assert "the hostname template gives server 11 an empty name; naming it dci-11" in said

    completed, dummy = inventory(write_source(tmp_path, {"strict": True}), env)
    assert completed.returncode != 0
    assert "DCImanager inventory: server 10 has the host name Web1.Example.com, which server 9 already has" in completed.said
    completed, dummy = inventory(write_source(tmp_path, {"hostname": "{{ no_such_variable }}", "strict": True}), env)
    assert completed.returncode != 0
    assert "DCImanager inventory: the hostname template failed for server 1:" in completed.said
    # Without strict the warning says why the name is not the template's, not only that it is empty.
    completed, data = inventory(write_source(tmp_path, {"hostname": "{{ no_such_variable }}"}), env)
    assert completed.returncode == 0, completed.stderr
    assert "dci-1" in hosts(data)
    failed = [line for line in completed.said.splitlines() if "the hostname template failed for server 1:" in line]
    assert failed and "no_such_variable" in " ".join(failed) and "an empty name" not in completed.said, completed.said


def test_panel_variants_give_the_same_hosts(tmp_path, dci, env):
    """Owner cells holding account ids, paged lists, flags with text, empty cells: the same inventory each time."""
    source = write_source(tmp_path, {})
    completed, expected = inventory(source, env)
    assert completed.returncode == 0, completed.stderr
    calls = {
        "owner_id": ["auth", "server", "user"],
        "paged_lists": ["auth"] + ["server"] * 6,
        "flag_text_on": ["auth", "server"],
        "empty_cells": ["auth", "server"],
        "auth_ok_only": ["auth", "server"],
    }
    for variant, expected_calls in calls.items():
        dci.apply_settings(dict(_defaults(), **VARIANTS[variant]))
        dci.clear_calls()
        completed, data = inventory(source, env)
        assert completed.returncode == 0, (variant, completed.stderr)
        assert data["_meta"]["hostvars"] == expected["_meta"]["hostvars"], variant
        assert {group: body for group, body in data.items() if group != "_meta"} == {group: body for group, body in expected.items() if group != "_meta"}, (
            variant
        )
        assert funcs(dci) == expected_calls, variant
    # With owner ids, the owner filter still takes logins.
    dci.apply_settings(dict(_defaults(), **VARIANTS["owner_id"]))
    completed, data = inventory(write_source(tmp_path, {"owners": ["alice"]}), env)
    assert completed.returncode == 0, completed.stderr
    assert hosts(data) == ["alice1.example.com", "v6.example.com"]


def test_untrusted_values_are_never_templated(tmp_path, dci, env):
    """A label holding a template stays text, also when a play uses it."""
    tasks = [{"name": "show", "ansible.builtin.debug": {"msg": "{{ dci_name }}"}}]
    run = run_playbook(
        tmp_path / "play",
        tasks,
        env=dict(env, ANSIBLE_INVENTORY_ENABLED=PLUGIN),
        hosts="dci-11",
        inventory=str(write_source(tmp_path, {})),
        play_vars={"ansible_connection": "local"},
    )
    assert run.status("show") == "ok", run.output
    assert run.result("show")["msg"] == INJECTION
    assert "INJECTED" not in run.output


def test_cache_hit_makes_no_call_and_flush_refreshes(tmp_path, dci, env):
    cache_dir = tmp_path / "cache"
    source = write_source(tmp_path, cache_options(cache_dir))
    completed, first = inventory(source, env)
    assert completed.returncode == 0, completed.stderr
    assert funcs(dci) == ["auth", "server"]
    files = list(cache_dir.iterdir())
    assert len(files) == 1
    content, mtime = files[0].read_bytes(), files[0].stat().st_mtime_ns
    # The built hosts, without the password or the session id.
    sessions = [call["params"]["auth"] for call in dci.calls if call["name"] == "server"]
    assert sessions and not any(secret in content.decode() for secret in sessions + [dci.admin_password])
    assert "alice1.example.com" in content.decode()

    # The panel changes; the cache still answers, without a call (not even a login), and is left as it was.
    dci.state["servers"][5]["name"] = "renamed"
    dci.clear_calls()
    time.sleep(0.05)
    completed, cached = inventory(source, env)
    assert completed.returncode == 0, completed.stderr
    assert dci.calls == []
    assert cached == first
    assert files[0].read_bytes() == content and files[0].stat().st_mtime_ns == mtime
    assert "naming it dci-10" in completed.said  # the warning the hosts were built with still shows

    # --flush-cache reads the panel again and stores the new hosts (ansible-inventory has the option since
    # ansible-core 2.17; before, ansible-playbook's does the same, as docs/inventory.md says).
    if ANSIBLE_CORE < (2, 17):
        flush = tmp_path / "flush.yml"
        flush.write_text("- hosts: localhost\n  gather_facts: false\n  tasks: []\n")
        completed = run_command(
            ["ansible-playbook", "--flush-cache", "-i", str(source), str(flush)], env=dict(env, ANSIBLE_INVENTORY_ENABLED=PLUGIN), cwd=str(tmp_path)
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        completed, fresh = inventory(source, env)
    else:
        completed, fresh = inventory(source, env, extra_args=["--flush-cache"])
    assert completed.returncode == 0, completed.stderr
    assert funcs(dci) == ["auth", "server"]
    assert fresh["_meta"]["hostvars"]["alice1.example.com"]["dci_name"] == "renamed"
    assert files[0].read_bytes() != content

    # Other filters in the same source: the entry does not fit, so the panel is read again.
    dci.clear_calls()
    write_source(tmp_path, cache_options(cache_dir, states=["owned"]))
    completed, owned = inventory(source, env)
    assert completed.returncode == 0, completed.stderr
    assert funcs(dci) == ["auth", "server"]
    assert hosts(owned) == ["alice1.example.com", "dci-11", "v6.example.com", "web1.example.com"]

    # Expired: read again, and stored again.
    dci.clear_calls()
    past = time.time() - 7200
    os.utime(files[0], (past, past))
    completed, dummy = inventory(source, env)
    assert completed.returncode == 0, completed.stderr
    assert funcs(dci) == ["auth", "server"]
    assert files[0].stat().st_mtime > past + 3600


def test_tls_is_verified_by_default(tmp_path, dci, env):
    source = write_source(tmp_path, {})
    completed, dummy = inventory(source, {key: value for key, value in env.items() if key != "DCIMANAGER_CA_PATH"})
    assert completed.returncode != 0
    assert "DCImanager inventory: TLS verification of %s failed" % dci.url in completed.said
    assert "ca_path" in completed.said and "Traceback" not in completed.stderr
    assert dci.calls == []
    # validate_certs through its environment variable, as the modules take it.
    env = {key: value for key, value in env.items() if key != "DCIMANAGER_CA_PATH"}
    completed, data = inventory(source, dict(env, DCIMANAGER_VALIDATE_CERTS="false"))
    assert completed.returncode == 0, completed.stderr
    assert hosts(data) == DEFAULT_HOSTS


def test_bad_credentials_show_no_secret(tmp_path, dci, env):
    wrong = "Wrong pw/5!x"
    dci.apply_settings({"admin_password": "Right pw/6!y"})
    completed = run_command(
        ["ansible-inventory", "-vvv", "-i", str(write_source(tmp_path, {})), "--list"],
        env=dict(env, DCIMANAGER_PASSWORD=wrong, ANSIBLE_INVENTORY_UNPARSED_FAILED="true", ANSIBLE_INVENTORY_ENABLED=PLUGIN),
        cwd=str(tmp_path),
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    said = " ".join(output.split())
    assert "DCImanager inventory: DCImanager at %s rejected the login of api_username 'admin'" % dci.url in said
    assert funcs(dci) == ["auth"]
    assert dci.calls[0]["params"]["password"] == wrong  # the password was used: its absence below proves something
    compact = "".join(output.split())
    for secret in (wrong, "Right pw/6!y", "Wrong%20pw%2F5%21x", "Wrong+pw%2F5%21x"):
        assert secret not in output and "".join(secret.split()) not in compact


def test_empty_panel_fails_unless_allowed(tmp_path, dci, env):
    dci.load_state({"users": [], "servers": []})
    completed, dummy = inventory(write_source(tmp_path, {}), env)
    assert completed.returncode != 0
    assert "DCImanager inventory: DCImanager's server list came back empty" in completed.said
    completed, data = inventory(write_source(tmp_path, {"allow_empty": True}), env)
    assert completed.returncode == 0, completed.stderr
    assert data["_meta"]["hostvars"] == {}


def test_transient_failures_are_retried(tmp_path, dci, env):
    dci.set_faults(rate=1.0, kinds=("http500", "drop"), names=["server"], seed=3, count=2)
    completed, data = inventory(write_source(tmp_path, {}), env)
    assert completed.returncode == 0, completed.stderr
    assert hosts(data) == DEFAULT_HOSTS
    assert funcs(dci) == ["auth", "server", "server", "server"]


def test_plugin_ignores_other_files(tmp_path, dci, env):
    source = tmp_path / "hosts.yml"
    source.write_text("plugin: %s\n" % PLUGIN)
    completed, dummy = inventory(source, env)
    assert completed.returncode != 0
    assert dci.calls == []
