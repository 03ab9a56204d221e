#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark: Event-Driven Ansible, from a WHMCS module event to the converge run's first API call.

Starts the WHMCS and DCImanager simulators and the real ansible-rulebook with the collection's
rulebook (extensions/eda/rulebooks/dedicated_servers.yml), then measures:

* push: WHMCS's module Create, then the PHP hook (run by php-cli, as WHMCS would) posts to the
  event source; seconds from the module action to the first API call of the ``converge`` run
  (the first request either simulator logs after the run started), and to the run's first play;
* poll: the same with the event source reading WHMCS every ``--interval`` seconds;
* a restart in a burst: ``--burst`` Create events at once (poll mode), ansible-rulebook stopped
  with SIGTERM once some runs have ended, and started again; every service must end up with
  exactly one finished run (a run the stop cut short is run again) and one server.

Each latency sample waits for the previous run to end, so it is the latency of an idle
ansible-rulebook. Everything is bounded by ``--timeout``. Prints Markdown tables.

``--model`` runs the tests' model of converge (tests/integration/eda_model_converge.yml: reads
WHMCS, a panel of files) in place of the playbook: the EDA path alone.

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

from eda_harness import (  # noqa: E402  pylint: disable=wrong-import-position
    EDA_SECRET,
    RULEBOOK,
    RulebookRun,
    Shop,
    java_available,
    model_rulebook,
    rulebook_binary,
)


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        left = self.end - time.monotonic()
        if left <= 0:
            raise SystemExit("eda_latency: out of time (--timeout)")
        return left


def first_start(rulebook, service_id):
    starts = [r["time"] for r in rulebook.runs() if r["what"] == "start" and r["service_id"] == service_id]
    return min(starts) if starts else None


# What the poll mode's source itself asks WHMCS (besides GetClientsProducts of the event's service, before it emits).
POLLER_ACTIONS = ("GetActivityLog", "GetModuleQueue")


def first_api_call(shop, since, service_id):
    """The time of the first request of the run of ``service_id`` that started at ``since``: the first either
    simulator logged from then on, leaving out the requests of a poll that happened meanwhile."""
    times = [call["time"] for call in shop.dci.calls if call["time"] >= since]
    for call in shop.whmcs.calls:
        if call["time"] < since or call["name"] in POLLER_ACTIONS:
            continue
        if call["name"] == "GetClientsProducts" and str(call["params"].get("serviceid")) not in ("", "None", str(service_id)):
            continue
        times.append(call["time"])
    return min(times) if times else None


class Setup:
    """Which rulebook the runs use: the collection's (converge), or the model's (--model)."""

    def __init__(self, model):
        self.model = model

    def rulebook(self, shop, workdir, mode, **source_vars):
        if self.model:
            # The model panel of this measurement (a file per service) next to its ansible-rulebook's files.
            (workdir / "model").mkdir(parents=True, exist_ok=True)
            extra_env = {"EDA_MODEL_DIR": str(workdir / "model")}
            return RulebookRun(workdir, shop.env, shop.products, mode, rulebook=model_rulebook(workdir), extra_env=extra_env, **source_vars)
        return RulebookRun(workdir, shop.env, shop.products, mode, rulebook=RULEBOOK, **source_vars)

    def servers(self, shop, rulebook, service_id):
        """How many servers the (model) panel shows for a burst service."""
        if self.model:
            return int((rulebook.workdir / "model" / ("server-%d" % service_id)).exists())
        return len(shop.servers_named("burst%d.example.net" % service_id))


def sample_latencies(shop, rulebook, samples, deadline, trigger):
    """Start ``rulebook``; for each sample service, ``trigger(service_id)`` (which gives the event's time), and
    once its run has ended, (seconds to its first API call, seconds to its first play). Stops the rulebook and the shop."""
    latencies = []
    try:
        rulebook.start(timeout=deadline.left())
        for index in range(samples):
            service_id = 100 + index
            event_time = trigger(service_id)
            rulebook.wait_for(lambda s=service_id: rulebook.ended(s), min(300, deadline.left()), "run of %d" % service_id)
            started = first_start(rulebook, service_id)
            called = first_api_call(shop, started, service_id)
            if called is None:
                raise SystemExit("eda_latency: the run of service %d made no API call" % service_id)
            latencies.append((called - event_time, started - event_time))
    finally:
        rulebook.kill()
        shop.close()
    return latencies


def measure_push(workdir, setup, samples, deadline):
    from test_whmcs_hook import run_hook, service_vars  # pylint: disable=import-outside-toplevel

    shop = Shop(workdir, samples)
    rulebook = setup.rulebook(shop, workdir / "push", "push")

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


def measure_poll(workdir, setup, samples, interval, deadline):
    shop = Shop(workdir, samples)
    rulebook = setup.rulebook(shop, workdir / "poll", "poll", interval=interval)
    rng = random.Random(7)

    def trigger(service_id):
        time.sleep(rng.uniform(0, interval))  # a random moment of the poll cycle
        shop.whmcs.module_event(service_id, "create")
        return time.time()

    return sample_latencies(shop, rulebook, samples, deadline, trigger)


def measure_restart(workdir, setup, burst, interval, stop_after, deadline):
    shop = Shop(workdir, burst)
    services = list(range(100, 100 + burst))
    rulebook = setup.rulebook(shop, workdir / "restart", "poll", interval=interval)
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
        in_flight_at_stop = sum(1 for service in rulebook.state()["services"].values() if service["run"])
        rulebook.start(timeout=deadline.left())
        rulebook.wait_for(
            lambda: {r["service_id"] for r in rulebook.ended()} >= set(services), deadline.left(), "every service of the burst to have a finished run"
        )
        rulebook.wait_for(rulebook.settled, min(60, deadline.left()), "every run acknowledged")
        total = time.monotonic() - started
        time.sleep(3)  # anything that would start late
        runs = rulebook.runs()
    finally:
        rulebook.kill()
        shop.close()
    ends = {s: len([r for r in runs if r["what"] == "end" and r["service_id"] == s]) for s in services}
    starts = {s: len([r for r in runs if r["what"] == "start" and r["service_id"] == s]) for s in services}
    servers = {s: setup.servers(shop, rulebook, s) for s in services}
    return {
        "events": burst,
        "runs ended before the stop": len(ended_before),
        "runs cut short by the stop (started, never ended)": len(started_before - ended_before),
        "runs in flight (not acknowledged) at the stop": in_flight_at_stop,
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


def rows(name, latencies, goal):
    """Two table rows: to the first API call (what the goal is about) and to the first play."""
    to_call, to_play = [c for c, dummy in latencies], [p for dummy, p in latencies]
    return [
        "| %s, to the first API call | %d | %s | %s | %s | %s |" % ((name, len(to_call)) + summary(to_call) + (goal,)),
        "| %s, to the first play | %d | %s | %s | %s | |" % ((name, len(to_play)) + summary(to_play)),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--samples", type=int, default=5, help="latency samples per mode")
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval in seconds")
    parser.add_argument("--burst", type=int, default=20, help="events in the restart burst")
    parser.add_argument("--stop-after", type=int, default=5, help="stop ansible-rulebook once this many runs of the burst ended")
    parser.add_argument("--timeout", type=float, default=1200, help="the whole benchmark's time limit in seconds")
    parser.add_argument("--model", action="store_true", help="run the tests' model of converge in place of the playbook")
    args = parser.parse_args(argv)
    if rulebook_binary() is None or not java_available():
        raise SystemExit("eda_latency: needs ansible-rulebook and Java 17 (run scripts/setup.sh)")
    deadline = Deadline(args.timeout)
    with tempfile.TemporaryDirectory(prefix="eda-bench-") as tmp:
        workdir = Path(tmp)
        setup = Setup(args.model)
        push = measure_push(workdir / "push", setup, args.samples, deadline)
        poll = measure_poll(workdir / "poll", setup, args.samples, args.interval, deadline)
        restart = measure_restart(workdir / "restart", setup, args.burst, args.interval, args.stop_after, deadline)

    print("Runs: %s" % ("the tests' model of converge (--model)" if args.model else "the converge playbook"))
    print()
    print("| mode | samples | median s | min s | max s | goal |")
    print("|---|---|---|---|---|---|")
    for row in rows("push (hook -> source)", push, "<= 2 s") + rows("poll, interval %g s" % args.interval, poll, "<= %g s" % args.interval):
        print(row)
    print()
    print("| restart of ansible-rulebook in a burst (poll mode) | |")
    print("|---|---|")
    for key, value in restart.items():
        print("| %s | %s |" % (key, value))
    ok = restart["services with no finished run (lost)"] == 0 and restart["services with two finished runs"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
