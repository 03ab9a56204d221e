# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the base of every dci_* module.

The argument specs and ``DCIResource``, which gives a module its client and its ``Panel`` (the
service layer's reads and writes of one panel, _service/panel.py) and takes an operation's
result. The work itself is the service operations' (_service/), which fleet_apply uses too.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ._dci.answers import HAS_LXML, LXML_IMPORT_ERROR
from ._dci.client import DCIClient
from ._dci.errors import DCIError
from ._resource import APIResource
from ._service.panel import Panel
from ._transport import HAS_REQUESTS, REQUESTS_IMPORT_ERROR


def dci_argument_spec():
    """The connection options, mirrored by the ispsystem.dcimanager.dcimanager doc fragment."""
    return dict(
        api_url=dict(type="str", required=True, fallback=(env_fallback, ["DCIMANAGER_URL"])),
        api_username=dict(type="str", required=True, fallback=(env_fallback, ["DCIMANAGER_USERNAME"])),
        api_password=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["DCIMANAGER_PASSWORD"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["DCIMANAGER_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["DCIMANAGER_CA_PATH"])),
        timeout=dict(type="int", default=60),
        use_proxy=dict(type="bool", default=True),
    )


def server_selector_spec():
    """``server_id`` | ``hostname``: how a module names an existing server."""
    return dict(server_id=dict(type="str"), hostname=dict(type="str"))


def wait_spec(default_timeout, wait=True):
    """``wait`` / ``wait_timeout`` / ``poll_interval``; ``wait`` and ``poll_interval`` are mirrored by the
    ``dcimanager.wait`` and ``dcimanager.poll`` doc fragments, ``wait_timeout`` by each module (its default differs)."""
    spec = dict(
        wait_timeout=dict(type="int", default=default_timeout),
        poll_interval=dict(type="int", default=15),
    )
    if wait:
        spec["wait"] = dict(type="bool", default=True)
    return spec


class DCIResource(APIResource):
    """A DCImanager object managed by one module; see APIResource."""

    error_class = DCIError

    def __init__(self, module):
        self._panel = None
        super().__init__(module)

    def make_client(self, params):
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        if not HAS_LXML:
            self.module.fail_json(msg=missing_required_lib("lxml"), exception=str(LXML_IMPORT_ERROR))
        # The session id is a credential too: keep it out of every output, like the password.
        return DCIClient(
            params["api_url"],
            params["api_username"],
            params["api_password"],
            validate_certs=params["validate_certs"],
            ca_path=params["ca_path"],
            timeout=params["timeout"],
            on_session=self.module.no_log_values.add,
            use_proxy=params["use_proxy"],
        )

    def panel(self):
        """The panel as this run works on it (its waits take the module's wait_timeout and poll_interval)."""
        if self._panel is None:
            params = self.module.params
            self._panel = Panel(
                self.client,
                self.writes,
                wait_timeout=params.get("wait_timeout") or 600,
                poll_interval=params.get("poll_interval") or 15,
                warn=self.module.warn,
            )
        return self._panel
