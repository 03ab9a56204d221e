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

Several datacenters: ``make_shop(server_ids=(1, 2))`` returns ``({"1": dcimanager_state, "2": ...},
whmcs_state, products)``, one DCImanager panel per WHMCS server entry (``servers`` in WHMCS: id 1
``DCImanager`` / ``dci.example.com`` as above, id N ``DCImanager N`` / ``dciN.example.com``). The
panel of the K-th server id (K = 0, 1, ...) holds the same shop again, its services on that server
entry: service ids ``+ 100 * K`` (10 -> 110), domains ``login.dcN.example.net`` (N = the server id),
addresses ``10.K.0.x`` and a pool from ``100.(64+K).0.1`` / ``2001:db8:100:K::1``, the same DCImanager
server ids (1-8 free, 101-103) and the same clients, who have a DCImanager account on each panel
where they have a provisioned service. K = 0 is exactly the one-panel shop.
"""

import copy
import ipaddress

from .dcimanager import POOL_START, make_state, new_server

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


def _service(sid, client, status, domain="", dedicated_ip="", assigned="", os_choice=0, ipv4=0, ipv6=0, server_id=1):
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
        "serverid": server_id,
        "username": login,
        "password": password,
        "configoptions": {"1": _OS_CHOICES[os_choice], "2": "null", "3": str(ipv4), "4": str(ipv6)},
        "customfields": {},
    }


def server_entry(server_id):
    """WHMCS's server entry (Setup > Servers) of the DCImanager panel ``server_id``."""
    if int(server_id) == 1:
        return {"id": 1, "name": "DCImanager", "hostname": "dci.example.com", "ipaddress": "127.0.0.1", "active": True, "module": "dcimanager"}
    return {
        "id": int(server_id),
        "name": "DCImanager %s" % server_id,
        "hostname": "dci%s.example.com" % server_id,
        "ipaddress": "127.0.0.%s" % server_id,
        "active": True,
        "module": "dcimanager",
    }


def _domain(login, panel, server_id):
    return "%s.example.net" % login if panel == 0 else "%s.dc%s.example.net" % (login, server_id)


def _address(panel, last):
    """``10.0.0.<last>`` on the first panel, ``10.<panel>.0.<last>`` on the others."""
    return str(ipaddress.ip_address("10.0.0.0") + (panel << 16) + last)


def _services(panel, server_id):
    """The shop's services on the ``panel``-th panel (server entry ``server_id``)."""
    base = 100 * panel

    def service(sid, client, status, domain=None, **fields):
        return _service(base + sid, client, status, domain=_domain(domain, panel, server_id) if domain else "", server_id=server_id, **fields)

    return [
        service(10, "ada", "Pending"),
        service(11, "ada", "Pending", domain="ada-second"),
        service(12, "bob", "Pending", domain="bob", os_choice=1, ipv4=1, ipv6=1),
        service(20, "carol", "Active", domain="carol", dedicated_ip=_address(panel, 101)),
        service(21, "dave", "Suspended", domain="dave", dedicated_ip=_address(panel, 102)),
        service(22, "erin", "Terminated", domain="erin", dedicated_ip=_address(panel, 103)),
        service(23, "frank", "Cancelled", domain="frank"),
        service(24, "gina", "Fraud", domain="gina"),
    ]


def whmcs_state(server_ids=(1,)):
    """The WHMCS side: the clients, the product, one server entry per id and the services on each."""
    return {
        "clients": [
            {"id": cid, "firstname": login.capitalize(), "lastname": "Example", "email": "%s@example.com" % login, "companyname": "", "status": "Active"}
            for login, cid, dummy in _CUSTOMERS
        ],
        "servers": [server_entry(server_id) for server_id in server_ids],
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
        "services": [service for panel, server_id in enumerate(server_ids) for service in _services(panel, int(server_id))],
    }


def dcimanager_state(panel=0, server_id=1):
    """The DCImanager side of the ``panel``-th panel (0: the one-panel shop), whose WHMCS server entry is ``server_id``."""
    state = make_state(
        8,
        package=PACKAGE,
        ipv4=16,
        ipv6=16,
        first_ip=_address(panel, 1),
        pool_start=tuple(str(ipaddress.ip_address(start) + (panel << (16 if "." in start else 64))) for start in POOL_START),
    )
    user_ids = {}
    for login, dummy, password in _CUSTOMERS:
        if login in ("carol", "dave", "erin"):  # the customers whose services were provisioned before
            user_ids[login] = str(state["next_id"])
            state["next_id"] += 1
            state["users"].append({"id": user_ids[login], "name": login, "password": password, "level": 16, "suspended": False})
    for server_id_, login, blocked in ((101, "carol", True), (102, "dave", False), (103, "erin", False)):
        new_server(
            state,
            server_id_,
            "srv%d" % server_id_,
            PACKAGE,
            _address(panel, server_id_),
            rack="R9",
            domain=_domain(login, panel, server_id),
            owner=user_ids[login],
            power="on",
            blocked=blocked,
            disabled=blocked,
            installed_template="ISPsystem__Debian-12-amd64",
            installed_recipe="null",
        )
    return state


def make_shop(server_ids=None):
    """(dcimanager_state, whmcs_state, dedicated_server_products), fresh copies each call.

    With ``server_ids`` (WHMCS server entry ids, one DCImanager panel each): ``({str(server id):
    dcimanager_state}, whmcs_state, products)``; see the module docstring.
    """
    if server_ids is None:
        return dcimanager_state(), whmcs_state(), copy.deepcopy(PRODUCTS)
    server_ids = [int(server_id) for server_id in server_ids]
    if not server_ids or len(set(server_ids)) != len(server_ids):
        raise ValueError("server_ids must name at least one server entry, each once: %r" % (server_ids,))
    panels = dict((str(server_id), dcimanager_state(panel, server_id)) for panel, server_id in enumerate(server_ids))
    return panels, whmcs_state(server_ids), copy.deepcopy(PRODUCTS)
