# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The attributes every module of the collection documents; a module adds only its own support level and details."""

from __future__ import annotations


class ModuleDocFragment:
    # pylint: disable=too-few-public-methods

    # Descriptions only: each module says how far it supports check mode and diff mode.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying the panel or WHMCS.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
"""

    # For modules that only read.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: N/A
    details: The module only reads, so it has nothing to show.
"""

    ACTIONGROUP_DCIMANAGER = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/ispsystem.dcimanager.dcimanager) in C(module_defaults) to set the connection options of this module once for a play.
    support: full
    membership:
      - ispsystem.dcimanager.dcimanager
"""

    ACTIONGROUP_WHMCS = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/ispsystem.dcimanager.whmcs) in C(module_defaults) to set the connection options of this module once for a play.
    support: full
    membership:
      - ispsystem.dcimanager.whmcs
"""
