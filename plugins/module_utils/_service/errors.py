# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the error of the service operations.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from .._transport import ClientError


class OperationFailed(ClientError):
    """An operation stops for a reason it states (no free server, a server that is not the service's, an install
    the panel says failed ...). ``cause``: the API error behind it, whose ``api_error`` it carries; ``details``:
    extra result keys for a module's failure (the server as it is ...)."""

    def __init__(self, msg, cause=None, **details):
        super().__init__(msg, getattr(cause, "status", None))
        self.api_error = getattr(cause, "api_error", None)
        self.details = details


class NotTheirs(OperationFailed):
    """The server is not, or no longer, the service's: it shows another allocation's claim or another owner. Nothing
    of it may be undone or released by the run that found it so (it may be another customer's)."""
