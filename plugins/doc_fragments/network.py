# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""How every module and inventory plugin of the collection reaches its API: request time-out and proxy."""

from __future__ import annotations


class ModuleDocFragment:
    # pylint: disable=too-few-public-methods

    DOCUMENTATION = r"""
options:
  timeout:
    description:
      - Seconds to wait for each API request.
    type: int
    default: 60
  use_proxy:
    description:
      - Use the proxy that the environment names for the API's URL (E(HTTPS_PROXY), E(HTTP_PROXY), E(ALL_PROXY),
        and E(NO_PROXY) for addresses to reach directly), as M(ansible.builtin.uri) does.
      - Whom the controller trusts stays decided by O(validate_certs) and O(ca_path) alone; no other environment
        variable (such as E(REQUESTS_CA_BUNDLE)) and no C(~/.netrc) is read.
    type: bool
    default: true
"""
