# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The eda_ack callback with plain ansible-playbook (so that it runs with every supported ansible-core).

ansible-rulebook gives a playbook its event as the extra var ``ansible_eda``; the callback writes
one acknowledgement file per run that carries a WHMCS event, and nothing for other runs.
"""

from __future__ import annotations

import json
import time

import pytest

from harness import run_playbook

EVENT = {"whmcs": {"service_id": 42, "action": "suspend", "product_id": 1, "event_id": "whmcs-log-1234"}}


def run(tmp_path, extra_vars, fail=False, tasks=()):
    acks = tmp_path / "acks"
    acks.mkdir(exist_ok=True)
    extra = tmp_path / ("extra-%d.json" % len(list(tmp_path.glob("extra-*.json"))))
    extra.write_text(json.dumps(extra_vars))
    task = {"name": "work", "ansible.builtin.assert": {"that": [not fail]}}
    result = run_playbook(
        tmp_path / "work",
        list(tasks) + [task],
        args=["-e", "@" + str(extra)],
        env={"ANSIBLE_CALLBACKS_ENABLED": "ispsystem.dcimanager.eda_ack", "ISPSYSTEM_EDA_ACK_DIR": str(acks)},
    )
    return result, acks


@pytest.mark.parametrize("fail", [False, True], ids=["ok", "failed"])
def test_a_run_for_an_event_is_acknowledged_when_it_ends(tmp_path, fail):
    before = time.time()
    result, acks = run(tmp_path, {"service_id": 42, "ansible_eda": {"ruleset": "r", "rule": "x", "event": EVENT}}, fail=fail)
    assert result.rc == (2 if fail else 0), result.output
    [ack_file] = list(acks.iterdir())
    assert ack_file.name == "whmcs-log-1234.json"
    ack = json.loads(ack_file.read_text())
    assert {key: ack[key] for key in ("event_id", "service_id", "action", "failed", "server")} == {
        "event_id": "whmcs-log-1234",
        "service_id": 42,
        "action": "suspend",
        "failed": fail,
        "server": None,
    }
    assert before <= ack["started_at"] <= ack["ended_at"] <= time.time()
    assert result.warnings == []


@pytest.mark.parametrize(
    "extra_vars",
    [
        pytest.param({"service_id": 42}, id="no-eda"),
        pytest.param({"ansible_eda": {"event": {"other": 1}}}, id="another-source"),
        pytest.param({"ansible_eda": {"event": {"whmcs": dict(EVENT["whmcs"], event_id="../../x")}}}, id="unsafe-event-id"),
    ],
)
def test_other_runs_are_left_alone(tmp_path, extra_vars):
    result, acks = run(tmp_path, extra_vars)
    assert result.rc == 0, result.output
    assert list(acks.iterdir()) == []


EDA_VARS = {"service_id": 42, "ansible_eda": {"ruleset": "r", "rule": "x", "event": EVENT}}


def record_task(value):
    """The role's record: a set_fact result (ansible_facts.dedicated_server_result)."""
    return [{"name": "record", "ansible.builtin.set_fact": {"dedicated_server_result": value}}]


def fleet_task(services):
    """A task result with a top-level services list, as fleet_apply returns it (debug of a variable gives one)."""
    return [{"name": "plan", "ansible.builtin.set_fact": {"services": services}}, {"name": "fleet", "ansible.builtin.debug": {"var": "services"}}]


@pytest.mark.parametrize(
    "tasks, server",
    [
        pytest.param(record_task({"service_id": 42, "state": "active", "server_id": "17"}), "17", id="role-record"),
        pytest.param(record_task({"service_id": 42, "state": "suspended", "server_id": ""}), None, id="role-no-server"),
        pytest.param(record_task({"service_id": 41, "server_id": "9"}), None, id="role-other-service"),
        pytest.param(fleet_task([{"service_id": 42, "action": "provision", "failed": False, "server": {"id": "23"}}]), "23", id="fleet-dict"),
        pytest.param(fleet_task([{"service_id": 7, "server": "1"}, {"service_id": "42", "failed": False, "server": 31}]), "31", id="fleet-id"),
        pytest.param(fleet_task([{"service_id": 42, "action": "provision", "failed": True, "server": 31}]), None, id="fleet-failed"),
        # A server once seen is kept: a later read of WHMCS (its services have no "server") or an empty record changes nothing.
        pytest.param(
            fleet_task([{"service_id": 42, "failed": False, "server": "5"}])
            + fleet_task([{"service_id": 42, "server_id": 2, "status": "Active"}])
            + record_task({"service_id": 42, "server_id": ""}),
            "5",
            id="kept",
        ),
    ],
)
def test_the_acknowledgement_names_a_server_the_run_reported(tmp_path, tasks, server):
    result, acks = run(tmp_path, EDA_VARS, tasks=tasks)
    assert result.rc == 0, result.output
    [ack_file] = list(acks.iterdir())
    assert json.loads(ack_file.read_text())["server"] == server
