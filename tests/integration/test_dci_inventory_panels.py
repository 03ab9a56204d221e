# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The dcimanager inventory plugin over several panels (option ``panels``, DCIMANAGER_PANELS), through real
ansible-inventory runs against two simulators that hold the same server ids.

Golden file: set DCI_UPDATE_GOLDEN=1 to rewrite it from the current output (then review the diff).
"""

from __future__ import annotations

import json
import time

import pytest
import yaml

from harness import cache_options
from simulators.dcimanager import DCImanagerSimulator
from test_dci_inventory import INJECTION, check_golden, funcs, hosts, inventory, inventory_state, write_source

SECOND_PASSWORD = "second pw/7!x"
# A panel's connection, for the checks that refuse it before any call.
ANY = {"url": "https://dci.example.com", "username": "a", "password": "p"}


def second_state():
    """Panel 2: the same servers (ids 1-12) as panel 1 in another network, some under their own names. Servers 6
    (alice1.example.com), 9 (web1.example.com) and 10 (Web1.Example.com) keep panel 1's hostnames: the same names in
    two datacenters."""
    state = inventory_state()
    for server in state["servers"]:
        server["main_ip"] = server["main_ip"].replace("192.0.2.", "198.51.100.").replace("2001:db8::", "2001:db8:2::")
        for address in server["addresses"]:
            address["ip"] = address["ip"].replace("192.0.2.", "198.51.100.").replace("2001:db8::", "2001:db8:2::")
            if address["domain"] in ("build.example.com", "v6.example.com"):
                address["domain"] = address["domain"].replace(".example.com", ".dc2.example.com")
        server["name"] = server["name"].replace("srv", "dc2-srv") if server["name"].startswith("srv") else server["name"]
    return state


@pytest.fixture(scope="module")
def sims(tmp_path_factory):
    first = DCImanagerSimulator(state=inventory_state(), tls_dir=str(tmp_path_factory.mktemp("dci-1-tls")))
    second = DCImanagerSimulator(state=second_state(), tls_dir=str(tmp_path_factory.mktemp("dci-2-tls")), admin_user="admin2", admin_password=SECOND_PASSWORD)
    first.start()
    second.start()
    yield {"1": first, "2": second}
    first.stop()
    second.stop()


@pytest.fixture
def panels(sims):
    for sim in sims.values():
        sim.clear_calls()
        sim.set_faults()
        sim.latency = 0.0
    yield sims
    sims["1"].load_state(inventory_state())
    sims["2"].load_state(second_state())
    sims["2"].apply_settings({"admin_password": SECOND_PASSWORD})
    for key, sim in sims.items():
        sim.latency = 0.0
        assert not sim.errors, "the DCImanager simulator of panel %s failed:\n%s" % (key, "\n".join(sim.errors))
        assert sim.writes() == []


def connection(sim, **extra):
    return dict({"url": sim.url, "username": sim.admin_user, "password": sim.admin_password, "ca_path": sim.ca_path}, **extra)


def mapping(sims):
    return dict((key, connection(sim)) for key, sim in sims.items())


def env_of(sims):
    """The passwords from the environment (a lookup in the source): the source file holds none."""
    return {"PANEL_1_PW": sims["1"].admin_password, "PANEL_2_PW": sims["2"].admin_password}


def looked_up(sims):
    panels = mapping(sims)
    for key in panels:
        panels[key]["password"] = "{{ lookup('ansible.builtin.env', 'PANEL_%s_PW') }}" % key
    return panels


TWO_PANEL_HOSTS = sorted(
    [
        # panel 1: as the one-panel source, with the panel in the fallback names
        "dci-1-1",
        "dci-1-2",
        "dci-1-3",
        "dci-1-4",
        "dci-1-5",
        "alice1.example.com",
        "dci-1-7",
        "build.example.com",
        "web1.example.com",
        "dci-1-10",
        "dci-1-11",
        "v6.example.com",
        # panel 2: the same ids; its own hostnames, and panel 1's names fall back
        "dci-2-1",
        "dci-2-2",
        "dci-2-3",
        "dci-2-4",
        "dci-2-5",
        "dci-2-6",
        "dci-2-7",
        "build.dc2.example.com",
        "dci-2-9",
        "dci-2-10",
        "dci-2-11",
        "v6.dc2.example.com",
    ]
)


def test_golden_two_panels(tmp_path, panels):
    """Both panels read (one login and one list each), every host once, dci_panel and the panel groups."""
    completed, data = inventory(write_source(tmp_path, {"panels": looked_up(panels)}), env_of(panels))
    assert completed.returncode == 0, completed.stderr
    check_golden("dci-inventory-panels.json", data)
    assert hosts(data) == TWO_PANEL_HOSTS
    for key, sim in panels.items():
        assert funcs(sim) == ["auth", "server"], key
        assert sim.calls[0]["params"]["password"] == sim.admin_password
    hostvars = data["_meta"]["hostvars"]
    assert hostvars["dci-2-6"]["dci_hostname"] == "alice1.example.com" and hostvars["dci-2-6"]["dci_panel"] == "2"
    assert hostvars["alice1.example.com"]["dci_panel"] == "1" and hostvars["alice1.example.com"]["dci_server_id"] == "6"
    assert hostvars["build.dc2.example.com"]["dci_name"] == "dc2-srv08"
    assert sorted(data["dci_panel_1"]["hosts"]) == sorted(name for name in TWO_PANEL_HOSTS if hostvars[name]["dci_panel"] == "1")
    assert len(data["dci_panel_1"]["hosts"]) == len(data["dci_panel_2"]["hosts"]) == 12
    # The state groups hold the hosts of both panels.
    assert sorted(data["dci_state_suspended"]["hosts"]) == ["dci-1-10", "dci-2-10"]
    said = completed.said
    assert "server 10 of panel 1 has the host name Web1.Example.com, which server 9 of panel 1 already has; naming it dci-1-10" in said
    assert "server 6 of panel 2 has the host name alice1.example.com, which server 6 of panel 1 already has; naming it dci-2-6" in said
    assert "server 9 of panel 2 has the host name web1.example.com, which server 9 of panel 1 already has; naming it dci-2-9" in said
    assert said.count("[WARNING]") == 4  # and server 10 of panel 2 (Web1.Example.com again)
    for sim in panels.values():
        assert sim.admin_password not in completed.stdout + completed.stderr


def test_panels_are_read_at_the_same_time(tmp_path, panels):
    """With a slow answer from each panel, both panels' first calls come before either panel's last one."""
    for sim in panels.values():
        sim.latency = 0.5
    completed, data = inventory(write_source(tmp_path, {"panels": mapping(panels)}), {})
    assert completed.returncode == 0, completed.stderr
    assert len(hosts(data)) == 24
    first = [sim.calls[0]["time"] for sim in panels.values()]
    last = [sim.calls[-1]["time"] for sim in panels.values()]
    assert max(first) < min(last), (first, last)


def test_panel_keys_are_names_too_and_the_template_sees_the_panel(tmp_path, panels):
    keyed = {"FRA-1": connection(panels["2"]), "Ams": connection(panels["1"])}
    source = write_source(tmp_path, {"panels": keyed, "hostname": "{{ dci_name }}.{{ dci_panel | lower }}", "states": ["free"]})
    completed, data = inventory(source, {})
    assert completed.returncode == 0, completed.stderr
    assert sorted(group for group in data if group.startswith("dci_panel_")) == ["dci_panel_ams", "dci_panel_fra_1"]
    free = ("srv01", "srv02", "srv03", "srv07")
    assert hosts(data) == sorted(["%s.ams" % name for name in free] + ["dc2-%s.fra-1" % name for name in free])
    assert data["_meta"]["hostvars"]["srv01.ams"]["dci_panel"] == "Ams"
    # Without a template, free servers get the fallback name with the key as a group name has it.
    completed, data = inventory(write_source(tmp_path, {"panels": {"FRA-1": connection(panels["2"])}, "states": ["free"]}), {})
    assert completed.returncode == 0, completed.stderr
    assert hosts(data) == ["dci-fra_1-1", "dci-fra_1-2", "dci-fra_1-3", "dci-fra_1-7"]


def test_panels_from_extra_vars_and_from_the_environment(tmp_path, panels):
    """``panels: "{{ dcimanager_panels }}"`` with the role's variable as extra vars; DCIMANAGER_PANELS (what the AWX
    credential gives an inventory sync) as JSON, never templated, used before DCIMANAGER_URL but after the file's api_url."""
    extra = tmp_path / "panels.yml"
    extra.write_text(yaml.safe_dump({"dcimanager_panels": {1: connection(panels["1"]), 2: connection(panels["2"])}}))
    completed, data = inventory(write_source(tmp_path, {"panels": "{{ dcimanager_panels }}"}), {}, extra_args=["-e", "@%s" % extra])
    assert completed.returncode == 0, completed.stderr
    assert hosts(data) == TWO_PANEL_HOSTS

    panels["2"].apply_settings({"admin_password": INJECTION})
    text = json.dumps({"1": connection(panels["1"]), "2": connection(panels["2"], validate_certs="true", use_proxy="false")})
    env = dict(panels["1"].env(), DCIMANAGER_PANELS=text)
    for sim in panels.values():
        sim.clear_calls()
    completed, data = inventory(write_source(tmp_path, {}), env)
    assert completed.returncode == 0, completed.stderr
    assert hosts(data) == TWO_PANEL_HOSTS
    assert panels["2"].calls[0]["params"]["password"] == INJECTION
    assert "INJECTED" not in completed.stdout + completed.stderr

    # The source's own api_url: one panel, as before (no dci_panel), whatever DCIMANAGER_PANELS holds.
    for sim in panels.values():
        sim.clear_calls()
    completed, data = inventory(write_source(tmp_path, {"api_url": panels["1"].url}), env)
    assert completed.returncode == 0, completed.stderr
    assert "dci-1" in hosts(data) and "dci_panel" not in data["_meta"]["hostvars"]["dci-1"]
    assert funcs(panels["1"]) == ["auth", "server"] and funcs(panels["2"]) == []


def test_a_panel_that_cannot_be_read_fails_the_source(tmp_path, panels):
    wrong = dict(mapping(panels))
    wrong["2"] = connection(panels["2"], password="Wrong pw/5!x")
    completed, data = inventory(write_source(tmp_path, {"panels": wrong}), {})
    assert completed.returncode != 0 and data is None
    said = completed.said
    assert "DCImanager inventory: panel 2: DCImanager at %s rejected the login of api_username 'admin2'" % panels["2"].url in said
    assert funcs(panels["2"]) == ["auth"]
    for secret in ("Wrong pw/5!x", "Wrong%20pw%2F5%21x", panels["1"].admin_password, SECOND_PASSWORD):
        assert secret not in completed.stdout + completed.stderr

    # Both panels fail: both are named, in the order of their keys.
    panels["1"].set_faults(rate=1.0, kinds=("http500",), names=["server"], seed=1)
    completed, dummy = inventory(write_source(tmp_path, {"panels": wrong}), {})
    assert completed.returncode != 0
    assert completed.said.index("panel 1: ") < completed.said.index("; panel 2: ")


@pytest.mark.parametrize(
    "options, env, message",
    [
        ({"api_url": "https://dci.example.com", "panels": {"1": ANY}}, {}, "the source sets both api_url and panels"),
        ({}, {}, "no panel to read: set api_url (or DCIMANAGER_URL), or panels (or DCIMANAGER_PANELS)"),
        ({"panels": ["https://dci.example.com"]}, {}, "panels must be a mapping of a panel's key (its WHMCS server id) to its connection"),
        ({"panels": {"1": "https://dci.example.com"}}, {}, "panel 1: its connection must be a mapping with url, username and password"),
        ({"panels": {"1": {"url": "https://dci.example.com", "username": ""}}}, {}, "panel 1 has no username and no password"),
        ({"panels": {"1": dict(ANY, api_url="x")}}, {}, "panel 1: unknown settings api_url; a panel has url, username"),
        ({"panels": {"1": dict(ANY, validate_certs="maybe")}}, {}, "panel 1: validate_certs must be true or false"),
        ({"panels": {"a.b": ANY, "a_b": ANY}}, {}, "the panels a.b and a_b"),
        ({"panels": {" ": ANY}}, {}, "a panel of panels has an empty key"),
        ({}, {"DCIMANAGER_PANELS": '{"1": {"url": "u", "password": "secret-in-broken-json"'}, "panels is not JSON or YAML text (line 1, column"),
    ],
)
def test_wrong_panels_are_refused_before_any_call(tmp_path, panels, options, env, message):
    completed, dummy = inventory(write_source(tmp_path, options), env)
    assert completed.returncode != 0
    assert "DCImanager inventory: " + message in completed.said, completed.said
    assert "secret-in-broken-json" not in completed.stdout + completed.stderr
    assert all(sim.calls == [] for sim in panels.values())


def test_cache_holds_every_panel(tmp_path, panels):
    cache_dir = tmp_path / "cache"
    source = write_source(tmp_path, cache_options(cache_dir, panels=looked_up(panels)))
    completed, first = inventory(source, env_of(panels))
    assert completed.returncode == 0, completed.stderr
    files = list(cache_dir.iterdir())
    assert len(files) == 1
    content = files[0].read_text()
    assert "build.dc2.example.com" in content and "alice1.example.com" in content
    assert not any(secret in content for secret in [sim.admin_password for sim in panels.values()] + [sim.url for sim in panels.values()])

    for sim in panels.values():
        sim.clear_calls()
    time.sleep(0.05)
    completed, cached = inventory(source, env_of(panels))
    assert completed.returncode == 0, completed.stderr
    assert cached == first and all(sim.calls == [] for sim in panels.values())
    assert "naming it dci-2-6" in completed.said  # the warnings the hosts were built with still show

    # Another panel set (panel 2 alone): the entry does not fit, the panels are read again.
    write_source(tmp_path, cache_options(cache_dir, panels={"2": looked_up(panels)["2"]}))
    completed, second = inventory(source, env_of(panels))
    assert completed.returncode == 0, completed.stderr
    assert funcs(panels["1"]) == [] and funcs(panels["2"]) == ["auth", "server"]
    assert "alice1.example.com" in hosts(second) and "dci-2-1" in hosts(second)
