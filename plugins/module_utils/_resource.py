# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the base of every module's resource class.

It holds the collection's one write path, ``APIResource.change``: the only place that sends a
writing call, skips it in check mode, and resolves a write whose answer was lost by reading back.
Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from ._transport import AnswerLost
from ._wait import WaitTimeout

# What a read-back returns when the panel provably does not show the write's effect: the write may be
# sent again. (A read-back returns the answer the write would have given when it took effect, and
# CANNOT_TELL when the panel shows nothing to decide from.)
NOT_SHOWN = "not shown"
CANNOT_TELL = None

# A write is sent at most this many times: again only after a read-back proved that the previous
# send did not take effect. One repeat is not enough on a flaky network: at a 15 % fault rate a
# reconcile of 20 new services makes ~140 writes, and two lost answers in a row on one of them
# (2 % each) would fail about three services a run.
WRITE_SENDS = 3


class APIResource:
    """One kind of object managed by one module (hetzner.hcloud's pattern).

    Subclasses set ``represent`` (the result key) and ``error_class`` (their client's error),
    make the client in ``make_client()``, fill ``self.result`` and, for ``--diff``,
    ``self.before`` / ``self.after``. They never call a client's writing method themselves:
    every write goes through ``change()``.
    """

    represent = None
    error_class = Exception

    def __init__(self, module):
        self.module = module
        self.changed = False
        self.result = None
        self.before = {}
        self.after = {}
        self.client = None
        try:
            self.client = self.make_client(module.params)
        except self.error_class as exc:
            self.fail_json_api(exc)

    def make_client(self, params):
        raise NotImplementedError

    def _mark_as_changed(self):
        self.changed = True

    def change(self, send, read_back=None, what="the change"):
        """The one write path: mark the change and, unless in check mode, ``send()`` it; returns its answer.

        When the answer is lost (a time-out after sending, a broken connection, a garbled or 5xx
        answer), ``read_back()`` says what the panel shows now: the answer the write would have
        given (it took effect: carry on), NOT_SHOWN (it provably did not: send it again, at most
        WRITE_SENDS times in all) or CANNOT_TELL (fail, without repeating it). Without a read-back
        a lost answer fails. In check mode nothing is sent and None is returned; a write the
        panel refused marks nothing.
        """
        if self.module.check_mode:
            self._mark_as_changed()
            return None
        answer = self._send(send, read_back, what)
        self._mark_as_changed()
        return answer

    def _send(self, send, read_back, what):
        for sends in range(1, WRITE_SENDS + 1):
            try:
                return send()
            except self.error_class as exc:
                if not isinstance(exc, AnswerLost):
                    raise
                lost = exc
            shown = read_back() if read_back is not None else CANNOT_TELL
            if shown is CANNOT_TELL:
                raise self._unresolved(
                    lost,
                    "the answer was lost and nothing the panel shows tells whether %s was made, so it was not repeated: check it, then re-run the task" % what,
                )
            if shown is not NOT_SHOWN:
                self.module.warn("%s; read back: %s was made" % (lost.msg, what))
                return shown
            if sends == WRITE_SENDS:
                raise self._unresolved(lost, "read back after %d sends: %s was not made" % (sends, what))
            self.module.warn("%s; read back: %s was not made, so it was sent again" % (lost.msg, what))
        return None  # not reached

    @staticmethod
    def _unresolved(lost, why):
        lost.msg = "%s; %s" % (lost.msg, why)
        lost.args = (lost.msg,)
        return lost

    def fail_json_api(self, exc, msg=None, **kwargs):
        """End the module with the API's own error, if it gave one, beside a message a person can act on."""
        if exc.api_error is not None:
            kwargs["api_error"] = exc.api_error
        self.module.fail_json(msg=msg or exc.msg, **kwargs)

    def get_result(self):
        result = {"changed": self.changed, self.represent: self.result}
        if self.module._diff:  # pylint: disable=protected-access
            result["diff"] = {"before": self.before, "after": self.after}
        return result


def run(module, resource_class, action):
    """Make the resource, run ``action(resource)``, and exit with its result or a clear failure."""
    resource = resource_class(module)
    try:
        action(resource)
    except resource.error_class as exc:
        resource.fail_json_api(exc)
    except WaitTimeout as exc:
        module.fail_json(msg=str(exc), **{resource.represent: resource.result})
    finally:
        close = getattr(resource.client, "close", None)
        if close is not None:
            close()
    module.exit_json(**resource.get_result())
