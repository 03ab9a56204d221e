# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the shared view of one panel's server list.

DCImanager has no single-server read of a server's flags (power, install, blocked): every look at
one server lists them all. Within one run (a module, or fleet_apply with many services in flight)
every wait and every read-back asks this view. A read sent after the moment a caller needs serves
every caller that needs it, and waiting callers share the view's reads, one per pause, however
many of them wait. Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import threading
import time

from .._dci.panel import read_servers
from .._wait import WaitTimeout

FIRST_PAUSE = 1.0
PAUSE_GROWTH = 1.6
# Seconds a look that may wait (see ServerList.rows' patience) gives others to join a read when none is scheduled.
BATCH = 0.2


class ServerGone(Exception):
    """A server the caller waits for is no longer in the panel's list."""


class ServerList:
    """One panel's ``server`` list, read on demand and shared by every caller of one run.

    ``reads`` counts the full list reads, ``polls`` those of them that waits made (the benchmarks print both).
    """

    def __init__(self, client, max_pause=15):
        self.client = client
        self.max_pause = max(float(max_pause or 1), FIRST_PAUSE)
        self._lock = threading.Condition()
        self._rows = None
        self._sent = None  # when the newest completed read was sent (monotonic seconds)
        self._reading = None  # when the read under way was sent, or None
        self._failed = (None, None)  # (when the last failed read was sent, its error)
        self._pause = min(FIRST_PAUSE, self.max_pause)
        self._due = (None, None)  # (the read the next one follows, when the next one is due)
        self.reads = 0
        self.polls = 0
        self._waiting = 0  # the waits under way

    def _now(self):
        return time.monotonic()

    def rows(self, after=None, patience=0.0):
        """The rows of a list read sent at or after ``after`` (default: now, i.e. a new read); a read under way that
        was sent late enough is joined rather than repeated. ``patience`` (seconds): while services wait, the read
        their waits make next is taken when it is due within that time, rather than a read of the caller's own."""
        after = self._now() if after is None else after
        self._await_schedule(after, patience)
        return self._rows_after(after)[0]

    def _await_schedule(self, after, patience):
        """Sleep until the view's next scheduled read when one is due within ``patience`` seconds (the read sent
        then is sent after ``after``); without one, schedule one ``BATCH`` seconds ahead, which the callers that come
        meanwhile share (an order day's claims settle a few hundredths of a second apart). No sleep when a read sent
        after ``after`` is under way or done."""
        if patience <= 0:
            return
        with self._lock:
            now = self._now()
            if (self._sent is not None and self._sent >= after) or (self._reading is not None and self._reading >= after):
                return
            due = self._due[1]
            if due is None or due < max(now, after) or due > now + patience:
                due = max(now, after) + min(BATCH, patience)
                self._due = (self._sent, due)
        time.sleep(due - now)

    def _rows_after(self, after, poll=False):
        """(rows, when their read was sent) of a read sent at or after ``after``; ``poll``: for a wait."""
        with self._lock:
            while True:
                if self._sent is not None and self._sent >= after:
                    return self._rows, self._sent
                if self._reading is None:
                    sent = self._reading = self._now()
                    self.polls += bool(poll)
                    break
                joined = self._reading
                self._lock.wait()
                failed_sent, error = self._failed
                if failed_sent == joined and joined >= after:
                    raise error
        try:
            rows = read_servers(self.client)
        except Exception as exc:
            with self._lock:
                self._reading, self._failed = None, (sent, exc)
                self.reads += 1
                self._lock.notify_all()
            raise
        with self._lock:
            self._reading, self._rows, self._sent = None, rows, sent
            self.reads += 1
            self._lock.notify_all()
        return rows, sent

    def row(self, server_id, after=None):
        """One server's row from a read sent at or after ``after`` (default: now), or None when it is not listed."""
        return _find(self.rows(after), server_id)

    def wait(self, server_id, predicate, timeout, what, after=None):
        """Read the server's row until ``predicate(row)`` is true; returns that row.

        The first look is a read sent at or after ``after`` (default: now): while others wait, the read their waits
        make next (due within ``max_pause``), else a read at once. Later looks take the view's next read, due one
        pause after the last one, shared by every waiter; the pauses grow from one second to ``max_pause``, so a
        quick change is seen quickly and a long install costs few reads. They start short again only when a wait
        begins while none is under way: a wait that joins others joins their schedule too, so that many waits
        (an order day's, beginning a few a second) cost one read per ``max_pause``, not one per new wait.
        """
        after = self._now() if after is None else after
        with self._lock:
            joining = self._waiting > 0
        self._await_schedule(after, self.max_pause if joining else FIRST_PAUSE)
        with self._lock:
            if not self._waiting:
                self._pause = min(FIRST_PAUSE, self.max_pause)
            self._waiting += 1
        try:
            return self._wait(server_id, predicate, timeout, what, after)
        finally:
            with self._lock:
                self._waiting -= 1

    def _wait(self, server_id, predicate, timeout, what, after):
        deadline = self._now() + timeout
        rows, seen = self._rows_after(after, poll=True)
        while True:
            row = _find(rows, server_id)
            if row is None:
                raise ServerGone("server %s is no longer listed by the panel" % server_id)
            if predicate(row):
                return row
            remaining = deadline - self._now()
            if remaining <= 0:
                raise WaitTimeout("%s did not happen within %d seconds" % (what, timeout))
            with self._lock:
                newer = (self._rows, self._sent) if self._sent is not None and self._sent > seen else None
            if newer is not None:
                # A read newer than this waiter's last look (another caller's): a free look, and every waiter then
                # counts its pause from the same, newest read, so they all share the next one.
                rows, seen = newer
                continue
            due = self._next_due(seen)
            delay = min(due - self._now(), remaining)
            if delay > 0:
                time.sleep(delay)
            rows, seen = self._rows_after(min(due, self._now()), poll=True)

    def _next_due(self, seen):
        """When the read after the one sent at ``seen`` is due: the same moment for every waiter. A read another
        waiter has scheduled already is joined unless this waiter's own pause ends sooner (a wait that has just
        begun looks again soon)."""
        with self._lock:
            if self._due[0] == seen:
                return self._due[1]
            scheduled = self._due[1]
            if scheduled is not None and seen < scheduled <= seen + self._pause and scheduled >= self._now():
                return scheduled
            self._due = (seen, seen + self._pause)
            self._pause = min(self._pause * PAUSE_GROWTH, self.max_pause)
            return self._due[1]


def _find(rows, server_id):
    server_id = str(server_id)
    for row in rows:
        if row.get("id") == server_id:
            return row
    return None
