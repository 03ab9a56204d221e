# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A value taken from a write's answer: read back when the answer lacks it, and a clear failure when nothing shows it.

The simulators always show what a write made (tests/integration/test_write_answers.py runs the whole
steps); here a panel whose read-back shows nothing either, which no simulator plays.
"""

from __future__ import annotations

import pytest

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.account import Account
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.allocation import Allocation
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.errors import OperationFailed


class Panel:
    """The panel operations Account and Allocation use: every write answers ``answer``; ``users`` and
    ``listed`` are what the reads show."""

    check_mode = False

    def __init__(self, answer, users=(), listed=()):
        self.answer = answer
        self.users = list(users)
        self.listed = list(listed)
        self.writes = []

    def write(self, func, read_back, what, repeat=True, **params):
        self.writes.append((func, params))
        return self.answer

    def find_user(self, name, fresh=True):
        return next((user for user in self.users if user["name"] == name), None)

    def addresses(self, server_id, with_domains=False):
        return [dict(row) for row in self.listed]


def test_an_account_created_without_its_id_in_the_answer_takes_the_listed_one():
    panel = Panel({}, users=[{"id": "7", "name": "bob", "level": "16"}])
    assert Account(panel, "bob", "bob-pw-123456")._create()["id"] == "7"


def test_an_account_neither_the_answer_nor_the_list_shows_fails_clearly():
    panel = Panel({"ok": ""})
    with pytest.raises(OperationFailed, match="answered the creation of account bob without its id, and its user list does not show the account"):
        Account(panel, "bob", "bob-pw-123456")._create()
    assert [func for func, dummy in panel.writes] == ["user.edit"]  # sent once


def allocation(panel):
    return Allocation(panel, "bob", "bob.example.net", package="DL360-G9")


def test_a_new_address_answered_without_it_is_read_from_the_address_list():
    panel = Panel({}, listed=[{"id": "3", "ip": "192.0.2.11"}, {"id": "9", "ip": "203.0.113.10"}])
    assert allocation(panel)._add_address("1", "ipv4", ["192.0.2.11"]) == "203.0.113.10"


def test_a_new_address_neither_the_answer_nor_the_list_shows_fails_clearly():
    panel = Panel({"ok": ""}, listed=[{"id": "3", "ip": "192.0.2.11"}])
    with pytest.raises(OperationFailed, match="answered the new ipv4 address on server 1 without the address, and its address list shows none"):
        allocation(panel)._add_address("1", "ipv4", ["192.0.2.11"])
    assert len(panel.writes) == 1  # never sent twice
