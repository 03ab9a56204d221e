# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the controller-wide allocation lock.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import tempfile
import time
from contextlib import contextmanager

from .._dci.errors import DCIError
from .._wait import WaitTimeout


@contextmanager
def controller_lock(name, timeout=300):
    """Serialise a critical section between the module runs on this controller (every fork).

    An optimisation: allocations of one controller take turns at the read of a free server and its
    claim, so they do not meet at one server and wait out a claim that another wins. What keeps
    allocations apart, on one controller or many, is the timed claim (_service/allocation.py).
    """
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    # DCIMANAGER_LOCK_DIR: a directory that every job of one controller shares (AWX runs each job
    # in its own container, whose temporary directory the others do not see). Optional.
    directory = os.environ.get("DCIMANAGER_LOCK_DIR") or tempfile.gettempdir()
    path = os.path.join(directory, "ispsystem-dcimanager-%s.lock" % digest)
    deadline = time.monotonic() + timeout
    try:
        handle = open(path, "a", encoding="utf-8")  # pylint: disable=consider-using-with
    except OSError as exc:
        raise DCIError("cannot open the allocation lock %s (%s); set DCIMANAGER_LOCK_DIR to a writable directory" % (path, exc.strerror or exc)) from None
    with handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise WaitTimeout("another task on this controller held the allocation lock %s for over %d seconds" % (path, timeout)) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
