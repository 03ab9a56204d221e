# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""End to end: WHMCS module events -> the event source -> the real ansible-rulebook with the
collection's rulebook -> the converge playbook -> the DCImanager simulator.

Push goes through the PHP hook run by php-cli (or, where the timing matters, signed posts as the
hook makes them); poll reads the WHMCS simulator. What is asserted is what an operator would
check: the panel shows each server as WHMCS says, WHMCS's statuses are WHMCS's own, and the run
log shows how the runs of each service followed each other.
"""

from __future__ import annotations

import time

import pytest

from eda_harness import (
    EDA_SECRET,
    PushStorm,
    hook_body,
    java_available,
    overlapping_runs,
    rulebook_binary,
    signed_post,
    status_writes,
)

pytestmark = [
    pytest.mark.skipif(rulebook_binary() is None, reason="ansible-rulebook is not installed (scripts/setup.sh installs it)"),
    pytest.mark.skipif(not java_available(), reason="ansible-rulebook needs Java 17 (scripts/setup.sh installs it)"),
]


def panel_state_of(shop):
    def panel_state(service_id):
        server = shop.server_of(service_id)
        return None if server is None else ("blocked" if server["blocked"] else "unblocked")

    return panel_state


def module_action(shop, rulebook, service_id, action):
    """WHMCS does a module action and its hook posts it (as signed JSON, without php-cli's start-up)."""
    shop.whmcs.module_event(service_id, action)
    status, answer = signed_post(rulebook.url, hook_body(action, service_id, server_id=shop.whmcs.service(service_id)["serverid"] or None))
    assert status == 202, answer
    return answer["event_id"]


def test_push_through_the_php_hook(tmp_path, eda_shop, rulebooks):
    """A paid order: WHMCS's module Create, the hook posts, the server is provisioned; then a suspension."""
    from test_whmcs_hook import PHP, run_hook, service_vars  # pylint: disable=import-outside-toplevel

    if PHP is None:
        pytest.skip("php is not installed (Debian: apt-get install -y php-cli php-curl)")
    (tmp_path / "hook-create").mkdir()
    (tmp_path / "hook-suspend").mkdir()
    shop = eda_shop()
    rulebook = rulebooks(tmp_path / "eda", shop.env, shop.products, "push").start()
    hook_config = {"eda_url": rulebook.url, "eda_secret": EDA_SECRET, "allow_http": True, "product_ids": [1]}

    shop.whmcs.module_event(10, "create")
    posted = time.time()
    hook = run_hook(tmp_path / "hook-create", [("AfterModuleCreate", service_vars(service_id=10, pid=1, client_id=1))], config=hook_config)
    assert "create of service #10 posted" in hook.messages[0], hook.messages
    rulebook.wait_for(lambda: rulebook.ended(10), 120, "the converge run of service 10")
    [start] = [r for r in rulebook.runs() if r["what"] == "start"]
    assert start["playbook"] == "converge.yml" and start["event_id"].startswith("whmcs-push-")
    assert start["new"] is True and start["actions"] == ["create"]
    assert start["time"] - posted < 15  # docs/performance.md has the measured figure
    server = shop.server_of(10)
    assert server is not None, rulebook.log_tail()
    assert not rulebook.ended(10)[0]["failed"], rulebook.log_tail()
    assert server["owner"] and server["installed_template"] == "ISPsystem__Debian-12-amd64"
    assert server["blocked"] is False

    shop.whmcs.module_event(10, "suspend")
    hook = run_hook(tmp_path / "hook-suspend", [("AfterModuleSuspend", service_vars(service_id=10, pid=1, client_id=1))], config=hook_config)
    assert "suspend of service #10 posted" in hook.messages[0], hook.messages
    rulebook.wait_for(lambda: len(rulebook.ended(10)) == 2, 120, "the second converge run of service 10")
    assert not rulebook.ended(10)[1]["failed"], rulebook.log_tail()
    # The first run left the service with a server: it is no longer new.
    assert [r["new"] for r in rulebook.runs() if r["what"] == "start"] == [True, False]
    assert shop.server_of(10)["blocked"] is True
    rulebook.wait_for(rulebook.settled, 10, "both runs acknowledged")
    assert status_writes(shop.whmcs) == []


def test_the_unsuspend_then_suspend_flip_ends_blocked_and_whmcs_suspended(tmp_path, eda_shop, rulebooks):
    """An admin clicks Unsuspend and, a second later, Suspend again: the billing system's last word stands."""
    shop = eda_shop(1)
    rulebook = rulebooks(tmp_path / "eda", shop.env, shop.products, "push").start()
    module_action(shop, rulebook, 100, "create")
    rulebook.wait_for(lambda: rulebook.ended(100), 120, "the provisioning run")
    module_action(shop, rulebook, 100, "suspend")
    rulebook.wait_for(lambda: len(rulebook.ended(100)) == 2 and rulebook.settled(), 120, "the suspending run")
    assert shop.server_of(100)["blocked"] is True

    module_action(shop, rulebook, 100, "unsuspend")
    time.sleep(1)
    module_action(shop, rulebook, 100, "suspend")
    rulebook.wait_for(lambda: rulebook.settled() and len(rulebook.ended(100)) >= 3, 180, "the runs of the flip")
    time.sleep(2)  # nothing more may start
    assert rulebook.settled()
    assert shop.whmcs.service(100)["status"] == "Suspended"
    assert shop.server_of(100)["blocked"] is True, rulebook.log_tail()
    assert status_writes(shop.whmcs) == []
    runs = rulebook.runs()
    assert not [r for r in runs if r["what"] == "end" and r["failed"]], rulebook.log_tail()
    assert overlapping_runs(runs) == []


def test_poll_provisions_orders_and_retries_failed_module_actions(tmp_path, eda_shop, rulebooks):
    shop = eda_shop()
    rulebook = rulebooks(tmp_path / "eda", shop.env, shop.products, "poll", interval=1).start()
    shop.whmcs.module_event(11, "create")
    # A Create WHMCS's own module failed: it sits in WHMCS's module queue, the service Pending.
    shop.whmcs.module_event(12, "create", error="Package DL360-G9 not found on server")
    rulebook.wait_for(lambda: rulebook.ended(11) and rulebook.ended(12), 150, "the converge runs of services 11 and 12")
    starts = {r["service_id"]: r for r in rulebook.runs() if r["what"] == "start"}
    assert {s: r["event_id"] for s, r in starts.items()} == {11: "whmcs-log-1", 12: "whmcs-queue-1"}
    assert {s: r["whmcs_server_id"] for s, r in starts.items()} == {s: shop.whmcs.service(s)["serverid"] or None for s in (11, 12)}
    for service_id in (11, 12):
        assert not rulebook.ended(service_id)[0]["failed"], rulebook.log_tail()
        assert shop.server_of(service_id) is not None
    assert shop.server_of(12)["installed_template"] == "ISPsystem__Ubuntu-24.04-amd64"
    rulebook.wait_for(rulebook.settled, 10, "both runs acknowledged")
    # The one status write an event's run makes: Pending -> Active once provisioned (as WHMCS's module would).
    assert status_writes(shop.whmcs) == [(12, "Active")]


def test_a_push_storm_with_a_restart_ends_with_every_server_as_whmcs_says(tmp_path, eda_shop, rulebooks):
    """>= 60 events over 10 services in random order: random flips, duplicates, replays, and a restart of
    ansible-rulebook in the middle. Every server ends as WHMCS says, one run at a time per service,
    none lost, none finished twice, and WHMCS keeps its own statuses."""
    services = range(100, 110)
    shop = eda_shop(len(services))
    rulebook = rulebooks(tmp_path / "eda", shop.env, shop.products, "push").start()
    storm = PushStorm(shop, rulebook, services, seed=5)
    storm.run(64, restart_at=32)
    rulebook.wait_for(rulebook.settled, 600, "every run of the storm to end")
    assert len(storm.posted) >= 60 and storm.refused > 0
    assert storm.problems(panel_state_of(shop)) == [], rulebook.log_tail()
    assert status_writes(shop.whmcs) == []
    # One server per service at most: a run the restart cut short was finished, not started afresh.
    for service_id in services:
        assert len(shop.servers_named("burst%d.example.net" % service_id)) <= 1
