#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark: reconcile a fleet of Pending services with forks 1, 10 and 50, then rerun with nothing to do.

For each fork count the script loads a fresh shop into both simulators (``--services`` Pending
services of one dedicated-server product over a few clients, enough free servers and pool
addresses), runs ``ansible-playbook ispsystem.dcimanager.reconcile`` over the WHMCS inventory, and
reports wall time, API calls per service (DCImanager and WHMCS, reads and writes) and the peak
memory of the controller; then reruns it, which must make no writing call.

``--profile`` adds ansible-core's junit callback (a duration per task and host) and prints where
the time of the first run goes, task by task.

    .venv/bin/python benchmarks/fleet.py [--services 200] [--forks 1,10,50] [--install-seconds 4]

The fleet builders and ``run_reconcile()`` are shared with ``benchmarks/fault_soak.py``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "benchmarks" / "_lib"))

from procs import descendants  # noqa: E402  pylint: disable=wrong-import-position

from harness import ansible_env  # noqa: E402  pylint: disable=wrong-import-position
from simulators.dcimanager import DCImanagerSimulator  # noqa: E402  pylint: disable=wrong-import-position

# hostname_of is re-exported: benchmarks/fault_soak.py and tests/integration/test_fault_soak.py import it from here.
from simulators.fleet import hostname_of, make_consistent_shop  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
from simulators.whmcs import WHMCSSimulator  # noqa: E402  pylint: disable=wrong-import-position

STATUSES = ["Pending", "Active", "Suspended", "Terminated", "Cancelled", "Fraud"]


# --- the fleet ------------------------------------------------------------------------------


def make_fleet(pending, active=0, suspended=0, terminated=0, clients=None, spare_servers=5):
    """``(dcimanager_state, whmcs_state, products)`` for a shop of one product, both sides agreeing.

    ``pending`` new orders; ``active`` / ``suspended`` / ``terminated`` services provisioned before
    (a server of their own, respectively blocked to unblock, running to block, and still allocated
    to release). Services go round-robin over ``clients`` clients (default: one per ten services),
    so clients have several orders and the role's account reuse is exercised. The product, its
    options and the role's product settings are those of tests/simulators/shop.py.

    It is the consistent shop of tests/simulators/fleet.py with every provisioned service drifted
    the way that leaves the reconcile work to do, and servers with their main address only.
    """
    return make_consistent_shop(
        active + suspended + terminated,
        pending,
        suspended=suspended,
        terminated=terminated,
        drift={"active_blocked": active, "suspended_unblocked": suspended, "terminated_allocated": terminated},
        clients=clients,
        spare_servers=spare_servers,
        extra_ips=False,
    )


# --- running the reconcile ------------------------------------------------------------------


class Fleet:
    """Both simulators with a fleet loaded, the files a playbook run needs, and the call logs."""

    def __init__(self, workdir, states, install_seconds=4.0, poweron_seconds=1.0, extra_vars=()):
        dci_state, whmcs_state, products = states
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.dci = DCImanagerSimulator(
            state=dci_state,
            tls_dir=str(self.workdir / "dci-tls"),
            install_seconds=install_seconds,
            poweron_seconds=poweron_seconds,
            poweroff_seconds=1.0,
            enable_seconds=0.5,
        )
        self.whmcs = WHMCSSimulator(state=whmcs_state, tls_dir=str(self.workdir / "whmcs-tls"))
        (self.workdir / "products.yml").write_text(yaml.safe_dump({"dedicated_server_products": products}))
        (self.workdir / "fleet.whmcs.yml").write_text(yaml.safe_dump({"plugin": "ispsystem.dcimanager.whmcs", "statuses": STATUSES}))
        self.runs = 0
        self.extra_vars = list(extra_vars)

    def __enter__(self):
        self.dci.start()
        self.whmcs.start()
        return self

    def __exit__(self, *exc_info):
        self.dci.close()
        self.whmcs.close()

    def clear_calls(self):
        self.dci.clear_calls()
        self.whmcs.clear_calls()

    def env(self):
        return {
            **self.dci.env(),
            **self.whmcs.env(),
        }

    def reconcile(self, forks, profile=False, timeout=3600):
        """Run the reconcile playbook once; a dict of figures, the output and the recorded task results."""
        self.runs += 1
        records = self.workdir / ("records-%d.json" % self.runs)
        junit_dir = self.workdir / ("junit-%d" % self.runs)
        # An inventory that cannot be read must fail the run, not leave it with no hosts and rc 0.
        extra = {"RECORD_RESULTS_FILE": str(records), "DCIMANAGER_LOCK_DIR": str(self.workdir), "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"}
        if profile:
            extra.update({"ANSIBLE_CALLBACKS_ENABLED": "record_results,ansible.builtin.junit", "JUNIT_OUTPUT_DIR": str(junit_dir), "JUNIT_TASK_CLASS": "true"})
        command = [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "ispsystem.dcimanager.reconcile",
            "-i",
            "fleet.whmcs.yml",
            "-e",
            "@products.yml",
            "-e",
            "dedicated_server_poll_interval=2",
            "-e",
            "dedicated_server_install_settle_time=3",
            "-f",
            str(forks),
        ]
        for assignment in self.extra_vars:
            command += ["-e", assignment]
        self.clear_calls()
        figures = measure(command, ansible_env({**self.env(), **extra}), self.workdir, self.workdir / ("output-%d.txt" % self.runs), timeout)
        figures["records"] = json.loads(records.read_text()) if records.exists() else []
        figures["junit"] = junit_dir if profile else None
        for side, sim in (("dci", self.dci), ("whmcs", self.whmcs)):
            calls = sim.calls
            figures[side + "_calls"] = len(calls)
            figures[side + "_writes"] = sum(1 for call in calls if call["write"])
            figures[side + "_by_name"] = collections.Counter(call["name"] for call in calls)
        return figures


def _tree_pss_kib(root):
    """Proportional set size (KiB) of ``root`` and all its descendants: shared pages counted once."""
    total = 0
    for pid in descendants([root]):
        try:
            with open("/proc/%d/smaps_rollup" % pid, encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def measure(command, env, cwd, output, timeout):
    """Run ``command``; wall s, CPU s, peak RSS of its largest process and sampled peak PSS of its whole tree (MiB)."""
    started = time.monotonic()
    with open(output, "wb") as out:
        proc = subprocess.Popen(command, env=env, cwd=str(cwd), stdout=out, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
        peak = [0]
        done = threading.Event()

        def sample():
            # ru_maxrss only tells the biggest single process; with 50 forks the sum matters too.
            while not done.wait(0.5):
                peak[0] = max(peak[0], _tree_pss_kib(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            dummy, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            done.set()
            sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "rc": proc.returncode,
        "seconds": time.monotonic() - started,
        "cpu": usage.ru_utime + usage.ru_stime,
        "maxrss_mib": usage.ru_maxrss / 1024.0,
        "pss_mib": peak[0] / 1024.0,
        "output": Path(output).read_text(encoding="utf-8", errors="replace"),
    }


# --- reporting ------------------------------------------------------------------------------


def per_task(junit_dir):
    """Task name -> (host runs, wall seconds of the task) from the junit callback's report.

    The callback times each host from the start of the task to that host's result, so under the
    linear strategy a host's time includes the hosts served before it: the task's own wall time is
    the longest of them (the sum over hosts would count the queue again and again).
    """
    totals = collections.defaultdict(lambda: [0, 0.0])
    for report in Path(junit_dir).glob("*.xml"):
        for case in ET.parse(str(report)).getroot().iter("testcase"):
            # The case name is "[host] task name: action"; strip the host, keep a readable length.
            name = case.get("name", "").split("] ", 1)[-1][:100]
            totals[name][0] += 1
            totals[name][1] = max(totals[name][1], float(case.get("time") or 0))
    return totals


def row(label, services, figures):
    return "| %s | %.1f | %.2f | %.2f / %.2f | %.2f / %.2f | %.0f | %.0f | %.0f |" % (
        label,
        figures["seconds"],
        figures["seconds"] / services,
        (figures["dci_calls"] - figures["dci_writes"]) / services,
        figures["dci_writes"] / services,
        (figures["whmcs_calls"] - figures["whmcs_writes"]) / services,
        figures["whmcs_writes"] / services,
        figures["cpu"],
        figures["maxrss_mib"],
        figures["pss_mib"],
    )


def check_first_run(fleet, figures, services):
    """Every service Active in WHMCS with a dedicated IP, the playbook succeeded."""
    active = [s for s in fleet.whmcs.dump_state()["services"] if s["status"] == "Active" and s["dedicatedip"]]
    if figures["rc"] != 0 or len(active) != services:
        failed = ["%s %s: %s" % (r["host"], r["task"], r["result"].get("msg")) for r in figures["records"] if r["status"] == "failed"]
        raise SystemExit("reconcile failed (rc %s, %d of %d services active):\n%s" % (figures["rc"], len(active), services, "\n".join(failed)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--services", type=int, default=200, help="Pending services in the shop")
    parser.add_argument("--forks", default="1,10,50", help="comma-separated fork counts, one run each")
    parser.add_argument("--services-forks-1", type=int, default=None, help="services for the forks=1 run (default --services; a serial run of 200 takes long)")
    parser.add_argument("--install-seconds", type=float, default=4.0)
    parser.add_argument("--poweron-seconds", type=float, default=1.0)
    parser.add_argument("--profile", action="store_true", help="time every task with ansible-core's junit callback")
    parser.add_argument("--run-timeout", type=float, default=7200.0, help="seconds before one playbook run is killed")
    args = parser.parse_args()

    print(
        "Fleet reconcile: Python %s, %s, %d CPUs, load average %s"
        % (platform.python_version(), platform.machine(), os.cpu_count(), " ".join("%.1f" % x for x in os.getloadavg()))
    )
    print()
    print(
        "| run | wall s | wall s / service | DCI reads / writes per service | WHMCS reads / writes per service "
        "| CPU s | peak RSS MiB (largest process) | peak PSS MiB (all processes) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    profiles = []
    for forks in [int(f) for f in args.forks.split(",") if f.strip()]:
        services = args.services_forks_1 if forks == 1 and args.services_forks_1 else args.services
        with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp, Fleet(tmp, make_fleet(services), args.install_seconds, args.poweron_seconds) as fleet:
            first = fleet.reconcile(forks, profile=args.profile, timeout=args.run_timeout)
            check_first_run(fleet, first, services)
            print(row("%d services, forks %d" % (services, forks), services, first), flush=True)
            again = fleet.reconcile(forks, timeout=args.run_timeout)
            print(row("rerun, nothing to do", services, again), flush=True)
            # The rerun must converge without a single write, and report nothing changed.
            assert again["rc"] == 0, again["output"][-4000:]
            assert again["dci_writes"] == 0 and again["whmcs_writes"] == 0, (again["dci_by_name"], again["whmcs_by_name"])
            changed = [r["task"] for r in again["records"] if r["status"] == "changed"]
            assert not changed, changed
            profiles.append((forks, services, first, again, per_task(first["junit"]) if args.profile else None))
    print()
    for forks, services, first, again, tasks in profiles:
        print(
            "forks %d, calls by function, first run: DCImanager %s; WHMCS %s"
            % (forks, dict(sorted(first["dci_by_name"].items())), dict(sorted(first["whmcs_by_name"].items())))
        )
        print(
            "forks %d, calls by function, rerun: DCImanager %s; WHMCS %s"
            % (forks, dict(sorted(again["dci_by_name"].items())), dict(sorted(again["whmcs_by_name"].items())))
        )
        if tasks:
            print(
                "forks %d, %d services: wall seconds per task, all hosts (top 15 of %.0f s in all)"
                % (forks, services, sum(seconds for dummy, seconds in tasks.values()))
            )
            for name, (runs, seconds) in sorted(tasks.items(), key=lambda item: -item[1][1])[:15]:
                print("  %7.1f s  %4d hosts  %5.2f s/host  %s" % (seconds, runs, seconds / runs, name))


if __name__ == "__main__":
    main()
