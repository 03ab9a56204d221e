# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark: the WHMCS inventory plugin on 10,000 services beside a static YAML inventory of the same hosts.

In one run, interleaved round by round so that load from elsewhere hits all three alike:

* static - ``ansible-inventory -i static.yml --list``: the same hosts, variables and groups as a YAML file,
           with only the ``yaml`` inventory plugin enabled (its best case);
* cold   - ``ansible-inventory -i bench.whmcs.yml --list --flush-cache`` against the WHMCS simulator
           with ``--latency`` (default 20 ms) added to every API request; it fetches and stores the cache;
* cached - the same without ``--flush-cache``: answered from the jsonfile cache, no API call.

Each run's wall time, CPU time (user + sys) and peak RSS come from ``os.wait4`` on that child alone.
The cold and cached outputs are checked against each other and against the simulator's call log.

    .venv/bin/python benchmarks/whmcs_inventory.py [--services 10000] [--rounds 3] [--latency 0.02]
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

from simulators.whmcs import WHMCSSimulator, make_state  # noqa: E402 pylint: disable=wrong-import-position


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every API request (default 0.02)")
    parser.add_argument("--page-size", type=int, default=250)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (inventories, outputs, cache)")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="whmcs-bench-"))
    state = make_state(args.services, statuses=["Active", "Pending", "Suspended"], seed=2024)
    sim = WHMCSSimulator(state=state, latency=args.latency, tls_dir=str(workdir / "tls")).start()
    expected = sum(1 for s in state["services"] if s["status"] in ("Pending", "Active", "Suspended"))

    def check_hosts(hosts):
        if hosts != expected:
            raise SystemExit("the plugin listed %d hosts, the state has %d" % (hosts, expected))

    def check_calls(name):
        calls = len(sim.calls)
        wanted = {"static": 0, "cold": -(-args.services // args.page_size), "cached": 0}[name]
        if calls != wanted:
            raise SystemExit("%s made %d API calls, expected %d" % (name, calls, wanted))

    try:
        env = environment(
            workdir, "WHMCS_", {"WHMCS_URL": sim.url, "WHMCS_API_IDENTIFIER": sim.identifier, "WHMCS_API_SECRET": sim.secret, "WHMCS_CA_PATH": sim.ca_path}
        )
        source = ("bench.whmcs.yml", {"plugin": "ispsystem.dcimanager.whmcs", "page_size": args.page_size, "concurrency": args.concurrency}, "whmcs_status_")
        results, hosts = run_rounds(workdir, env, sim, source, args.rounds, check_hosts, check_calls)
    finally:
        sim.close()
        clean_up(workdir, args.keep)

    return report(
        "WHMCS inventory benchmark: %d services -> %d hosts, %d rounds (medians), %d ms latency per API request, "
        "page_size %d, concurrency %d" % (args.services, hosts, args.rounds, args.latency * 1000, args.page_size, args.concurrency),
        results,
        load_before,
        args,
    )


if __name__ == "__main__":
    sys.exit(main())
