# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private helper of the benchmarks: processes and their descendants, from /proc (Linux)."""

from __future__ import annotations

import collections
import os


def parent_of(pid):
    """The parent pid of ``pid`` (from /proc/PID/stat), or None when the process is gone."""
    try:
        with open("/proc/%s/stat" % pid, encoding="ascii", errors="replace") as handle:
            # The command name (in parentheses) may hold spaces; the fields after it are fixed.
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def descendants(roots):
    """``roots`` and every process below them, parents before their children."""
    children = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = parent_of(entry)
            if ppid is not None:
                children[ppid].append(int(entry))
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found
