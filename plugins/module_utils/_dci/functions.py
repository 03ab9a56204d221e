# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the catalogue of every DCImanager function it calls.

For each function, what the collection does with it: read it as a list, read it as a form (an
``*.edit`` function called without ``sok``), send it as a write, or log in with it. A write of a
function marked ``sok`` is a form's save and carries ``sok=ok``; the client adds it. The client
refuses any other use (a write through a reading method, a read through ``write()``, a function
not listed here), and tests/unit/test_catalogues.py checks the simulator's idea of which calls
write against this table. Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from collections import namedtuple

LIST, FORM, WRITE, AUTH = "list", "form", "write", "auth"
READS = (LIST, FORM)


class Function(namedtuple("Function", ("kinds", "sok"))):
    """``kinds``: what the collection does with the function (a frozenset of LIST, FORM, WRITE, AUTH);
    ``sok``: whether its write is a form's save, sent with ``sok=ok``."""

    __slots__ = ()

    @property
    def writes(self):
        return WRITE in self.kinds


def _function(*kinds, sok=False):
    return Function(frozenset(kinds), sok)


FUNCTIONS = {
    "auth": _function(AUTH),
    # Lists.
    "server": _function(LIST),
    "user": _function(LIST),
    "iplist": _function(LIST),
    "server.connection": _function(LIST),
    "osmgr": _function(LIST),
    "trafficburstable": _function(LIST),
    # Forms: read without sok; the ones the collection saves are saved with sok=ok.
    "server.edit": _function(FORM, WRITE, sok=True),
    "user.edit": _function(FORM, WRITE, sok=True),
    "iplist.edit": _function(FORM, WRITE, sok=True),
    "server.operations": _function(FORM, WRITE, sok=True),
    "server.connection.edit": _function(FORM),
    # Writes that are no form's save.
    "user.delete": _function(WRITE),
    "iplist.delete": _function(WRITE),
    "server.enable": _function(WRITE),
    "server.disable": _function(WRITE),
    "server.poweron": _function(WRITE),
    "server.poweroff": _function(WRITE),
    "server.reboot": _function(WRITE),
    "server.connection.on": _function(WRITE),
    "server.connection.off": _function(WRITE),
    "session.newkey": _function(WRITE),
}


def checked(func, kind, params):
    """The catalogue entry of ``func``, after checking that the collection may use it as ``kind`` (LIST, FORM,
    WRITE, AUTH; READS for a whole document) with ``params``; a misuse is a bug in the collection, so it raises
    ValueError before anything is sent."""
    entry = FUNCTIONS.get(func)
    if entry is None:
        raise ValueError("the DCImanager function %s is not in the collection's catalogue (_dci/functions.py)" % func)
    kinds = READS if kind == READS else (kind,)
    if not entry.kinds.intersection(kinds):
        raise ValueError("the catalogue (_dci/functions.py) does not let the collection use %s as a %s" % (func, " or ".join(kinds)))
    if "sok" in params:
        raise ValueError("%s was given sok: a read never carries it, and a write gets it from the catalogue" % func)
    return entry
