#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark: the allocation race, many rounds: no server given twice across controllers (issue 16).

Each round starts ``--contenders`` allocations of ``--free`` free servers of one package at the same
moment against one DCImanager simulator (``--latency`` 40 ms +- ``--jitter`` 20 ms a request): each
runs dci_user, dci_server_allocate (its own hostname, the timed claim) and dci_os_install
(``wait: false``, with its owner). Modes (``--modes``, ``--rounds`` rounds each):

* ``plain``: one ``ansible-playbook`` per allocation, sharing nothing (own DCIMANAGER_LOCK_DIR and
  TMPDIR, as AWX pods);
* ``forks``: one ansible-playbook for all of them, ``-f`` one fork each, one lock directory (one controller);
* ``lagging_list``, ``lost_answers``, ``paused``: ``plain`` with the server list 1 s behind, with
  5 % of the answers lost after handling and the first claim landing after its answer was lost,
  with one contender stopped between its free read and its claim (see benchmarks/_lib/race.py);
  ``all_at_once``: all three in one round (the round of tests/integration/test_allocation_race.py).

Per mode it prints: allocations, successes, double allocations (a server reported by two
allocations; goal 0), hostnames on two servers, leftover claims (a hostname without an owner;
goal 0), installs started on a server that was not the installer's (goal 0), untrusted claims, the
settle wait, the added time per allocation (from the simulator's call log: from the arrival of the
claim that held to the arrival of the owner's save on that server, i.e. the settle wait and the
verifying reads: median and maximum), the read-to-answer spans (from each allocation's ``claim``
result), and the wall time of a round. Every broken invariant is printed with its round. No new
round starts after ``--max-seconds`` (the default, 3 hours, lets the default 50 rounds of ``plain``
and ``forks`` finish on two busy cores: about a minute a round); exit status 1 when an invariant broke.

    .venv/bin/python benchmarks/allocation_race.py [--rounds 50] [--modes plain,forks] [--contenders 12] [--free 10] [--max-seconds 10800]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_lib"))

import race  # noqa: E402  pylint: disable=wrong-import-position

MODES = ("plain", "forks", "lagging_list", "lost_answers", "paused", "all_at_once")
SUMS = ("contenders", "succeeded", "double_allocations", "hostnames_on_two_servers", "leftover_claims", "installs_on_mismatch", "untrusted", "damaged")


def median(values):
    return statistics.median(values) if values else float("nan")


def run_mode(mode, rounds, args, deadline):
    """Figures summed over the rounds of one mode, and the problems seen (prefixed with the round)."""
    total = {key: 0 for key in SUMS}
    settle, spans, added, walls, problems = [], [], [], [], []
    done = 0
    for number in range(rounds):
        if time.monotonic() >= deadline:
            break
        keywords = race.variant(mode, number)
        with tempfile.TemporaryDirectory(prefix="allocation-race-") as tmp:
            contest = race.Round(
                Path(tmp),
                round_id="%s%d" % (mode[:2], number),
                contenders=args.contenders,
                free=args.free,
                latency=args.latency,
                jitter=args.jitter,
                claim={} if args.module_defaults else {"claim_bound": args.claim_bound, "claim_settle": args.claim_settle},
                install_owner=not args.module_defaults,
                timeout=args.round_timeout,
                **keywords,
            ).run()
            found, figures = contest.judge()
        done += 1
        for key in SUMS:
            total[key] += figures[key]
        settle += figures["settle"]
        spans += figures["read_to_answer"]
        added += figures["added"]
        walls.append(figures["seconds"])
        problems += ["%s round %d: %s" % (mode, number + 1, problem) for problem in found]
        for problem in found:
            print("  %s round %d: %s" % (mode, number + 1, problem), flush=True)
        print(
            "%s round %d: %d of %d succeeded, %d double, %d left claimed, added %s s, %.0f s"
            % (
                mode,
                number + 1,
                figures["succeeded"],
                figures["contenders"],
                figures["double_allocations"],
                figures["leftover_claims"],
                "%.2f" % median(figures["added"]) if figures["added"] else "-",
                figures["seconds"],
            ),
            flush=True,
        )
    return {"mode": mode, "rounds": done, "settle": settle, "spans": spans, "added": added, "walls": walls, "problems": problems, **total}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=50, help="rounds per mode (default 50: 600 contended allocations with 12 contenders)")
    parser.add_argument("--modes", default="plain,forks", help="comma-separated, of: %s" % ", ".join(MODES))
    parser.add_argument("--contenders", type=int, default=12, help="allocations started at once in a round")
    parser.add_argument("--free", type=int, default=10, help="free servers of the package in a round")
    parser.add_argument("--latency", type=float, default=race.LATENCY, help="seconds a request takes on average")
    parser.add_argument("--jitter", type=float, default=race.JITTER, help="+- seconds around --latency")
    parser.add_argument("--claim-bound", type=float, default=race.CLAIM_OPTIONS.get("claim_bound", 2.0), help="dci_server_allocate's claim_bound")
    parser.add_argument("--claim-settle", type=float, default=race.CLAIM_OPTIONS.get("claim_settle", 4.0), help="dci_server_allocate's claim_settle")
    parser.add_argument(
        "--module-defaults",
        action="store_true",
        help="pass no claim_bound / claim_settle and no owner to the install (on a collection without the timed claim: its old allocation)",
    )
    parser.add_argument("--round-timeout", type=float, default=300, help="seconds a round's playbooks may take")
    parser.add_argument("--max-seconds", type=float, default=10800, help="no new round starts after this many seconds")
    args = parser.parse_args()
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error("unknown modes %s; known: %s" % (", ".join(unknown), ", ".join(MODES)))

    deadline = time.monotonic() + args.max_seconds
    results = [run_mode(mode, args.rounds, args, deadline) for mode in modes]
    print()
    claim = "the modules' defaults" if args.module_defaults else "claim_bound %g s, claim_settle %g s" % (args.claim_bound, args.claim_settle)
    print(
        "Allocation race: %d allocations a round for %d free servers, panel %.0f +- %.0f ms, %s; Python %s, %d cores"
        % (args.contenders, args.free, args.latency * 1000, args.jitter * 1000, claim, platform.python_version(), _cores())
    )
    print()
    print(
        "| mode | rounds | allocations | succeeded | double allocations | hostnames on two servers | leftover claims | installs on a mismatch "
        "| untrusted claims | settle wait (s) | added time per allocation, claim to owner, median / max (s) | read to claim answer, median / max (s) "
        "| round wall time, median (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for res in results:
        print(
            "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s | %.0f |"
            % (
                res["mode"],
                res["rounds"],
                res["contenders"],
                res["succeeded"],
                res["double_allocations"],
                res["hostnames_on_two_servers"],
                res["leftover_claims"],
                res["installs_on_mismatch"],
                res["untrusted"],
                "%g" % median(res["settle"]) if res["settle"] else "-",
                "%.2f / %.2f" % (median(res["added"]), max(res["added"])) if res["added"] else "-",
                "%.3f / %.3f" % (median(res["spans"]), max(res["spans"])) if res["spans"] else "-",
                median(res["walls"]),
            )
        )
    skipped = [res["mode"] for res in results if res["rounds"] < args.rounds]
    if skipped:
        print("fewer rounds than asked (time budget of %ds spent): %s" % (args.max_seconds, ", ".join(skipped)))
    problems = [problem for res in results for problem in res["problems"]]
    if problems:
        print("%d broken invariant(s); the first: %s" % (len(problems), problems[0]))
    return 1 if problems else 0


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
