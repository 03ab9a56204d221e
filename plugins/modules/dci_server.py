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

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.panel import is_suspended, is_switch, port_state, power_of
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import (
    DCIResource,
    dci_argument_spec,
    server_selector_spec,
    wait_spec,
)
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._writes import CANNOT_TELL, NOT_SHOWN


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

    def _switch_ports(self, server_id):
        return [conn for conn in self.connections(server_id) if is_switch(conn)]

    def _set_blocked(self, server_id, row, blocked):
        params = self.module.params
        if is_suspended(row) == blocked:
            return
        self.before["blocked"], self.after["blocked"] = is_suspended(row), blocked
        if self.module.check_mode:
            self._mark_as_changed()
            return
        if not blocked:
            self.unblock(server_id, params["wait_timeout"], wait=params["wait"])
            return
        self.server_call(
            server_id, "server.disable", is_suspended, lambda r: self.switch_ports_busy(server_id), "blocking server %s (server.disable)" % server_id
        )
        if params["wait"]:
            self.wait_server(server_id, is_suspended, "blocking", params["wait_timeout"])

    def _set_power(self, server_id, row, power):
        params = self.module.params
        now = power_of(row)
        self.before["power"] = now
        self.after["power"] = power if power != now or power == "restarted" else now
        if power != "restarted" and power == now:
            return
        if self.module.check_mode:
            self._mark_as_changed()
            return
        if power == "restarted":
            # While a reboot runs the row shows no power flag; a row showing one cannot tell.
            self.write(
                "server.reboot",
                lambda: {} if power_of(self.server_row(server_id)) == "unknown" else CANNOT_TELL,
                "the restart of server %s" % server_id,
                elid=server_id,
            )
            row = self.wait_server(server_id, lambda r: r["poweron"] or r["powererror"], "restarting", params["wait_timeout"]) if params["wait"] else None
        else:
            row = self.power(server_id, power, params["wait_timeout"], wait=params["wait"])
        if row is not None and row["powererror"]:
            self.module.fail_json(msg="server %s reports powererror after the power change; check its IPMI connection" % server_id)

    def _set_network(self, server_id, network, blocked_now):
        ports = self._switch_ports(server_id)
        if not ports:
            self.module.fail_json(msg="server %s has no switch connection; its network cannot be switched" % server_id)
        states = [port_state(conn) for conn in ports]
        self.network_state_shown = None not in states
        if self.network_state_shown:
            self.before["network"] = "on" if all(state == "on" for state in states) else "off"
            switched = [conn for conn, state in zip(ports, states) if state != network]
        else:
            self.module.warn(
                "server %s: the panel shows no on/off state of its switch ports, so every port was switched "
                "%s without knowing its state (as ISPsystem's module does)" % (server_id, network)
            )
            self.before["network"] = "unknown"
            switched = ports
        self.after["network"] = network
        if not switched:
            return
        if blocked_now:
            self.module.fail_json(
                msg="server %s is blocked; the panel refuses switch port changes on a blocked server. Unblock it first (blocked: false)" % server_id
            )
        if self.module.check_mode:
            self._mark_as_changed()
            return
        for conn in switched:
            self._switch_port(server_id, conn["id"], network)
        if self.module.params["wait"]:
            # Without a visible state, the end of the operation is all there is to wait for.
            self.wait_server(
                server_id,
                lambda r: all((port_state(c) == network or not self.network_state_shown) and not c["func_in_progress"] for c in self._switch_ports(server_id)),
                "switching the network %s" % network,
                self.module.params["wait_timeout"],
            )

    def _switch_port(self, server_id, conn_id, network):
        def port():
            return next((conn for conn in self._switch_ports(server_id) if conn["id"] == conn_id), None)

        def read_back():
            # An operation under way may be an earlier one: decide once the port shows none.
            self.wait_server(
                server_id, lambda r: not (port() or {}).get("func_in_progress"), "the switch port's operation ending", self.module.params["wait_timeout"]
            )
            state = port_state(port() or {})
            if state is None:
                return CANNOT_TELL
            return {} if state == network else NOT_SHOWN

        self.write(
            "server.connection.%s" % network, read_back, "switching port %s of server %s %s" % (conn_id, server_id, network), plid=server_id, elid=conn_id
        )

    def apply(self):
        params = self.module.params
        row = self.find_server(params["server_id"], params["hostname"])
        server_id = row["id"]
        if params["blocked"] is True and params["network"] == "on":
            self.module.fail_json(msg="blocked: true switches the network off; network: on cannot be kept with it")
        if params["blocked"] is False:
            self._set_blocked(server_id, row, False)
        if params["power"] is not None:
            self._set_power(server_id, row, params["power"])
        if params["network"] is not None:
            self._set_network(server_id, params["network"], is_suspended(row) and params["blocked"] is not False)
        if params["blocked"] is True:
            self._set_blocked(server_id, row, True)
        self.result = self.describe_server(self.server_row(server_id) if self.changed and not self.module.check_mode else row)


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
