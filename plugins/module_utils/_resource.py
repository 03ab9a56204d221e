# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the base of every module's resource class.

``APIResource.change`` hands every write of a module to the collection's one write path
(``_writes.Writes``), which skips it in check mode and resolves a write whose answer was lost by
reading back. Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from ._service.errors import OperationFailed
from ._transport import ClientError
from ._wait import WaitTimeout
from ._writes import LATE_COPY, Writes

# take()'s default: the operation's own ``server``.
_SERVER = object()


def write_deadline(params):
    """How long a module repeats a write that was provably not made: its ``wait_timeout`` when it has one,
    else its request ``timeout``, at least 60 seconds."""
    if params.get("wait_timeout") is not None:
        return params["wait_timeout"]
    return max(60, params.get("timeout") or 0)


def late_copy(params):
    """How long a late copy of a lost request may take to land: ``claim_settle`` - ``claim_bound`` where the module has
    them (dci_server_allocate), else the default (see _writes)."""
    if params.get("claim_settle") is not None and params.get("claim_bound") is not None:
        return params["claim_settle"] - params["claim_bound"]
    return LATE_COPY


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
        self.writes = Writes(module.check_mode, module.warn, deadline=write_deadline(module.params), late_copy=late_copy(module.params))
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

    def take(self, operation, result=_SERVER):
        """Take a service operation's outcome (_service/): its ``server`` as the result (or ``result``), its diff,
        and whether it changed anything (or, in check mode, would)."""
        self.result = operation.server if result is _SERVER else result
        self.before, self.after = operation.before, operation.after
        if operation.changed:
            self._mark_as_changed()

    def fail_json_api(self, exc, msg=None, **kwargs):
        """End the module with the API's own error, if it gave one, beside a message a person can act on."""
        if exc.api_error is not None:
            kwargs["api_error"] = exc.api_error
        self.module.fail_json(msg=msg or exc.msg, **kwargs)

    def get_result(self):
        result = {"changed": self.changed or self.writes.changed, self.represent: self.result}
        if self.module._diff:  # pylint: disable=protected-access
            result["diff"] = {"before": self.before, "after": self.after}
        return result


def run(module, resource_class, action):
    """Make the resource, run ``action(resource)``, and exit with its result or a clear failure."""
    resource = resource_class(module)
    try:
        action(resource)
    except OperationFailed as exc:
        resource.fail_json_api(exc, **exc.details)
    except ClientError as exc:
        resource.fail_json_api(exc)
    except WaitTimeout as exc:
        module.fail_json(msg=str(exc), **{resource.represent: resource.result})
    finally:
        close = getattr(resource.client, "close", None)
        if close is not None:
            close()
    module.exit_json(**resource.get_result())
