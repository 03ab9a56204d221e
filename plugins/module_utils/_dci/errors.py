# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the errors of the DCImanager client.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from .._transport import AnswerLost, ClientError, ErrorClasses, NotSent, Retryable, WriteNotMade


class DCIError(ClientError):
    """Any failure talking to DCImanager, with the panel's own error where it gave one; ``call`` is the function."""

    def __init__(self, msg, error_type=None, error_object=None, panel_msg=None, call=None, status=None):
        super().__init__(msg, status=status, call=call)
        self.error_type = error_type
        self.error_object = error_object
        self.panel_msg = panel_msg

    @property
    def api_error(self):
        """The panel's error as the modules return it, or None for transport failures."""
        if self.error_type is None:
            return None
        return {"type": self.error_type, "object": self.error_object, "msg": self.panel_msg}


class DCIRetryableError(DCIError, Retryable):
    """A failure that may pass (a 5xx, a time-out, a broken connection, a garbled answer): a reading call may be sent again."""


class DCINotSentError(DCIRetryableError, NotSent):
    """The request never reached the panel (connection refused, a proxy's refusal): even a write may be sent again."""


class DCIWriteNotMadeError(DCIError, WriteNotMade):
    """A write whose answer was lost and that a read-back proved not made (see _writes)."""


class DCIAnswerLostError(DCIError, AnswerLost):
    """A write reached the panel (or may have) and its answer was lost: the write path reads back."""

    not_made = DCIWriteNotMadeError


# What the client's Transport raises.
DCI_ERRORS = ErrorClasses(error=DCIError, retryable=DCIRetryableError, not_sent=DCINotSentError, answer_lost=DCIAnswerLostError)
