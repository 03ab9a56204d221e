# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private helper of benchmarks/whmcs_inventory.py and benchmarks/dci_inventory.py, not a benchmark itself.

An inventory plugin's cold and cached ``ansible-inventory --list`` runs beside a static YAML inventory of
the same hosts, interleaved round by round, measured with ``os.wait4``, checked, and shown as a table.
(It lives in a folder of its own: every ``benchmarks/*.py`` is a benchmark that README.md shows.)
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from harness import unwrap  # noqa: E402 pylint: disable=wrong-import-position

RUNS = ("static", "cold", "cached")
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


def environment(workdir, own_prefix, connection):
    """The runs' environment: no ANSIBLE_* or ``own_prefix`` variable of the caller's, the ``connection`` ones."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", own_prefix))}
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": collections_path(workdir),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
            "ANSIBLE_NOCOLOR": "1",
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        }
    )
    env.update(connection)
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


def write_static(listing, path, vars_group_prefix):
    """The plugin's hosts, variables and groups as a static YAML inventory, laid out as a person would:
    each host with its variables under its ``vars_group_prefix`` group (status, state), the other groups
    listing host names."""
    hostvars = unwrap(listing["_meta"]["hostvars"])
    children = {}
    for group, body in listing.items():
        if group in ("_meta", "all", "ungrouped") or "hosts" not in body:
            continue
        if group.startswith(vars_group_prefix):
            children[group] = {"hosts": {host: hostvars[host] for host in body["hosts"]}}
        else:
            children[group] = {"hosts": {host: None for host in body["hosts"]}}
    with open(path, "w", encoding="utf-8") as handle:
        yaml.dump(
            {"all": {"children": children}},
            handle,
            Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
            default_flow_style=False,
            sort_keys=False,
            allow_unicode=True,
        )
    return len(hostvars)


def run_rounds(workdir, env, sim, source, rounds, check_hosts, check_calls):
    """Warm up, then ``rounds`` rounds of the three runs; ({run: [figures]}, hosts listed).

    ``source`` is (file name, the plugin's options, the prefix of the groups whose hosts the static file
    gives their variables under); a jsonfile cache is added to the options. ``check_hosts(hosts)`` after the
    warm-up and ``check_calls(run)`` after each run (over ``sim.calls``) raise SystemExit where the figures
    would not be worth having.
    """
    name, options, vars_group_prefix = source
    path = workdir / name
    path.write_text(
        yaml.safe_dump(dict(options, cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=str(workdir / "cache"), cache_timeout=86400))
    )
    inventory = str(Path(sys.executable).parent / "ansible-inventory")
    # The static file gets its best case: only the yaml plugin is enabled (by default the auto
    # plugin parses the whole file first, looking for a plugin name).
    static_env = dict(env, ANSIBLE_INVENTORY_ENABLED="ansible.builtin.yaml")
    envs = {"static": static_env, "cold": env, "cached": env}
    commands = {
        "static": [inventory, "-i", str(workdir / "static.yml"), "--list"],
        "cold": [inventory, "-i", str(path), "--list", "--flush-cache"],
        "cached": [inventory, "-i", str(path), "--list"],
    }

    # Warm-up (not measured): fills the OS page cache and gives the static file its content.
    measure(commands["cold"], env, workdir, workdir / "warmup.json")
    listing = json.loads((workdir / "warmup.json").read_text())
    hosts = write_static(listing, workdir / "static.yml", vars_group_prefix)
    check_hosts(hosts)

    results = {run: [] for run in RUNS}
    for dummy in range(rounds):
        for run in RUNS:
            sim.clear_calls()
            output = workdir / ("%s.json" % run)
            results[run].append(measure(commands[run], envs[run], workdir, output))
            check_calls(run)
        cold = unwrap(json.loads((workdir / "cold.json").read_text()))
        cached = unwrap(json.loads((workdir / "cached.json").read_text()))
        static = json.loads((workdir / "static.json").read_text())
        if cold != cached or cold["_meta"]["hostvars"] != static["_meta"]["hostvars"]:
            raise SystemExit("cold, cached and static listings differ")
    return results, hosts


def clean_up(workdir, keep):
    if keep:
        print("work directory kept: %s" % workdir)
    else:
        shutil.rmtree(str(workdir), ignore_errors=True)


def report(headline, results, load_before, args):
    """Print ``headline``, the machine and the table of medians; write ``args.json``; the exit status (1: a target missed)."""
    summary = {run: {key: statistics.median(figures[key] for figures in runs) for key in ("wall", "cpu", "rss_mib")} for run, runs in results.items()}
    base = summary["static"]["wall"]
    print(headline)
    print(
        "python %s, ansible-core %s, %s, %d CPUs, load average before: %.2f, after: %.2f"
        % (platform.python_version(), _ansible_version(), platform.machine(), os.cpu_count() or 0, load_before, os.getloadavg()[0])
    )
    print()
    print("| run | wall s (median) | wall s (min) | CPU s | peak RSS MiB | vs static (wall) | target |")
    print("|---|---|---|---|---|---|---|")
    verdicts = []
    for run in RUNS:
        row = summary[run]
        ratio = row["wall"] / base
        target = TARGETS.get(run)
        verdict = "" if target is None else ("<= %.1fx %s" % (target, "met" if ratio <= target else "MISSED"))
        if target is not None:
            verdicts.append(ratio <= target)
        print(
            "| %s | %.2f | %.2f | %.2f | %.0f | %.2fx | %s |"
            % (run, row["wall"], min(r["wall"] for r in results[run]), row["cpu"], row["rss_mib"], ratio, verdict)
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "runs": results, "summary": summary}, indent=2))
    return 0 if all(verdicts) else 1


def _ansible_version():
    from ansible.release import __version__  # pylint: disable=import-outside-toplevel

    return __version__
