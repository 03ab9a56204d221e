# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark: the DCImanager inventory plugin on 10,000 servers beside a static YAML inventory of the same hosts.

The panel is ``simulators.fleet.make_consistent_shop(N)``'s: N servers of customers (a tenth of them
suspended, a tenth released and free again) and a few spare free ones. In one run, interleaved round
by round so that load from elsewhere hits all three alike:

* static - ``ansible-inventory -i static.yml --list``: the same hosts, variables and groups as a YAML file,
           with only the ``yaml`` inventory plugin enabled (its best case);
* cold   - ``ansible-inventory -i bench.dcimanager.yml --list --flush-cache`` against the DCImanager simulator
           with ``--latency`` (default 20 ms) added to every API request; it reads the panel and stores the cache;
* cached - the same without ``--flush-cache``: answered from the jsonfile cache, no API call.

Each run's wall time, CPU time (user + sys) and peak RSS come from ``os.wait4`` on that child alone.
The cold and cached outputs are checked against each other, against the static one and against the
simulator's call log (cold: ``auth`` and one ``server``, plus ``user`` with ``--owner-column id``).

    .venv/bin/python benchmarks/dci_inventory.py [--servers 10000] [--rounds 3] [--latency 0.02] [--owner-column id]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks" / "_lib"))

from inventory_bench import clean_up, environment, report, run_rounds  # noqa: E402 pylint: disable=wrong-import-position

from simulators.dcimanager import DCImanagerSimulator  # noqa: E402 pylint: disable=wrong-import-position
from simulators.fleet import make_consistent_shop  # noqa: E402 pylint: disable=wrong-import-position


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--servers", type=int, default=10000, help="customers' servers (a few spare free ones are added)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every API request (default 0.02)")
    parser.add_argument(
        "--owner-column", choices=("login", "id"), default="login", help="what the panel's owner cells hold; with id the plugin also reads the user list"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (inventories, outputs, cache)")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="dci-inventory-bench-"))
    state, dummy_whmcs, dummy_products = make_consistent_shop(args.servers, extra_ips=False)
    servers = len(state["servers"])
    sim = DCImanagerSimulator(state=state, latency=args.latency, tls_dir=str(workdir / "tls"), owner_column=args.owner_column).start()
    wanted = {"static": [], "cold": ["auth", "server"] + (["user"] if args.owner_column == "id" else []), "cached": []}

    def check_hosts(hosts):
        if hosts != servers:
            raise SystemExit("the plugin listed %d hosts, the panel has %d servers" % (hosts, servers))

    def check_calls(name):
        calls = [call["name"] for call in sim.calls]
        if calls != wanted[name]:
            raise SystemExit("%s made the API calls %s, expected %s" % (name, calls, wanted[name]))

    try:
        env = environment(
            workdir,
            "DCIMANAGER_",
            {"DCIMANAGER_URL": sim.url, "DCIMANAGER_USERNAME": sim.admin_user, "DCIMANAGER_PASSWORD": sim.admin_password, "DCIMANAGER_CA_PATH": sim.ca_path},
        )
        source = ("bench.dcimanager.yml", {"plugin": "ispsystem.dcimanager.dcimanager"}, "dci_state_")
        results, hosts = run_rounds(workdir, env, sim, source, args.rounds, check_hosts, check_calls)
    finally:
        sim.stop()
        clean_up(workdir, args.keep)

    return report(
        "DCImanager inventory benchmark: %d servers -> %d hosts, %d rounds (medians), %d ms latency per API request, "
        "owner column: %s" % (servers, hosts, args.rounds, args.latency * 1000, args.owner_column),
        results,
        load_before,
        args,
    )


if __name__ == "__main__":
    sys.exit(main())
