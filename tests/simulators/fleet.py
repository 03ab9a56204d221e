"""Shops of any size on which WHMCS and DCImanager agree, with chosen drift: states for both simulators.

``make_consistent_shop(n, pending=0, drift=None, seed=0)`` returns ``(dcimanager_state, whmcs_state,
products)`` (``products``: the role's ``dedicated_server_products``, as in ``shop.py``), and
``drift_plan()`` with the same arguments says which service got which drift. Without drift both
sides agree on every service:

* Active: a server owned by the client's DCImanager account, the service's hostname on every one
  of its addresses, powered on, not blocked; WHMCS's dedicated IP is the server's main address and
  its assigned IPs are the server's other addresses (as many IPv4 / IPv6 as the service's ``IP`` /
  ``IPv6`` options order);
* Suspended: the same, the server blocked as ``server.disable`` leaves it by default (``blocked`` and
  ``disabled`` set, switch ports off);
* Terminated: released: its old server is free (no owner, ``free.ds``, only its main address,
  powered off); WHMCS's dedicated and assigned IPs are empty;
* Pending (``pending`` more services): nothing yet, and enough free servers and pool addresses.

Layout (service index ``i`` = 0, 1, ...): service id ``1000 + i``; the Pending services first, then
Active, Suspended, Terminated ones; clients round-robin (login ``clientC``), every fifth service
without a domain (its hostname is then ``<service id>.domain``, the role's rule: ``hostname_of``).
Server ``5000 + i`` (main address ``10.1.0.1 + i``) is, or was, the server of service ``i``; the free
servers ``1`` ... ``pending + spare_servers`` come from ``dcimanager.make_state``.

``drift`` maps a kind to how many services get it (each service gets at most one, chosen with
``random.Random(seed)`` among the services of the status the kind needs):

==========================  =========  ===========================================================
kind                        status     what differs from the consistent shop
==========================  =========  ===========================================================
``active_blocked``          Active     its server is blocked (as ``server.disable`` leaves it)
``suspended_unblocked``     Suspended  its server is not blocked
``terminated_allocated``    Terminated its server is still allocated (owner, hostname, addresses),
                                       WHMCS still shows its IPs: nothing was released
``terminated_ip_left``      Terminated released, but WHMCS still shows the dedicated IP (the old
                                       server's main address)
``ip_on_other_server``      Active     WHMCS's dedicated IP is the main address of another
                                       service's server (``other_server_id``)
``hostname_twice``          Active     a second server (``7000 + i``, ``other_server_id``) owned by
                                       the same account carries its hostname too
``active_no_server``        Active     no server carries its hostname (its old server is free);
                                       WHMCS still shows the dedicated IP
``foreign_owner``           Active     its server is owned by another account (login ``stranger``)
``no_domain_duplicate``     Terminated (released) it has the domain of an Active service
                                       (``other_service_id``): two services, one hostname
==========================  =========  ===========================================================

Several datacenters: with ``server_ids`` (WHMCS server entry ids, one DCImanager panel each) the
first value returned is ``{str(server id): dcimanager_state}``, WHMCS has one server entry per id
(``shop.server_entry``), and service ``i`` sits on the panel ``P = i % len(server_ids)`` as its
``j = i // len(server_ids)``-th service: server ``5000 + j`` on that panel (so every panel has
servers 5000, 5001, ...: the same ids on each), main address ``10.1.0.1 + j`` moved by
``P << 20`` (``10.17.0.1`` on the second panel), free servers ``1`` ... on each panel from
``10.0.0.1`` moved the same way, twins ``7000 + j``. A drift that names another service or server
(``ip_on_other_server``, ``no_domain_duplicate``) picks it on the same panel, and ``drift_plan``
entries then carry ``panel`` (the server id, a string). ``server_of(service_id, server_ids)`` says
where a service's server is. Clients have services on every panel (and an account on each panel
where one of theirs is provisioned). Without ``server_ids`` the shop is the one-panel shop above,
unchanged.
"""

import copy
import ipaddress
import random

from . import shop
from .dcimanager import POOL_START, add_address, make_state, new_server

TEMPLATE = "ISPsystem__Debian-12-amd64"
STRANGER = ("stranger", "stranger-Pw-0z9y")
# drift kind -> the WHMCS status of the services it may hit (the order is the order of choosing)
DRIFTS = {
    "active_blocked": "Active",
    "suspended_unblocked": "Suspended",
    "terminated_allocated": "Terminated",
    "terminated_ip_left": "Terminated",
    "ip_on_other_server": "Active",
    "hostname_twice": "Active",
    "active_no_server": "Active",
    "foreign_owner": "Active",
    "no_domain_duplicate": "Terminated",
}


def hostname_of(service):
    """The hostname the role gives a service of the shop's product (no domain template set)."""
    return service["domain"] or "%s.domain" % service["id"]


def _panel_ids(server_ids):
    """The panels' keys (WHMCS server ids as strings), [None] for the one-panel shop."""
    if server_ids is None:
        return [None]
    keys = [str(int(server_id)) for server_id in server_ids]
    if not keys or len(set(keys)) != len(keys):
        raise ValueError("server_ids must name at least one server entry, each once: %r" % (server_ids,))
    return keys


def _shift(address, panel):
    """``address`` moved into the ``panel``-th panel's range (panel 0: unchanged)."""
    ip = ipaddress.ip_address(address)
    return str(ip + (panel << (20 if ip.version == 4 else 64)))


def server_of(service_id, server_ids=None):
    """(panel key or None, server id) of the shop's service ``service_id``: where its server is, or was."""
    keys = _panel_ids(server_ids)
    index = service_id - 1000
    return keys[index % len(keys)], str(5000 + index // len(keys))


def _statuses(n, pending, suspended, terminated):
    suspended = n // 10 if suspended is None else suspended
    terminated = n // 10 if terminated is None else terminated
    active = n - suspended - terminated
    if min(n, pending, suspended, terminated, active) < 0:
        raise ValueError("counts must add up: n=%d Suspended=%d Terminated=%d" % (n, suspended, terminated))
    return ["Pending"] * pending + ["Active"] * active + ["Suspended"] * suspended + ["Terminated"] * terminated


def _domain(index):
    # Every fifth service has no domain, so its hostname comes from the @ID@.domain default.
    return "" if index % 5 == 4 else "svc%d.example.net" % (1000 + index)


def _plan(statuses, drift, seed, panels=1):
    """Index -> plan entry of every drifted service (see ``drift_plan``); ``panels``: how many panels share them."""
    drift = dict(drift or {})
    unknown = sorted(set(drift) - set(DRIFTS))
    if unknown:
        raise ValueError("unknown drift %s; known: %s" % (unknown, list(DRIFTS)))
    rng = random.Random(seed)
    provisioned = [i for i, status in enumerate(statuses) if status != "Pending"]
    plan, partners_taken = {}, set()
    for kind, status in DRIFTS.items():
        count = int(drift.get(kind, 0))
        eligible = [i for i in provisioned if statuses[i] == status and i not in plan]
        if not 0 <= count <= len(eligible):
            raise ValueError("drift %s: %d asked, %d %s services free for it" % (kind, count, len(eligible), status))
        for i in sorted(rng.sample(eligible, count)):
            # Another service or server a drift names is on the same panel: on its own panel it means what it says.
            entry = {
                "drift": kind,
                "service_id": 1000 + i,
                "status": status,
                "server_id": str(5000 + i // panels),
                "other_server_id": None,
                "other_service_id": None,
            }
            if kind == "ip_on_other_server":
                others = [j for j in provisioned if j != i and j % panels == i % panels]
                if not others:
                    raise ValueError("drift ip_on_other_server needs a second provisioned service")
                entry["other_server_id"] = str(5000 + rng.choice(others) // panels)
            elif kind == "hostname_twice":
                entry["other_server_id"] = str(7000 + i // panels)
            elif kind == "no_domain_duplicate":
                partners = [
                    j for j in provisioned if statuses[j] == "Active" and _domain(j) and j not in plan and j not in partners_taken and j % panels == i % panels
                ]
                if not partners:
                    raise ValueError("drift no_domain_duplicate needs an undrifted Active service with a domain")
                partner = rng.choice(partners)
                partners_taken.add(partner)
                entry["other_service_id"] = 1000 + partner
            plan[i] = entry
    return plan


def drift_plan(n, pending=0, drift=None, seed=0, suspended=None, terminated=None, server_ids=None, **dummy):
    """The drifted services of ``make_consistent_shop`` with the same arguments, by service id.

    Each entry: ``drift`` (the kind), ``service_id``, ``status`` (WHMCS), ``hostname`` (the role's, after
    the drift), ``server_id`` (the service's own server ``5000 + i``, allocated or not),
    ``other_server_id`` and ``other_service_id`` (see the module docstring; None when unused); with
    ``server_ids`` also ``panel`` (the service's WHMCS server id, a string; the servers named are on it).
    """
    keys = _panel_ids(server_ids)
    statuses = _statuses(n, pending, suspended, terminated)
    plan = _plan(statuses, drift, seed, len(keys))
    entries = []
    for i in sorted(plan):
        entry = dict(plan[i])
        if server_ids is not None:
            entry["panel"] = keys[i % len(keys)]
        partner = entry["other_service_id"]
        entry["hostname"] = _domain(partner - 1000) if partner else (_domain(i) or "%d.domain" % (1000 + i))
        entries.append(entry)
    return entries


def make_consistent_shop(n, pending=0, drift=None, seed=0, suspended=None, terminated=None, clients=None, spare_servers=5, extra_ips=True, server_ids=None):
    """``(dcimanager_state, whmcs_state, products)``: ``n`` provisioned services and ``pending`` new orders.

    ``suspended`` / ``terminated``: how many of the ``n`` (default ``n // 10`` each; the rest are
    Active). ``clients``: how many clients (default one per ten services). ``spare_servers``: free
    servers beyond one per Pending service (on each panel). ``extra_ips=False``: servers carry only their main
    address, whatever the ``IP`` / ``IPv6`` options order (``make_fleet``'s shop; the role never
    re-checks the extra addresses of a provisioned service). ``drift``: see the module docstring.
    ``server_ids``: several panels, the first value is then ``{str(server id): dcimanager_state}``
    (see the module docstring).
    """
    keys = _panel_ids(server_ids)
    panels = len(keys)
    statuses = _statuses(n, pending, suspended, terminated)
    plan = _plan(statuses, drift, seed, panels)
    total = len(statuses)
    n_clients = clients or max(1, total // 10)
    whmcs = shop.whmcs_state([int(key) for key in keys] if server_ids is not None else (1,))  # the product with its options, and the servers
    os_choices = whmcs["products"][0]["configoptions"][0]["options"]
    whmcs["clients"] = [
        {"id": cid, "firstname": "Client", "lastname": str(cid), "email": "client%d@example.com" % cid, "companyname": "", "status": "Active"}
        for cid in range(1, n_clients + 1)
    ]
    services = []
    for index, status in enumerate(statuses):
        sid, cid = 1000 + index, index % n_clients + 1
        services.append(
            {
                "id": sid,
                "clientid": cid,
                "orderid": 5000 + sid,
                "pid": shop.PID,
                "status": status,
                "regdate": "2026-11-01",
                "nextduedate": "2026-12-01",
                "billingcycle": "Monthly",
                "domain": _domain(index),
                "dedicatedip": "",
                "assignedips": "",
                "serverid": int(keys[index % panels] or 1),
                "username": "client%d" % cid,
                "password": "client%d-Pw-4x7q" % cid,
                "configoptions": {"1": os_choices[index % len(os_choices)], "2": "null", "3": str(index % 2), "4": str(index // 2 % 2)},
                "customfields": {},
            }
        )
    for i, entry in plan.items():
        if entry["drift"] == "no_domain_duplicate":
            services[i]["domain"] = services[entry["other_service_id"] - 1000]["domain"]

    # Enough pool addresses for every extra address ordered, and as many again free as make_fleet had.
    extra = [(int(s["configoptions"]["3"]), int(s["configoptions"]["4"])) if extra_ips and s["status"] != "Pending" else (0, 0) for s in services]
    states = []
    for panel in range(panels):
        mine = range(panel, total, panels)
        states.append(
            make_state(
                sum(1 for i in mine if statuses[i] == "Pending") + spare_servers,
                package=shop.PACKAGE,
                ipv4=sum(extra[i][0] for i in mine) + 2 * len(mine) + 8,
                ipv6=sum(extra[i][1] for i in mine) + 2 * len(mine) + 8,
                first_ip=_shift("10.0.0.1", panel),
                pool_start=tuple(_shift(start, panel) for start in POOL_START),
            )
        )
    pools = [{family: iter(addresses) for family, addresses in dci["ip_pools"]["public"].items()} for dci in states]
    user_ids = [{} for dummy in states]

    def account(panel, login, password):
        dci = states[panel]
        if login not in user_ids[panel]:
            user_ids[panel][login] = str(dci["next_id"])
            dci["next_id"] += 1
            dci["users"].append({"id": user_ids[panel][login], "name": login, "password": password, "level": 16, "suspended": False})
        return user_ids[panel][login]

    def address(panel, first, number):
        return str(ipaddress.ip_address(_shift(first, panel)) + number)

    twins = []
    for index, service in enumerate(services):
        if service["status"] == "Pending":
            continue
        panel, number = index % panels, index // panels
        dci = states[panel]
        kind = plan.get(index, {}).get("drift")
        owner = account(panel, service["username"], service["password"])
        main_ip = address(panel, "10.1.0.1", number)
        allocated = (service["status"] in ("Active", "Suspended") and kind != "active_no_server") or kind == "terminated_allocated"
        if not allocated:
            new_server(dci, 5000 + number, "old%d" % service["id"], shop.PACKAGE, main_ip, rack="R9")
            if kind in ("terminated_ip_left", "active_no_server"):
                service["dedicatedip"] = main_ip
            continue
        hostname = hostname_of(service)
        blocked = (service["status"] == "Suspended") != (kind in ("active_blocked", "suspended_unblocked"))
        if kind == "foreign_owner":
            owner = account(panel, *STRANGER)
        server = new_server(
            dci,
            5000 + number,
            "old%d" % service["id"],
            shop.PACKAGE,
            main_ip,
            rack="R9",
            domain=hostname,
            owner=owner,
            power="on",
            blocked=blocked,
            disabled=blocked,
            installed_template=TEMPLATE,
            installed_recipe="null",
        )
        for conn in server["connections"]:
            if conn["type"] == "Switch":
                conn["state"] = "off" if blocked else "on"  # server.disable switches the ports off
        v4, v6 = extra[index]
        extras = [next(pools[panel]["ipv4"]) for dummy in range(v4)] + [next(pools[panel]["ipv6"]) for dummy in range(v6)]
        for ip in extras:
            add_address(dci, server, ip, hostname)
        service["dedicatedip"] = main_ip
        service["assignedips"] = "\n".join(extras)
        if kind == "hostname_twice":
            twins.append((index, owner, hostname))
    for index, owner, hostname in twins:  # after the others, so their MAC addresses do not move
        panel, number = index % panels, index // panels
        new_server(
            states[panel],
            7000 + number,
            "dup%d" % (1000 + index),
            shop.PACKAGE,
            address(panel, "10.2.0.1", number),
            rack="R9",
            domain=hostname,
            owner=owner,
            power="on",
            installed_template=TEMPLATE,
            installed_recipe="null",
        )
    for index, entry in plan.items():
        if entry["drift"] == "ip_on_other_server":
            services[index]["dedicatedip"] = address(index % panels, "10.1.0.1", int(entry["other_server_id"]) - 5000)
    whmcs["services"] = services
    dci = dict(zip(keys, states)) if server_ids is not None else states[0]
    return dci, whmcs, copy.deepcopy(shop.PRODUCTS)
