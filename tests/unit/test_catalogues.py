# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The clients' catalogues (_dci/functions.py, _whmcs/actions.py) and the simulators agree on what writes.

The simulators' call logs mark each request ``write`` by their own rule (tests/simulators/dcimanager.py's
``write=`` per function, whmcs.py's WRITE_ACTIONS), and every test that proves "check mode writes
nothing" trusts that mark. Each function the collection calls is sent here the way the client sends it
(a read without ``sok``, a form's save with ``sok=ok``) and must be marked as the catalogue says.
"""

from __future__ import annotations

import pytest

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.functions import AUTH, FUNCTIONS, READS, WRITE
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.actions import ACTIONS, READ
from simulators import dcimanager, whmcs


@pytest.fixture(scope="module")
def dci(tmp_path_factory):
    return dcimanager.DCImanagerSimulator(tls_dir=str(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="module")
def billing(tmp_path_factory):
    return whmcs.WHMCSSimulator(tls_dir=str(tmp_path_factory.mktemp("tls")))


def dci_marks(sim, func, **params):
    return sim.classify("POST", "/dcimgr", "", dict(params, func=func, out="xml"))[1]


@pytest.mark.parametrize("func", sorted(FUNCTIONS))
def test_the_dcimanager_simulator_marks_writes_as_the_catalogue_says(dci, func):
    entry = FUNCTIONS[func]
    if AUTH in entry.kinds:
        assert not dci_marks(dci, func, username="u", password="p")
        return
    assert func in dcimanager.FUNCTIONS, "the simulator does not know %s" % func
    if entry.kinds.intersection(READS):
        assert not dci_marks(dci, func, elid="1"), "the simulator counts a read of %s as a write" % func
    if WRITE in entry.kinds:
        sent = {"sok": "ok"} if entry.sok else {}
        assert dci_marks(dci, func, elid="1", **sent), "the simulator does not count %s (as the client sends it) as a write" % func
        if not entry.sok:
            assert dcimanager.FUNCTIONS[func][1] == dcimanager.ALWAYS, "%s writes without sok, yet the simulator makes it depend on sok" % func


def test_the_catalogue_has_every_kind_of_function():
    kinds = set(kind for entry in FUNCTIONS.values() for kind in entry.kinds)
    assert kinds == {"list", "form", "write", "auth"}
    assert all(entry.sok == ("form" in entry.kinds and entry.writes) for entry in FUNCTIONS.values())


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_the_whmcs_simulator_marks_writes_as_the_catalogue_says(billing, action):
    assert action in whmcs.READ_ACTIONS | whmcs.WRITE_ACTIONS, "the simulator does not know %s" % action
    assert billing.classify("POST", "/includes/api.php", "", {"action": action})[1] == (ACTIONS[action] != READ)
