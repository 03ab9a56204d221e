# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The two-datacenter fixture (panel_shop.PanelShop, conftest's ``two_panels``), over real HTTPS as the collection sees it."""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
import yaml

from panel_shop import PanelShop, admin_login
from simulators.fleet import hostname_of, make_consistent_shop, server_of

pytestmark = pytest.mark.quick
REPO = Path(__file__).resolve().parents[2]


def server_list(panel, username, password, verify):
    """{server id: row} of a panel's server list, read with ``authinfo``."""
    answer = requests.post(panel["url"], data={"func": "server", "out": "xml", "authinfo": "%s:%s" % (username, password)}, verify=verify, timeout=30)
    doc = ET.fromstring(answer.content)
    error = doc.find("error")
    if error is not None:
        return error.get("type"), error.get("object")
    return dict((row.findtext("id"), dict((cell.tag, cell.text or "") for cell in row)) for row in doc.findall("elem"))


def whmcs_services(shop):
    whmcs = shop.whmcs
    data = {"action": "GetClientsProducts", "identifier": whmcs.identifier, "secret": whmcs.secret, "responsetype": "json", "limitnum": 1000}
    answer = requests.post(whmcs.api_url, data=data, verify=whmcs.ca_path, timeout=30).json()
    return answer["products"]["product"]


def test_two_panels_each_show_their_own_services(two_panels):
    panels = two_panels.dcimanager_panels
    assert sorted(panels) == ["1", "2"]
    assert yaml.safe_load(two_panels.panels_file.read_text()) == {"dcimanager_panels": panels}
    assert set(panels["1"]) == {"url", "username", "password", "ca_path"}
    assert panels["1"]["url"] != panels["2"]["url"] and panels["1"]["password"] != panels["2"]["password"]
    assert "DCIMANAGER_URL" not in two_panels.env and "WHMCS_URL" in two_panels.env

    rows = dict((key, server_list(panel, panel["username"], panel["password"], panel["ca_path"])) for key, panel in panels.items())
    assert set(rows["1"]) == set(rows["2"]), "the same server ids on both panels"
    services = whmcs_services(two_panels)
    assert {(s["serverid"], s["servername"], s["serverhostname"]) for s in services} == {
        ("1", "DCImanager", "dci.example.com"),
        ("2", "DCImanager 2", "dci2.example.com"),
    }
    for service in services:
        if service["status"] in ("Active", "Suspended"):
            own = [row for row in rows[service["serverid"]].values() if row.get("hostname") == service["domain"]]
            assert [row["ip"] for row in own] == [service["dedicatedip"]], service["id"]
            other = "2" if service["serverid"] == "1" else "1"
            assert not [row for row in rows[other].values() if row.get("hostname") == service["domain"]], service["id"]
    for key in ("1", "2"):
        free = [row for row in rows[key].values() if row.get("hostname") == "free.ds" and not row.get("owner")]
        assert len(free) == 8 and {row["chassis_templ"] for row in free} == {two_panels.products[1]["package"]}
    assert two_panels.panel_of(120) is two_panels.panels["2"] and two_panels.panel_of(20) is two_panels.panels["1"]
    assert two_panels.list_reads() == {"1": 1, "2": 1}
    assert two_panels.writes() == []


def test_a_panel_refuses_the_other_panels_login_and_ca(two_panels):
    first, second = two_panels.dcimanager_panels["1"], two_panels.dcimanager_panels["2"]
    assert server_list(second, first["username"], first["password"], second["ca_path"]) == ("auth", "badpassword")
    with pytest.raises(requests.exceptions.SSLError):
        server_list(second, second["username"], second["password"], first["ca_path"])
    assert admin_login("2") == (second["username"], second["password"])


def test_a_fleet_over_two_panels_and_its_call_logs(tmp_path):
    states = make_consistent_shop(20, pending=2, server_ids=[3, 5])
    with pytest.raises(ValueError, match="no WHMCS server entry for the panels 7"):
        PanelShop(tmp_path / "bad", (dict(states[0], **{"7": states[0]["3"]}), states[1], states[2]))
    with pytest.raises(ValueError, match="server_ids"):
        PanelShop(tmp_path / "one", make_consistent_shop(5))
    with PanelShop(tmp_path, states) as shop:
        assert sorted(shop.dcimanager_panels) == ["3", "5"]
        panel = shop.dcimanager_panels["5"]
        rows = server_list(panel, panel["username"], panel["password"], panel["ca_path"])
        for service in states[1]["services"]:
            key, server_id = server_of(service["id"], [3, 5])
            assert service["serverid"] == int(key)
            if key == "5" and service["status"] == "Active":
                assert rows[server_id]["hostname"] == hostname_of(service)
        assert shop.list_reads() == {"3": 0, "5": 1}
        edit = {"func": "server.edit", "elid": "1", "sok": "ok", "name": "renamed", "mac": "52:54:00:00:00:01", "out": "xml"}
        requests.post(panel["url"], data=dict(edit, authinfo="admin5:panel-5-secret-pw"), verify=panel["ca_path"], timeout=30)
        assert [(call["side"], call["name"]) for call in shop.writes()] == [("5", "server.edit")]
        shop.clear_calls()
        assert shop.calls() == {"3": [], "5": [], "whmcs": []}
    assert not shop.started


def _drift_benchmark():
    spec = importlib.util.spec_from_file_location("benchmark_drift", REPO / "benchmarks" / "drift.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_drift_benchmarks_two_panel_setup(tmp_path):
    """benchmarks/drift.py --panels 2: the shop split over two panels, the files its runs use, the reads it counts."""
    drift = _drift_benchmark()
    with drift.panel_fleet(tmp_path, 40, 3, panels=2) as fleet:
        assert fleet.server_ids == [1, 2] and sorted(fleet.states[0]) == ["1", "2"]
        assert sorted(fleet.drifted.values()) == sorted(list(drift.DRIFT) + ["pending"])
        assert yaml.safe_load((tmp_path / "panels.yml").read_text())["dcimanager_panels"] == fleet.shop.dcimanager_panels
        assert yaml.safe_load((tmp_path / "drift.whmcs.yml").read_text())["plugin"] == "ispsystem.dcimanager.whmcs"
        command = drift.reconcile_command(5, drift.extra_args(fleet))
        assert command[1] == "ispsystem.dcimanager.reconcile" and command[-2:] == ["-e", "@panels.yml"]
        assert "DCIMANAGER_URL" not in fleet.env()
        panel = fleet.shop.dcimanager_panels["2"]
        server_list(panel, panel["username"], panel["password"], panel["ca_path"])
        figures = {"dci_calls": drift.dci_calls(fleet)}
        assert drift.list_reads(figures) == {"2": 1}
        # An in-sync Active service of panel 2 is named by a call on panel 2 with its server id, not by one on panel 1.
        service = next(s for s in fleet.states[1]["services"] if s["serverid"] == 2 and s["status"] == "Active" and s["id"] not in fleet.drifted)
        dummy, server_id = server_of(service["id"], [1, 2])
        statuses = {service["id"]: "Active"}
        on_two = {"dci_calls": [{"panel": "2", "params": {"elid": server_id}}], "whmcs_calls": []}
        on_one = {"dci_calls": [{"panel": "1", "params": {"elid": server_id}}], "whmcs_calls": []}
        assert len(drift.naming(on_two, [service["id"]], statuses, fleet.server_ids)) == 1
        assert drift.naming(on_one, [service["id"]], statuses, fleet.server_ids) == []
