# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Many controllers, one panel: 12 allocations for 10 free servers, no server given twice (issue 16).

Each round starts 12 real ``ansible-playbook`` processes at the same moment, sharing nothing (each
its own DCIMANAGER_LOCK_DIR, TMPDIR and ansible temporary directories, as 12 AWX pods), against one
simulator about 40 ms away (+- 20 ms of jitter). Each runs dci_user, dci_server_allocate (its own
hostname, the timed claim's options of ``race.CLAIM_OPTIONS``) and dci_os_install (``wait: false``,
with its owner and hostname). The round, the variants and what is judged (from the simulator's true
state, its record of installs and every run's task results) are in ``benchmarks/_lib/race.py``,
shared with ``benchmarks/allocation_race.py``, which repeats them for many rounds.

Variants, one round each (three rounds keep the file near a minute on 2 cores; the benchmark runs
each of them, and the plain race without the lag, for many rounds):

* ``lagging_list``: the server list shows each row as it was 1 s earlier, and still: exactly 10
  succeed, the other 2 fail saying that no free server was left, no server is reported to two
  allocations, no hostname is on two servers, nothing is left claimed (a hostname without an
  owner), no install starts on a server whose hostname or owner is not the installer's, and every
  server of the package ends free or with exactly one successful allocation's hostname and owner;
* ``lost_answers``: 5 % of all requests lose their answer after the panel handled them, and the
  first claim is answered with a dropped connection and lands 1.2 s later: the same, except that
  each lost claim answer may cost the allocation that sent it (it gives the server up; fewer
  than 10 may then succeed, by at most that many);
* ``paused``: the process of the first free read is stopped (SIGSTOP) between that read and its
  claim until another allocation owns the server it read, then let go (SIGCONT): whatever it
  does then, no double allocation and no install on a mismatch (that allocation may fail).

They fail against a collection without the timed claim: its allocations do not take
``claim_bound`` / ``claim_settle`` (and with the options removed from ``race.CLAIM_OPTIONS`` the
rounds show what issue 16 describes: a server reported to two allocations).
"""

from __future__ import annotations

import sys

import pytest

from harness import REPO

sys.path.insert(0, str(REPO / "benchmarks" / "_lib"))

import race  # noqa: E402  pylint: disable=wrong-import-position

# One round of each (the benchmark runs many): see race.VARIANTS.
VARIANTS = ("lagging_list", "lost_answers", "paused")


def describe(contest, problems, figures):
    lines = ["%d problem(s): %s" % (len(problems), figures)]
    lines += ["  " + problem for problem in problems]
    for contender in contest.contenders:
        failure = contender.failure
        why = " (%s: %s)" % (failure[0], failure[1][:200]) if failure else ""
        lines.append("  %s: %s, server %s%s" % (contender.hostname, "ok" if contender.succeeded else "failed", contender.allocated, why))
    return "\n".join(lines)


@pytest.mark.parametrize("variant", VARIANTS)
def test_twelve_controllers_ten_free_servers(tmp_path, variant):
    contest = race.Round(tmp_path, round_id=variant[:2], contenders=12, free=10, timeout=240, **race.variant(variant)).run()
    problems, figures = contest.judge()
    assert problems == [], describe(contest, problems, figures)
    # The round raced: more allocations than free servers, all started, each ran its own controller.
    assert figures["succeeded"] + figures["failed"] == 12 and figures["failed"] >= 2
    assert all(contender.records for contender in contest.contenders), describe(contest, problems, figures)
    # Every successful allocation reports the timed claim it made.
    for contender in contest.contenders:
        if contender.succeeded:
            claim = contender.claim
            assert isinstance(claim, dict) and claim.get("server_id") == contender.allocated, claim
            assert claim["settle"] >= race.CLAIM_OPTIONS.get("claim_settle", 0), claim
    if variant == "lost_answers":
        assert figures["lost_claim_answers"] >= 1
        delayed = [c for c in contest.calls if c.get("apply_at") is not None]
        assert delayed and all(c["applied_at"] is not None for c in delayed)  # the lost claim did land
    if variant == "paused":
        paused = figures["paused"]
        assert paused and paused["pid"], paused  # the test did stop a contender between its read and its claim
