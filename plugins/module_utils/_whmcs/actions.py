# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the catalogue of every WHMCS API action it calls.

Each action is a read or a write. The client sends a read only through ``read()`` and a write only
through ``write()`` (a read is repeated after a failure that may pass, a write only when it never
left), refuses an action not listed here, and tests/unit/test_catalogues.py checks the simulator's
idea of which actions write against this table. Not a public API: it may change in any release
without notice.
"""

from __future__ import annotations

READ, WRITE = "read", "write"

ACTIONS = {
    "GetClientsProducts": READ,
    "GetProducts": READ,
    # The poll mode of the EDA event source (plugins/plugin_utils/_eda/poll.py).
    "GetActivityLog": READ,
    "GetModuleQueue": READ,
    "UpdateClientProduct": WRITE,
    # The create of the WHMCS provisioning module (extras/whmcs/modules/servers/ispsystem_dcimanager),
    # run after a provisioning that WHMCS's own CreateAccount gave up on.
    "ModuleCreate": WRITE,
}


def checked(action, kind):
    """Check that the collection may send ``action`` as ``kind`` (READ or WRITE); a misuse is a bug in the
    collection, so it raises ValueError before anything is sent."""
    listed = ACTIONS.get(action)
    if listed is None:
        raise ValueError("the WHMCS action %s is not in the collection's catalogue (_whmcs/actions.py)" % action)
    if listed != kind:
        raise ValueError("the catalogue (_whmcs/actions.py) lists %s as a %s, not a %s" % (action, listed, kind))
