# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The write path (module_utils/_writes.py) on its own: check mode, refusals, lost answers, repeats bounded by time."""

from __future__ import annotations

import pytest

from ansible_collections.ispsystem.dcimanager.plugins.module_utils import _writes
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.errors import DCIAnswerLostError, DCIError, DCIWriteNotMadeError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.errors import WHMCSAnswerLostError, WHMCSError, WHMCSWriteNotMadeError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._writes import CANNOT_TELL, NOT_SHOWN, WriteNotMade, Writes


class Clock:
    """``time`` for _writes: sleeping moves it."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(_writes, "time", clock)
    return clock


class Panel:
    """Sends: each answer in ``answers`` is returned, or raised when it is an exception."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sends = 0

    def send(self):
        self.sends += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


def lost(error_class=DCIAnswerLostError):
    return error_class("DCImanager at URL answered server.disable with HTTP 502", status=502, call="server.disable")


def make(deadline=60.0, check_mode=False, **options):
    warnings = []
    return Writes(check_mode, warnings.append, deadline=deadline, **options), warnings


def test_check_mode_sends_nothing_and_marks_the_change(clock):
    writes, warnings = make(check_mode=True)
    panel = Panel({"ok": ""})
    assert writes.change(panel.send, what="x") is None
    assert writes.changed and panel.sends == 0 and warnings == [] and clock.sleeps == []


def test_a_write_made_returns_its_answer():
    writes, warnings = make()
    assert writes.change(Panel({"id": "7"}).send) == {"id": "7"}
    assert writes.changed and warnings == []


def test_a_refused_write_marks_nothing_and_is_not_read_back():
    writes, dummy = make()
    read_backs = []
    with pytest.raises(DCIError, match="refused"):
        writes.change(Panel(DCIError("DCImanager refused user.edit", error_type="value")).send, lambda: read_backs.append(1))
    assert not writes.changed and read_backs == []


def test_a_lost_answer_of_a_write_that_was_made_is_read_back_and_not_sent_again(clock):
    writes, warnings = make()
    panel = Panel(lost(), {"ok": ""})
    assert writes.change(panel.send, lambda: {"shown": True}, "the block of server 6") == {"shown": True}
    assert panel.sends == 1 and writes.changed and clock.sleeps == []
    assert warnings == ["DCImanager at URL answered server.disable with HTTP 502; read back: the block of server 6 was made"]


@pytest.mark.parametrize("read_back", [None, lambda: CANNOT_TELL])
def test_a_lost_answer_nothing_can_tell_of_fails_without_a_repeat(clock, read_back):
    writes, dummy = make()
    panel = Panel(lost(), {"ok": ""})
    with pytest.raises(DCIAnswerLostError) as info:
        writes.change(panel.send, read_back, "the restart of server 6")
    assert "nothing the panel shows tells whether the restart of server 6 was made, so it was not repeated" in info.value.msg
    assert str(info.value) == info.value.msg and panel.sends == 1 and not writes.changed


def test_a_write_not_made_is_sent_again_after_growing_pauses_until_it_is_made(clock):
    writes, warnings = make()
    panel = Panel(lost(), lost(), lost(), lost(), {"ok": ""})
    assert writes.change(panel.send, lambda: NOT_SHOWN, "the block of server 6") == {"ok": ""}
    assert panel.sends == 5 and writes.changed  # more than the three sends of old
    assert len(clock.sleeps) == 4 and all(1.0 <= s / p <= 1.5 for s, p in zip(clock.sleeps, (2, 4, 8, 10)))
    # The first pause outlasts a late copy of the lost request (claim_settle - claim_bound): the read-back after it sees one.
    assert clock.sleeps[0] >= _writes.LATE_COPY
    assert warnings == ["DCImanager at URL answered server.disable with HTTP 502; read back: the block of server 6 was not made, so it was sent again"] * 4


@pytest.mark.parametrize("late_copy, first", [(5.0, 5.0), (0.5, _writes.LATE_COPY)])
def test_the_first_pause_outlasts_the_tasks_late_copy_and_never_less_than_the_default(clock, late_copy, first):
    """A task whose claim_settle - claim_bound is longer (a slow panel) waits that long before it reads back and repeats."""
    writes, dummy = make(late_copy=late_copy)
    panel = Panel(lost(), {"ok": ""})
    assert writes.change(panel.send, lambda: NOT_SHOWN, "the block of server 6") == {"ok": ""}
    assert first <= clock.sleeps[0] <= first * 1.5


def test_a_lost_copy_that_lands_during_the_pause_is_read_back_before_a_repeat(clock):
    """A proxy gave up on the request (the answer lost at once) and passed it on later: it lands during the pause
    before the repeat, and the read-back right before the repeat sees it, so it is not sent again."""
    writes, warnings = make()
    panel = Panel(lost(), {"ok": ""})
    shown = iter([NOT_SHOWN, {"shown": True}])
    assert writes.change(panel.send, lambda: next(shown), "the block of server 6") == {"shown": True}
    assert panel.sends == 1 and len(clock.sleeps) == 1 and writes.changed
    assert warnings == ["DCImanager at URL answered server.disable with HTTP 502; read back again before sending it again: the block of server 6 was made"]


@pytest.mark.parametrize("deadline", [60, 300])
def test_repeats_stop_at_the_deadline_with_the_clients_write_not_made_error(clock, deadline):
    writes, warnings = make(deadline=deadline)
    panel = Panel(lost())
    started = clock.now
    with pytest.raises(DCIWriteNotMadeError) as info:
        writes.change(panel.send, lambda: NOT_SHOWN, "the block of server 6")
    error = info.value
    assert isinstance(error, WriteNotMade) and isinstance(error, DCIError) and error.call == "server.disable" and error.status == 502
    assert clock.now - started < deadline and max(clock.sleeps) <= _writes.MAX_PAUSE * 1.5
    assert clock.sleeps[-1] >= _writes.MAX_PAUSE  # the pauses grew to the cap
    assert panel.sends == len(clock.sleeps) + 1 == len(warnings) + 1
    assert "read back after %d sends in %d seconds: the block of server 6 was not made" % (panel.sends, clock.now - started) in error.msg
    assert "sent again for %d seconds at most" % deadline in error.msg and not writes.changed


@pytest.mark.parametrize(
    "lost_class, not_made, base",
    [(DCIAnswerLostError, DCIWriteNotMadeError, DCIError), (WHMCSAnswerLostError, WHMCSWriteNotMadeError, WHMCSError)],
)
def test_a_write_never_sent_twice_raises_write_not_made_at_once(clock, lost_class, not_made, base):
    writes, warnings = make()
    panel = Panel(lost(lost_class), {"ok": ""})
    with pytest.raises(not_made) as info:
        writes.change(panel.send, lambda: NOT_SHOWN, "a new ipv4 address on server 6", repeat=False)
    assert isinstance(info.value, base) and info.value.api_error is None
    assert info.value.msg.endswith("read back: a new ipv4 address on server 6 was not made; it is never sent twice, since the lost copy may still arrive")
    assert panel.sends == 1 and clock.sleeps == [] and warnings == [] and not writes.changed


def test_a_write_never_sent_twice_that_was_made_carries_on(clock):
    writes, warnings = make()
    assert writes.change(Panel(lost()).send, lambda: {"ip": "203.0.113.10"}, "a new address", repeat=False) == {"ip": "203.0.113.10"}
    assert writes.changed and len(warnings) == 1
