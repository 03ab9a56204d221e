# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: a server's blocked state, power and switch ports.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from .._dci.panel import is_suspended, is_switch, port_state, power_of
from .._writes import CANNOT_TELL, NOT_SHOWN
from .errors import OperationFailed


class ServerState:
    """Bring a server to ``blocked`` / ``power`` / ``network`` (each None = leave it); ``apply(row)`` does it and
    fills ``server``, ``before``, ``after``, ``changed`` and ``network_state_shown``."""

    def __init__(self, panel, blocked=None, power=None, network=None, wait=True, wait_timeout=600):
        if blocked is True and network == "on":
            raise OperationFailed("blocked: true switches the network off; network: on cannot be kept with it")
        self.panel = panel
        self.blocked = blocked
        self.power = power
        self.network = network
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.changed = False
        self.network_state_shown = None
        self.server = None
        self.before = {}
        self.after = {}

    def switch_ports(self, server_id):
        return [conn for conn in self.panel.connections(server_id) if is_switch(conn)]

    def set_blocked(self, server_id, row, blocked):
        if is_suspended(row) == blocked:
            return
        self.before["blocked"], self.after["blocked"] = is_suspended(row), blocked
        self.changed = True
        if self.panel.check_mode:
            return
        if blocked:
            self.panel.block(server_id, self.wait_timeout, wait=self.wait)
        else:
            self.panel.unblock(server_id, self.wait_timeout, wait=self.wait)

    def set_power(self, server_id, row, power):
        now = power_of(row)
        self.before["power"] = now
        self.after["power"] = power if power != now or power == "restarted" else now
        if power != "restarted" and power == now:
            return
        self.changed = True
        if self.panel.check_mode:
            return
        if power == "restarted":
            # While a reboot runs the row shows no power flag; a row showing one cannot tell.
            self.panel.write(
                "server.reboot",
                lambda: {} if power_of(self.panel.row(server_id)) == "unknown" else CANNOT_TELL,
                "the restart of server %s" % server_id,
                elid=server_id,
            )
            row = self.panel.wait_server(server_id, lambda r: r["poweron"] or r["powererror"], "restarting", self.wait_timeout) if self.wait else None
        else:
            row = self.panel.power(server_id, power, self.wait_timeout, wait=self.wait)
        if row is not None and row["powererror"]:
            raise OperationFailed("server %s reports powererror after the power change; check its IPMI connection" % server_id)

    def set_network(self, server_id, network, blocked_now):
        ports = self.switch_ports(server_id)
        if not ports:
            raise OperationFailed("server %s has no switch connection; its network cannot be switched" % server_id)
        states = [port_state(conn) for conn in ports]
        self.network_state_shown = None not in states
        if self.network_state_shown:
            self.before["network"] = "on" if all(state == "on" for state in states) else "off"
            switched = [conn for conn, state in zip(ports, states) if state != network]
        else:
            self.panel.warn(
                "server %s: the panel shows no on/off state of its switch ports, so every port was switched %s without knowing "
                "its state (as ISPsystem's module does)" % (server_id, network)
            )
            self.before["network"] = "unknown"
            switched = ports
        self.after["network"] = network
        if not switched:
            return
        if blocked_now:
            raise OperationFailed(
                "server %s is blocked; the panel refuses switch port changes on a blocked server. Unblock it first (blocked: false)" % server_id
            )
        self.changed = True
        if self.panel.check_mode:
            return
        for conn in switched:
            self._switch_port(server_id, conn["id"], network)
        if self.wait:
            # Without a visible state, the end of the operation is all there is to wait for.
            self.panel.wait_server(
                server_id,
                lambda r: all((port_state(c) == network or not self.network_state_shown) and not c["func_in_progress"] for c in self.switch_ports(server_id)),
                "switching the network %s" % network,
                self.wait_timeout,
            )

    def _switch_port(self, server_id, conn_id, network):
        def port():
            return next((conn for conn in self.switch_ports(server_id) if conn["id"] == conn_id), None)

        def read_back():
            # An operation under way may be an earlier one: decide once the port shows none.
            self.panel.wait_server(server_id, lambda r: not (port() or {}).get("func_in_progress"), "the switch port's operation ending", self.wait_timeout)
            state = port_state(port() or {})
            if state is None:
                return CANNOT_TELL
            return {} if state == network else NOT_SHOWN

        self.panel.write(
            "server.connection.%s" % network, read_back, "switching port %s of server %s %s" % (conn_id, server_id, network), plid=server_id, elid=conn_id
        )

    def apply(self, row):
        server_id = row["id"]
        if self.blocked is False:
            self.set_blocked(server_id, row, False)
        if self.power is not None:
            self.set_power(server_id, row, self.power)
        if self.network is not None:
            self.set_network(server_id, self.network, is_suspended(row) and self.blocked is not False)
        if self.blocked is True:
            self.set_blocked(server_id, row, True)
        self.server = self.panel.describe_server(self.panel.row(server_id) if self.changed and not self.panel.check_mode else row)
        return self
