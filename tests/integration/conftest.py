# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures of the integration tests: the simulators, started in-process on loopback."""

from __future__ import annotations

import pytest

from simulators.dcimanager import DCImanagerSimulator, default_state


# Fast timings: the waits are real, only shorter than on a real panel.
FAST = dict(poweron_seconds=0.4, poweroff_seconds=0.2, install_seconds=1.5, enable_seconds=0.2)


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
    return {
        "DCIMANAGER_URL": dci.url,
        "DCIMANAGER_USERNAME": dci.admin_user,
        "DCIMANAGER_PASSWORD": dci.admin_password,
        "DCIMANAGER_CA_PATH": dci.ca_path,
    }
