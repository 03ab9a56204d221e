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
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

from harness import unwrap  # noqa: E402 pylint: disable=wrong-import-position
from simulators.whmcs import WHMCSSimulator, make_state  # noqa: E402 pylint: disable=wrong-import-position

TARGETS = {"cold": 2.0, "cached": 1.2}


def collections_path(workdir):
    """A collections path in which ispsystem.dcimanager is this checkout."""
    linked = REPO / ".venv" / "collections"
    if (linked / "ansible_collections" / "ispsystem" / "dcimanager").exists():
        return str(linked)
    root = Path(workdir) / "collections"
    (root / "ansible_collections" / "ispsystem").mkdir(parents=True, exist_ok=True)
    link = root / "ansible_collections" / "ispsystem" / "dcimanager"
    if not link.exists():
        link.symlink_to(REPO)
    return str(root)


def environment(workdir, sim):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "WHMCS_"))}
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": collections_path(workdir),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        "WHMCS_URL": sim.url,
        "WHMCS_API_IDENTIFIER": sim.identifier,
        "WHMCS_API_SECRET": sim.secret,
        "WHMCS_CA_PATH": sim.ca_path,
    })
    return env


def measure(command, env, cwd, output):
    """Run ``command`` with stdout to ``output``; wall seconds, CPU seconds and peak RSS (MiB) of that child."""
    started = time.monotonic()
    with open(output, "wb") as out, open(str(output) + ".err", "wb") as err:
        proc = subprocess.Popen(command, env=env, cwd=str(cwd), stdout=out, stderr=err)  # pylint: disable=consider-using-with
        dummy, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit("%s failed (%d):\n%s" % (" ".join(command), proc.returncode, Path(str(output) + ".err").read_text()[-3000:]))
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024.0}


def write_static(listing, path):
    """The plugin's hosts, variables and groups as a static YAML inventory, laid out as a person would:
    each host with its variables under its status group, the product groups listing host names."""
    hostvars = unwrap(listing["_meta"]["hostvars"])
    children = {}
    for group, body in listing.items():
        if group in ("_meta", "all", "ungrouped") or "hosts" not in body:
            continue
        if group.startswith("whmcs_status_"):
            children[group] = {"hosts": {host: hostvars[host] for host in body["hosts"]}}
        else:
            children[group] = {"hosts": {host: None for host in body["hosts"]}}
    with open(path, "w", encoding="utf-8") as handle:
        yaml.dump({"all": {"children": children}}, handle, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                  default_flow_style=False, sort_keys=False, allow_unicode=True)
    return len(hostvars)


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
    try:
        env = environment(workdir, sim)
        source = workdir / "bench.whmcs.yml"
        source.write_text(yaml.safe_dump({
            "plugin": "ispsystem.dcimanager.whmcs", "page_size": args.page_size, "concurrency": args.concurrency,
            "cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(workdir / "cache"),
            "cache_timeout": 86400}))
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

        # Warm-up (not measured): fills the OS page cache and gives the static file its content.
        measure(commands["cold"], env, workdir, workdir / "warmup.json")
        listing = json.loads((workdir / "warmup.json").read_text())
        hosts = write_static(listing, workdir / "static.yml")
        expected = sum(1 for s in state["services"] if s["status"] in ("Pending", "Active", "Suspended"))
        if hosts != expected:
            raise SystemExit("the plugin listed %d hosts, the state has %d" % (hosts, expected))

        results = {name: [] for name in commands}
        for dummy in range(args.rounds):
            for name in ("static", "cold", "cached"):
                sim.clear_calls()
                output = workdir / ("%s.json" % name)
                results[name].append(measure(commands[name], envs[name], workdir, output))
                calls = len(sim.calls)
                wanted = {"static": 0, "cold": -(-args.services // args.page_size), "cached": 0}[name]
                if calls != wanted:
                    raise SystemExit("%s made %d API calls, expected %d" % (name, calls, wanted))
            cold = unwrap(json.loads((workdir / "cold.json").read_text()))
            cached = unwrap(json.loads((workdir / "cached.json").read_text()))
            static = json.loads((workdir / "static.json").read_text())
            if cold != cached or cold["_meta"]["hostvars"] != static["_meta"]["hostvars"]:
                raise SystemExit("cold, cached and static listings differ")
    finally:
        sim.close()
        if args.keep:
            print("work directory kept: %s" % workdir)
        else:
            shutil.rmtree(str(workdir), ignore_errors=True)

    summary = {name: {key: statistics.median(run[key] for run in runs) for key in ("wall", "cpu", "rss_mib")}
               for name, runs in results.items()}
    base = summary["static"]["wall"]
    print("WHMCS inventory benchmark: %d services -> %d hosts, %d rounds (medians), %d ms latency per API request, "
          "page_size %d, concurrency %d" % (args.services, hosts, args.rounds, args.latency * 1000, args.page_size,
                                            args.concurrency))
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


def _ansible_version():
    from ansible.release import __version__  # pylint: disable=import-outside-toplevel
    return __version__


if __name__ == "__main__":
    sys.exit(main())
