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
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "benchmarks"))

from harness import unwrap  # noqa: E402 pylint: disable=wrong-import-position
from simulators.dcimanager import DCImanagerSimulator  # noqa: E402 pylint: disable=wrong-import-position
from simulators.fleet import make_consistent_shop  # noqa: E402 pylint: disable=wrong-import-position
from whmcs_inventory import _ansible_version, collections_path, measure  # noqa: E402 pylint: disable=wrong-import-position

TARGETS = {"cold": 2.0, "cached": 1.2}


def environment(workdir, sim):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "DCIMANAGER_"))}
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": collections_path(workdir),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        "DCIMANAGER_URL": sim.url,
        "DCIMANAGER_USERNAME": sim.admin_user,
        "DCIMANAGER_PASSWORD": sim.admin_password,
        "DCIMANAGER_CA_PATH": sim.ca_path,
    })
    return env


def write_static(listing, path):
    """The plugin's hosts, variables and groups as a static YAML inventory, laid out as a person would:
    each host with its variables under its state group, the package and rack groups listing host names."""
    hostvars = unwrap(listing["_meta"]["hostvars"])
    children = {}
    for group, body in listing.items():
        if group in ("_meta", "all", "ungrouped") or "hosts" not in body:
            continue
        if group.startswith("dci_state_"):
            children[group] = {"hosts": {host: hostvars[host] for host in body["hosts"]}}
        else:
            children[group] = {"hosts": {host: None for host in body["hosts"]}}
    with open(path, "w", encoding="utf-8") as handle:
        yaml.dump({"all": {"children": children}}, handle, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                  default_flow_style=False, sort_keys=False, allow_unicode=True)
    return len(hostvars)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--servers", type=int, default=10000, help="customers' servers (a few spare free ones are added)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every API request (default 0.02)")
    parser.add_argument("--owner-column", choices=("login", "id"), default="login",
                        help="what the panel's owner cells hold; with id the plugin also reads the user list")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (inventories, outputs, cache)")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="dci-inventory-bench-"))
    state, dummy_whmcs, dummy_products = make_consistent_shop(args.servers, extra_ips=False)
    servers = len(state["servers"])
    sim = DCImanagerSimulator(state=state, latency=args.latency, tls_dir=str(workdir / "tls"),
                              owner_column=args.owner_column).start()
    try:
        env = environment(workdir, sim)
        source = workdir / "bench.dcimanager.yml"
        source.write_text(yaml.safe_dump({
            "plugin": "ispsystem.dcimanager.dcimanager", "cache": True, "cache_plugin": "ansible.builtin.jsonfile",
            "cache_connection": str(workdir / "cache"), "cache_timeout": 86400}))
        inventory = str(Path(sys.executable).parent / "ansible-inventory")
        # The static file gets its best case: only the yaml plugin is enabled (by default the auto
        # plugin parses the whole file first, looking for a plugin name).
        static_env = dict(env, ANSIBLE_INVENTORY_ENABLED="ansible.builtin.yaml")
        envs = {"static": static_env, "cold": env, "cached": env}
        commands = {
            "static": [inventory, "-i", str(workdir / "static.yml"), "--list"],
            "cold": [inventory, "-i", str(source), "--list", "--flush-cache"],
            "cached": [inventory, "-i", str(source), "--list"],
        }
        wanted = {"static": [], "cold": ["auth", "server"] + (["user"] if args.owner_column == "id" else []), "cached": []}

        # Warm-up (not measured): fills the OS page cache and gives the static file its content.
        measure(commands["cold"], env, workdir, workdir / "warmup.json")
        listing = json.loads((workdir / "warmup.json").read_text())
        hosts = write_static(listing, workdir / "static.yml")
        if hosts != servers:
            raise SystemExit("the plugin listed %d hosts, the panel has %d servers" % (hosts, servers))

        results = {name: [] for name in commands}
        for dummy in range(args.rounds):
            for name in ("static", "cold", "cached"):
                sim.clear_calls()
                output = workdir / ("%s.json" % name)
                results[name].append(measure(commands[name], envs[name], workdir, output))
                calls = [call["name"] for call in sim.calls]
                if calls != wanted[name]:
                    raise SystemExit("%s made the API calls %s, expected %s" % (name, calls, wanted[name]))
            cold = unwrap(json.loads((workdir / "cold.json").read_text()))
            cached = unwrap(json.loads((workdir / "cached.json").read_text()))
            static = json.loads((workdir / "static.json").read_text())
            if cold != cached or cold["_meta"]["hostvars"] != static["_meta"]["hostvars"]:
                raise SystemExit("cold, cached and static listings differ")
    finally:
        sim.stop()
        if args.keep:
            print("work directory kept: %s" % workdir)
        else:
            shutil.rmtree(str(workdir), ignore_errors=True)

    summary = {name: {key: statistics.median(run[key] for run in runs) for key in ("wall", "cpu", "rss_mib")}
               for name, runs in results.items()}
    base = summary["static"]["wall"]
    print("DCImanager inventory benchmark: %d servers -> %d hosts, %d rounds (medians), %d ms latency per API request, "
          "owner column: %s" % (servers, hosts, args.rounds, args.latency * 1000, args.owner_column))
    print("python %s, ansible-core %s, %s, %d CPUs, load average before: %.2f, after: %.2f"
          % (platform.python_version(), _ansible_version(), platform.machine(), os.cpu_count() or 0, load_before,
             os.getloadavg()[0]))
    print()
    print("| run | wall s (median) | wall s (min) | CPU s | peak RSS MiB | vs static (wall) | target |")
    print("|---|---|---|---|---|---|---|")
    verdicts = []
    for name in ("static", "cold", "cached"):
        row = summary[name]
        ratio = row["wall"] / base
        target = TARGETS.get(name)
        verdict = "" if target is None else ("<= %.1fx %s" % (target, "met" if ratio <= target else "MISSED"))
        if target is not None:
            verdicts.append(ratio <= target)
        print("| %s | %.2f | %.2f | %.2f | %.0f | %.2fx | %s |" % (
            name, row["wall"], min(r["wall"] for r in results[name]), row["cpu"], row["rss_mib"], ratio, verdict))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "runs": results, "summary": summary}, indent=2))
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
