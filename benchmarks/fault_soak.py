#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fault soak: reconcile a shop while both simulators break requests, then check that nothing is half-done.

For each fault rate (default 5 %, 15 % and 30 % of every API request to DCImanager and to WHMCS,
every fault kind: http500, badbody, drop, truncate, a short stall and delayed_apply, half of the
others after the request was handled, so that a write took effect and its answer was lost;
delayed_apply answers at once with a 504 or a dropped connection and carries the request out
``--apply-after`` seconds later) the script loads a fresh shop (``--pending`` Pending services
and a few Active / Suspended / Terminated ones with work to do) and runs ``ansible-playbook
ispsystem.dcimanager.reconcile`` under the same faults until every service is done (at most
``--max-runs`` runs), checking the invariants below after every run. The table's "runs to
converge" column says how many runs that took.

``--seeds N`` repeats every rate with N fault seeds (``--seed``, ``--seed`` + 1, ...), each on a
fresh shop, and a second table says per rate how many seeds converged in ONE run (issue 20's goal:
every one of 20 seeds at 15 %, of 10 seeds at 30 %) and in how many the invariants held.

Invariants (``check()``):

* every service is either done (WHMCS status as wanted, its server carries its hostname on every
  address, belongs to its client's account, is blocked or not as the status wants) or, after the
  first run only, reported failed with a reason by the playbook and left as it was in WHMCS;
* no hostname is on two servers, no server is half-allocated (an owner without a hostname, a
  hostname on some addresses only, extra addresses on a free server);
* WHMCS and DCImanager agree: a service's dedicated IP is the main IP of the server carrying its
  hostname, its assigned IPs that server's other addresses; a service that WHMCS shows without a
  server has none in DCImanager, unless its activation was reported failed;
* no write was sent again after a send of it took effect with its answer lost (``repeated_writes()``;
  a delayed_apply write takes effect when the simulator carries it out, not when it was sent).

The whole run stops starting new rounds after ``--max-seconds``. Exit status 1 when an invariant
is broken (or a run is cut short by its time-out).

    .venv/bin/python benchmarks/fault_soak.py [--rates 0.05,0.15,0.3] [--pending 20] [--after 0.5] [--max-seconds 900]
    .venv/bin/python benchmarks/fault_soak.py --rates 0.15 --seeds 20 --max-runs 1 --max-seconds 7200   # issue 20's goals:
    .venv/bin/python benchmarks/fault_soak.py --rates 0.3 --seeds 10 --max-runs 1 --max-seconds 3600    # 2-4 minutes a round
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

KINDS = ("http500", "badbody", "drop", "stall", "truncate", "delayed_apply")
# Seconds after which a delayed_apply request takes effect: less than the timed claim's
# claim_settle - claim_bound (4 - 2 s by default), the bound a panel's or proxy's request time-out
# must keep for the allocation's guarantee (docs/lifecycle.md).
APPLY_AFTER = 1.5
# How long the simulator's installs take. A lost answer of an install's start is read back by watching
# the server for its install flag, which shows only while the install runs; at 30 % faults a stall and
# a few lost answers in a row keep a read from being answered for ten seconds and more now and then,
# and an 8-second install came and went unseen (30 % seeds 4 and 6: the install sent again after it
# had run). Real installs take minutes.
INSTALL_SECONDS = 30.0
FREE_DOMAIN = "free.ds"
# What each WHMCS status of the shop should end as: (WHMCS status, server allocated, server blocked).
WANTED = {
    "Pending": ("Active", True, False),
    "Active": ("Active", True, False),
    "Suspended": ("Suspended", True, True),
    "Terminated": ("Terminated", False, None),
}


def failures(records):
    """Host -> why its service failed: the services fleet_apply reported failed, and hosts whose own task failed."""
    reasons = {}
    for record in records:
        services = record["result"].get("services") if isinstance(record["result"], dict) else None
        if isinstance(services, list):  # fleet_apply's result: one entry per service it converged
            for service in services:
                if isinstance(service, dict) and service.get("failed"):
                    reasons[service.get("host")] = str(service.get("msg") or "").strip()
        elif record["status"] == "failed" and record["host"] != "localhost":
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
            done = server["blocked"] == blocked and logins.get(server["owner"]) == before["username"] and service["dedicatedip"] == server["main_ip"]
        if done:
            continue
        label = "service %s (%s, was %s)" % (sid, hostname, before["status"])
        if final:
            problems.append(
                "%s: not done: WHMCS %s %r, server %s"
                % (label, service["status"], service["dedicatedip"], server and (server["id"], server["blocked"], server["owner"]))
            )
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
                    problems.append(
                        "service %s: WHMCS assigned IPs %s, server %s has %s" % (service["id"], service["assignedips"].split(), servers[0]["id"], extra)
                    )
    problems.extend(half.values())
    for domain, servers in by_domain.items():
        problems.append("hostname %s on server %s belongs to no service of the shop" % (domain, servers[0]["id"]))
    return problems


# Parameters a problem report leaves out: credentials and passwords.
SECRET_PARAMS = ("auth", "authinfo", "secret", "passwd", "confirm", "checkpasswd", "password", "servicepassword")


def subject(name, params):
    """The object a write changes: its function, session, server (``plid``) and element (``elid``)."""
    return (name, str(params.get("auth", "")), str(params.get("plid", "")), str(params.get("elid", "")))


def repeated_writes(calls):
    """Writes sent again after a send of the same write took effect with its answer lost (a broken rule).

    A DCImanager module run has a session of its own (``auth``), so "the same write" is the same
    function with the same parameters in the same session. WHMCS calls carry no session: within one
    reconcile run one service gets at most one update of the same content. A write faulted after
    handling took effect when it came; a ``delayed_apply`` one when the simulator carried it out
    (``applied_at``), or never when it did not; a copy sent before that moment is no repeat of a
    write that had taken effect (the read-back could not see it yet).
    """
    problems, effective = [], {}
    for call in calls:
        if not call["write"]:
            continue
        params = dict(call["params"])
        key = (call["name"], tuple(sorted((k, str(v)) for k, v in params.items())))
        sent = call.get("time", 0.0)
        if key in effective and effective[key] <= sent:
            shown = {k: v for k, v in params.items() if k not in SECRET_PARAMS}
            problems.append("%s sent again after it took effect (its answer lost): %s" % (call["name"], shown))
        # Another write of the same object in between (a claim not trusted and undone, then claimed again): the
        # next copy of the earlier write is a new decision, read from what the undo left, not a blind repeat.
        thing = subject(call["name"], params)
        for other in [k for k in effective if k != key and subject(k[0], dict(k[1])) == thing and effective[k] <= sent]:
            del effective[other]
        if call["fault"] and call["fault_after"]:
            took = call.get("applied_at") if "apply_at" in call else sent
            if took is not None:
                effective[key] = min(effective.get(key, took), took)
    return problems


def soak(
    workdir,
    rate,
    seed,
    pending,
    forks,
    max_runs=3,
    after=0.5,
    stall_seconds=3.0,
    install_seconds=INSTALL_SECONDS,
    timeout=900,
    kinds=KINDS,
    apply_after=APPLY_AFTER,
):
    """One round: a fresh shop, reconciled under faults until every service is done (at most ``max_runs`` runs).

    Every run has the same fault rate, of every kind, a share ``after`` of them after the request
    was handled (its change made, its answer lost). The invariants are checked after every run, and
    the call log for writes repeated after they took effect. Returns a dict of figures and
    ``problems`` (every broken invariant, prefixed with the run). The simulator's installs must
    outlast the reads of a read-back under the faults, as real ones (minutes) do, or a lost install
    answer could not be read back (see INSTALL_SECONDS).
    """
    states = make_fleet(pending, active=2, suspended=2, terminated=2, clients=max(2, pending // 4))
    original = states[1]["services"]
    figures = {"rate": rate, "seed": seed, "services": len(original), "problems": [], "runs": [], "converged": None}
    # An install whose start answer was lost is looked for during the settle time: on the simulator's
    # short installs it must end before the install does (on a real panel installs take minutes).
    settle = "dedicated_server_install_settle_time=%d" % max(1, int(install_seconds / 2))
    with Fleet(workdir, states, install_seconds=install_seconds, extra_vars=[settle]) as fleet:
        for number in range(1, max_runs + 1):
            label = "run %d" % number
            # Different seeds for the two simulators (and each run), so their faults do not fall in step.
            plan = {"rate": rate, "kinds": kinds, "stall_seconds": stall_seconds, "after": after, "apply_after": apply_after}
            fleet.dci.set_faults(seed=seed + 10 * number, **plan)
            fleet.whmcs.set_faults(seed=seed + 10 * number + 1, **plan)
            run = fleet.reconcile(forks, timeout=timeout)
            # A delayed write still on its way when the run ends lands before anything is judged.
            if any(call.get("apply_at") is not None and call["applied_at"] is None for call in fleet.dci.calls + fleet.whmcs.calls):
                time.sleep(apply_after)
            calls = fleet.dci.calls + fleet.whmcs.calls
            faults = sum(1 for call in calls if call["fault"])
            delayed = sum(1 for call in calls if call["fault"] == "delayed_apply" and call["write"])
            failed = failures(run["records"])
            if run["rc"] not in (0, 2) and not run["records"]:
                # The WHMCS inventory could not be read (the run fails before any host, loudly):
                # every service is reported failed by that error.
                lines = [line for line in run["output"].splitlines() if "inventory" in line.lower()] or ["no output"]
                failed = {"whmcs-%s" % service["id"]: lines[-1].strip() for service in original}
            dci_state, whmcs_state = fleet.dci.dump_state(), fleet.whmcs.dump_state()
            problems = check(original, dci_state, whmcs_state, failed, final=False)
            problems += repeated_writes(fleet.dci.calls) + repeated_writes(fleet.whmcs.calls)
            if run["rc"] not in (0, 2) and run["records"]:  # 2: some hosts failed, which the checks judge
                problems.append("ansible-playbook exited %s:\n%s" % (run["rc"], run["output"][-3000:]))
            figures["runs"].append(
                {
                    "seconds": run["seconds"],
                    "calls": run["dci_calls"] + run["whmcs_calls"],
                    "faults": faults,
                    "delayed_writes": delayed,
                    "failed": failed,
                    "rc": run["rc"],
                }
            )
            figures["problems"] += ["%s: %s" % (label, problem) for problem in problems]
            for problem in problems + fleet.dci.errors + fleet.whmcs.errors:
                print("  %s: %s" % (label, problem), flush=True)
            if not check(original, dci_state, whmcs_state, failed, final=True):
                figures["converged"] = number
                break
    if figures["converged"] is None:
        figures["problems"].append("not converged after %d runs" % max_runs)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rates", default="0.05,0.15,0.3", help="comma-separated fault rates, one round each (per seed)")
    parser.add_argument("--after", type=float, default=0.5, help="share of the faults that come after the request was handled")
    parser.add_argument("--pending", type=int, default=20, help="Pending services (plus 2 Active, 2 Suspended, 2 Terminated)")
    parser.add_argument("--max-runs", type=int, default=3, help="reconcile runs at most per round")
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7, help="the first fault seed")
    parser.add_argument("--seeds", type=int, default=1, help="fault seeds per rate: --seed, --seed + 1, ...")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated fault kinds (default: all)")
    parser.add_argument("--apply-after", type=float, default=APPLY_AFTER, help="seconds after which a delayed_apply request takes effect")
    parser.add_argument("--stall-seconds", type=float, default=3.0)
    parser.add_argument("--install-seconds", type=float, default=INSTALL_SECONDS, help="how long the simulator's installs take")
    parser.add_argument("--max-seconds", type=float, default=900, help="no new round starts after this many seconds")
    args = parser.parse_args()
    kinds = tuple(kind.strip() for kind in args.kinds.split(",") if kind.strip())

    started = time.monotonic()
    results, skipped = [], []
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    # Seed by seed, every rate, so that a time budget cut short still shows every rate.
    for seed in range(args.seed, args.seed + max(1, args.seeds)):
        for rate in rates:
            if args.max_seconds - (time.monotonic() - started) <= 0:
                skipped.append((rate, seed))
                continue
            print(
                "rate %.0f %% (%.0f %% after handling), seed %d, %d Pending + 6 others, forks %d"
                % (rate * 100, args.after * 100, seed, args.pending, args.forks),
                flush=True,
            )
            with tempfile.TemporaryDirectory(prefix="fault-soak-") as tmp:
                # The budget only decides whether a round starts: a run cut short would look like damage.
                results.append(
                    soak(
                        Path(tmp),
                        rate,
                        seed,
                        args.pending,
                        args.forks,
                        max_runs=args.max_runs,
                        after=args.after,
                        stall_seconds=args.stall_seconds,
                        install_seconds=args.install_seconds,
                        kinds=kinds,
                        apply_after=args.apply_after,
                    )
                )
    print()
    print("Fault kinds: %s; delayed writes take effect after %g s" % (", ".join(kinds), args.apply_after))
    print()
    print(
        "| fault rate | seed | services | runs to converge | first run s | calls | faults injected | delayed writes "
        "| services failed (reported) | later runs s | invariants |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for res in results:
        first, later = res["runs"][0], res["runs"][1:]
        print(
            "| %.0f %% | %d | %d | %s | %.0f | %d | %d | %d | %d | %s | %s |"
            % (
                res["rate"] * 100,
                res["seed"],
                res["services"],
                res["converged"] or "not in %d" % len(res["runs"]),
                first["seconds"],
                first["calls"],
                first["faults"],
                first["delayed_writes"],
                len(first["failed"]),
                " + ".join("%.0f" % run["seconds"] for run in later) or "-",
                "hold" if not _broken(res) else "%d broken" % len(_broken(res)),
            )
        )
    if args.seeds > 1:
        print()
        print("| fault rate | seeds run | converged in one run | in a row from the first seed | invariants held |")
        print("|---|---:|---:|---:|---:|")
        for rate in rates:
            mine = [res for res in results if res["rate"] == rate]
            row = 0
            for res in mine:
                if res["converged"] != 1:
                    break
                row += 1
            print(
                "| %.0f %% | %d | %d | %d | %d |"
                % (rate * 100, len(mine), sum(1 for res in mine if res["converged"] == 1), row, sum(1 for res in mine if not _broken(res)))
            )
    for res in results:
        for number, run in enumerate(res["runs"], 1):
            for host, reason in sorted(run["failed"].items()):
                print("rate %.0f %%, seed %d, run %d: %s failed: %s" % (res["rate"] * 100, res["seed"], number, host, " ".join(reason.split())[:200]))
    if skipped:
        print("not run (time budget of %ds spent): %s" % (args.max_seconds, ", ".join("rate %g seed %d" % item for item in skipped)))
    return 1 if any(res["problems"] for res in results) else 0


def _broken(res):
    """The broken invariants of a round (its problems but "not converged")."""
    return [problem for problem in res["problems"] if not problem.startswith("not converged")]


if __name__ == "__main__":
    sys.exit(main())
