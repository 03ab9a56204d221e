# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the collection's one write path.

``Writes.change`` is the only place a writing call is sent: it skips the call in check mode, and
resolves a write whose answer was lost by reading back what the write was meant to produce. It
knows nothing of AnsibleModule (the modules reach it through ``_resource.APIResource.change``), so
any caller with a client and a way to warn can use it. Not a public API: it may change in any
release without notice.
"""

from __future__ import annotations

import random
import time

from ._transport import AnswerLost, WriteNotMade

# What a read-back returns when the panel provably does not show the write's effect: the write was not
# made. (A read-back returns the answer the write would have given when it took effect, and
# CANNOT_TELL when the panel shows nothing to decide from.)
NOT_SHOWN = "not shown"
CANNOT_TELL = None

# The pause before the first repeat of a write that was provably not made is the time a copy of the lost
# request that a proxy gave up on may still take to land (the assumption the timed claim rests on:
# claim_settle - claim_bound, LATE_COPY seconds at the least): the read-back right before the repeat must
# come after it, or a write that took effect would be sent again. Each later pause doubles, up to
# MAX_PAUSE, and each is lengthened by up to half at random so that parallel runs do not repeat in step.
LATE_COPY = 2.0
MAX_PAUSE = 10.0

__all__ = ("CANNOT_TELL", "LATE_COPY", "NOT_SHOWN", "WriteNotMade", "Writes")


class Writes:
    """The writes of one task: ``changed`` says whether one was made (or, in check mode, would be).

    ``warn(text)`` reports what happened to a write whose answer was lost; ``deadline`` is how many
    seconds after its first send a write that was provably not made may still be sent again; ``late_copy``
    how long a late copy of a lost request may take to land (the task's claim_settle - claim_bound), the
    first pause before a repeat (never shorter than LATE_COPY).
    """

    def __init__(self, check_mode, warn, deadline=60.0, late_copy=LATE_COPY):
        self.check_mode = check_mode
        self.warn = warn
        self.deadline = float(deadline)
        self.first_pause = max(LATE_COPY, float(late_copy))
        self.changed = False
        self.made = 0  # changes made (in check mode: that would be made), for callers that compare before and after

    def change(self, send, read_back=None, what="the change", repeat=True, deadline=None):
        """Make a change: mark it and, unless in check mode, ``send()`` it; returns its answer (None in check mode).

        When the answer is lost (a time-out after sending, a broken connection, a garbled or 5xx
        answer), ``read_back()`` says what the panel shows now: the answer the write would have
        given (it took effect: carry on, with a warning), NOT_SHOWN (it provably did not) or
        CANNOT_TELL (the lost answer's error is raised, and the write is not repeated). Without a
        read-back a lost answer cannot be told. A write that was not made is sent again, after
        growing pauses, while less than ``deadline`` seconds passed since its first send; then the
        client's WriteNotMade error is raised. With ``repeat=False`` (a write whose first copy may
        still arrive and must never be doubled: the allocation's claim, a new address) it is never
        sent again: WriteNotMade is raised at once, for the caller to move on. A write the panel
        refused raises its error and marks nothing. ``deadline``: this write's own time budget (default: the run's).
        """
        if self.check_mode:
            self.changed = True
            self.made += 1
            return None
        answer = self._send(send, read_back, what, repeat, self.deadline if deadline is None else float(deadline))
        self.changed = True
        self.made += 1
        return answer

    def _send(self, send, read_back, what, repeat, deadline):
        started = time.monotonic()
        pause = self.first_pause
        sends = 0
        while True:
            sends += 1
            try:
                return send()
            except AnswerLost as exc:
                lost = exc
            shown = self._read_back(lost, read_back, what)
            if shown is not NOT_SHOWN:
                return shown
            if not repeat:
                raise _not_made(lost, "read back: %s was not made; it is never sent twice, since the lost copy may still arrive" % what)
            wait = min(pause, max(MAX_PAUSE, self.first_pause)) * (1 + random.random() / 2)
            elapsed = time.monotonic() - started
            if elapsed + wait >= deadline:
                raise _not_made(
                    lost,
                    "read back after %d sends in %d seconds: %s was not made (a write that was not made is sent again for %d seconds at most)"
                    % (sends, elapsed, what, deadline),
                )
            time.sleep(wait)
            pause *= 2
            # Read back again right before the repeat: a copy of the lost request that was still on its way
            # (a proxy that gave up on it, then passed it on) may have landed during the pause.
            shown = self._read_back(lost, read_back, what, again=True)
            if shown is not NOT_SHOWN:
                return shown
            self.warn("%s; read back: %s was not made, so it was sent again" % (lost.msg, what))

    def _read_back(self, lost, read_back, what, again=False):
        """What the panel shows after the lost answer ``lost``: the write's answer (made: warned), or NOT_SHOWN; CANNOT_TELL
        raises the lost answer's error."""
        shown = read_back() if read_back is not None else CANNOT_TELL
        if shown is CANNOT_TELL:
            raise _amended(
                lost,
                "the answer was lost and nothing the panel shows tells whether %s was made, so it was not repeated: check it, then re-run the task" % what,
            )
        if shown is not NOT_SHOWN:
            self.warn("%s; read back%s: %s was made" % (lost.msg, " again before sending it again" if again else "", what))
        return shown


def _amended(lost, why):
    lost.msg = "%s; %s" % (lost.msg, why)
    lost.args = (lost.msg,)
    return lost


def _not_made(lost, why):
    """The client's WriteNotMade error for the write whose answer ``lost`` was."""
    return lost.not_made("%s; %s" % (lost.msg, why), status=lost.status, call=lost.call)
