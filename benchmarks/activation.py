#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark: API calls and wall time of one activation, and of its idempotent rerun.

An activation is what ISPsystem's WHMCS module does in CreateAccount: the customer's account,
a server of the package with extra addresses, and an OS install waited for. The script runs it
with real ansible-playbook against the DCImanager simulator, twice:

* with instant transitions (power-on and install take no time), so every wait costs exactly one
  look and the counts are the calls *outside polling*;
* with realistic transitions (``--poweron-seconds``, ``--install-seconds``), for wall time and
  the number of polls.

Run from the checkout with the dev virtualenv: ``.venv/bin/python benchmarks/activation.py``.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

from harness import run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from simulators.dcimanager import DCImanagerSimulator, make_state  # noqa: E402  pylint: disable=wrong-import-position

IPV4_EXTRA = 2
IPV6_EXTRA = 1

# ISPsystem's module (v7.2.1) for the same activation, counted from the call sequence in
# shared/reference/dcimanager5-api.md ("How ISPsystem's WHMCS module sequences the work"), with one
# look per wait as here. It authenticates with authinfo on every call (no auth call).
ISPSYSTEM_SEQUENCE = (
    [
        ("user", False),
        ("user.edit", True),  # 1. find or create the customer
        ("server", False),  # 2. first free server of the package
        ("server.edit", False),
        ("server.edit", True),  # 3. owner = admin (form echoed back)
        ("server.enable", True),
        ("server.poweron", True),
        ("server", False),  # 3. wait for poweron (one look)
        ("iplist", False),
        ("iplist.edit", True),  # 4. domain on the main address
    ]
    + [("iplist.edit", True)] * (IPV4_EXTRA + IPV6_EXTRA)
    + [  # 4. extra addresses
        ("server.operations", True),  # 5. install
        ("server", False),  # 6. wait for the install (one look)
        ("iplist", False),  # 7. record the addresses
        ("server.edit", False),
        ("server.edit", True),  # 7. owner = the customer
    ]
    + [("iplist.edit", True)] * (1 + IPV4_EXTRA + IPV6_EXTRA)
)  # 7. the domain again on every address

TASKS = [
    {"name": "account", "ispsystem.dcimanager.dci_user": {"name": "cust1", "password": "cust1-pw-123456"}},
    {
        "name": "allocate",
        "ispsystem.dcimanager.dci_server_allocate": {
            "owner": "cust1",
            "hostname": "1001.example.net",
            "package": "P1",
            "ipv4_count": IPV4_EXTRA,
            "ipv6_count": IPV6_EXTRA,
        },
    },
    {
        "name": "install",
        "ispsystem.dcimanager.dci_os_install": {
            "hostname": "1001.example.net",
            "os_template": "ISPsystem__Debian-12-amd64",
            "root_password": "root-pw-123456",
            "poll_interval": 15,
        },
    },
]


def measure(workdir, poweron_seconds, install_seconds):
    sim = DCImanagerSimulator(
        state=make_state(20, package="P1"),
        tls_dir=str(workdir / "tls"),
        poweron_seconds=poweron_seconds,
        install_seconds=install_seconds,
        poweroff_seconds=0,
        enable_seconds=0,
    )
    sim.start()
    env = {"DCIMANAGER_URL": sim.url, "DCIMANAGER_USERNAME": sim.admin_user, "DCIMANAGER_PASSWORD": sim.admin_password, "DCIMANAGER_CA_PATH": sim.ca_path}
    try:
        figures = []
        for label in ("activation", "rerun"):
            sim.clear_calls()
            started = time.monotonic()
            run = run_playbook(workdir, TASKS, env=env)
            elapsed = time.monotonic() - started
            if run.rc != 0:
                raise SystemExit("the playbook failed:\n" + run.output)
            calls = sim.calls
            figures.append(
                {
                    "label": label,
                    "seconds": elapsed,
                    "calls": len(calls),
                    "writes": sum(call["write"] for call in calls),
                    "server_lists": sum(call["name"] == "server" for call in calls),
                    "by_function": collections.Counter(call["name"] for call in calls),
                    "changed": run.changed_tasks,
                }
            )
        return figures
    finally:
        sim.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--poweron-seconds", type=float, default=5.0)
    parser.add_argument("--install-seconds", type=float, default=40.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        instant = measure(Path(tmp) / "instant", 0.0, 0.0)
        timed = measure(Path(tmp) / "timed", args.poweron_seconds, args.install_seconds)
    ispsystem_calls = len(ISPSYSTEM_SEQUENCE)
    ispsystem_writes = sum(write for dummy, write in ISPSYSTEM_SEQUENCE)
    print("Activation: account + allocate (%d extra IPv4, %d extra IPv6) + install with wait" % (IPV4_EXTRA, IPV6_EXTRA))
    print()
    print("| run | API calls | writes | server list reads | wall time (s) |")
    print("|---|---:|---:|---:|---:|")
    print("| ISPsystem's module, outside polling (counted from the reference) | %d | %d | 3 | - |" % (ispsystem_calls, ispsystem_writes))
    for figures, what in (
        (instant, "instant transitions (outside polling)"),
        (timed, "power-on %gs, install %gs" % (args.poweron_seconds, args.install_seconds)),
    ):
        for figure in figures:
            print(
                "| this collection, %s, %s | %d | %d | %d | %.1f |"
                % (figure["label"], what, figure["calls"], figure["writes"], figure["server_lists"], figure["seconds"])
            )
    print()
    print("Calls by function, activation with instant transitions:", ", ".join("%s %d" % item for item in sorted(instant[0]["by_function"].items())))
    print("Tasks changed on rerun:", instant[1]["changed"] or "none")
    # With 30 s steps ISPsystem's module looks once per 30 s and notices the end up to 30 s late.
    print("ISPsystem's module with the same timings: %d polls, up to 30 s late per wait" % (-(-args.poweron_seconds // 30) + -(-args.install_seconds // 30)))


if __name__ == "__main__":
    main()
