# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the base of every whmcs_* module.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ._resource import APIResource
from ._transport import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ._whmcs.client import WHMCSClient
from ._whmcs.errors import WHMCSError


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
        use_proxy=dict(type="bool", default=True),
    )


class WHMCSResource(APIResource):
    """A WHMCS object handled by one module; see APIResource."""

    error_class = WHMCSError

    def make_client(self, params):
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        return WHMCSClient(
            params["whmcs_url"],
            params["whmcs_identifier"],
            params["whmcs_secret"],
            access_key=params["whmcs_access_key"],
            validate_certs=params["validate_certs"],
            ca_path=params["ca_path"],
            timeout=params["timeout"],
            use_proxy=params["use_proxy"],
        )
