# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The shared view of a panel's server list (_service/view.py): one read serves every caller that can use it."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.answers import SERVER_FLAGS
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.view import ServerGone, ServerList
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._wait import WaitTimeout

# The views' waits run in threads and sleep in real time (a few seconds each): not in the quick loop.
pytestmark = pytest.mark.realtime


class FakeClient:
    """A panel of ``count`` servers whose list read takes ``seconds``; ``reads`` counts the reads."""

    def __init__(self, count=50, seconds=0.01):
        self.count = count
        self.seconds = seconds
        self.reads = 0
        self.lock = threading.Lock()
        self.fail = False

    def list(self, func, flags=()):
        assert func == "server" and flags == SERVER_FLAGS
        with self.lock:
            self.reads += 1
            number = self.reads
        time.sleep(self.seconds)
        if self.fail:
            raise RuntimeError("the panel broke")
        return [dict(dict.fromkeys(SERVER_FLAGS, False), id=str(i), hostname="free.ds", read=number) for i in range(1, self.count + 1)]


def test_a_read_sent_late_enough_is_joined():
    client = FakeClient(seconds=0.2)
    view = ServerList(client)
    asked = time.monotonic()
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(view.rows(asked)[0]["read"])) for dummy in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.reads == 1 and seen == [1] * 8
    # A caller that needs a read sent after it asked never gets an older one.
    assert view.rows()[0]["read"] == 2


def test_many_waits_share_the_views_reads():
    """50 servers waited for at once (an order day's installs): the list is read once a round for all of them."""
    client = FakeClient(seconds=0.005)
    view = ServerList(client, max_pause=0.05)
    rounds = 6  # each server is done from the 6th read on
    done = []

    def wait(server_id):
        done.append(view.wait(server_id, lambda row: row["read"] >= rounds, 30, "the install finishing")["id"])

    threads = [threading.Thread(target=wait, args=(str(i),)) for i in range(1, 51)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(done, key=int) == [str(i) for i in range(1, 51)]
    # Each waiter alone would read `rounds` times: 300 reads. Shared: each waiter's first look is a read sent after
    # it began (what it waits for may have happened just before; waiters that come while a read is under way
    # share the next one), then one read per round for all of them.
    assert client.reads <= rounds + 15, client.reads


def test_a_wait_ends_with_its_timeout_and_a_server_that_left_the_list():
    client = FakeClient(count=2)
    view = ServerList(client, max_pause=0.01)
    with pytest.raises(WaitTimeout, match="on server 1, the power coming did not happen within 0 seconds"):
        view.wait("1", lambda row: False, 0.05, "on server 1, the power coming")
    with pytest.raises(ServerGone, match="server 7 is no longer listed"):
        view.wait("7", lambda row: True, 1, "anything")


def test_a_failed_read_fails_every_caller_that_joined_it():
    client = FakeClient(seconds=0.2)
    client.fail = True
    view = ServerList(client)
    asked = time.monotonic()
    errors = []

    def read():
        try:
            view.rows(asked)
        except RuntimeError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=read) for dummy in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == ["the panel broke"] * 4 and client.reads == 1
    client.fail = False
    assert view.rows()[0]["read"] == 2  # the next caller reads again


def test_a_look_with_patience_takes_the_next_read_of_the_waits():
    """A look that may wait (the claim's verification, a wait's first look) takes the read the waits under way make
    next, sent after it asked, rather than a read of its own; without waits it reads at once."""
    client = FakeClient(seconds=0.005)
    view = ServerList(client)
    assert view.rows(patience=1.0)[0]["read"] == 1 and client.reads == 1  # nobody waits: read at once
    seen = []
    finish = threading.Event()

    def done(row):
        seen.append(row["read"])
        return finish.is_set()

    waiter = threading.Thread(target=lambda: view.wait("1", done, 30, "the install finishing"))
    waiter.start()
    time.sleep(0.05)  # the waiter has made its first look and sleeps until its next read
    asked = time.monotonic()
    got = view.rows(patience=1.0)[0]["read"]
    waited = time.monotonic() - asked
    finish.set()
    waiter.join()
    # One read served both: a read sent after the caller asked, which the waiter saw too (a read of the caller's own
    # would have been sent before the waiter's next one, which could not use it).
    assert got in seen and got > 1, (got, seen)
    assert waited <= 1.0 + 0.5, waited  # at most the pause until the waits' next read (one second here)


def test_waits_that_began_apart_share_one_schedule():
    """Two waits whose first looks were reads of their own (the second began while the first one's read was under
    way, so it could not use it) share every later read: one schedule for all waits, not one per wait."""
    client = FakeClient(seconds=0.1)
    view = ServerList(client, max_pause=1)
    finish = threading.Event()
    threads = [threading.Thread(target=lambda i=i: view.wait(str(i), lambda row: finish.is_set(), 30, "anything")) for i in (1, 2)]
    for thread in threads:
        thread.start()
        time.sleep(0.03)
    time.sleep(4.2)
    finish.set()
    for thread in threads:
        thread.join()
    # Two first looks, then one read a second for both (a schedule each would read twice a second).
    assert client.reads <= 2 + 5, client.reads
