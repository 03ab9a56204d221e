# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The DCImanager 5 connection options shared by every dci_* module."""

from __future__ import annotations


class ModuleDocFragment:
    # pylint: disable=too-few-public-methods

    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - URL of the DCImanager 5 panel.
      - V(https://host), V(https://host:1500) and V(https://host:1500/dcimgr) are accepted;
        a missing port means V(1500) and a missing path means V(/dcimgr).
      - If not set, the value of the E(DCIMANAGER_URL) environment variable is used.
    type: str
    required: true
  api_username:
    description:
      - Login of the panel account the modules act as (an administrator, not root).
      - If not set, the value of the E(DCIMANAGER_USERNAME) environment variable is used.
    type: str
    required: true
  api_password:
    description:
      - Password of O(api_username). Sent only in POST bodies, never in URLs.
      - If not set, the value of the E(DCIMANAGER_PASSWORD) environment variable is used.
    type: str
    required: true
  validate_certs:
    description:
      - Verify the panel's TLS certificate.
      - DCImanager ships a self-signed certificate; give its CA in O(ca_path) rather than turning this off.
      - If not set, the value of the E(DCIMANAGER_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the CA certificate(s) to verify the panel's certificate with.
      - If not set, the value of the E(DCIMANAGER_CA_PATH) environment variable is used.
    type: path
requirements:
  - requests
  - lxml
notes:
  - "The modules talk to the panel from the controller; run them with C(delegate_to: localhost)
    or a local connection."
  - Reading calls are repeated up to five times, with backoff, after network failures and HTTP 5xx answers;
    an error document of the panel is its answer, whatever the HTTP status, and is not repeated.
    A writing call is repeated when the request provably never reached the panel; when it reached the panel
    and its answer was lost, the module reads back what the write was meant to change and sends it again only
    when the panel provably does not show it, after growing pauses, for at most C(wait_timeout) seconds where
    the module has that option, else O(timeout) (at least 60). C(ispsystem.dcimanager.dci_server_allocate)
    never sends its claim of a server or the creation of an address twice.
  - Use the action group C(ispsystem.dcimanager.dcimanager) in C(module_defaults) to set these options once.
"""

    # An existing server, named by id or hostname (dci_os_install, dci_server).
    SERVER = r"""
options:
  server_id:
    description:
      - The panel's id of the server. Exactly one of O(server_id) and O(hostname) is required.
    type: str
  hostname:
    description:
      - The domain set on the server's addresses.
    type: str
"""

    # The pace of the waits of a module that waits (dci_os_install, dci_server, dci_server_release).
    POLL = r"""
options:
  poll_interval:
    description:
      - The longest pause, in seconds, between two looks at the server while waiting. The first look comes after
        a second and the pauses grow by 1.6 each time up to this, so quick changes are seen quickly and long waits
        cost few calls.
    type: int
    default: 15
"""

    # Whether a module that changes a server waits for the change (dci_os_install, dci_server).
    WAIT = r"""
options:
  wait:
    description:
      - Wait until what the task changed shows in the panel (the install finished, the flags changed) or
        O(wait_timeout) runs out.
      - Without waiting the task returns once the panel has taken the request.
    type: bool
    default: true
"""
