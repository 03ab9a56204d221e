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
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
extends_documentation_fragment:
  - ispsystem.dcimanager.dcimanager
  - ispsystem.dcimanager.dcimanager.server
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
  wait:
    description:
      - Wait until each change shows in the panel's flags.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each change.
    type: int
    default: 600
  poll_interval:
    description:
      - The longest pause, in seconds, between two looks at the server.
    type: int
    default: 15
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
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_client import CONNECTION_FLAGS
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import (
    DCIResource,
    dci_argument_spec,
    power_of,
    run,
    server_selector_spec,
    wait_spec,
)


class DCIServer(DCIResource):
    represent = "server"

    def _switch_ports(self, server_id):
        return [conn for conn in self.client.list("server.connection", flags=CONNECTION_FLAGS, elid=server_id)
                if conn.get("type", "").lower() == "switch"]

    def _change(self, server_id, func, predicate, what, **params):
        """One write, then (with wait) the wait for its flags; the server's row after it."""
        self._mark_as_changed()
        if self.module.check_mode:
            return None
        self.client.write(func, elid=server_id, **params)
        if not self.module.params["wait"]:
            return None
        return self.wait_server(server_id, predicate, what, self.module.params["wait_timeout"])

    def _set_blocked(self, server_id, row, blocked):
        if row["blocked"] == blocked:
            return
        self.before["blocked"], self.after["blocked"] = row["blocked"], blocked
        if blocked:
            self._change(server_id, "server.disable", lambda r: r["blocked"], "blocking")
        else:
            self._change(server_id, "server.enable", lambda r: not r["blocked"] and not r["disabled"], "unblocking")

    def _set_power(self, server_id, row, power):
        now = power_of(row)
        self.before["power"] = now
        if power == "restarted":
            self.after["power"] = "restarted"
            row = self._change(server_id, "server.reboot", lambda r: r["poweron"] or r["powererror"], "restarting")
        elif power != now:
            self.after["power"] = power
            func = "server.poweron" if power == "on" else "server.poweroff"
            row = self._change(server_id, func, lambda r: r[power == "on" and "poweron" or "poweroff"] or r["powererror"],
                               "powering %s" % power)
        else:
            self.after["power"] = now
            return
        if row is not None and row["powererror"]:
            self.module.fail_json(msg="server %s reports powererror after the power change; check its IPMI connection" % server_id)

    def _set_network(self, server_id, network, blocked_now):
        ports = self._switch_ports(server_id)
        if not ports:
            self.module.fail_json(msg="server %s has no switch connection; its network cannot be switched" % server_id)
        wanted_on = network == "on"
        # Assumption named in the docs: a switch connection's row has a "state" column, on or off
        # (the reference does not say how the panel shows a port's state).
        differing = [conn for conn in ports if (conn.get("state") == "on") != wanted_on]
        self.before["network"] = "on" if all(conn.get("state") == "on" for conn in ports) else "off"
        self.after["network"] = network
        if not differing:
            return
        if blocked_now:
            self.module.fail_json(msg="server %s is blocked; the panel refuses switch port changes on a blocked server. "
                                      "Unblock it first (blocked: false)" % server_id)
        self._mark_as_changed()
        if self.module.check_mode:
            return
        for conn in differing:
            self.client.write("server.connection.%s" % network, plid=server_id, elid=conn["id"])
        if self.module.params["wait"]:
            self.wait_server(server_id, lambda r: all((c.get("state") == "on") == wanted_on and not c["func_in_progress"]
                                                      for c in self._switch_ports(server_id)),
                             "switching the network %s" % network, self.module.params["wait_timeout"])

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
            self._set_network(server_id, params["network"], row["blocked"] and params["blocked"] is not False)
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
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("server_id", "hostname")], mutually_exclusive=[("server_id", "hostname")])
    run(module, DCIServer, DCIServer.apply)


if __name__ == "__main__":
    main()
