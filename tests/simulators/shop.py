"""A small hosting shop for the demo and the end-to-end tests: WHMCS and DCImanager states that agree.

``make_shop()`` returns ``(dcimanager_state, whmcs_state, products)`` where ``products`` is the
``dedicated_server_products`` variable of the role (what WHMCS's API cannot tell). The shop has one
dedicated-server product with the configurable options ISPsystem's module reads (``os``, ``recipe``,
``IP``, ``IPv6``), eight free servers of its package, and services in every status:

==  ========  ==========  =====================================================================
id  client    status      what the DCImanager side holds
==  ========  ==========  =====================================================================
10  ada       Pending     nothing yet (a new order, no domain: hostname ``10.domain``)
11  ada       Pending     nothing yet (ada's second order: her account is reused)
12  bob       Pending     nothing yet; orders Ubuntu and an extra IPv4 + IPv6 address
20  carol     Active      server 101, blocked (an overdue client who has paid: to unblock)
21  dave      Suspended   server 102, not blocked yet (to block)
22  erin      Terminated  server 103, still allocated (to release)
23  frank     Cancelled   nothing (released long ago: skipped)
24  gina      Fraud       nothing (left alone)
==  ========  ==========  =====================================================================
"""

import copy

from .dcimanager import make_state, new_server

PACKAGE = "DL360-G9"
PID = 1
PRODUCTS = {PID: {"package": PACKAGE, "os_template": "ISPsystem__Debian-12-amd64", "recipe": "null", "wait_for_install": True}}

_OS_CHOICES = ["ISPsystem__Debian-12-amd64|Debian 12", "ISPsystem__Ubuntu-24.04-amd64|Ubuntu 24.04"]

_CUSTOMERS = [
    # login, WHMCS client id, password
    ("ada", 1, "ada-Pw-7f3k9q"),
    ("bob", 2, "bob-Pw-2m8x4z"),
    ("carol", 3, "carol-Pw-5t1r"),
    ("dave", 4, "dave-Pw-9w2e"),
    ("erin", 5, "erin-Pw-3y6u"),
    ("frank", 6, "frank-Pw-8i4o"),
    ("gina", 7, "gina-Pw-1p0a"),
]


def _service(sid, client, status, domain="", dedicated_ip="", assigned="", os_choice=0, ipv4=0, ipv6=0):
    login, client_id, password = next(c for c in _CUSTOMERS if c[0] == client)
    return {
        "id": sid,
        "clientid": client_id,
        "orderid": 500 + sid,
        "pid": PID,
        "status": status,
        "regdate": "2026-11-%02d" % (sid % 28 + 1),
        "nextduedate": "2026-12-%02d" % (sid % 28 + 1),
        "billingcycle": "Monthly",
        "domain": domain,
        "dedicatedip": dedicated_ip,
        "assignedips": assigned,
        "serverid": 1,
        "username": login,
        "password": password,
        "configoptions": {"1": _OS_CHOICES[os_choice], "2": "null", "3": str(ipv4), "4": str(ipv6)},
        "customfields": {},
    }


def whmcs_state():
    return {
        "clients": [
            {"id": cid, "firstname": login.capitalize(), "lastname": "Example", "email": "%s@example.com" % login, "companyname": "", "status": "Active"}
            for login, cid, dummy in _CUSTOMERS
        ],
        "servers": [{"id": 1, "name": "DCImanager", "hostname": "dci.example.com", "ipaddress": "127.0.0.1", "active": True, "module": "dcimanager"}],
        "products": [
            {
                "pid": PID,
                "gid": 1,
                "groupname": "Dedicated Servers",
                "name": "Dedicated DL360",
                "type": "server",
                "module": "dcimanager",
                "configoptions": [
                    {"id": 1, "name": "os", "type": "dropdown", "options": list(_OS_CHOICES)},
                    {"id": 2, "name": "recipe", "type": "dropdown", "options": ["null", "#local__hello"]},
                    {"id": 3, "name": "IP", "type": "quantity"},
                    {"id": 4, "name": "IPv6", "type": "quantity"},
                ],
                "customfields": [],
            }
        ],
        "services": [
            _service(10, "ada", "Pending"),
            _service(11, "ada", "Pending", domain="ada-second.example.net"),
            _service(12, "bob", "Pending", domain="bob.example.net", os_choice=1, ipv4=1, ipv6=1),
            _service(20, "carol", "Active", domain="carol.example.net", dedicated_ip="10.0.0.101"),
            _service(21, "dave", "Suspended", domain="dave.example.net", dedicated_ip="10.0.0.102"),
            _service(22, "erin", "Terminated", domain="erin.example.net", dedicated_ip="10.0.0.103"),
            _service(23, "frank", "Cancelled", domain="frank.example.net"),
            _service(24, "gina", "Fraud", domain="gina.example.net"),
        ],
    }


def dcimanager_state():
    state = make_state(8, package=PACKAGE, ipv4=16, ipv6=16)
    user_ids = {}
    for login, dummy, password in _CUSTOMERS:
        if login in ("carol", "dave", "erin"):  # the customers whose services were provisioned before
            user_ids[login] = str(state["next_id"])
            state["next_id"] += 1
            state["users"].append({"id": user_ids[login], "name": login, "password": password, "level": 16, "suspended": False})
    for server_id, login, blocked in ((101, "carol", True), (102, "dave", False), (103, "erin", False)):
        new_server(
            state,
            server_id,
            "srv%d" % server_id,
            PACKAGE,
            "10.0.0.%d" % server_id,
            rack="R9",
            domain="%s.example.net" % login,
            owner=user_ids[login],
            power="on",
            blocked=blocked,
            disabled=blocked,
            installed_template="ISPsystem__Debian-12-amd64",
            installed_recipe="null",
        )
    return state


def make_shop():
    """(dcimanager_state, whmcs_state, dedicated_server_products), fresh copies each call."""
    return dcimanager_state(), whmcs_state(), copy.deepcopy(PRODUCTS)
