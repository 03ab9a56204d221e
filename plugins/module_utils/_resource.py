# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the base of every module's resource class.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations


class WaitTimeout(Exception):
    """A wait ran out of time; the message says what was still awaited."""


class APIResource:
    """One kind of object managed by one module (hetzner.hcloud's pattern).

    Subclasses set ``represent`` (the result key) and ``error_class`` (their client's error),
    make the client in ``make_client()``, fill ``self.result`` and, for ``--diff``,
    ``self.before`` / ``self.after``.
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
