# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's writing calls, each with the module run that makes it: what the write-path tests break.

``CASES``: name -> (what sets the scene, the module and its arguments, the write the case is about, the
truth after). tests/integration/test_lost_write_answers.py loses each write's answer;
tests/integration/test_write_answers.py takes each element out of each write's answer.
"""

from __future__ import annotations

DEBIAN = "ISPsystem__Debian-12-amd64"
WAIT = {"poll_interval": 5, "wait_timeout": 1800}


def alice_server(sim):
    return sim.server_state("6")


def free_server(sim):
    return sim.server_state("1")


def user(sim, name):
    return next((u for u in sim.dump_state()["users"] if u["name"] == name), None)


def allocate_setup(sim, runner):
    runner.run("dci_user", {"name": "bob", "password": "bob-pw-123456"})


def allocated(sim):
    server = free_server(sim)
    bob = user(sim, "bob")
    return server["owner"] == bob["id"] and {a["domain"] for a in server["addresses"]} == {"bob.example.net"} and len(server["addresses"]) == 2


def block(sim, runner):
    runner.run("dci_server", dict(WAIT, server_id="6", blocked=True))


def power_off(sim, runner):
    runner.run("dci_server", dict(WAIT, server_id="6", power="off"))


def network_off(sim, runner):
    runner.run("dci_server", dict(WAIT, server_id="6", network="off"))


def switch_state(sim):
    return [c["state"] for c in alice_server(sim)["connections"] if c["type"] == "Switch"]


def extra_address(sim, runner):
    runner.run("dci_server_allocate", {"owner": "alice", "hostname": "alice1.example.com", "server_id": "6", "ipv4_count": 1})


# name -> (what sets the scene, the module and its arguments, the write whose answer is lost, the truth after)
CASES = {
    "user.edit create": (None, "dci_user", {"name": "bob", "password": "bob-pw-123456"}, "user.edit", lambda sim: user(sim, "bob") is not None),
    "user.edit password": (
        None,
        "dci_user",
        {"name": "alice", "password": "alice-pw-NEW", "update_password": "always"},
        "user.edit",
        lambda sim: user(sim, "alice")["password"] == "alice-pw-NEW",
    ),
    "user.delete": (
        lambda sim, runner: runner.run("dci_user", {"name": "bob", "password": "bob-pw-123456"}),
        "dci_user",
        {"name": "bob", "state": "absent"},
        "user.delete",
        lambda sim: user(sim, "bob") is None,
    ),
    "iplist.edit (the claim)": (
        allocate_setup,
        "dci_server_allocate",
        {"owner": "bob", "hostname": "bob.example.net", "server_id": "1", "ipv4_count": 1},
        "iplist.edit",
        allocated,
    ),
    "iplist.edit (a new address)": (
        None,
        "dci_server_allocate",
        {"owner": "alice", "hostname": "alice1.example.com", "server_id": "6", "ipv4_count": 1},
        "iplist.edit",
        lambda sim: len(alice_server(sim)["addresses"]) == 2,
    ),
    "server.edit (the owner)": (
        allocate_setup,
        "dci_server_allocate",
        {"owner": "bob", "hostname": "bob.example.net", "server_id": "1", "ipv4_count": 1},
        "server.edit",
        allocated,
    ),
    "server.disable": (None, "dci_server", dict(WAIT, server_id="6", blocked=True), "server.disable", lambda sim: alice_server(sim)["blocked"]),
    "server.enable": (
        block,
        "dci_server",
        dict(WAIT, server_id="6", blocked=False),
        "server.enable",
        lambda sim: not alice_server(sim)["blocked"] and not alice_server(sim)["disabled"],
    ),
    "server.poweroff": (None, "dci_server", dict(WAIT, server_id="6", power="off"), "server.poweroff", lambda sim: alice_server(sim)["power"] == "off"),
    "server.poweron": (power_off, "dci_server", dict(WAIT, server_id="6", power="on"), "server.poweron", lambda sim: alice_server(sim)["power"] == "on"),
    "server.connection.off": (None, "dci_server", dict(WAIT, server_id="6", network="off"), "server.connection.off", lambda sim: switch_state(sim) == ["off"]),
    "server.connection.on": (
        network_off,
        "dci_server",
        dict(WAIT, server_id="6", network="on"),
        "server.connection.on",
        lambda sim: switch_state(sim) == ["on"],
    ),
    "server.operations": (
        None,
        "dci_os_install",
        dict(WAIT, server_id="6", os_template="ISPsystem__Ubuntu-24.04-amd64", root_password="root-pw-1", settle_time=60),
        "server.operations",
        lambda sim: alice_server(sim)["installed_template"] == "ISPsystem__Ubuntu-24.04-amd64",
    ),
    "iplist.delete": (
        extra_address,
        "dci_server_release",
        dict(WAIT, server_id="6"),
        "iplist.delete",
        lambda sim: len(alice_server(sim)["addresses"]) == 1 and not alice_server(sim)["owner"],
    ),
}
