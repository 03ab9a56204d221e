# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures of the integration tests: the simulators, started in-process on loopback."""

from __future__ import annotations

import pytest
import yaml

import eda_harness
from harness import FAST
from panel_shop import PanelShop
from simulators.dcimanager import DCImanagerSimulator, default_state
from simulators.shop import make_shop
from simulators.whmcs import WHMCSSimulator


@pytest.fixture
def dci(tmp_path):
    """A DCImanager simulator with the sample panel (see simulators.dcimanager.default_state)."""
    sim = DCImanagerSimulator(state=default_state(), tls_dir=str(tmp_path / "dci-tls"), **FAST)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def dci_env(dci):
    """The environment variables that point the dci_* modules at the simulator."""
    return dci.env()


class Shop:
    """Both simulators holding the sample shop, and what a playbook run needs to reach them."""

    def __init__(self, directory, dci, whmcs, products):
        self.dci = dci
        self.whmcs = whmcs
        self.env = {
            **dci.env(),
            **whmcs.env(),
        }
        self.products_file = directory / "products.yml"
        self.products_file.write_text(yaml.safe_dump({"dedicated_server_products": products}))
        self.inventory = directory / "shop.whmcs.yml"
        self.inventory.write_text(
            yaml.safe_dump(
                {
                    "plugin": "ispsystem.dcimanager.whmcs",
                    "statuses": ["Pending", "Active", "Suspended", "Terminated", "Cancelled", "Fraud"],
                }
            )
        )

    def writes(self):
        return self.dci.writes() + self.whmcs.writes()

    def clear_calls(self):
        self.dci.clear_calls()
        self.whmcs.clear_calls()


@pytest.fixture
def shop_states():
    """(dcimanager state, whmcs state, products) the ``shop`` fixture loads: the sample shop of simulators.shop. A test
    module overrides this fixture to load another shop the same way."""
    return make_shop()


@pytest.fixture
def shop(tmp_path, shop_states):
    """A shop (shop_states) in both simulators (fast DCImanager timings)."""
    dci_state, whmcs_state, products = shop_states
    dci_sim = DCImanagerSimulator(state=dci_state, tls_dir=str(tmp_path / "dci-tls"), **FAST)
    whmcs_sim = WHMCSSimulator(state=whmcs_state, tls_dir=str(tmp_path / "whmcs-tls"))
    dci_sim.start()
    whmcs_sim.start()
    yield Shop(tmp_path, dci_sim, whmcs_sim, products)
    dci_sim.stop()
    whmcs_sim.close()


@pytest.fixture
def two_panels(tmp_path):
    """The sample shop in two datacenters: WHMCS server entries 1 and 2, one DCImanager panel each (see panel_shop.PanelShop
    and simulators.shop: the same server ids on both panels, services 10-24 on panel 1, 110-124 on panel 2)."""
    with PanelShop(tmp_path, make_shop(server_ids=(1, 2)), **FAST) as shop:
        yield shop
        assert not shop.errors(), "a simulator failed:\n" + "\n".join(shop.errors())


@pytest.fixture
def eda_shop(tmp_path):
    """eda_harness.Shop(tmp_path, count): both simulators with ``count`` more Pending orders, closed at the end of the test."""
    shops = []

    def make(count=0):
        shops.append(eda_harness.Shop(tmp_path, count))
        return shops[-1]

    yield make
    for shop in shops:
        shop.close()


@pytest.fixture
def rulebooks():
    """Every RulebookRun a test makes is stopped (its whole process session killed) at the end."""
    started = []

    def make(*args, **kwargs):
        started.append(eda_harness.RulebookRun(*args, **kwargs))
        return started[-1]

    yield make
    for run in started:
        run.kill()
