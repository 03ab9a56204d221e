#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dci_server
short_description: Set the state of an allocated server in DCImanager 5
version_added: 0.1.0
description:
  - Blocks (suspends) or unblocks (unsuspends) a server, powers it on, off or restarts it, and switches
    its network (switch ports) on or off.
  - Each setting is compared with the panel's flags first and changed only when it differs,
    except O(power=restarted), which always restarts.
  - "The order of the changes: unblock, power, network, block."
  - "A server counts as blocked when the panel shows C(blocked) or C(disabled): C(server.disable) sets
    C(disabled) (what ISPsystem's module waits on) and, on some panels, C(blocked). Unblocking waits until
    neither shows."
  - "Switch ports: the panel's API is not known to show a port's on/off state (ISPsystem's module never reads
    one). When the C(server.connection) rows show it (a C(state) or C(status) column with on/off, up/down,
    1/0 and the like), only the ports that differ are switched and the wait is for their new state. When they
    do not, the module does what ISPsystem's module does: it switches every switch port, waits only until no
    port has an operation in progress, reports a change, and says so in RV(network_state_shown)."
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
extends_documentation_fragment:
  - ispsystem.dcimanager.dcimanager
  - ispsystem.dcimanager.network
  - ispsystem.dcimanager.dcimanager.server
  - ispsystem.dcimanager.dcimanager.poll
  - ispsystem.dcimanager.dcimanager.wait
  - ispsystem.dcimanager.attributes
  - ispsystem.dcimanager.attributes.actiongroup_dcimanager
attributes:
  check_mode:
    support: full
    details: Check mode reports what would change, and changes nothing.
  diff_mode:
    support: full
options:
  blocked:
    description:
      - V(true) blocks the server (C(server.disable), the WHMCS suspend). The panel switches its service and
        switch ports off, but does not power it off.
      - V(false) unblocks it (C(server.enable), the WHMCS unsuspend).
    type: bool
  power:
    description:
      - V(on) or V(off) powers the server on or off; V(restarted) reboots it (always a change).
    type: str
    choices: ['on', 'off', restarted]
  network:
    description:
      - V(on) or V(off) switches the server's switch ports. Refused while the server is blocked.
    type: str
    choices: ['on', 'off']
  wait_timeout:
    description:
      - Seconds to wait for each change.
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Suspend
  ispsystem.dcimanager.dci_server:
    hostname: 1042.example.net
    blocked: true
  delegate_to: localhost

- name: Unsuspend and make sure it runs
  ispsystem.dcimanager.dci_server:
    hostname: 1042.example.net
    blocked: false
    power: "on"
  delegate_to: localhost

- name: Reboot
  ispsystem.dcimanager.dci_server:
    server_id: "17"
    power: restarted
  delegate_to: localhost
"""

RETURN = r"""
server:
  description: The server after the task, with the keys described in M(ispsystem.dcimanager.dci_server_info).
  returned: success
  type: dict
network_state_shown:
  description:
    - Whether the panel shows the on/off state of the server's switch ports. When V(false) the ports were switched
      without knowing their state before or after, so the task reports a change every time.
  returned: when O(network) is given
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import (
    DCIResource,
    dci_argument_spec,
    server_selector_spec,
    wait_spec,
)
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.server_state import ServerState


class DCIServer(DCIResource):
    represent = "server"

    def __init__(self, module):
        super().__init__(module)
        self.network_state_shown = None

    def get_result(self):
        result = super().get_result()
        if self.network_state_shown is not None:
            result["network_state_shown"] = self.network_state_shown
        return result

    def apply(self):
        params = self.module.params
        panel = self.panel()
        state = ServerState(panel, params["blocked"], params["power"], params["network"], wait=params["wait"], wait_timeout=params["wait_timeout"])
        try:
            state.apply(panel.find_server(params["server_id"], params["hostname"]))
        finally:
            self.network_state_shown = state.network_state_shown
        self.take(state)


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(server_selector_spec())
    argument_spec.update(wait_spec(600))
    argument_spec.update(
        blocked=dict(type="bool"),
        power=dict(type="str", choices=["on", "off", "restarted"]),
        network=dict(type="str", choices=["on", "off"]),
    )
    module = AnsibleModule(
        argument_spec=argument_spec, supports_check_mode=True, required_one_of=[("server_id", "hostname")], mutually_exclusive=[("server_id", "hostname")]
    )
    run(module, DCIServer, DCIServer.apply)


if __name__ == "__main__":
    main()
