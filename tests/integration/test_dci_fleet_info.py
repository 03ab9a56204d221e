# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dci_fleet_info: the whole server list in one read, on every variant of the panel (in-process, fast)."""

from __future__ import annotations

import pytest

from inprocess import ModuleRunner, connection_args
from simulators.dcimanager import VARIANTS, DCImanagerSimulator, default_state

pytestmark = pytest.mark.quick

# What the sample panel (simulators.dcimanager.default_state) must read as, whatever the variant.
EXPECTED = {
    "1": {"hostname": "free.ds", "owner": "", "package": "DL360-G9", "state": "free", "free": True, "blocked": False},
    "3": {"package": "X11-old", "state": "free", "free": True},
    "4": {"state": "hwproblem", "free": False},
    "5": {"state": "diag", "free": False},
    "6": {"hostname": "alice1.example.com", "owner": "alice", "state": "owned", "free": False, "main_ip": "192.0.2.16", "rack": "R2", "power": "on"},
}


@pytest.mark.parametrize("variant", ["default"] + sorted(VARIANTS))
def test_every_server_in_one_read(tmp_path, variant):
    with DCImanagerSimulator(state=default_state(), tls_dir=str(tmp_path / "tls"), **VARIANTS.get(variant, {})) as sim:
        result = ModuleRunner(connection_args(sim)).run("dci_fleet_info", {}, check=True)
        names = [call["name"] for call in sim.calls]
    assert not result.get("failed"), result
    servers = dict((server["id"], server) for server in result["servers"])
    assert [s["id"] for s in result["servers"]] == ["1", "2", "3", "4", "5", "6", "7"]
    for server_id, fields in EXPECTED.items():
        assert dict((key, servers[server_id][key]) for key in fields) == fields, (variant, server_id)
    assert result["changed"] is False
    # One session, the list (page by page when the panel pages it), and the accounts only when owners are ids.
    assert names.count("auth") <= 1 and set(names) <= {"auth", "server", "user"}, names
    assert ("user" in names) == (variant == "owner_id"), names


def test_an_empty_panel(tmp_path):
    state = default_state()
    state["servers"] = []
    with DCImanagerSimulator(state=state, tls_dir=str(tmp_path / "tls")) as sim:
        runner = ModuleRunner(connection_args(sim))
        refused = runner.run("dci_fleet_info", {})
        allowed = runner.run("dci_fleet_info", {"allow_empty": True})
    assert refused["failed"] and "came back empty" in refused["msg"]
    assert allowed["servers"] == [] and not allowed.get("failed")


def test_a_blocked_server(tmp_path):
    state = default_state()
    state["servers"][5].update(blocked=True, disabled=True)
    with DCImanagerSimulator(state=state, tls_dir=str(tmp_path / "tls"), disable_sets="disabled") as sim:
        result = ModuleRunner(connection_args(sim)).run("dci_fleet_info", {})
    server = next(s for s in result["servers"] if s["id"] == "6")
    assert server["blocked"] is True and server["state"] == "suspended" and server["free"] is False
