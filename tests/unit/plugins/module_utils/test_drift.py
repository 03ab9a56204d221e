# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The drift function (module_utils/_service/drift.py; the server_action and drift_plan filters).

Table-driven: every WHMCS status x what the panel shows for the service's hostname, then the plan's
bad input (no hostname, two services with one hostname, one hostname on two servers, a dedicated IP
that is another server's, an empty or cut-short server list), and last the plan against the
simulators' consistent shop with every kind of drift of tests/simulators/fleet.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.ispsystem.dcimanager.plugins.filter.drift_plan import drift_plan
from ansible_collections.ispsystem.dcimanager.plugins.filter.server_action import server_action
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.answers import SERVER_FLAGS
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.client import DCIClient
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.panel import fleet_server, read_fleet
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.drift import (
    CONFLICTS,
    SERVER_LIST_EMPTY,
    SERVER_LIST_SHORT,
    STATE_OF_STATUS,
    decide,
    plan,
    subject_of,
)
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.rules import settings
from simulators.dcimanager import DCImanagerSimulator
from simulators.fleet import DRIFTS, drift_plan as simulated_drift, make_consistent_shop

pytestmark = pytest.mark.quick

HOSTNAME = "shop.example.com"
PRODUCTS = {7: {"package": "DL360", "os_template": "Debian-12"}}


def server(server_id="5", owner="ada", blocked=False, hostname=HOSTNAME, main_ip=None, state=None):
    """A server as dci_fleet_info returns it."""
    row = {
        "id": server_id,
        "name": "srv" + server_id,
        "hostname": hostname,
        "owner": owner,
        "package": "DL360",
        "main_ip": main_ip or "10.0.0.%s" % server_id,
        "rack": "",
        "blocked": blocked,
        "power": "on",
    }
    free = not owner and hostname == "free.ds" and not blocked
    row.update(state=state or ("free" if free else "suspended" if blocked else "owned"), free=free)
    return row


PANEL = {
    "none": [],
    "mine": [server()],
    "mine, blocked": [server(blocked=True)],
    "another account's": [server(owner="stranger")],
    "no owner shown": [server(owner="")],
    "on two servers": [server(), server("9")],
}

# WHMCS status -> what the panel shows -> (action, conflict). The role's state is STATE_OF_STATUS[status].
EXPECTED = {
    "Pending": {
        "none": ("provision", None),
        "mine": ("provision", None),
        "mine, blocked": ("provision", None),
        "another account's": ("conflict", "foreign_owner"),
        "no owner shown": ("provision", None),
        "on two servers": ("conflict", "hostname_on_two_servers"),
    },
    "Active": {
        "none": ("conflict", "no_server"),
        "mine": (None, None),
        "mine, blocked": ("unblock", None),
        "another account's": ("conflict", "foreign_owner"),
        "no owner shown": ("conflict", "foreign_owner"),
        "on two servers": ("conflict", "hostname_on_two_servers"),
    },
    "Suspended": {
        "none": ("conflict", "no_server"),
        "mine": ("block", None),
        "mine, blocked": (None, None),
        "another account's": ("conflict", "foreign_owner"),
        "no owner shown": ("conflict", "foreign_owner"),
        "on two servers": ("conflict", "hostname_on_two_servers"),
    },
    "Terminated": {
        "none": (None, None),
        "mine": ("release", None),
        "mine, blocked": ("release", None),
        "another account's": ("conflict", "foreign_owner"),
        "no owner shown": ("release", None),
        "on two servers": ("conflict", "hostname_on_two_servers"),
    },
}
EXPECTED["Cancelled"] = EXPECTED["Terminated"]
CASES = [(status, panel) for status in EXPECTED for panel in PANEL]


def service(status="Active", service_id=42, domain=HOSTNAME, dedicated_ip="", assigned_ips=(), username="ada", client_id=3, host=None, **more):
    """A host's variables from the WHMCS inventory."""
    hostvars = {
        "inventory_hostname": host or "whmcs-%s" % service_id,
        "whmcs_service_id": service_id,
        "whmcs_client_id": client_id,
        "whmcs_product_id": 7,
        "whmcs_status": status,
        "whmcs_domain": domain,
        "whmcs_dedicated_ip": dedicated_ip,
        "whmcs_assigned_ips": list(assigned_ips),
        "whmcs_username": username,
    }
    hostvars.update(more)
    return hostvars


def subject(status, **fields):
    whmcs = {
        "service": {
            "service_id": 42,
            "product_id": 7,
            "status": status,
            "domain": HOSTNAME,
            "username": "ada",
            "password": "pw",
            "dedicated_ip": fields.pop("dedicated_ip", ""),
            "assigned_ips": fields.pop("assigned_ips", []),
        }
    }
    return subject_of(settings(whmcs, products=PRODUCTS, **fields))


# --- one service: every status x panel state ------------------------------------------------------


@pytest.mark.parametrize("status, panel", CASES)
def test_decide(status, panel):
    made = decide(STATE_OF_STATUS[status], subject(status), PANEL[panel])
    assert (made["action"], made["conflict"]) == EXPECTED[status][panel], made["reason"]
    assert made["reason"]
    assert made["server_id"] == (PANEL[panel][0]["id"] if len(PANEL[panel]) == 1 else None)


@pytest.mark.parametrize(
    "panel, expected",
    [
        ("none", ("provision", None)),
        ("mine", ("provision", None)),
        ("another account's", ("conflict", "foreign_owner")),
        ("on two servers", ("conflict", "hostname_on_two_servers")),
    ],
)
def test_a_service_whmcs_has_just_created_is_provisioned(panel, expected):
    """A create event: WHMCS shows the service Active already, before any server exists."""
    made = decide("active", subject("Active", new_service=True), PANEL[panel])
    assert (made["action"], made["conflict"]) == expected, made["reason"]
    # A create merged with a suspend: Suspended before anything was provisioned is nothing to do yet, not a
    # conflict; once it has a server, the server is blocked as for any Suspended service.
    made = decide("suspended", subject("Suspended", new_service=True), [])
    assert (made["action"], made["conflict"]) == (None, None), made["reason"]
    assert decide("suspended", subject("Suspended", new_service=True), PANEL["mine"])["action"] == "block"
    # Without the flag a Suspended service without a server is a conflict, as before.
    assert decide("suspended", subject("Suspended"), [])["conflict"] == "no_server"


@pytest.mark.parametrize("status, panel", CASES)
def test_the_plan_takes_the_roles_decisions(status, panel):
    """The plan of one service says what the role, given the servers its look finds, decides."""
    made = plan([service(status)], PANEL[panel] + [server("77", owner="", hostname="free.ds")], products=PRODUCTS)
    entries = made["changes"] + made["conflicts"]
    action, conflict = EXPECTED[status][panel]
    if action is None:
        assert entries == [] and made["in_sync"] == 1
    else:
        assert [(e["action"], e["conflict"], e["status"], e["host"]) for e in entries] == [(action, conflict, status, "whmcs-42")]
    assert made["problems"] == []


@pytest.mark.parametrize("status, panel", CASES)
def test_the_role_filter_reads_dci_server_info(status, panel):
    """server_action takes dci_server_info's server dicts (no state, no free)."""
    found = [dict((k, v) for k, v in s.items() if k not in ("state", "free")) for s in PANEL[panel]]
    found_settings = settings({"service": {"service_id": 42, "product_id": 7, "status": status, "domain": HOSTNAME, "username": "ada"}}, products=PRODUCTS)
    made = server_action(found_settings, STATE_OF_STATUS[status], found)
    assert (made["action"], made["conflict"]) == EXPECTED[status][panel]


@pytest.mark.parametrize(
    "dedicated_ip, assigned_ips, others, expected",
    [
        ("", [], [], (None, None)),
        ("10.9.9.9", [], [], ("clear_ip", None)),  # on no server
        ("", ["10.9.9.8"], [], ("clear_ip", None)),
        ("10.9.9.9", [], [server("8", owner="", hostname="free.ds", main_ip="10.9.9.9")], ("clear_ip", None)),  # released
        ("10.9.9.9", [], [server("8", owner="bob", hostname="bob.example", main_ip="10.9.9.9")], ("conflict", "ip_on_other_server")),
        ("10.9.9.9", [], [server("8", owner="", hostname="half.example", main_ip="10.9.9.9")], ("conflict", "ip_on_other_server")),
    ],
)
def test_terminated_without_a_server(dedicated_ip, assigned_ips, others, expected):
    made = plan(
        [service("Terminated", dedicated_ip=dedicated_ip, assigned_ips=assigned_ips)],
        others + [server("1", owner="x", hostname="x.example")],
        products=PRODUCTS,
    )
    entries = made["changes"] + made["conflicts"]
    assert [(e["action"], e["conflict"]) for e in entries] == ([expected] if expected[0] else [])


def test_a_server_under_diagnostics_is_not_free_and_holds_its_address():
    """The plan's idea of a free server is the panel reader's (_dci/panel.py is_free): diagnostics included."""
    row = dict(dict.fromkeys(SERVER_FLAGS, False), id="8", name="srv8", hostname="free.ds", owner="", owner_login="", ip="10.9.9.9", rack="", type="DL360")
    row.update(diag_in_progress=True, poweron=True)
    diag = fleet_server(row)
    assert diag["free"] is False and diag["state"] == "diag"
    for held in (diag, dict((k, v) for k, v in server("8", owner="", hostname="free.ds", main_ip="10.9.9.9").items() if k != "free")):
        made = plan([service("Terminated", dedicated_ip="10.9.9.9")], [held, server("1", owner="x", hostname="x.example")], products=PRODUCTS)
        assert [(e["action"], e["conflict"]) for e in made["changes"] + made["conflicts"]] == [("conflict", "ip_on_other_server")], held


@pytest.mark.parametrize(
    "status, dedicated_ip, expected",
    [
        ("Active", "10.0.0.5", (None, None)),  # its own server's address
        ("Active", "", (None, None)),
        ("Active", "10.0.0.8", ("conflict", "ip_on_other_server")),  # another server's main address
        ("Active", "10.0.0.99", (None, None)),  # on no server: no evidence of a conflict
        ("Suspended", "10.0.0.8", ("conflict", "ip_on_other_server")),
        ("Pending", "10.0.0.8", ("provision", None)),  # the provisioning writes the address
    ],
)
def test_dedicated_ip_of_another_server(status, dedicated_ip, expected):
    servers = [server(blocked=status == "Suspended"), server("8", owner="bob", hostname="bob.example")]
    made = plan([service(status, dedicated_ip=dedicated_ip)], servers, products=PRODUCTS)
    entries = made["changes"] + made["conflicts"]
    assert [(e["action"], e["conflict"]) for e in entries] == ([expected] if expected[0] else [])


def test_the_role_without_the_whole_list_leaves_the_address_to_the_modules():
    made = decide("active", subject("Active", dedicated_ip="10.0.0.8"), [server()])
    assert made["action"] is None


# --- evidence -------------------------------------------------------------------------------------


def test_hostnames_compare_case_insensitively_and_without_a_trailing_dot():
    made = plan([service("Active", domain="Shop.Example.COM.")], [server(hostname="shop.example.com")], products=PRODUCTS)
    assert made["in_sync"] == 1


def test_owner_from_a_sibling_or_the_explicit_variable():
    servers = [server(owner="ada-old")]
    sibling = service("Active", service_id=40, domain="old.example", username="ada-old")
    assert (
        plan(
            [
                service("Active"),
                sibling,
            ],
            servers + [server("6", owner="ada-old", hostname="old.example")],
            products=PRODUCTS,
        )["in_sync"]
        == 2
    )
    assert plan([service("Active")], servers, products=PRODUCTS)["conflicts"][0]["conflict"] == "foreign_owner"
    assert plan([service("Active")], servers, products=PRODUCTS, owner="ada-old")["in_sync"] == 1
    # A host's own variable wins over the filter's argument, as in the role.
    assert plan([service("Active", dedicated_server_owner="ada-old")], servers, products=PRODUCTS, owner="x")["in_sync"] == 1


def test_a_siblings_account_known_beyond_the_play():
    """An AWX slice (or a --limit) without the client's other service: the inventory's whmcs_client_accounts still
    names its account, so the server it owns is no foreign owner."""
    servers = [server(owner="ada-old")]
    assert plan([service("Active")], servers, products=PRODUCTS)["conflicts"][0]["conflict"] == "foreign_owner"
    known = service("Active", whmcs_client_accounts={"7": ["ada-old", "ada"]})
    assert plan([known], servers, products=PRODUCTS)["in_sync"] == 1
    # Only accounts of a product managed here count, as for the play's own services.
    other_product = service("Active", whmcs_client_accounts={"9": ["ada-old"]})
    assert plan([other_product], servers, products=PRODUCTS)["conflicts"][0]["conflict"] == "foreign_owner"


@pytest.mark.parametrize(
    "other, conflicting",
    [
        ({"status": "Active", "dedicated_ip": "10.0.0.5"}, True),
        ({"status": "Pending", "dedicated_ip": ""}, True),
        ({"status": "Terminated", "dedicated_ip": ""}, True),  # as in one play: a live service shares the name with it
        ({"status": "Fraud", "dedicated_ip": ""}, False),  # left alone, as in one play
    ],
)
def test_a_service_of_the_same_domain_beyond_the_play(other, conflicting):
    """Two services, one domain, in different AWX slices: the slice that holds one of them sees the other in the
    inventory's whmcs_domain_services and reports its own service (the other slice reports the other one)."""
    twin = dict({"service_id": 43, "product_id": 7, "server_id": 1, "domain": HOSTNAME.upper(), "assigned_ips": []}, **other)
    others = [server("8", owner="x", hostname="x.example")]  # no server carries the name yet
    made = plan([service("Pending", whmcs_domain_services=[twin])], others, products=PRODUCTS)
    if conflicting:
        assert [(c["service_id"], c["conflict"]) for c in made["conflicts"]] == [(42, "hostname_shared")]
        assert "also the hostname of service 43 (%s)" % other["status"] in made["conflicts"][0]["reason"] and made["hosts"] == []
    else:
        assert made["conflicts"] == [] and made["hosts"] == ["whmcs-42"]
    # A twin the play holds itself is compared as the play's own service, once.
    both = plan([service("Active", whmcs_domain_services=[twin]), service("Active", service_id=43)], [server()], products=PRODUCTS)
    assert sorted(c["service_id"] for c in both["conflicts"]) == [42, 43]


def test_unknown_accounts_skip_the_owner_check_but_not_the_owner_evidence():
    assert plan([service("Active", username="")], [server(owner="whoever")], products=PRODUCTS)["in_sync"] == 1
    assert plan([service("Active", username="")], [server(owner="")], products=PRODUCTS)["conflicts"][0]["conflict"] == "foreign_owner"


def test_host_settings_win():
    made = plan([service("Active", domain="", dedicated_server_hostname="custom.example")], [server(hostname="custom.example")], products=PRODUCTS)
    assert made["in_sync"] == 1
    made = plan(
        [service("Active", domain="", dedicated_server_products={7: {"domain_template": "@ID@.p.example"}})],
        [server(hostname="42.p.example")],
        products=PRODUCTS,
    )
    assert made["in_sync"] == 1
    assert plan([service("Active", domain="")], [server(hostname="42.t.example")], products=PRODUCTS, domain_template="@ID@.t.example")["in_sync"] == 1


def test_normalised_services_too():
    item = {
        "service_id": 42,
        "client_id": 3,
        "product_id": 7,
        "status": "Active",
        "domain": HOSTNAME,
        "dedicated_ip": "",
        "assigned_ips": [],
        "username": "ada",
    }
    made = plan([item], [server(blocked=True)], products=PRODUCTS)
    assert made["hosts"] == ["whmcs-42"] and made["changes"][0]["action"] == "unblock"


@pytest.mark.parametrize("status", ["Fraud", "Completed", "", None])
def test_other_statuses_are_left_alone(status):
    made = plan([service(status), service("Active", service_id=43, domain="b.example")], [server(hostname="b.example")], products=PRODUCTS)
    assert made["left_alone"] == 1 and made["in_sync"] == 1 and made["changes"] == made["conflicts"] == []


def test_a_service_without_an_id_is_left_alone():
    assert plan([service("Active", service_id=None)], [server()], products=PRODUCTS)["left_alone"] == 1


# --- bad input ------------------------------------------------------------------------------------


def test_no_hostname():
    made = plan([service("Pending", domain="")], [server()], products=PRODUCTS, domain_template="@DOMAIN@")
    conflict = made["conflicts"][0]
    assert conflict["conflict"] == "no_hostname" and "@DOMAIN@" in conflict["reason"] and made["hosts"] == []


def test_a_service_without_a_domain_gets_the_default_template():
    made = plan([service("Active", domain="")], [server(hostname="42.domain")], products=PRODUCTS)
    assert made["in_sync"] == 1


@pytest.mark.parametrize(
    "first, second, conflicting",
    [
        (service("Active"), service("Terminated", service_id=43), 2),  # the other one would be released
        (service("Active"), service("Pending", service_id=43), 2),
        (service("Pending"), service("Terminated", service_id=43, dedicated_ip="10.0.0.1"), 2),
        # Both done (terminated, no address, no server): they hold nothing, nothing is in the way.
        (service("Terminated", domain="gone.example"), service("Cancelled", service_id=43, domain="GONE.example"), 0),
    ],
)
def test_two_services_one_hostname(first, second, conflicting):
    made = plan([first, second], [server(), server("8", owner="x", hostname="x.example")], products=PRODUCTS)
    kinds = [c["conflict"] for c in made["conflicts"]]
    assert kinds == ["hostname_shared"] * conflicting
    if conflicting:
        assert "also the hostname of service 43" in made["conflicts"][0]["reason"] and made["hosts"] == []


def test_one_hostname_on_two_servers_is_never_acted_on():
    made = plan([service("Active")], [server(blocked=True), server("9", blocked=True)], products=PRODUCTS)
    assert made["hosts"] == [] and made["conflicts"][0]["panel"] == "2 servers: 5, 9"


def test_an_empty_server_list_holds_everything_back():
    made = plan([service("Pending", service_id=1), service("Active", service_id=2, domain="b.example")], [], products=PRODUCTS)
    assert [p["problem"] for p in made["problems"]] == [SERVER_LIST_EMPTY]
    assert made["changes"] == [] and made["hosts"] == [] and made["conflicts"] == []
    assert "came back empty" in made["table"][1]


def test_a_list_that_looks_cut_short_holds_everything_back():
    services = [service("Active", service_id=i, domain="s%d.example" % i) for i in range(10)] + [service("Pending", service_id=99)]
    servers = [server(str(i), hostname="s%d.example" % i) for i in range(4)]
    made = plan(services, servers, products=PRODUCTS)
    assert [p["problem"] for p in made["problems"]] == [SERVER_LIST_SHORT]
    assert made["changes"] == [] and made["conflicts"] == [] and "6 of the 10" in made["problems"][0]["reason"]
    # Fewer missing than that: the missing ones are conflicts, the rest goes on.
    made = plan(services, servers + [server(str(i), hostname="s%d.example" % i) for i in range(4, 8)], products=PRODUCTS)
    assert made["problems"] == [] and len(made["conflicts"]) == 2 and made["hosts"] == ["whmcs-99"]


def test_the_table_lists_only_what_drifted():
    services = [service("Active", service_id=i, domain="s%d.example" % i) for i in range(1000)]
    servers = [server(str(i), hostname="s%d.example" % i, blocked=i == 7) for i in range(1000)]
    made = plan(services, servers, products=PRODUCTS)
    assert made["in_sync"] == 999 and made["hosts"] == ["whmcs-7"]
    assert made["table"][0].startswith("1000 services, 1000 servers in DCImanager: 999 in sync, 1 to change, 0 in conflict")
    assert len(made["table"]) == 3 and [c.strip() for c in made["table"][1].split(" | ")] == ["service", "WHMCS status", "panel state", "action", "reason"]
    assert "7 (s7.example)" in made["table"][2] and "unblock" in made["table"][2]


def test_the_filter_is_the_function():
    assert drift_plan([service("Active")], [server()], products=PRODUCTS) == plan([service("Active")], [server()], products=PRODUCTS)
    assert set(CONFLICTS) >= {c for row in EXPECTED.values() for dummy, c in row.values() if c}


# --- the simulators' consistent shop with every kind of drift -------------------------------------

# drift kind of tests/simulators/fleet.py -> what the plan must say of the drifted service.
ON_DRIFT = {
    "active_blocked": ("unblock", None),
    "suspended_unblocked": ("block", None),
    "terminated_allocated": ("release", None),
    "terminated_ip_left": ("clear_ip", None),
    "ip_on_other_server": ("conflict", "ip_on_other_server"),
    "hostname_twice": ("conflict", "hostname_on_two_servers"),
    "active_no_server": ("conflict", "no_server"),
    "foreign_owner": ("conflict", "foreign_owner"),
    "no_domain_duplicate": ("conflict", "hostname_shared"),
}


def inventory_hostvars(whmcs_state):
    """The WHMCS inventory's host variables of the simulator's services (the fields the plan reads)."""
    return [
        service(
            s["status"],
            service_id=s["id"],
            domain=s["domain"],
            dedicated_ip=s["dedicatedip"],
            assigned_ips=s["assignedips"].split(),
            username=s["username"],
            client_id=s["clientid"],
            whmcs_product_id=s["pid"],
        )
        for s in whmcs_state["services"]
    ]


@pytest.mark.parametrize("variant", [{}, {"owner_column": "id"}, {"disable_sets": "disabled"}, {"hostname_case": "lower"}])
def test_the_consistent_shop_with_every_drift(tmp_path, variant):
    drift = dict((kind, 1) for kind in DRIFTS)
    dci_state, whmcs_state, products = make_consistent_shop(40, pending=2, drift=drift, seed=5)
    with DCImanagerSimulator(state=dci_state, tls_dir=str(tmp_path / "tls"), **variant) as sim:
        client = DCIClient(sim.url, sim.admin_user, sim.admin_password, ca_path=sim.ca_path)
        servers = [fleet_server(row) for row in read_fleet(client)]
    made = plan(inventory_hostvars(whmcs_state), servers, products=products)
    said = dict((row["service_id"], (row["action"], row["conflict"])) for row in made["changes"] + made["conflicts"])
    expected = {1000: ("provision", None), 1001: ("provision", None)}
    for entry in simulated_drift(40, pending=2, drift=drift, seed=5):
        expected[entry["service_id"]] = ON_DRIFT[entry["drift"]]
        if entry["other_service_id"]:  # the other service of the shared hostname is in conflict too
            expected[entry["other_service_id"]] = ("conflict", "hostname_shared")
    assert said == expected
    assert made["in_sync"] == 42 - len(expected) and made["problems"] == []


# --- the filter's host variables read ---------------------------------------------------------------


class FakeHostVars:
    """``hostvars``: raw_get() gives the variables as stored, [] templates them (here: marks them)."""

    def __init__(self, hosts):
        self.hosts = hosts
        self.templated = []

    def raw_get(self, name):
        return self.hosts[name]

    def __getitem__(self, name):
        host = self

        class Templated(dict):
            def __getitem__(self, key):
                host.templated.append((name, key))
                value = dict.__getitem__(self, key)
                return value.replace("{{ whmcs_domain }}", host.hosts[name]["whmcs_domain"]) if isinstance(value, str) else value

        return Templated(self.hosts[name])


def test_the_filter_reads_host_names_through_hostvars():
    hosts = {
        "a": service("Active", service_id=1, domain="a.example", dedicated_server_products=PRODUCTS),
        "b": service("Active", service_id=2, domain="b.example", dedicated_server_products=PRODUCTS, dedicated_server_hostname="srv.{{ whmcs_domain }}"),
    }
    hostvars = FakeHostVars(hosts)
    made = drift_plan(["a", "b"], [server("1", hostname="a.example"), server("2", hostname="srv.b.example", blocked=True)], hostvars=hostvars)
    assert made["in_sync"] == 1 and made["hosts"] == ["b"]
    # Only the value that may be a template was read templated.
    assert hostvars.templated == [("b", "dedicated_server_hostname")]


# --- several panels (dcimanager_panels): each service only against the panel of its WHMCS server entry ---------


def test_each_service_is_compared_with_its_own_panel_only():
    """The same hostname on both panels: each service finds the server of its own panel, never the other's."""
    services = [
        service("Active", service_id=1, domain="a.example.com", whmcs_server_id=1),
        service("Suspended", service_id=2, domain="b.example.com", whmcs_server_id="2"),
        service("Pending", service_id=3, domain="c.example.com", whmcs_server_id=2),
    ]
    panels = {
        "1": [server("5", hostname="a.example.com"), server("6", hostname="b.example.com", owner="stranger")],
        2: [server("5", hostname="b.example.com"), server("8", hostname="a.example.com", owner="stranger"), server("9", owner="", hostname="free.ds")],
    }
    made = plan(services, panels)
    assert made["conflicts"] == [] and made["problems"] == []
    assert [(row["service_id"], row["panel_id"], row["action"], row["server_id"]) for row in made["changes"]] == [
        (2, "2", "block", "5"),
        (3, "2", "provision", None),
    ]
    assert made["in_sync"] == 1 and made["servers"] == 5 and made["panels"] == ["1", "2"]
    assert any("panel 2: server 5" in line for line in made["table"])


def test_a_service_of_a_server_entry_without_a_panel_is_a_conflict():
    made = plan([service("Pending", service_id=4, whmcs_server_id=3), service("Active", service_id=5, whmcs_server_id=None)], {"1": [server()]})
    assert [(row["service_id"], row["conflict"]) for row in made["conflicts"]] == [(4, "no_panel"), (5, "no_panel")]
    assert "no panel for WHMCS server 3" in made["conflicts"][0]["reason"]
    assert made["changes"] == []


def test_an_untrusted_list_holds_back_only_its_own_panel():
    services = [service("Pending", service_id=1, whmcs_server_id=1), service("Pending", service_id=2, domain="b.example.com", whmcs_server_id=2)]
    made = plan(services, {"1": [], "2": [server("9", owner="", hostname="free.ds")]})
    assert [problem["panel_id"] for problem in made["problems"]] == ["1"]
    assert "DCImanager panel 1" in made["problems"][0]["reason"]
    assert [row["service_id"] for row in made["changes"]] == [2]


def test_one_hostname_on_two_panels_is_not_shared():
    """Two services with one hostname on different panels name two servers, one in each datacenter."""
    services = [service("Pending", service_id=1, whmcs_server_id=1), service("Pending", service_id=2, whmcs_server_id=2)]
    made = plan(services, {"1": [server("9", owner="", hostname="free.ds")], "2": [server("9", owner="", hostname="free.ds")]})
    assert [row["action"] for row in made["changes"]] == ["provision", "provision"] and made["conflicts"] == []
