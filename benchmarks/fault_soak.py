#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fault soak: reconcile a shop while both simulators break requests, then check that nothing is half-done.

For each fault rate (default 5 %, 15 % and 30 % of every API request to DCImanager and to WHMCS,
kinds http500, badbody, drop and a short stall) the script loads a fresh shop (``--pending``
Pending services and a few Active / Suspended / Terminated ones with work to do), runs
``ansible-playbook ispsystem.dcimanager.reconcile``, and checks the invariants below; then it
reconciles again (``--second-rate``, default no faults) and checks that everything is done.

Invariants (``check()``):

* every service is either done (WHMCS status as wanted, its server carries its hostname on every
  address, belongs to its client's account, is blocked or not as the status wants) or, after the
  first run only, reported failed with a reason by the playbook and left as it was in WHMCS;
* no hostname is on two servers, no server is half-allocated (an owner without a hostname, a
  hostname on some addresses only, extra addresses on a free server);
* WHMCS and DCImanager agree: a service's dedicated IP is the main IP of the server carrying its
  hostname, its assigned IPs that server's other addresses; a service that WHMCS shows without a
  server has none in DCImanager, unless its activation was reported failed (first run only).

The whole run stops starting new rounds after ``--max-seconds``. Exit status 1 when an invariant
is broken (or a run is cut short by its time-out).

    .venv/bin/python benchmarks/fault_soak.py [--rates 0.05,0.15,0.3] [--pending 30] [--max-seconds 600]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import Fleet, hostname_of, make_fleet  # noqa: E402  pylint: disable=wrong-import-position

KINDS = ("http500", "badbody", "drop", "stall")
FREE_DOMAIN = "free.ds"
# What each WHMCS status of the shop should end as: (WHMCS status, server allocated, server blocked).
WANTED = {"Pending": ("Active", True, False), "Active": ("Active", True, False),
          "Suspended": ("Suspended", True, True), "Terminated": ("Terminated", False, None)}


def failures(records):
    """Host -> why its service failed, for hosts that did not reach the end of the role."""
    done = {r["host"] for r in records if r["task"] == "Record the result" and r["status"] in ("ok", "changed")}
    reasons = {}
    for record in records:
        if record["status"] == "failed" and record["host"] not in done:
            # The last failure of a host is the rescue's report (or the failing task itself).
            reasons[record["host"]] = str(record["result"].get("msg") or "").strip()
    return reasons


def check(original_services, dci_state, whmcs_state, reasons, final):
    """The broken invariants (a list of sentences); empty when all hold. See the module docstring.

    ``reasons``: host -> why its service failed, as the run reported it (``failures()``).
    """
    problems = []
    # Servers part-way through a release (its last step, the hostname, not done yet): judged per
    # service below, as the rerun finds such a server by its hostname and finishes it.
    half = {}
    logins = {user["id"]: user["name"] for user in dci_state["users"]}
    by_domain = collections.defaultdict(list)
    for server in dci_state["servers"]:
        domains = {address["domain"] for address in server["addresses"]}
        name = "server %s" % server["id"]
        if len(domains) != 1:
            problems.append("%s: hostname on some addresses only (%s)" % (name, sorted(domains)))
        domain = sorted(domains)[0] if domains else FREE_DOMAIN
        if domain == FREE_DOMAIN:
            if server["owner"]:
                problems.append("%s: owner %s without a hostname" % (name, logins.get(server["owner"], server["owner"])))
            if len(server["addresses"]) != 1:
                problems.append("%s: free with %d addresses" % (name, len(server["addresses"])))
        else:
            by_domain[domain].append(server)
            if not server["owner"]:
                half[domain] = "%s: hostname %s without an owner" % (name, domain)
    for domain, servers in by_domain.items():
        if len(servers) > 1:
            problems.append("hostname %s on %d servers (%s)" % (domain, len(servers), ", ".join(s["id"] for s in servers)))

    now = {service["id"]: service for service in whmcs_state["services"]}
    for before in original_services:
        sid, host = before["id"], "whmcs-%s" % before["id"]
        service, hostname = now[sid], hostname_of(before)
        status, allocated, blocked = WANTED[before["status"]]
        servers = by_domain.pop(hostname, [])
        if hostname in half and (final or not reasons.get(host)):
            problems.append(half[hostname])
        half.pop(hostname, None)
        server = servers[0] if len(servers) == 1 else None
        done = service["status"] == status and bool(server) == allocated
        if done and server is not None:
            done = (server["blocked"] == blocked and logins.get(server["owner"]) == before["username"]
                    and service["dedicatedip"] == server["main_ip"])
        if done:
            continue
        label = "service %s (%s, was %s)" % (sid, hostname, before["status"])
        if final:
            problems.append("%s: not done after the second run: WHMCS %s %r, server %s" % (
                label, service["status"], service["dedicatedip"], server and (server["id"], server["blocked"], server["owner"])))
        elif not reasons.get(host):
            problems.append("%s: neither done nor reported failed" % label)
        elif service["status"] != before["status"]:
            problems.append("%s: failed but WHMCS moved it to %s" % (label, service["status"]))
        if server is not None and service["dedicatedip"] and service["dedicatedip"] != server["main_ip"]:
            problems.append("%s: WHMCS dedicated IP %s, server %s has %s" % (label, service["dedicatedip"], server["id"], server["main_ip"]))
    for service in whmcs_state["services"]:
        if service["dedicatedip"] and service["status"] in ("Active", "Suspended"):
            servers = [s for s in dci_state["servers"] if s["main_ip"] == service["dedicatedip"]]
            if not servers or servers[0]["addresses"][0]["domain"] == FREE_DOMAIN:
                problems.append("service %s: WHMCS dedicated IP %s is on no allocated server" % (service["id"], service["dedicatedip"]))
            else:
                extra = sorted(a["ip"] for a in servers[0]["addresses"] if a["ip"] != service["dedicatedip"])
                if sorted(service["assignedips"].split()) != extra:
                    problems.append("service %s: WHMCS assigned IPs %s, server %s has %s" % (
                        service["id"], service["assignedips"].split(), servers[0]["id"], extra))
    problems.extend(half.values())
    for domain, servers in by_domain.items():
        problems.append("hostname %s on server %s belongs to no service of the shop" % (domain, servers[0]["id"]))
    return problems


def soak(workdir, rate, seed, pending, forks, second_rate=0.0, stall_seconds=3.0, install_seconds=3.0, timeout=900):
    """One round: a fresh shop, a reconcile under faults, the checks, a second reconcile, the checks again.

    Returns a dict of figures and ``problems`` (every broken invariant, prefixed with the run).
    """
    states = make_fleet(pending, active=2, suspended=2, terminated=2, clients=max(2, pending // 4))
    original = states[1]["services"]
    figures = {"rate": rate, "seed": seed, "services": len(original), "problems": []}
    with Fleet(workdir, states, install_seconds=install_seconds) as fleet:
        for label, run_rate in (("first", rate), ("second", second_rate)):
            # Different seeds for the two simulators, so their faults do not fall in step.
            fleet.dci.set_faults(rate=run_rate, kinds=KINDS, seed=seed, stall_seconds=stall_seconds)
            fleet.whmcs.set_faults(rate=run_rate, kinds=KINDS, seed=seed + 1, stall_seconds=stall_seconds)
            run = fleet.reconcile(forks, timeout=timeout)
            faults = sum(1 for call in fleet.dci.calls + fleet.whmcs.calls if call["fault"])
            failed = failures(run["records"])
            if run["rc"] not in (0, 2) and not run["records"]:
                # The WHMCS inventory could not be read (the run fails before any host, loudly):
                # every service is reported failed by that error.
                lines = [line for line in run["output"].splitlines() if "inventory" in line.lower()] or ["no output"]
                failed = {"whmcs-%s" % service["id"]: lines[-1].strip() for service in original}
            problems = check(original, fleet.dci.dump_state(), fleet.whmcs.dump_state(), failed, final=label == "second")
            if run["rc"] not in (0, 2) and run["records"]:  # 2: some hosts failed, which the checks judge
                problems.append("ansible-playbook exited %s:\n%s" % (run["rc"], run["output"][-3000:]))
            figures[label] = {"seconds": run["seconds"], "calls": run["dci_calls"] + run["whmcs_calls"], "faults": faults,
                              "failed": failed, "rc": run["rc"]}
            figures["problems"] += ["%s run: %s" % (label, problem) for problem in problems]
            for problem in problems + fleet.dci.errors + fleet.whmcs.errors:
                print("  %s run: %s" % (label, problem), flush=True)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rates", default="0.05,0.15,0.3", help="comma-separated fault rates, one round each")
    parser.add_argument("--second-rate", type=float, default=0.0, help="fault rate of the second reconcile")
    parser.add_argument("--pending", type=int, default=30, help="Pending services (plus 2 Active, 2 Suspended, 2 Terminated)")
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stall-seconds", type=float, default=3.0)
    parser.add_argument("--max-seconds", type=float, default=600, help="no new round starts after this many seconds")
    args = parser.parse_args()

    started = time.monotonic()
    results, skipped = [], []
    for rate in [float(r) for r in args.rates.split(",") if r.strip()]:
        left = args.max_seconds - (time.monotonic() - started)
        if left <= 0:
            skipped.append(rate)
            continue
        print("rate %.0f %%, seed %d, %d Pending + 6 others, forks %d" % (rate * 100, args.seed, args.pending, args.forks), flush=True)
        with tempfile.TemporaryDirectory(prefix="fault-soak-") as tmp:
            # The budget only decides whether a round starts: a run cut short would look like damage.
            results.append(soak(Path(tmp), rate, args.seed, args.pending, args.forks, args.second_rate, args.stall_seconds))
    print()
    print("| fault rate | services | first run s | calls | faults injected | services failed (reported) "
          "| second run s | failed after it | invariants |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for res in results:
        first, second = res["first"], res["second"]
        print("| %.0f %% | %d | %.0f | %d | %d | %d | %.0f | %d | %s |" % (
            res["rate"] * 100, res["services"], first["seconds"], first["calls"], first["faults"], len(first["failed"]),
            second["seconds"], len(second["failed"]), "hold" if not res["problems"] else "%d broken" % len(res["problems"])))
    for res in results:
        for host, reason in sorted(res["first"]["failed"].items()):
            print("rate %.0f %%: %s failed: %s" % (res["rate"] * 100, host, " ".join(reason.split())[:200]))
    if skipped:
        print("not run (time budget of %ds spent): rates %s" % (args.max_seconds, ", ".join("%g" % r for r in skipped)))
    return 1 if any(res["problems"] for res in results) else 0


if __name__ == "__main__":
    sys.exit(main())
