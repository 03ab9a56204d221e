# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWX job slicing (issue 21): the reconcile run as slices of the WHMCS inventory, at the same time, in processes that
share nothing (as slice jobs on different execution nodes: their own TMPDIR and DCIMANAGER_LOCK_DIR).

AWX syncs the inventory source once (the plugin sees every service), then gives each slice job only its own hosts, with
their host variables as the sync left them: here ``ansible-inventory --list`` over the WHMCS source, its hosts dealt
round-robin into slice inventories, and one ``ansible-playbook ispsystem.dcimanager.reconcile`` per slice, all started
together against the same simulators. What must hold, from the simulators' states and every slice's results:

* every service to change is converged by exactly one slice (the one that holds it), none by two;
* no server is given twice (every owned server's hostname is one service's, every dedicated IP one service's);
* conflicts that span slices are found by every slice that holds one of the services: a hostname on two servers
  (two services with one domain, each with a server) from the panel's list, and two services of one domain, one
  of them a new order, from what the inventory knew before slicing (``whmcs_domain_services``);
* a client's services in different slices: a server owned by the account of the client's other service (the account
  ISPsystem's module and the role reuse) is not a foreign owner in a slice that does not hold that service
  (``whmcs_client_accounts``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness import ansible_env, run_inventory, unwrap
from simulators.fleet import hostname_of, make_consistent_shop

SLICES = 2
# 12 provisioned services and 4 new orders over 7 clients (a client's services are 7 apart: in different slices).
SHOP = dict(n=12, pending=4, clients=7, seed=0, drift={"active_blocked": 2, "suspended_unblocked": 1, "terminated_allocated": 1})
CHANGED = {1001, 1002, 1003, 1010, 1013, 1014, 1015}  # three new orders, two blocked Active servers, a Suspended one not, a Terminated one
SIBLING, REUSER = 1004, 1011  # one client's: 1011's server is owned by 1004's account, its WHMCS username is its own
TWIN_A, TWIN_B = 1005, 1008  # two clients' services with one domain, each with a server that carries it
NEW_TWIN, OLD_TWIN = 1000, 1007  # one client's new order with the domain of its Active service


def sliced_shop():
    """The shop with the cross-slice cases (see the module docstring) written into both sides."""
    dci, whmcs, products = make_consistent_shop(**SHOP)
    services = dict((s["id"], s) for s in whmcs["services"])
    servers = dict((s["id"], s) for s in dci["servers"])
    # A username WHMCS generated for the second order; the server was given the client's first account (reused).
    services[REUSER]["username"] = services[REUSER]["username"] + "b"
    # Two services, one domain, two servers carrying it.
    services[TWIN_B]["domain"] = services[TWIN_A]["domain"]
    for address in servers[str(5000 + TWIN_B - 1000)]["addresses"]:
        address["domain"] = hostname_of(services[TWIN_A])
    # A new order with the domain of the client's own Active service: one server for two services, unless refused.
    services[NEW_TWIN]["domain"] = services[OLD_TWIN]["domain"]
    return dci, whmcs, products


def slice_inventories(directory, listing, slices):
    """AWX's slices: the inventory's hosts in order, dealt round-robin, each slice a static inventory of its own hosts
    with the host variables of the sync."""
    hostvars = unwrap(listing["_meta"]["hostvars"])
    hosts = sorted(hostvars, key=lambda name: int(hostvars[name]["whmcs_service_id"]))
    paths = []
    for number in range(slices):
        mine = hosts[number::slices]
        path = Path(directory) / ("slice-%d.yml" % (number + 1))
        path.write_text(yaml.safe_dump({"all": {"hosts": dict((name, hostvars[name]) for name in mine)}}))
        paths.append((path, set(mine)))
    return paths


def start_slice(directory, inventory, number, env):
    """One slice job: its own temporary and lock directories (another execution node), started now."""
    node = Path(directory) / ("node-%d" % number)
    (node / "tmp").mkdir(parents=True)
    records = node / "records.json"
    command = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "ispsystem.dcimanager.reconcile",
        "-i",
        str(inventory),
        "-e",
        "@products.yml",
        "-e",
        "dedicated_server_poll_interval=1",
        "-e",
        "dedicated_server_install_settle_time=1",
    ]
    node_env = ansible_env(
        dict(env, TMPDIR=str(node / "tmp"), ANSIBLE_LOCAL_TEMP=str(node / "tmp"), DCIMANAGER_LOCK_DIR=str(node), RECORD_RESULTS_FILE=str(records))
    )
    # The slices run at the same time: started here, waited for by the caller.
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        command, cwd=str(directory), env=node_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return process, records


def task(record):
    return record["task"].split(" : ", 1)[-1]


@pytest.fixture
def shop_states():
    """conftest's ``shop`` loads the shop with the cross-slice cases."""
    return sliced_shop()


def test_slices_converge_each_service_once_and_find_the_conflicts_that_span_them(shop, tmp_path):
    dci, whmcs, env = shop.dci, shop.whmcs, {**shop.env, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"}
    listed = run_inventory(tmp_path / "shop.whmcs.yml", env, "ispsystem.dcimanager.whmcs")
    assert listed.returncode == 0, listed.stderr
    slices = slice_inventories(tmp_path, json.loads(listed.stdout), SLICES)
    holder = dict(("whmcs-%s" % sid, number) for number, (dummy, hosts) in enumerate(slices) for sid in range(1000, 1016) if "whmcs-%s" % sid in hosts)
    # The cases span the slices as meant.
    for one, other in ((SIBLING, REUSER), (TWIN_A, TWIN_B), (NEW_TWIN, OLD_TWIN)):
        assert holder["whmcs-%s" % one] != holder["whmcs-%s" % other]

    started = [start_slice(tmp_path, path, number, env) for number, (path, dummy) in enumerate(slices)]
    outputs = [process.communicate(timeout=600)[0] for process, dummy in started]
    results = [json.loads(records.read_text()) for dummy, records in started]
    for output in outputs:
        assert "Traceback" not in output, output

    converged, conflicts = [], []
    for number, records in enumerate(results):
        applied = [r["result"] for r in records if task(r) == "Converge the services to WHMCS"]
        assert len(applied) == 1, outputs[number]
        for service in applied[0]["services"]:
            assert holder[service["host"]] == number, service  # a slice converges only its own hosts
            assert not service["failed"], (service, outputs[number])
            if service["action"]:
                converged.append(int(service["service_id"]))
        conflicts += [(number, r["host"]) for r in records if task(r) == "Report the conflict" and r["status"] == "failed"]

    # Every service to change, by exactly one slice.
    assert sorted(converged) == sorted(CHANGED), (converged, outputs)
    # The conflicts that span slices, found by each slice that holds one of their services; nothing else.
    expected = set((holder["whmcs-%s" % sid], "whmcs-%s" % sid) for sid in (TWIN_A, TWIN_B, NEW_TWIN, OLD_TWIN))
    assert set(conflicts) == expected, (conflicts, outputs)
    # The reused account is no foreign owner: its service is neither a conflict nor changed.
    assert "whmcs-%s" % REUSER not in [host for dummy, host in conflicts]

    # No server given twice.
    state = dci.dump_state()
    owned = [s for s in state["servers"] if s.get("owner")]
    names = [next(a["domain"] for a in s["addresses"] if a["ip"] == s["main_ip"]).lower() for s in owned]
    doubled = sorted(set(name for name in names if names.count(name) > 1))
    assert doubled == [hostname_of({"id": TWIN_A, "domain": whmcs.dump_state()["services"][TWIN_A - 1000]["domain"]}).lower()], doubled
    services = whmcs.dump_state()["services"]
    addresses = [s["dedicatedip"] for s in services if s["status"] in ("Active", "Suspended") and s["dedicatedip"]]
    assert len(addresses) == len(set(addresses)), addresses
    # The new orders not in conflict are Active with a server of their own; the new twin is still Pending, without one.
    by_id = dict((s["id"], s) for s in services)
    for sid in (1001, 1002, 1003):
        assert by_id[sid]["status"] == "Active" and by_id[sid]["dedicatedip"], by_id[sid]
    assert by_id[NEW_TWIN]["status"] == "Pending" and not by_id[NEW_TWIN]["dedicatedip"]
    # The slices ran as separate controllers: each allocated new orders under a lock of its own directory.
    for number in range(SLICES):
        assert list((tmp_path / ("node-%d" % number)).glob("ispsystem-dcimanager-*.lock")), number
