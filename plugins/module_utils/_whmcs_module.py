# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the base of every whmcs_* module.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ._whmcs_client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR, WHMCSClient, WHMCSError


def whmcs_argument_spec():
    """The connection options, mirrored by the ispsystem.dcimanager.whmcs doc fragment."""
    return dict(
        whmcs_url=dict(type="str", required=True, fallback=(env_fallback, ["WHMCS_URL"])),
        whmcs_identifier=dict(type="str", required=True, fallback=(env_fallback, ["WHMCS_API_IDENTIFIER"])),
        whmcs_secret=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["WHMCS_API_SECRET"])),
        whmcs_access_key=dict(type="str", no_log=True, fallback=(env_fallback, ["WHMCS_API_ACCESS_KEY"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["WHMCS_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["WHMCS_CA_PATH"])),
        timeout=dict(type="int", default=60),
    )


class WHMCSResource:
    """One kind of WHMCS object handled by one module (hetzner.hcloud's pattern).

    Subclasses set ``represent`` (the result key), fill ``self.result`` and, for ``--diff``,
    ``self.before`` / ``self.after``.
    """

    represent = None

    def __init__(self, module):
        self.module = module
        self.changed = False
        self.result = None
        self.before = {}
        self.after = {}
        if not HAS_REQUESTS:
            module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        params = module.params
        try:
            self.client = WHMCSClient(
                params["whmcs_url"], params["whmcs_identifier"], params["whmcs_secret"],
                access_key=params["whmcs_access_key"], validate_certs=params["validate_certs"],
                ca_path=params["ca_path"], timeout=params["timeout"])
        except WHMCSError as exc:
            self.fail_json_whmcs(exc)

    def _mark_as_changed(self):
        self.changed = True

    def fail_json_whmcs(self, exc, msg=None, **kwargs):
        """End the module with WHMCS's error, if it gave one, beside a message a person can act on."""
        if exc.api_error is not None:
            kwargs["api_error"] = exc.api_error
        self.module.fail_json(msg=msg or exc.msg, **kwargs)

    def get_result(self):
        result = {"changed": self.changed, self.represent: self.result}
        if self.module._diff:  # pylint: disable=protected-access
            result["diff"] = {"before": self.before, "after": self.after}
        return result


def run(module, resource_class, action):
    """Make the resource, run ``action(resource)``, and exit with its result or WHMCS's error."""
    resource = resource_class(module)
    try:
        action(resource)
    except WHMCSError as exc:
        resource.fail_json_whmcs(exc)
    finally:
        if getattr(resource, "client", None) is not None:
            resource.client.close()
    module.exit_json(**resource.get_result())
