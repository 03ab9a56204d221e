#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark: Event-Driven Ansible, from a WHMCS module event to the provision playbook starting.

Starts the WHMCS and DCImanager simulators and the real ansible-rulebook with the collection's
rulebook (extensions/eda/rulebooks/dedicated_servers.yml), then measures:

* push: WHMCS's module Create, then the PHP hook (run by php-cli, as WHMCS would) posts to the
  event source; seconds from the module action to the first play of ``provision`` starting;
* poll: the same with the event source reading WHMCS every ``--interval`` seconds;
* a restart in a burst: ``--burst`` Create events at once (poll mode), ansible-rulebook stopped
  with SIGTERM once some runs have ended, and started again; every event must end up with exactly
  one finished run (a run the stop cut short is run again) and one server.

Each latency sample waits for the previous run to end, so it is the latency of an idle
ansible-rulebook. Everything is bounded by ``--timeout``. Prints Markdown tables.

Run from the checkout with the dev virtualenv: ``.venv/bin/python benchmarks/eda_latency.py``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

from eda_harness import EDA_SECRET, RulebookRun, Shop, java_available, rulebook_binary  # noqa: E402  pylint: disable=wrong-import-position


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        left = self.end - time.monotonic()
        if left <= 0:
            raise SystemExit("eda_latency: out of time (--timeout)")
        return left


def first_start(rulebook, service_id):
    starts = [r for r in rulebook.runs() if r["what"] == "start" and r["service_id"] == service_id]
    return starts[0]["time"] if starts else None


def sample_latencies(shop, rulebook, samples, deadline, trigger):
    """Start ``rulebook``; for each sample service, ``trigger(service_id)`` (which gives the event's time) and
    the seconds from then to its run's start, once that run has ended. Stops the rulebook and the shop."""
    latencies = []
    try:
        rulebook.start(timeout=deadline.left())
        for index in range(samples):
            service_id = 100 + index
            event_time = trigger(service_id)
            rulebook.wait_for(lambda s=service_id: rulebook.ended(s), min(300, deadline.left()), "run of %d" % service_id)
            latencies.append(first_start(rulebook, service_id) - event_time)
    finally:
        rulebook.kill()
        shop.close()
    return latencies


def measure_push(workdir, samples, deadline):
    from test_whmcs_hook import run_hook, service_vars  # pylint: disable=import-outside-toplevel

    shop = Shop(workdir, samples)
    rulebook = RulebookRun(workdir / "push", shop.env, shop.products, "push")

    def trigger(service_id):
        hook_dir = workdir / ("hook-%d" % service_id)
        hook_dir.mkdir()
        shop.whmcs.module_event(service_id, "create")
        event_time = time.time()
        # WHMCS runs the hook right after the module action; php-cli's start-up is part of the figure.
        hook = run_hook(
            hook_dir,
            [("AfterModuleCreate", service_vars(service_id=service_id, pid=1, client_id=1))],
            config={"eda_url": rulebook.url, "eda_secret": EDA_SECRET, "allow_http": True, "product_ids": [1]},
        )
        if "posted" not in hook.messages[0]:
            raise SystemExit("the hook did not post: %s" % hook.messages)
        return event_time

    return sample_latencies(shop, rulebook, samples, deadline, trigger)


def measure_poll(workdir, samples, interval, deadline):
    shop = Shop(workdir, samples)
    rulebook = RulebookRun(workdir / "poll", shop.env, shop.products, "poll", interval=interval)
    rng = random.Random(7)

    def trigger(service_id):
        time.sleep(rng.uniform(0, interval))  # a random moment of the poll cycle
        shop.whmcs.module_event(service_id, "create")
        return time.time()

    return sample_latencies(shop, rulebook, samples, deadline, trigger)


def measure_restart(workdir, burst, interval, stop_after, deadline):
    shop = Shop(workdir, burst)
    services = list(range(100, 100 + burst))
    rulebook = RulebookRun(workdir / "restart", shop.env, shop.products, "poll", interval=interval)
    try:
        rulebook.start(timeout=deadline.left())
        started = time.monotonic()
        for service_id in services:
            shop.whmcs.module_event(service_id, "create")
        rulebook.wait_for(lambda: len(rulebook.ended()) >= stop_after, deadline.left(), "%d runs to end" % stop_after)
        stop_began = time.monotonic()
        rulebook.stop()
        stopped_in = time.monotonic() - stop_began
        ended_before = {r["service_id"] for r in rulebook.ended()}
        started_before = {r["service_id"] for r in rulebook.runs() if r["what"] == "start"}
        pending_at_stop = len(rulebook.state()["pending"])
        rulebook.start(timeout=deadline.left())
        rulebook.wait_for(
            lambda: {r["service_id"] for r in rulebook.ended()} >= set(services), deadline.left(), "every service of the burst to have a finished run"
        )
        rulebook.wait_for(lambda: rulebook.state()["pending"] == [], min(60, deadline.left()), "every event acknowledged")
        total = time.monotonic() - started
        time.sleep(3)  # anything that would start late
        runs = rulebook.runs()
    finally:
        rulebook.kill()
        shop.close()
    ends = {s: len([r for r in runs if r["what"] == "end" and r["service_id"] == s]) for s in services}
    starts = {s: len([r for r in runs if r["what"] == "start" and r["service_id"] == s]) for s in services}
    servers = {s: len(shop.servers_named("burst%d.example.net" % s)) for s in services}
    return {
        "events": burst,
        "runs ended before the stop": len(ended_before),
        "runs cut short by the stop (started, never ended)": len(started_before - ended_before),
        "events not yet acknowledged at the stop": pending_at_stop,
        "ansible-rulebook stop took (s)": round(stopped_in, 1),
        "services with exactly one finished run": sum(1 for s in services if ends[s] == 1),
        "services with two finished runs": sum(1 for s in services if ends[s] > 1),
        "services with no finished run (lost)": sum(1 for s in services if ends[s] == 0),
        "runs started again after the restart": sum(starts.values()) - burst,
        "failed runs": sum(1 for r in runs if r["what"] == "end" and r["failed"]),
        "services with exactly one server": sum(1 for s in services if servers[s] == 1),
        "burst done in (s, restart included)": round(total, 1),
    }


def summary(latencies):
    return "%.2f" % statistics.median(latencies), "%.2f" % min(latencies), "%.2f" % max(latencies)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--samples", type=int, default=5, help="latency samples per mode")
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval in seconds")
    parser.add_argument("--burst", type=int, default=20, help="events in the restart burst")
    parser.add_argument("--stop-after", type=int, default=5, help="stop ansible-rulebook once this many runs of the burst ended")
    parser.add_argument("--timeout", type=float, default=1200, help="the whole benchmark's time limit in seconds")
    args = parser.parse_args(argv)
    if rulebook_binary() is None or not java_available():
        raise SystemExit("eda_latency: needs ansible-rulebook and Java 17 (run scripts/setup.sh)")
    deadline = Deadline(args.timeout)
    with tempfile.TemporaryDirectory(prefix="eda-bench-") as tmp:
        workdir = Path(tmp)
        push = measure_push(workdir / "push", args.samples, deadline)
        poll = measure_poll(workdir / "poll", args.samples, args.interval, deadline)
        restart = measure_restart(workdir / "restart", args.burst, args.interval, args.stop_after, deadline)

    print("| mode | samples | median s | min s | max s | goal |")
    print("|---|---|---|---|---|---|")
    print("| push (hook -> source) | %d | %s | %s | %s | <= 2 s |" % ((len(push),) + summary(push)))
    print("| poll, interval %g s | %d | %s | %s | %s | <= %g s |" % ((args.interval, len(poll)) + summary(poll) + (args.interval,)))
    print()
    print("| restart of ansible-rulebook in a burst (poll mode) | |")
    print("|---|---|")
    for key, value in restart.items():
        print("| %s | %s |" % (key, value))
    ok = restart["services with no finished run (lost)"] == 0 and restart["services with two finished runs"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
