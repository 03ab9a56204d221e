# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One service's whole life on every variant of the panel: no step may report success on a wrong state.

Each variant of the DCImanager simulator (``simulators.dcimanager.VARIANTS``) plays a panel that
differs from the default in one detail the API reference does not settle (how a port's state is
shown, which flag ``server.disable`` sets, what the ``owner`` column holds ...). The modules run
in-process on a virtual clock (tests/integration/inprocess.py); after every step the simulator's
true state is compared with what was asked. A step may fail only where the panel gives no way to
know, and then with a clear message.
"""

from __future__ import annotations

import pytest

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.client import DCIClient
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.errors import DCIError
from inprocess import start_panel
from simulators.dcimanager import VARIANTS

pytestmark = pytest.mark.quick

# The simulator's timings: long enough that a wait really waits (on the virtual clock).
DEBIAN = "ISPsystem__Debian-12-amd64"
HOSTNAME = "Bob1.Example.net"
PASSWORD = "bob-pw-123456"
NEW_PASSWORD = "bob-pw-654321"

# Where a panel shows nothing to decide from, the step must fail clearly: (variant, step) -> message part.
CANNOT_KNOW = {
    # A good password is answered with neither a session nor an error: nothing proves it is bob's.
    ("auth_ok_only", "password kept"): "cannot tell whether bob's password is right",
}
# Steps that must change nothing on a second run, except where the panel hides what would tell.
NOT_IDEMPOTENT = {
    # No domain shown for the extra addresses anywhere: they are set again on every run.
    ("iplist_no_domain_anywhere", "allocate"),
}


class Life:
    """Runs the steps of one service's life and checks the panel after each."""

    def __init__(self, variant, sim, runner):
        self.variant = variant
        self.sim = sim
        self.runner = runner
        self.failed = []

    def step(self, name, module, args, truth):
        result = self.runner.run(module, args)
        expected = CANNOT_KNOW.get((self.variant, name))
        if result.get("failed"):
            assert expected and expected in result["msg"], "%s: step %s failed: %s" % (self.variant, name, result["msg"])
            self.failed.append(name)
            return result
        assert expected is None, "%s: step %s succeeded where the panel cannot tell: %s" % (self.variant, name, result)
        problem = truth(result)
        assert not problem, "%s: step %s reported success, but %s; result: %s" % (self.variant, name, problem, result)
        return result

    def again(self, name, module, args):
        """A rerun of a step: unchanged (and no write), unless the panel hides what would tell."""
        self.sim.clear_calls()
        result = self.runner.run(module, args)
        assert not result.get("failed"), "%s: rerun of %s failed: %s" % (self.variant, name, result["msg"])
        if (self.variant, name) not in NOT_IDEMPOTENT:
            assert result["changed"] is False, "%s: rerun of %s changed something: %s" % (self.variant, name, result)
            assert self.sim.writes() == [], "%s: rerun of %s wrote %s" % (self.variant, name, [c["name"] for c in self.sim.writes()])

    # What the simulator really holds ---------------------------------------------------------------

    def user(self, name):
        return next((u for u in self.sim.dump_state()["users"] if u["name"] == name), None)

    def server(self, server_id):
        return self.sim.server_state(server_id)


def check_allocated(life, result, extra=1):
    server = life.server(result["server"]["id"])
    bob = life.user("bob")
    domains = {a["domain"].lower() for a in server["addresses"]}
    if server["owner"] != bob["id"]:
        return "the owner is %r, not bob (%s)" % (server["owner"], bob["id"])
    if domains != {HOSTNAME.lower()}:
        return "the addresses carry %s" % sorted(domains)
    if len(server["addresses"]) != 1 + 2 * extra:
        return "the server has %d addresses" % len(server["addresses"])
    others = [
        s["id"] for s in life.sim.dump_state()["servers"] if s["id"] != server["id"] and any(a["domain"].lower() == HOSTNAME.lower() for a in s["addresses"])
    ]
    return "the hostname is also on servers %s" % others if others else None


def check_switch_ports(life, server_id, state):
    ports = [c for c in life.server(server_id)["connections"] if c["type"] == "Switch"]
    wrong = [c for c in ports if c["state"] != state or c["op"] is not None]
    return "switch ports %s are not %s" % ([c["id"] for c in wrong], state) if wrong else None


@pytest.mark.parametrize("variant", ["default"] + sorted(VARIANTS))
def test_one_service_life(variant, tmp_path, monkeypatch):
    sim, runner, dummy = start_panel(tmp_path, monkeypatch, **VARIANTS.get(variant, {}))
    try:
        life = Life(variant, sim, runner)
        live_one_life(life)
        assert sim.errors == []
    finally:
        sim.close()


def live_one_life(life):
    wait = {"poll_interval": 5, "wait_timeout": 1800}
    life.step(
        "account",
        "dci_user",
        {"name": "bob", "password": PASSWORD},
        lambda r: None if life.user("bob") and life.user("bob")["password"] == PASSWORD else "bob's account is not there",
    )
    life.again("account", "dci_user", {"name": "bob", "password": PASSWORD})
    life.step(
        "password",
        "dci_user",
        {"name": "bob", "password": NEW_PASSWORD, "update_password": "always"},
        lambda r: None if life.user("bob")["password"] == NEW_PASSWORD else "bob's password was not changed",
    )
    life.step(
        "password kept",
        "dci_user",
        {"name": "bob", "password": NEW_PASSWORD, "update_password": "always"},
        lambda r: None if not r["changed"] and life.user("bob")["password"] == NEW_PASSWORD else "it changed",
    )

    allocation = {"owner": "bob", "hostname": HOSTNAME, "package": "DL360-G9", "ipv4_count": 1, "ipv6_count": 1}
    result = life.step("allocate", "dci_server_allocate", allocation, lambda r: check_allocated(life, r))
    server_id = result["server"]["id"]
    life.again("allocate", "dci_server_allocate", allocation)

    install = dict(wait, hostname=HOSTNAME, os_template=DEBIAN, root_password="root-pw-1", settle_time=120)

    def installed(r):
        server = life.server(server_id)
        if not r["install_finished"]:
            return "install_finished is false after a wait"
        if server["install"] is not None:
            return "the install still runs"
        return None if server["installed_template"] == DEBIAN else "the server runs %r" % server["installed_template"]

    life.step("install", "dci_os_install", install, installed)
    life.again("install", "dci_os_install", install)

    def suspended(r):
        server = life.server(server_id)
        return None if server["blocked"] or server["disabled"] else "the server is neither blocked nor disabled"

    life.step("suspend", "dci_server", dict(wait, hostname=HOSTNAME, blocked=True), suspended)
    life.again("suspend", "dci_server", dict(wait, hostname=HOSTNAME, blocked=True))

    def unsuspended(r):
        server = life.server(server_id)
        return "the server is still blocked or disabled" if server["blocked"] or server["disabled"] else None

    life.step("unsuspend", "dci_server", dict(wait, hostname=HOSTNAME, blocked=False), unsuspended)
    life.again("unsuspend", "dci_server", dict(wait, hostname=HOSTNAME, blocked=False))

    off = life.step("network off", "dci_server", dict(wait, hostname=HOSTNAME, network="off"), lambda r: check_switch_ports(life, server_id, "off"))
    assert off["network_state_shown"] is (life.variant != "port_state_hidden")
    life.step("network on", "dci_server", dict(wait, hostname=HOSTNAME, network="on"), lambda r: check_switch_ports(life, server_id, "on"))

    life.step(
        "owner's servers",
        "dci_server_info",
        {"owner": "bob", "details": False},
        lambda r: (
            None
            if [s["id"] for s in r["servers"]] == [server_id] and r["servers"][0]["owner"] == "bob"
            else "listed %s" % [(s["id"], s["owner"]) for s in r["servers"]]
        ),
    )

    def key_made(r):
        keys = life.sim.dump_state()["login_keys"]
        return None if r["url"] and any(r["url"].endswith("key=" + key) for key in keys) else "no such key in the panel"

    life.step("login key", "dci_login_key", {"login": "bob"}, key_made)

    def released(r):
        server = life.server(server_id)
        if server["owner"] or len(server["addresses"]) != 1 or server["addresses"][0]["domain"] != "free.ds":
            return "the server is not free: owner %r, addresses %s" % (server["owner"], server["addresses"])
        return "the install record is still in the notes" if "ansible-dcimanager" in server["notes"] else None

    life.step("release", "dci_server_release", dict(hostname=HOSTNAME, poll_interval=5), released)
    life.again("release", "dci_server_release", dict(hostname=HOSTNAME, poll_interval=5))
    assert sorted(life.failed) == sorted(step for (variant, step) in CANNOT_KNOW if variant == life.variant)


def test_a_refusal_sent_with_http_500_is_the_panels_answer(tmp_path, monkeypatch):
    """errors_http500 (V15): the panel's error document comes with HTTP 500. The module reports the panel's
    type, object and message, and the refused write is neither read back nor sent again."""
    sim, runner, dummy = start_panel(tmp_path, monkeypatch, **VARIANTS["errors_http500"])
    try:
        result = runner.run("dci_user", {"name": "-bob", "password": PASSWORD})
        assert result["failed"] and result["api_error"] == {"type": "value", "object": "name", "msg": "Invalid login '-bob'"}, result
        assert "DCImanager refused user.edit with HTTP 500: Invalid login '-bob' (type value, object name)" in result["msg"]
        assert [call["status"] for call in sim.writes()] == [500]
        assert not any("read back" in warning for warning in result.get("warnings", []))
        # A refusal of a read is not retried either.
        sim.clear_calls()
        client = DCIClient(sim.url, sim.admin_user, sim.admin_password, ca_path=sim.ca_path)
        with pytest.raises(DCIError) as info:
            client.form("server.edit", elid="99")
        assert info.value.api_error["type"] == "missed" and info.value.status == 500
        assert [call["name"] for call in sim.calls] == ["auth", "server.edit"]
        assert sim.errors == []
    finally:
        sim.close()
