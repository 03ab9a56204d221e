# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The WHMCS simulator's PUT /_sim/module_event (W-MOD-1): what WHMCS saves after a module function."""

from __future__ import annotations

import pytest
import requests

from simulators.shop import whmcs_state
from simulators.whmcs import WHMCSSimulator


@pytest.fixture
def whmcs(tmp_path):
    with WHMCSSimulator(state=whmcs_state(), tls_dir=str(tmp_path)) as sim:
        yield sim


def put(sim, **data):
    return requests.put(sim.control_url + "/module_event", json=data, verify=sim.ca_path, timeout=10)


def test_a_success_saves_the_status_and_logs_it(whmcs):
    answer = put(whmcs, service_id=10, action="create")
    assert answer.status_code == 200 and answer.json()["activity_id"] == whmcs.activitylog[-1]["id"]
    assert whmcs.service(10)["status"] == "Active"
    assert whmcs.activitylog[-1]["description"] == "Module Create Successful - Service ID: 10"


@pytest.mark.parametrize("queue, queued", [(True, 1), (False, 0)], ids=["automatic", "by-an-admin"])
def test_a_failure_keeps_the_status_and_queues_only_automatic_actions(whmcs, queue, queued):
    answer = put(whmcs, service_id=10, action="create", error="no free server", queue=queue)
    assert answer.status_code == 200
    assert whmcs.service(10)["status"] == "Pending"
    assert whmcs.activitylog[-1]["description"] == "Module Create Failed - Service ID: 10 - Error: no free server"
    assert len(whmcs.modulequeue) == queued


@pytest.mark.parametrize("data", [{"service_id": 10, "action": "reboot"}, {"service_id": 999, "action": "create"}, {"action": "create"}])
def test_bad_requests_change_nothing(whmcs, data):
    answer = put(whmcs, **data)
    assert answer.status_code == 400
    assert whmcs.activitylog == [] and whmcs.service(10)["status"] == "Pending"
