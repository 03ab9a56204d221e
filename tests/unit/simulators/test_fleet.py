"""The consistent-shop generator (tests/simulators/fleet.py): agreement, drift plan, size."""

import collections
import importlib.util
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

from simulators import shop
from simulators.dcimanager import FREE_DOMAIN, DCImanagerSimulator
from simulators.fleet import DRIFTS, drift_plan, hostname_of, make_consistent_shop, server_of
from simulators.whmcs import WHMCSSimulator

ADMIN = "admin:admin-secret-pw"
REPO = Path(__file__).resolve().parents[3]


def hostname(server):
    main = [a for a in server["addresses"] if a["ip"] == server["main_ip"]]
    return main[0]["domain"] if main else FREE_DOMAIN


def problems(dci, whmcs):
    """Service id -> the disagreements found (an independent reading of the module docstring's rules)."""
    logins = {user["id"]: user["name"] for user in dci["users"]}
    by_hostname = collections.defaultdict(list)
    for server in dci["servers"]:
        by_hostname[hostname(server)].append(server)
    services = [s for s in whmcs["services"] if s["status"] != "Pending"]
    hostnames = collections.Counter(hostname_of(s) for s in services)
    found = {}
    for service in services:
        name, tags = hostname_of(service), set()
        servers = by_hostname.get(name, [])
        if hostnames[name] > 1:
            tags.add("shared_hostname")
        if service["status"] in ("Active", "Suspended"):
            if not servers:
                tags.add("no_server")
            elif len(servers) > 1:
                tags.add("hostname_twice")
            else:
                server = servers[0]
                if logins.get(server["owner"]) != service["username"]:
                    tags.add("foreign_owner")
                if {a["domain"] for a in server["addresses"]} != {name}:
                    tags.add("partial_hostname")
                if service["dedicatedip"] != server["main_ip"]:
                    tags.add("ip_mismatch")
                if sorted(service["assignedips"].split()) != sorted(a["ip"] for a in server["addresses"] if a["ip"] != server["main_ip"]):
                    tags.add("assigned_mismatch")
                port = [c["state"] for c in server["connections"] if c["type"] == "Switch"][0]
                if (server["blocked"], server["disabled"], port) not in ((True, True, "off"), (False, False, "on")):
                    tags.add("half_blocked")
                elif server["blocked"] and service["status"] == "Active":
                    tags.add("blocked")
                elif not server["blocked"] and service["status"] == "Suspended":
                    tags.add("unblocked")
        elif service["status"] == "Terminated":
            if servers:
                tags.add("allocated")
            if service["dedicatedip"] or service["assignedips"]:
                tags.add("ip_left")
        if tags:
            found[service["id"]] = tags
    return found


EXPECTED = {
    "active_blocked": {"blocked"},
    "suspended_unblocked": {"unblocked"},
    "terminated_allocated": {"allocated", "ip_left"},
    "terminated_ip_left": {"ip_left"},
    "ip_on_other_server": {"ip_mismatch"},
    "hostname_twice": {"hostname_twice"},
    "active_no_server": {"no_server"},
    "foreign_owner": {"foreign_owner"},
    "no_domain_duplicate": {"shared_hostname", "allocated"},
}


def expected(plan):
    wanted = {entry["service_id"]: set(EXPECTED[entry["drift"]]) for entry in plan}
    for entry in plan:
        if entry["other_service_id"]:  # the Active service whose domain was taken
            wanted[entry["other_service_id"]] = {"shared_hostname"}
    return wanted


def test_a_consistent_shop_agrees_everywhere():
    dci, whmcs, products = make_consistent_shop(60, pending=4)
    assert problems(dci, whmcs) == {}
    statuses = collections.Counter(s["status"] for s in whmcs["services"])
    assert statuses == {"Pending": 4, "Active": 48, "Suspended": 6, "Terminated": 6}
    assert [s["id"] for s in whmcs["services"]] == list(range(1000, 1064))
    assert products[1]["package"] == "DL360-G9"
    servers = {s["id"]: s for s in dci["servers"]}
    free = [s for s in dci["servers"] if hostname(s) == FREE_DOMAIN]
    assert all(not s["owner"] and len(s["addresses"]) == 1 and not s["blocked"] for s in free)
    assert len([s for s in free if s["chassis_templ"] == products[1]["package"]]) >= 4 + 6  # pending + spare + released
    assert any(len(s["addresses"]) > 1 for s in dci["servers"])  # the IP / IPv6 options are honoured
    no_domain = next(s for s in whmcs["services"] if not s["domain"] and s["status"] == "Active")
    assert hostname(servers[str(5000 + no_domain["id"] - 1000)]) == "%d.domain" % no_domain["id"]
    # Every pool address is on at most one server, and the pools have room for the Pending orders.
    used = [a["ip"] for s in dci["servers"] for a in s["addresses"]]
    assert len(used) == len(set(used))
    pool = dci["ip_pools"]["public"]["ipv4"]
    assert len(set(pool) - set(used)) >= 2 * 64


@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize("kind", list(DRIFTS))
def test_each_drift_shows_where_the_plan_says(kind, seed):
    dci, whmcs, dummy = make_consistent_shop(40, pending=3, drift={kind: 2}, seed=seed)
    plan = drift_plan(40, pending=3, drift={kind: 2}, seed=seed)
    assert [entry["drift"] for entry in plan] == [kind, kind]
    assert problems(dci, whmcs) == expected(plan)
    services = {s["id"]: s for s in whmcs["services"]}
    for entry in plan:
        assert services[entry["service_id"]]["status"] == DRIFTS[kind] == entry["status"]
        assert hostname_of(services[entry["service_id"]]) == entry["hostname"]


def test_all_drifts_at_once_and_the_seed_decides_where():
    drift = {kind: 2 for kind in DRIFTS}
    dci, whmcs, dummy = make_consistent_shop(100, pending=5, drift=drift, seed=3, suspended=15, terminated=20)
    plan = drift_plan(100, pending=5, drift=drift, seed=3, suspended=15, terminated=20)
    assert len(plan) == 18 and len({entry["service_id"] for entry in plan}) == 18
    assert problems(dci, whmcs) == expected(plan)
    assert plan == drift_plan(100, pending=5, drift=drift, seed=3, suspended=15, terminated=20)
    assert plan != drift_plan(100, pending=5, drift=drift, seed=4, suspended=15, terminated=20)
    twin = next(e for e in plan if e["drift"] == "hostname_twice")
    servers = {s["id"]: s for s in dci["servers"]}
    assert hostname(servers[twin["other_server_id"]]) == twin["hostname"]
    foreign = next(e for e in plan if e["drift"] == "foreign_owner")
    assert {u["id"]: u["name"] for u in dci["users"]}[servers[foreign["server_id"]]["owner"]] == "stranger"


def test_drift_is_checked():
    with pytest.raises(ValueError, match="unknown drift"):
        make_consistent_shop(10, drift={"meteor": 1})
    with pytest.raises(ValueError, match="suspended_unblocked"):
        make_consistent_shop(10, drift={"suspended_unblocked": 2})  # 10 // 10 = 1 Suspended service
    with pytest.raises(ValueError):
        make_consistent_shop(10, suspended=6, terminated=6)


def on_panel(whmcs, server_id):
    """WHMCS's state with only the services of one server entry."""
    return dict(whmcs, services=[s for s in whmcs["services"] if s["serverid"] == int(server_id)])


def addresses(dci):
    return [a["ip"] for s in dci["servers"] for a in s["addresses"]] + [ip for pool in dci["ip_pools"]["public"].values() for ip in pool]


def test_two_panels_each_agree_with_their_own_services():
    # 7 clients: each has services on both panels (client c has the services c - 1 + 7k, both parities).
    panels, whmcs, products = make_consistent_shop(60, pending=4, server_ids=[1, 2], clients=7)
    assert sorted(panels) == ["1", "2"]
    assert [(s["id"], s["name"], s["hostname"]) for s in whmcs["servers"]] == [(1, "DCImanager", "dci.example.com"), (2, "DCImanager 2", "dci2.example.com")]
    assert products[1]["package"] == "DL360-G9"
    statuses = {}
    for key, dci in panels.items():
        mine = on_panel(whmcs, key)
        assert problems(dci, mine) == {}, key
        statuses[key] = collections.Counter(s["status"] for s in mine["services"])
        # Every service of the panel has its server there (or had it: Terminated ones are released).
        servers = {s["id"]: s for s in dci["servers"]}
        for service in mine["services"]:
            panel, server_id = server_of(service["id"], [1, 2])
            assert panel == key
            if service["status"] in ("Active", "Suspended"):
                assert hostname(servers[server_id]) == hostname_of(service) and servers[server_id]["main_ip"] == service["dedicatedip"]
            elif service["status"] == "Terminated":
                assert hostname(servers[server_id]) == FREE_DOMAIN
        # Free servers of the package for the panel's Pending orders and the spares.
        free = [s for s in dci["servers"] if hostname(s) == FREE_DOMAIN and not s["owner"] and s["chassis_templ"] == products[1]["package"]]
        assert len(free) >= statuses[key]["Pending"] + 5
        # A client with a service provisioned on this panel has an account on it, and no one else.
        logins = set(u["name"] for u in dci["users"])
        assert logins == set(s["username"] for s in mine["services"] if s["status"] != "Pending")
    # Services are split evenly, every status on both panels; the same server ids on both.
    assert statuses["1"] == statuses["2"] == {"Pending": 2, "Active": 24, "Suspended": 3, "Terminated": 3}
    ids = [set(s["id"] for s in panels[key]["servers"]) for key in ("1", "2")]
    assert ids[0] == ids[1] and "5002" in ids[0] and "1" in ids[0]  # 5000, 5001: the Pending services' numbers
    # No address is on both panels (another datacenter, other networks), pools included.
    assert not set(addresses(panels["1"])) & set(addresses(panels["2"]))
    clients = collections.defaultdict(set)
    for service in whmcs["services"]:
        clients[service["clientid"]].add(service["serverid"])
    assert all(servers == {1, 2} for servers in clients.values())


@pytest.mark.parametrize("kind", list(DRIFTS))
def test_two_panels_drift_stays_on_its_panel(kind):
    args = dict(n=80, pending=3, drift={kind: 2}, seed=7, server_ids=["1", "2"])
    panels, whmcs, dummy = make_consistent_shop(**args)
    plan = drift_plan(**args)
    assert [entry["drift"] for entry in plan] == [kind, kind]
    for key, dci in panels.items():
        mine = [entry for entry in plan if entry["panel"] == key]
        assert problems(dci, on_panel(whmcs, key)) == expected(mine), key
        for entry in mine:
            assert server_of(entry["service_id"], [1, 2]) == (key, entry["server_id"])
            if entry["other_service_id"]:
                assert server_of(entry["other_service_id"], [1, 2])[0] == key
            if entry["other_server_id"]:
                assert entry["other_server_id"] in set(s["id"] for s in dci["servers"])


def test_one_panel_shops_are_unchanged_by_server_ids():
    """server_ids=[1] gives the one-panel shop under the key "1"; the small shop's first panel is the one-panel shop."""
    one, whmcs, dummy = make_consistent_shop(30, pending=2, drift={"active_blocked": 1})
    keyed, keyed_whmcs, dummy = make_consistent_shop(30, pending=2, drift={"active_blocked": 1}, server_ids=[1])
    assert keyed == {"1": one} and keyed_whmcs == whmcs
    assert [dict(e, panel="1") for e in drift_plan(30, pending=2, drift={"active_blocked": 1})] == drift_plan(
        30, pending=2, drift={"active_blocked": 1}, server_ids=[1]
    )
    with pytest.raises(ValueError, match="each once"):
        make_consistent_shop(10, server_ids=[1, 1])

    small, small_whmcs, dummy = shop.make_shop()
    panels, both, dummy = shop.make_shop(server_ids=(1, 2))
    assert panels["1"] == small
    assert [s for s in both["services"] if s["serverid"] == 1] == small_whmcs["services"]
    with pytest.raises(ValueError, match="each once"):
        shop.make_shop(server_ids=())


def test_the_small_shop_on_two_panels():
    panels, whmcs, products = shop.make_shop(server_ids=(1, 2))
    second = [s for s in whmcs["services"] if s["serverid"] == 2]
    assert [(s["id"], s["status"]) for s in second] == [
        (110, "Pending"),
        (111, "Pending"),
        (112, "Pending"),
        (120, "Active"),
        (121, "Suspended"),
        (122, "Terminated"),
        (123, "Cancelled"),
        (124, "Fraud"),
    ]
    servers = {s["id"]: s for s in panels["2"]["servers"]}
    logins = {u["id"]: u["name"] for u in panels["2"]["users"]}
    for sid, server_id, blocked in ((120, "101", True), (121, "102", False), (122, "103", False)):
        service = next(s for s in second if s["id"] == sid)
        server = servers[server_id]
        assert hostname(server) == service["domain"] and server["main_ip"] == service["dedicatedip"]
        assert logins[server["owner"]] == service["username"] and server["blocked"] is blocked
    # The same server ids on both panels, other hostnames and addresses.
    assert set(servers) == set(s["id"] for s in panels["1"]["servers"])
    assert not {hostname(s) for s in panels["1"]["servers"]} - {FREE_DOMAIN} & {hostname(s) for s in panels["2"]["servers"]}
    assert not set(addresses(panels["1"])) & set(addresses(panels["2"]))
    free = [s for s in panels["2"]["servers"] if hostname(s) == FREE_DOMAIN and s["chassis_templ"] == products[1]["package"]]
    assert len(free) == 8


def _benchmark_fleet():
    spec = importlib.util.spec_from_file_location("benchmark_fleet", REPO / "benchmarks" / "fleet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_fleet_is_the_shop_with_the_reconcile_work_to_do():
    make_fleet = _benchmark_fleet().make_fleet
    dci, whmcs, products = make_fleet(2, active=1, suspended=1, terminated=1, clients=2)
    assert [s["status"] for s in whmcs["services"]] == ["Pending", "Pending", "Active", "Suspended", "Terminated"]
    assert problems(dci, whmcs) == {1002: {"blocked"}, 1003: {"unblocked"}, 1004: {"allocated", "ip_left"}}
    owned = [s for s in dci["servers"] if s["owner"]]
    assert [s["id"] for s in owned] == ["5002", "5003", "5004"] and all(len(s["addresses"]) == 1 for s in owned)
    assert len(dci["servers"]) == 2 + 5 + 3 and products[1]["package"] == "DL360-G9"


def test_the_simulators_serve_ten_thousand_services(tmp_path):
    started = time.monotonic()
    dci, whmcs, dummy = make_consistent_shop(10000)
    assert time.monotonic() - started < 10
    assert problems(dci, whmcs) == {}
    with DCImanagerSimulator(state=dci, tls_dir=str(tmp_path / "dci")) as sim, WHMCSSimulator(state=whmcs, tls_dir=str(tmp_path / "whmcs")) as billing:
        session = requests.Session()
        data = {"func": "server", "out": "xml", "authinfo": ADMIN}
        session.post(sim.url, data=data, verify=sim.ca_path, timeout=30)  # the connection and TLS set up
        started = time.monotonic()
        answer = session.post(sim.url, data=data, verify=sim.ca_path, timeout=30)
        seconds = time.monotonic() - started
        rows = ET.fromstring(answer.content).findall("elem")
        assert len(rows) == len(dci["servers"]) and seconds < 1.0, seconds
        page = session.post(
            billing.api_url,
            verify=billing.ca_path,
            timeout=30,
            data={
                "action": "GetClientsProducts",
                "identifier": billing.identifier,
                "secret": billing.secret,
                "responsetype": "json",
                "limitstart": 9500,
                "limitnum": 1000,
            },
        ).json()
        assert page["totalresults"] == "10000" and page["numreturned"] == 500
