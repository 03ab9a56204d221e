# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: bounded waits.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import time


class WaitTimeout(Exception):
    """A wait ran out of time; the message says what was still awaited."""


def poll(check, timeout, max_interval, what, sleep=None, clock=None):
    """Call ``check()`` until it returns a true value, and return that value.

    The first pause is short and each one grows, up to ``max_interval`` seconds, so quick
    transitions are seen quickly and long installs cost few calls. Raises WaitTimeout after
    ``timeout`` seconds. ``sleep`` and ``clock`` default to the ``time`` module's, looked up at
    each call (the in-process tests give the modules a virtual clock).
    """
    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    deadline = clock() + timeout
    interval = 1.0
    while True:
        value = check()
        if value:
            return value
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout("%s did not happen within %d seconds" % (what, timeout))
        sleep(min(interval, max(max_interval, 1), remaining))
        interval *= 1.6
