# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The read-back of a server operation judges a row read once no operation shows as under way (Panel.settled_row)."""

from __future__ import annotations

import pytest

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service import panel as panel_module

pytestmark = pytest.mark.quick


class Rows:
    """A server whose successive reads are ``rows``: the waits and the reads after them take them in turn."""

    def __init__(self, *rows):
        self.rows = list(rows)
        self.reads = 0

    def next_row(self):
        self.reads += 1
        return self.rows.pop(0) if len(self.rows) > 1 else self.rows[0]

    def wait_server(self, server_id, done, what):
        while not done(self.next_row()):
            pass

    def row(self, server_id, after=None):
        return self.next_row()


def busy(row):
    return row["power"] == "changing"


def test_an_operation_that_began_after_the_idle_row_is_waited_out():
    """A late copy of a lost power-on lands between the idle row and the row judged: that row shows the operation under
    way, not its result, so the read-back waits again and judges the row after it ended."""
    server = Rows({"power": "off"}, {"power": "changing"}, {"power": "changing"}, {"power": "on"}, {"power": "on"})
    assert panel_module.Panel.settled_row(server, "5", busy) == {"power": "on"}


def test_a_settled_row_is_judged_at_once():
    server = Rows({"power": "off"}, {"power": "off"})
    assert panel_module.Panel.settled_row(server, "5", busy) == {"power": "off"} and server.reads == 2


def test_the_waits_are_bounded():
    server = Rows({"power": "off"}, {"power": "changing"}, {"power": "off"}, {"power": "changing"}, {"power": "off"}, {"power": "changing"}, {"power": "off"})
    assert panel_module.Panel.settled_row(server, "5", busy) == {"power": "changing"}
    assert server.reads == 2 * panel_module.SETTLE_LOOKS
