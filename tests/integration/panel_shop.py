# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Several datacenters: one WHMCS simulator and one DCImanager simulator per WHMCS server entry.

    with PanelShop(tmp_path, make_shop(server_ids=(1, 2)), **FAST) as shop:
        shop.dcimanager_panels     # {"1": {url, username, password, ca_path}, "2": {...}}
        shop.panels["2"]           # the DCImanager simulator of WHMCS server entry 2
        run_ansible_playbook(tmp_path, [...], env=shop.env, args=["-e", "@%s" % shop.panels_file])

The states come from ``simulators.shop.make_shop(server_ids=...)`` or
``simulators.fleet.make_consistent_shop(..., server_ids=...)``: ``({server id: dcimanager_state},
whmcs_state, products)``. Each panel has its own CA, and its own administrator login and password
(a request sent to the wrong panel with another panel's credentials is refused, not quietly
answered). ``env`` points at WHMCS only: there is no ``DCIMANAGER_*`` default panel, so nothing can
fall back to one.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from simulators.dcimanager import DCImanagerSimulator
from simulators.whmcs import WHMCSSimulator

STATUSES = ["Pending", "Active", "Suspended", "Terminated", "Cancelled", "Fraud"]


def admin_login(key):
    """(login, password) of the administrator of the panel of WHMCS server entry ``key``."""
    return ("admin", "admin-secret-pw") if str(key) == "1" else ("admin%s" % key, "panel-%s-secret-pw" % key)


class PanelShop:
    """The simulators of a shop over several panels, the files a playbook run needs, and their call logs."""

    def __init__(self, directory, states, **timings):
        """``states``: ``({server id: dcimanager_state}, whmcs_state, products)``; ``timings``: DCImanagerSimulator's
        ``install_seconds``, ``poweron_seconds`` ... (the same on every panel)."""
        panel_states, whmcs_state, products = states
        if not isinstance(panel_states, dict) or not panel_states or "servers" in panel_states:  # one panel's state
            raise ValueError("PanelShop needs {server id: dcimanager_state}: make the shop with server_ids=...")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        entries = set(str(server["id"]) for server in whmcs_state.get("servers", ()))
        missing = sorted(set(str(key) for key in panel_states) - entries)
        if missing:
            raise ValueError("no WHMCS server entry for the panels %s" % ", ".join(missing))
        self.panels = {}
        for key, state in panel_states.items():
            login, password = admin_login(key)
            self.panels[str(key)] = DCImanagerSimulator(
                state=state, tls_dir=str(self.directory / ("dci-%s-tls" % key)), admin_user=login, admin_password=password, **timings
            )
        self.whmcs = WHMCSSimulator(state=whmcs_state, tls_dir=str(self.directory / "whmcs-tls"))
        self.products = products
        self.products_file = self.directory / "products.yml"
        self.products_file.write_text(yaml.safe_dump({"dedicated_server_products": products}))
        self.panels_file = self.directory / "panels.yml"
        self.inventory = self.directory / "shop.whmcs.yml"
        self.inventory.write_text(yaml.safe_dump({"plugin": "ispsystem.dcimanager.whmcs", "statuses": STATUSES}))
        self.started = False

    # Life cycle ------------------------------------------------------------------------------

    def start(self):
        try:
            for sim in self.panels.values():
                sim.start()
            self.whmcs.start()
        except BaseException:
            self.close()
            raise
        self.started = True
        # Written once the simulators listen: their URLs carry the ports they got.
        self.panels_file.write_text(yaml.safe_dump({"dcimanager_panels": self.dcimanager_panels}))
        return self

    def close(self):
        for sim in self.panels.values():
            sim.close()
        self.whmcs.close()
        self.started = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    # What a run needs ------------------------------------------------------------------------

    @property
    def dcimanager_panels(self):
        """The ``dcimanager_panels`` variable: WHMCS server id (a string) -> the panel's connection."""
        return {
            key: {"url": sim.url, "username": sim.admin_user, "password": sim.admin_password, "ca_path": sim.ca_path}
            for key, sim in sorted(self.panels.items(), key=lambda item: int(item[0]))
        }

    @property
    def env(self):
        """WHMCS's connection only: a play finds each panel in ``dcimanager_panels``."""
        return self.whmcs.env()

    def service(self, service_id):
        return self.whmcs.service(service_id)

    def panel_of(self, service_id):
        """The simulator of the panel that WHMCS names for the service (its server entry), as WHMCS shows it now."""
        return self.panels[str(self.whmcs.service(service_id)["serverid"])]

    # Call logs -------------------------------------------------------------------------------

    def calls(self):
        """{"whmcs": [...], "1": [...], "2": [...]}: every simulator's call log."""
        return dict({key: sim.calls for key, sim in self.panels.items()}, whmcs=self.whmcs.calls)

    def writes(self):
        """Every writing call, each tagged with ``side`` (``whmcs`` or the panel's server id)."""
        return [dict(call, side=side) for side, calls in sorted(self.calls().items()) for call in calls if call["write"]]

    def list_reads(self):
        """Server id -> how many reads of that panel's whole server list (``func=server`` without ``elid``)."""
        return {key: sum(1 for call in sim.calls if call["name"] == "server" and not call["params"].get("elid")) for key, sim in self.panels.items()}

    def clear_calls(self):
        for sim in self.panels.values():
            sim.clear_calls()
        self.whmcs.clear_calls()

    def errors(self):
        """What the simulators failed with (their own bugs), for a test's last assertion."""
        return [error for sim in list(self.panels.values()) + [self.whmcs] for error in sim.errors]
