# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The WHMCS connection options shared by every whmcs_* module."""

from __future__ import annotations


class ModuleDocFragment:
    # pylint: disable=too-few-public-methods

    DOCUMENTATION = r"""
options:
  whmcs_url:
    description:
      - The WHMCS base URL, for example V(https://billing.example.com/) or V(https://example.com/whmcs).
      - The API endpoint C(includes/api.php) is appended; a URL that already ends in C(includes/api.php) is used as it is.
      - If not set, the value of the E(WHMCS_URL) environment variable is used.
    type: str
    required: true
  whmcs_identifier:
    description:
      - The API credential's identifier (WHMCS 7.2 and newer, Setup > Staff Management > Manage API Credentials).
      - If not set, the value of the E(WHMCS_API_IDENTIFIER) environment variable is used.
    type: str
    required: true
  whmcs_secret:
    description:
      - The API credential's secret. Sent only in POST bodies, never in URLs.
      - If not set, the value of the E(WHMCS_API_SECRET) environment variable is used.
    type: str
    required: true
  whmcs_access_key:
    description:
      - The API access key (C($api_access_key) in WHMCS's C(configuration.php)).
        With it WHMCS accepts API calls from addresses that are not in its API IP allow-list.
      - If not set, the value of the E(WHMCS_API_ACCESS_KEY) environment variable is used.
    type: str
  validate_certs:
    description:
      - Verify WHMCS's TLS certificate.
      - Give a private CA in O(ca_path) rather than turning this off.
      - If not set, the value of the E(WHMCS_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the CA certificate(s) to verify WHMCS's certificate with.
      - If not set, the value of the E(WHMCS_CA_PATH) environment variable is used.
    type: path
requirements:
  - requests
notes:
  - The modules talk to WHMCS from the controller; run them with C(delegate_to=localhost) or a local connection.
  - The API credential's role must allow the actions a module uses (listed in each module's notes).
  - Reading calls are repeated up to five times, with backoff, after network failures and HTTP 5xx answers;
    a refusal of WHMCS (C(result=error)) is its answer, whatever the HTTP status, and is not repeated.
    A writing call is repeated when the request provably never reached WHMCS; when it reached WHMCS and its
    answer was lost, the module reads the service back and sends the update again only when WHMCS provably
    does not show it, after growing pauses, for at most O(timeout) seconds (at least 60).
  - Use the action group C(ispsystem.dcimanager.whmcs) in C(module_defaults) to set these options once.
"""
