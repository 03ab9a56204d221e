# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The event source's coalescing under the real ansible-rulebook, with a model of converge.

The rulebook is the collection's, with the test's model playbook (eda_model_converge.yml: reads
WHMCS now, converges a panel of files) in place of converge, and without the rule's lock: so
only the event source keeps one service's runs apart, and the run log measures that it does.
"""

from __future__ import annotations

import pytest

from eda_harness import PushStorm, hook_body, java_available, model_rulebook, rulebook_binary, signed_post, status_writes

pytestmark = [
    pytest.mark.skipif(rulebook_binary() is None, reason="ansible-rulebook is not installed (scripts/setup.sh installs it)"),
    pytest.mark.skipif(not java_available(), reason="ansible-rulebook needs Java 17 (scripts/setup.sh installs it)"),
]

SERVICES = range(100, 110)


def test_a_push_storm_with_a_restart_runs_each_service_one_at_a_time_and_loses_nothing(tmp_path, eda_shop, rulebooks):
    shop = eda_shop(len(SERVICES))
    model = tmp_path / "model"
    model.mkdir()
    rulebook = rulebooks(
        tmp_path / "eda", shop.env, shop.products, "push", rulebook=model_rulebook(tmp_path, lock=False), extra_env={"EDA_MODEL_DIR": str(model)}
    ).start()
    storm = PushStorm(shop, rulebook, SERVICES, seed=17)
    storm.run(64, restart_at=32)
    rulebook.wait_for(rulebook.settled, 300, "every run of the storm to end")

    def panel_state(service_id):
        path = model / ("server-%d" % service_id)
        return path.read_text() if path.exists() else None

    assert len(storm.posted) >= 60 and storm.refused > 0
    assert storm.problems(panel_state) == [], rulebook.log_tail()
    assert sorted(p.name for p in model.iterdir() if p.name.startswith("conflict-")) == [], "a new service was taken for a conflict"
    runs = [r for r in rulebook.runs() if r["what"] == "start"]
    # Coalesced: fewer runs than events; each run is named after one of them.
    assert len(runs) < len(storm.posted)
    assert {body["event_id"] for dummy, dummy_service, body in storm.posted} >= {r["event_id"] for r in runs}
    # The extra vars the rulebook passes: the event's WHMCS server, and the new mark on the first run of each.
    for service_id in SERVICES:
        first = min((r for r in runs if r["service_id"] == service_id), key=lambda r: r["time"], default=None)
        if first is not None:
            assert first["new"] is True and "create" in first["actions"], first
            assert first["whmcs_server_id"] == (shop.whmcs.service(service_id)["serverid"] or None)
    assert status_writes(shop.whmcs) == []


def test_poll_runs_carry_the_server_and_the_new_mark(tmp_path, eda_shop, rulebooks):
    """Poll mode under the real ansible-rulebook: a create and a suspend found in one poll (the create's run is
    emitted at once, the suspend waits for one more run), both new with nothing to do yet; the unsuspend after
    them provisions (the model panel); a failed create comes from WHMCS's module queue."""
    shop = eda_shop(2)
    model = tmp_path / "model"
    model.mkdir()
    rulebook = rulebooks(
        tmp_path / "eda", shop.env, shop.products, "poll", interval=2, rulebook=model_rulebook(tmp_path), extra_env={"EDA_MODEL_DIR": str(model)}
    ).start()
    shop.whmcs.module_event(100, "create")
    shop.whmcs.module_event(100, "suspend")
    shop.whmcs.module_event(101, "create", error="Package not found")  # WHMCS's module queue: still Pending
    rulebook.wait_for(lambda: len(rulebook.ended(100)) == 2 and rulebook.ended(101) and rulebook.settled(), 180, "the first runs")

    def starts(service_id):
        return sorted((r for r in rulebook.runs() if r["what"] == "start" and r["service_id"] == service_id), key=lambda r: r["time"])

    assert [(r["actions"], r["new"]) for r in starts(100)] == [(["create"], True), (["suspend"], True)]
    assert [(r["actions"], r["event_id"]) for r in starts(101)] == [(["create"], "whmcs-queue-1")]
    for service_id in (100, 101):
        assert starts(service_id)[0]["whmcs_server_id"] == (shop.whmcs.service(service_id)["serverid"] or None)
    assert not (model / "server-100").exists(), "new and Suspended: nothing to do yet"
    shop.whmcs.module_event(100, "unsuspend")
    rulebook.wait_for(lambda: len(rulebook.ended(100)) == 3 and rulebook.settled(), 120, "the unsuspend's run")
    assert [(r["actions"], r["new"]) for r in starts(100)][-1] == (["unsuspend"], True)
    assert (model / "server-100").read_text() == "unblocked"
    assert sorted(p.name for p in model.iterdir() if p.name.startswith("conflict-")) == []
    # Service 100 is provisioned: forgotten. 101 (Pending in WHMCS, so the model does nothing) stays new.
    assert list(rulebook.state()["services"]) == ["101"]


def test_a_button_runs_server_control_once_with_its_operation(tmp_path, eda_shop, rulebooks):
    """The provisioning module's buttons (server_control) reach the server_control playbook with the operation and
    who asked; a client's reboot of a Suspended service is refused by the playbook, with nothing written."""
    shop = eda_shop()
    rulebook = rulebooks(tmp_path / "eda", shop.env, shop.products, "push", rulebook=model_rulebook(tmp_path)).start()
    body = dict(hook_body("server_control", 21, server_id=1), operation="reboot", requested_by="client")
    del body["hook"]
    status, answer = signed_post(rulebook.url, body)
    assert status == 202, answer
    rulebook.wait_for(lambda: rulebook.ended(21), 120, "the server_control run")
    [start] = [r for r in rulebook.runs() if r["what"] == "start"]
    assert (start["playbook"], start["event_id"], start["operation"], start["requested_by"]) == ("server_control.yml", body["event_id"], "reboot", "client")
    assert rulebook.ended(21)[0]["failed"] is True
    assert "a client may reboot its server only while the service is Active" in rulebook.log_tail(200000)
    assert shop.dci.writes() == [] and shop.whmcs.writes() == []
    # Not a run the source waits for: no acknowledgement, nothing in flight.
    assert rulebook.state()["services"] == {}
    assert list((rulebook.state_file.parent / "acks").iterdir()) == []
