# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the install record in a server's notes.

The panel's API does not report a server's installed template, so dci_os_install writes one
line into the server's notes before it starts an install, and dci_server_release removes it:

    ansible-dcimanager: os_template=NAME recipe=RECIPE started=2026-12-01T05:00:00Z finished=2026-12-01T05:14:09Z

``started`` and ``finished`` (UTC; older records have neither) let a later run tell an install that
has only just started, whose ``install_in_progress`` flag the panel may not show yet, from one that
was seen to finish. Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import calendar
import re
import time

MARKER = "ansible-dcimanager:"
MARKER_LINE = re.compile(r"^ansible-dcimanager: os_template=(\S+) recipe=(\S+)(?: started=(\S+))?(?: finished=(\S+))?\s*$", re.MULTILINE)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class InstallRecord:
    """What an install record says: template, recipe, when the install was started and when it was seen to
    finish (epoch seconds, or None)."""

    def __init__(self, template, recipe, started=None, finished=None):
        self.template = template
        self.recipe = recipe
        self.started = started
        self.finished = finished

    def names(self, template, recipe):
        return (self.template, self.recipe) == (template, recipe)

    def age(self, now=None):
        """Seconds since the install was started, or None for a record without a start time."""
        if self.started is None:
            return None
        return (time.time() if now is None else now) - self.started


def read_record(notes):
    """The InstallRecord in the server's notes, or None."""
    found = MARKER_LINE.search(notes or "")
    if not found:
        return None
    return InstallRecord(found.group(1), found.group(2), _epoch(found.group(3)), _epoch(found.group(4)))


def _epoch(text):
    if not text:
        return None
    try:
        return calendar.timegm(time.strptime(text, TIME_FORMAT))
    except ValueError:
        return None


def _stamp(epoch):
    return time.strftime(TIME_FORMAT, time.gmtime(epoch))


def without_record(notes):
    return "\n".join(line for line in (notes or "").splitlines() if not line.startswith(MARKER))


def with_record(notes, template, recipe, started, finished=None):
    line = "%s os_template=%s recipe=%s started=%s" % (MARKER, template, recipe, _stamp(started))
    if finished is not None:
        line += " finished=%s" % _stamp(finished)
    return "\n".join(filter(None, [without_record(notes), line]))
