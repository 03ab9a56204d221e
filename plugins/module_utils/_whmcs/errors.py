# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the errors of the WHMCS client.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from .._transport import AnswerLost, ClientError, ErrorClasses, NotSent, Retryable, WriteNotMade


class WHMCSError(ClientError):
    """Any failure talking to WHMCS, with WHMCS's own message where it gave one; ``call`` is the action."""

    def __init__(self, msg, call=None, api_message=None, status=None):
        super().__init__(msg, status=status, call=call)
        self.api_message = api_message

    @property
    def api_error(self):
        """WHMCS's error as the modules return it, or None for transport failures."""
        if self.api_message is None:
            return None
        return {"type": "error", "object": self.call, "msg": self.api_message}


class WHMCSRetryableError(WHMCSError, Retryable):
    """A failure that may pass (a 5xx, a time-out, a broken connection, a garbled answer): a reading action may be sent again."""


class WHMCSNotSentError(WHMCSRetryableError, NotSent):
    """The request never reached WHMCS (connection refused, a proxy's refusal): even a write may be sent again."""


class WHMCSWriteNotMadeError(WHMCSError, WriteNotMade):
    """A write whose answer was lost and that a read-back proved not made (see _writes)."""


class WHMCSAnswerLostError(WHMCSError, AnswerLost):
    """A write reached WHMCS (or may have) and its answer was lost: the write path reads back."""

    not_made = WHMCSWriteNotMadeError


# What the client's Transport raises.
WHMCS_ERRORS = ErrorClasses(error=WHMCSError, retryable=WHMCSRetryableError, not_sent=WHMCSNotSentError, answer_lost=WHMCSAnswerLostError)
