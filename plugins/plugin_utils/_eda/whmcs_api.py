# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to this collection (no compatibility promise): the one place where the WHMCS event source
takes the collection's WHMCS client (its endpoint handling, transport and retry rules).

The client is synchronous (requests); poll.py runs its calls in a thread of its own, so that
ansible-rulebook's event loop never waits on WHMCS.
"""

from __future__ import annotations

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.client import WHMCSClient
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.errors import WHMCSError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.services import products_list, to_int

__all__ = ["WHMCSClient", "WHMCSError", "products_list", "to_int"]
