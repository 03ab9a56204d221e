#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The demo: a small hosting shop in the WHMCS and DCImanager simulators, reconciled by Ansible.

Starts both simulators (real HTTPS servers on 127.0.0.1, with a throwaway CA that the playbook
verifies against), loads the sample shop of tests/simulators/shop.py (clients and services in
every status), runs ``ansible-playbook ispsystem.dcimanager.reconcile`` over the WHMCS inventory,
prints which service got which server, address and status, and stops the simulators.
Run it with ``scripts/demo.sh``, which prepares the virtualenv first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from simulators.dcimanager import DCImanagerSimulator  # noqa: E402  pylint: disable=wrong-import-position
from simulators.shop import make_shop  # noqa: E402  pylint: disable=wrong-import-position
from simulators.whmcs import WHMCSSimulator  # noqa: E402  pylint: disable=wrong-import-position

STATUSES = ["Pending", "Active", "Suspended", "Terminated", "Cancelled", "Fraud"]


def collections_path(workdir):
    """A collections path in which ispsystem.dcimanager is this checkout."""
    link = workdir / "collections" / "ansible_collections" / "ispsystem" / "dcimanager"
    link.parent.mkdir(parents=True)
    link.symlink_to(ROOT)
    return str(workdir / "collections")


def table(rows, headers):
    widths = [max(len(str(value)) for value in column) for column in zip(headers, *rows)]
    lines = ["  ".join(str(value).ljust(width) for value, width in zip(row, widths)).rstrip() for row in [headers] + rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def snapshot(dci, whmcs):
    """One row per WHMCS service: its status and the DCImanager server that carries its hostname."""
    state = dci.dump_state()
    logins = {user["id"]: user["name"] for user in state["users"]}
    by_ip = {server["main_ip"]: server for server in state["servers"]}
    rows = []
    for service in sorted(whmcs.dump_state()["services"], key=lambda item: int(item["id"])):
        server = by_ip.get(service.get("dedicatedip") or "")
        rows.append(
            [
                service["id"],
                service["username"],
                service["status"],
                server["id"] if server else "-",
                server["addresses"][0]["domain"] if server else "-",
                service.get("dedicatedip") or "-",
                ", ".join(line for line in (service.get("assignedips") or "").split() if line) or "-",
                (logins.get(server["owner"]) or "-") if server else "-",
                ("blocked" if server["blocked"] else "running") if server else "-",
                (server["installed_template"] or "-").replace("ISPsystem__", "") if server else "-",
            ]
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--install-seconds", type=float, default=5.0, help="how long an OS install takes in the simulator")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the whole ansible-playbook output")
    args = parser.parse_args()

    dci_state, whmcs_state, products = make_shop()
    with tempfile.TemporaryDirectory(prefix="dcimanager-demo-") as tmp:
        workdir = Path(tmp)
        dci = DCImanagerSimulator(
            state=dci_state, tls_dir=str(workdir / "dci-tls"), install_seconds=args.install_seconds, poweron_seconds=1, poweroff_seconds=1, enable_seconds=0.5
        )
        whmcs = WHMCSSimulator(state=whmcs_state, tls_dir=str(workdir / "whmcs-tls"))
        with dci, whmcs:
            print("DCImanager simulator: %s (%d servers)" % (dci.url, len(dci_state["servers"])))
            print("WHMCS simulator:      %s (%d services)" % (whmcs.url, len(whmcs_state["services"])))
            print()
            print("Before:")
            headers = ["service", "client", "WHMCS status", "server", "hostname", "dedicated IP", "assigned IPs", "owner", "server state", "OS"]
            print(table(snapshot(dci, whmcs), headers))
            print()

            (workdir / "products.yml").write_text(yaml.safe_dump({"dedicated_server_products": products}))
            (workdir / "shop.whmcs.yml").write_text(yaml.safe_dump({"plugin": "ispsystem.dcimanager.whmcs", "statuses": STATUSES}))
            env = dict(os.environ)
            env.update(
                {
                    "ANSIBLE_COLLECTIONS_PATH": collections_path(workdir),
                    "ANSIBLE_NOCOLOR": "1",
                    "ANSIBLE_LOCALHOST_WARNING": "false",
                    **dci.env(),
                    **whmcs.env(),
                }
            )
            command = [
                str(Path(sys.executable).parent / "ansible-playbook"),
                "ispsystem.dcimanager.reconcile",
                "-i",
                "shop.whmcs.yml",
                "-e",
                "@products.yml",
                "-e",
                "dedicated_server_poll_interval=2",
                "-e",
                "dedicated_server_install_settle_time=3",
                "-f",
                "10",
            ]
            print("$ " + " ".join(command[1:]))
            completed = subprocess.run(command, cwd=str(workdir), env=env, capture_output=True, text=True, check=False)
            output = completed.stdout + completed.stderr
            if args.verbose or completed.returncode != 0:
                print(output)
            else:
                # The plan, then the summary and the recap: what a job template's log starts and ends with.
                plan_at = output.find('"msg": [', output.find("Show the plan]"))
                if plan_at >= 0:
                    print("The plan:")
                    print(output[plan_at : output.find("\n    ]", plan_at) + 6].strip())
                    print()
                print(output[output.rfind("PLAY [Summary]") :].strip())
            print()
            print("After:")
            print(table(snapshot(dci, whmcs), headers))
            print()
            calls = dci.calls + whmcs.calls
            print("API calls: DCImanager %d (%d writes), WHMCS %d (%d writes)" % (len(dci.calls), len(dci.writes()), len(whmcs.calls), len(whmcs.writes())))
            if completed.returncode != 0:
                print("reconcile failed (exit code %d)" % completed.returncode)
            return completed.returncode if calls else 1


if __name__ == "__main__":
    sys.exit(main())
