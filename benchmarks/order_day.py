#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark: an order day, N new orders reconciled in one run, and the single-service playbook (issue 21).

The order day: both simulators get a fresh shop of ``--services`` Pending services, each of its own
new client (``tests/simulators/fleet.py``'s consistent shop: the product of ``shop.py`` with its os / IP /
IPv6 options, N + 5 free powered-off servers), installs of ``--install-seconds`` (3 s) and a power-on of
``--poweron-seconds`` (1 s) in the simulator. It runs the real ``ansible-playbook
ispsystem.dcimanager.reconcile`` over the WHMCS inventory (the plan, then one fleet_apply run), checks
that every service is Active in WHMCS with its server's address and that no server was given twice,
and prints:

* wall time, and the peak memory of the ansible-playbook process tree (PSS, sampled every 0.5 s; the
  RSS of its largest process);
* DCImanager calls per activation from the simulator's call log, split into polling (the server list
  reads that waits made for their later looks, fleet_apply's ``list_polls``) and the rest, with the rest
  by function; full server list reads; WHMCS calls (the inventory's listing pages apart);
* the install waits: how many installs ran at once at most, and the full list reads while any ran,
  per poll interval.

The goals (issue 21, judged only at their sizes): 100 services in <= 60 s, 1,000 in <= 300 s with a
peak PSS <= 300 MiB, <= 12 non-polling DCImanager calls per activation (ISPsystem's module: 22), and
the waits' list reads independent of how many wait (at most one per pause of the shared view, which
is one second at the shortest, whatever the number of installs).

``--single-service K`` also times ``ansible-playbook ispsystem.dcimanager.converge -e service_id=N`` (what
an AWX job started by WHMCS or an EDA event runs) K times, each on a fresh shop, and with
``--baseline-ref REF`` (a git commit of this repository, for example ``41dd7ae``, the last one whose
role ran one module per step) the same activation through that commit's ``provision`` playbook, the
two alternating. The converge path pays the timed claim's ``claim_settle`` (4 s), which the old role
did not have; the table shows it.

    .venv/bin/python benchmarks/order_day.py [--services 100] [--parallelism N] [--single-service 3 --baseline-ref 41dd7ae]

Exit status 1 when a check or a judged goal fails.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from fleet import Fleet, measure  # noqa: E402  pylint: disable=wrong-import-position
from harness import ansible_env  # noqa: E402  pylint: disable=wrong-import-position
from simulators.fleet import make_consistent_shop  # noqa: E402  pylint: disable=wrong-import-position

ISPSYSTEM_CALLS = 22
GOALS = {100: {"seconds": 60.0}, 1000: {"seconds": 300.0, "pss_mib": 300.0}}
NON_POLLING_GOAL = 12.0
APPLY_TASK = "Converge the services to WHMCS"


def order_day_shop(services, spare_servers=5):
    """N Pending services, each of its own client (so each activation makes its account), N + spare free servers."""
    return make_consistent_shop(0, pending=services, clients=services, spare_servers=spare_servers, extra_ips=False)


def playbook(name, args, extra_vars):
    command = [str(Path(sys.executable).parent / "ansible-playbook"), name] + list(args)
    for key, value in extra_vars.items():
        command += ["-e", "%s=%s" % (key, value)]
    return command


def run(fleet, command, label, timeout, collections_path=None):
    """One playbook run against the fleet's simulators: measure()'s figures, the task records and the call logs."""
    records = fleet.workdir / ("records-%s.json" % label)
    extra = {"RECORD_RESULTS_FILE": str(records), "DCIMANAGER_LOCK_DIR": str(fleet.workdir), "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"}
    env = ansible_env({**fleet.env(), **extra})
    if collections_path:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections_path)
    fleet.clear_calls()
    figures = measure(command, env, fleet.workdir, fleet.workdir / ("output-%s.txt" % label), timeout)
    figures["records"] = json.loads(records.read_text()) if records.exists() else []
    figures["dci_calls"], figures["whmcs_calls"] = fleet.dci.calls, fleet.whmcs.calls
    return figures


def apply_result(figures):
    """fleet_apply's result (the task that converged the services), or {}."""
    for record in figures["records"]:
        if record["task"].split(" : ", 1)[-1] == APPLY_TASK:
            return record["result"]
    return {}


def is_list_read(call):
    return call["name"] == "server" and not call["params"].get("elid")


def is_listing(call):
    """A page of the WHMCS inventory's listing (not a read of one service or one client's services)."""
    return call["name"] == "GetClientsProducts" and not call["params"].get("serviceid") and not call["params"].get("clientid")


def check(fleet, figures, services):
    """What must hold after the order day: every service Active with its server's main address, no server twice."""
    problems = []
    if figures["rc"] != 0:
        problems.append("the reconcile exited %s:\n%s" % (figures["rc"], figures["output"][-4000:]))
    whmcs = fleet.whmcs.dump_state()["services"]
    active = [s for s in whmcs if s["status"] == "Active" and s["dedicatedip"]]
    if len(active) != services:
        problems.append("%d of %d services Active with a dedicated IP" % (len(active), services))
    ips = collections.Counter(s["dedicatedip"] for s in active)
    twice = sorted(ip for ip, count in ips.items() if count > 1)
    if twice:
        problems.append("servers given twice (one dedicated IP on several services): %s" % twice[:10])
    servers = fleet.dci.dump_state()["servers"]
    hostnames = collections.Counter(str(a["domain"]).lower() for s in servers if s.get("owner") for a in s["addresses"] if a["ip"] == s["main_ip"])
    doubled = sorted(name for name, count in hostnames.items() if count > 1)
    if doubled:
        problems.append("hostnames on several owned servers: %s" % doubled[:10])
    return problems


def install_waits(calls, install_seconds, poll_interval):
    """Installs running at once at most, and the full list reads while any ran (from the simulator's call log)."""
    starts = sorted(c["time"] for c in calls if c["name"] == "server.operations" and c["write"] and c["params"].get("operation") == "ostemplate")
    if not starts:
        return None
    events = sorted([(t, 1) for t in starts] + [(t + install_seconds, -1) for t in starts])
    running = peak = 0
    for dummy, step in events:
        running += step
        peak = max(peak, running)
    begin, end = starts[0], starts[-1] + install_seconds
    reads = sum(1 for c in calls if is_list_read(c) and begin <= c["time"] <= end)
    seconds = max(end - begin, 1e-9)
    return {"peak": peak, "reads": reads, "seconds": seconds, "per_interval": reads * poll_interval / seconds, "per_second": reads / seconds}


def order_day(workdir, args, collections_path=None):
    """One order day on a fresh shop; the figures and the problems seen. ``collections_path``: another copy of the
    collection to run (``--collection-ref``), else this checkout's."""
    states = order_day_shop(args.services)
    extra_vars = {"dedicated_server_poll_interval": args.poll_interval, "dedicated_server_install_settle_time": args.settle_time}
    if args.parallelism:
        extra_vars["dedicated_server_parallelism"] = args.parallelism
    with Fleet(workdir, states, install_seconds=args.install_seconds, poweron_seconds=args.poweron_seconds) as fleet:
        command = playbook("ispsystem.dcimanager.reconcile", ["-i", "fleet.whmcs.yml", "-e", "@products.yml", "-f", str(args.forks)], extra_vars)
        figures = run(fleet, command, "order-day", args.run_timeout, collections_path)
        problems = check(fleet, figures, args.services)
        result = apply_result(figures)
        dci, whmcs = figures["dci_calls"], figures["whmcs_calls"]
        polls = sum((result.get("list_polls") or {}).values())
        if not result:
            problems.append("no fleet_apply result in the run's records")
        n = float(args.services)
        by_name = collections.Counter(c["name"] for c in dci)
        list_reads = sum(1 for c in dci if is_list_read(c))
        non_polling = collections.Counter(by_name)
        non_polling["server (list)"] = list_reads - polls
        non_polling["server (one server)"] = by_name["server"] - list_reads
        del non_polling["server"]
        figures.update(
            services=args.services,
            parallelism=args.parallelism or "default",
            dci_total=len(dci),
            dci_writes=sum(1 for c in dci if c["write"]),
            polls=polls,
            non_polling=len(dci) - polls,
            non_polling_by_name=dict((name, count / n) for name, count in sorted(non_polling.items()) if count),
            list_reads=list_reads,
            apply_list_reads=sum((result.get("list_reads") or {}).values()),
            whmcs_listing=sum(1 for c in whmcs if is_listing(c)),
            whmcs_apply=sum(1 for c in whmcs if not is_listing(c)),
            whmcs_by_name=dict(collections.Counter(c["name"] for c in whmcs if not is_listing(c))),
            whmcs_writes=sum(1 for c in whmcs if c["write"]),
            apply_seconds=result.get("seconds"),
            waits=install_waits(dci, args.install_seconds, args.poll_interval),
            problems=problems,
        )
        return figures


def judge(figures):
    """(goal, met) of the goals this size is judged on."""
    judged = []
    goal = GOALS.get(figures["services"], {})
    if "seconds" in goal:
        judged.append(("%d services in <= %.0f s" % (figures["services"], goal["seconds"]), figures["seconds"] <= goal["seconds"]))
    if "pss_mib" in goal:
        judged.append(("peak PSS <= %.0f MiB" % goal["pss_mib"], figures["pss_mib"] <= goal["pss_mib"]))
    judged.append(
        ("<= %.0f non-polling DCImanager calls per activation" % NON_POLLING_GOAL, figures["non_polling"] / float(figures["services"]) <= NON_POLLING_GOAL)
    )
    waits = figures["waits"]
    if waits and waits["peak"] >= 10 and figures["apply_seconds"]:
        # The shared view reads at most once a pause for all waits, and its shortest pause is one second: never once per waiter.
        judged.append(
            (
                "the waits' list reads (up to %d installs at once): at most one a second, not one per install" % waits["peak"],
                figures["polls"] / figures["apply_seconds"] <= 1.0,
            )
        )
    return judged


# --- the single-service path ------------------------------------------------------------------------------


def baseline_collection(ref, directory):
    """The collection as it was at git commit ``ref``, laid out as a collections path; None without git."""
    target = Path(directory) / "ansible_collections" / "ispsystem" / "dcimanager"
    target.mkdir(parents=True)
    archive = Path(directory) / "baseline.tar"
    with open(archive, "wb") as out:
        done = subprocess.run(["git", "-C", str(REPO), "archive", ref], stdout=out, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise SystemExit("git archive %s failed: %s" % (ref, done.stderr.decode(errors="replace").strip()))
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return Path(directory)


def single_service(workdir, args, baseline):
    """Wall seconds of the converge playbook for one Pending service, and of the baseline's provision playbook."""
    rows = {"converge": [], "baseline": [], "settle": []}
    extra_vars = {"dedicated_server_poll_interval": args.poll_interval, "dedicated_server_install_settle_time": args.settle_time}
    for number in range(args.single_service):
        for label in ("converge", "baseline") if baseline else ("converge",):
            shop = make_consistent_shop(0, pending=3, clients=3, spare_servers=5, extra_ips=False)
            with Fleet(Path(workdir) / ("%s-%d" % (label, number)), shop, install_seconds=args.install_seconds, poweron_seconds=args.poweron_seconds) as fleet:
                name = "ispsystem.dcimanager.converge" if label == "converge" else "ispsystem.dcimanager.provision"
                # No inventory file (as AWX and EDA run it): localhost, with the controller's Python, since the harness's
                # environment makes an unparsed inventory an error.
                command = playbook(
                    name, ["-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable, "-e", "@products.yml", "-e", "service_id=1000"], extra_vars
                )
                figures = run(fleet, command, label, args.run_timeout, baseline if label == "baseline" else None)
                if figures["rc"] != 0:
                    raise SystemExit("%s failed:\n%s" % (label, figures["output"][-4000:]))
                service = next(s for s in fleet.whmcs.dump_state()["services"] if s["id"] == 1000)
                if service["status"] != "Active" or not service["dedicatedip"]:
                    raise SystemExit("%s did not provision service 1000: %s" % (label, service))
                rows[label].append((figures["seconds"], len(figures["dci_calls"]), len(figures["whmcs_calls"])))
                if label == "converge":
                    claim = ((apply_result(figures).get("services") or [{}])[0]).get("claim") or {}
                    rows["settle"].append(claim.get("settle") or 0.0)
    return rows


# --- the report -----------------------------------------------------------------------------------------------


def report(figures):
    n = float(figures["services"])
    print("| services | parallelism | wall s | apply s | peak PSS MiB (tree) | peak RSS MiB (largest process) | CPU s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        "| %d | %s | %.1f | %s | %.0f | %.0f | %.0f |"
        % (
            figures["services"],
            figures["parallelism"],
            figures["seconds"],
            "%.1f" % figures["apply_seconds"] if figures["apply_seconds"] is not None else "-",
            figures["pss_mib"],
            figures["maxrss_mib"],
            figures["cpu"],
        )
    )
    print()
    print("| per activation | DCImanager calls | writes | polling (list reads of waits) | non-polling | full list reads | WHMCS calls (listing apart) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        "| this collection | %.2f | %.2f | %.2f | %.2f | %.3f | %.2f |"
        % (
            figures["dci_total"] / n,
            figures["dci_writes"] / n,
            figures["polls"] / n,
            figures["non_polling"] / n,
            figures["list_reads"] / n,
            figures["whmcs_apply"] / n,
        )
    )
    print(
        "| ISPsystem's module (2 IPv4 + 1 IPv6 extra, benchmarks/activation.py) | %d | 14 | 2 (one look per wait) | %d | 3 | - |"
        % (ISPSYSTEM_CALLS, ISPSYSTEM_CALLS - 2)
    )
    print()
    print("Non-polling DCImanager calls per activation by function: %s" % ", ".join("%s %.2f" % item for item in figures["non_polling_by_name"].items()))
    print(
        "Full server list reads: %d in all (%d by fleet_apply, %d of them polls; the plan's 1); WHMCS: %d listing pages, %d other calls (%s), %d writes"
        % (
            figures["list_reads"],
            figures["apply_list_reads"],
            figures["polls"],
            figures["whmcs_listing"],
            figures["whmcs_apply"],
            ", ".join("%s %d" % item for item in sorted(figures["whmcs_by_name"].items())),
            figures["whmcs_writes"],
        )
    )
    waits = figures["waits"]
    if waits:
        print(
            "Install waits: up to %d installs at once; %d full list reads in the %.1f s while any ran (%.2f a second, %.2f per poll interval); "
            "the waits' own reads: %d in the apply's %.1f s (%.2f a second)"
            % (
                waits["peak"],
                waits["reads"],
                waits["seconds"],
                waits["per_second"],
                waits["per_interval"],
                figures["polls"],
                figures["apply_seconds"] or 0,
                figures["polls"] / (figures["apply_seconds"] or 1),
            )
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--services", type=int, default=100, help="Pending services, each of its own new client")
    parser.add_argument("--parallelism", type=int, default=None, help="dedicated_server_parallelism (default: the role's)")
    parser.add_argument("--install-seconds", type=float, default=3.0)
    parser.add_argument("--poweron-seconds", type=float, default=1.0)
    parser.add_argument("--poll-interval", type=int, default=2, help="dedicated_server_poll_interval")
    parser.add_argument("--settle-time", type=int, default=3, help="dedicated_server_install_settle_time")
    parser.add_argument("--forks", type=int, default=5)
    parser.add_argument("--single-service", type=int, default=0, metavar="K", help="also time the converge playbook for one service K times")
    parser.add_argument("--baseline-ref", default=None, help="git commit whose provision playbook the single service is compared with")
    parser.add_argument("--skip-order-day", action="store_true", help="only the single-service runs")
    parser.add_argument("--collection-ref", default=None, help="run the order day with the collection as it was at this git commit (before and after a change)")
    parser.add_argument("--run-timeout", type=float, default=1800.0, help="seconds before one playbook run is killed")
    args = parser.parse_args()
    if args.services < 1:
        parser.error("--services must be 1 or more")

    print(
        "Order day: Python %s, %s, %d CPUs, load average %s"
        % (platform.python_version(), platform.machine(), os.cpu_count(), " ".join("%.1f" % x for x in os.getloadavg()))
    )
    failed = []
    if not args.skip_order_day:
        with tempfile.TemporaryDirectory(prefix="order-day-") as tmp:
            other = baseline_collection(args.collection_ref, Path(tmp) / "collection") if args.collection_ref else None
            figures = order_day(Path(tmp) / "run", args, other)
        print(
            "%d Pending services, installs %gs, power-on %gs, poll interval %ds, load average %.1f at the end%s"
            % (
                args.services,
                args.install_seconds,
                args.poweron_seconds,
                args.poll_interval,
                os.getloadavg()[0],
                "; the collection at %s (a fleet_apply without list_polls counts its polls as non-polling)" % args.collection_ref
                if args.collection_ref
                else "",
            )
        )
        print()
        report(figures)
        print()
        for goal, met in judge(figures):
            print("goal %s: %s" % (goal, "met" if met else "MISSED"))
            if not met:
                failed.append(goal)
        for problem in figures["problems"]:
            print("PROBLEM: %s" % problem)
        failed.extend(figures["problems"])
    if args.single_service:
        with tempfile.TemporaryDirectory(prefix="order-day-single-") as tmp:
            baseline = baseline_collection(args.baseline_ref, Path(tmp) / "baseline") if args.baseline_ref else None
            rows = single_service(Path(tmp), args, baseline)
        print()
        print("One Pending service, %d runs each (median; calls per run)" % args.single_service)
        print()
        print("| playbook | wall s (median) | wall s (min) | DCImanager calls | WHMCS calls |")
        print("|---|---:|---:|---:|---:|")
        for label, title in (("converge", "`converge -e service_id=N` (fleet_apply)"), ("baseline", "`provision -e service_id=N` at %s" % args.baseline_ref)):
            if rows[label]:
                walls = [row[0] for row in rows[label]]
                print("| %s | %.2f | %.2f | %d | %d |" % (title, statistics.median(walls), min(walls), rows[label][0][1], rows[label][0][2]))
        print()
        print("The converge path's timed claim waits claim_settle (%s s) once per new allocation; the baseline had no such wait." % sorted(set(rows["settle"])))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
