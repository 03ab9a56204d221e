# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""End to end: WHMCS module events -> the event source -> the real ansible-rulebook with the
collection's rulebook -> the lifecycle playbooks -> the DCImanager simulator.

Push goes through the PHP hook run by php-cli; poll reads the WHMCS simulator. What is asserted is
what an operator would check: the panel shows the server provisioned (or blocked), and the run
log shows how many playbook runs each service got.
"""

from __future__ import annotations

import time

import pytest

from eda_harness import EDA_SECRET, RulebookRun, Shop, java_available, rulebook_binary

pytestmark = [
    pytest.mark.skipif(rulebook_binary() is None, reason="ansible-rulebook is not installed (scripts/setup.sh installs it)"),
    pytest.mark.skipif(not java_available(), reason="ansible-rulebook needs Java 17 (scripts/setup.sh installs it)"),
]


@pytest.fixture
def eda_shop(tmp_path):
    shops = []

    def make(count=0):
        shops.append(Shop(tmp_path, count))
        return shops[-1]

    yield make
    for shop in shops:
        shop.close()


@pytest.fixture
def rulebooks():
    """Every RulebookRun a test makes is stopped (its whole process session killed) at the end."""
    started = []

    def make(*args, **kwargs):
        started.append(RulebookRun(*args, **kwargs))
        return started[-1]

    yield make
    for run in started:
        run.kill()


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
    rulebook.wait_for(lambda: rulebook.ended(10), 120, "the provision run of service 10")
    [start] = [r for r in rulebook.runs() if r["what"] == "start"]
    assert start["playbook"] == "provision.yml" and start["event_id"].startswith("whmcs-push-")
    assert start["time"] - posted < 15  # docs/performance.md has the measured figure
    server = shop.server_of(10)
    assert server is not None, rulebook.log_tail()
    assert not rulebook.ended(10)[0]["failed"], rulebook.log_tail()
    assert server["owner"] and server["installed_template"] == "ISPsystem__Debian-12-amd64"
    assert server["blocked"] is False

    shop.whmcs.module_event(10, "suspend")
    hook = run_hook(tmp_path / "hook-suspend", [("AfterModuleSuspend", service_vars(service_id=10, pid=1, client_id=1))], config=hook_config)
    assert "suspend of service #10 posted" in hook.messages[0], hook.messages
    rulebook.wait_for(lambda: len(rulebook.ended(10)) == 2, 120, "the suspend run of service 10")
    assert not rulebook.ended(10)[1]["failed"], rulebook.log_tail()
    assert shop.server_of(10)["blocked"] is True
    rulebook.wait_for(lambda: rulebook.state()["pending"] == [], 10, "both events acknowledged")


def test_poll_provisions_orders_and_retries_failed_module_actions(tmp_path, eda_shop, rulebooks):
    shop = eda_shop()
    rulebook = rulebooks(tmp_path / "eda", shop.env, shop.products, "poll", interval=1).start()
    shop.whmcs.module_event(11, "create")
    # A Create WHMCS's own module failed: it sits in WHMCS's module queue, the service Pending.
    shop.whmcs.module_event(12, "create", error="Package DL360-G9 not found on server")
    rulebook.wait_for(lambda: rulebook.ended(11) and rulebook.ended(12), 150, "the provision runs of services 11 and 12")
    events = {r["service_id"]: r["event_id"] for r in rulebook.runs() if r["what"] == "start"}
    assert events == {11: "whmcs-log-1", 12: "whmcs-queue-1"}
    for service_id in (11, 12):
        assert not rulebook.ended(service_id)[0]["failed"], rulebook.log_tail()
        assert shop.server_of(service_id) is not None
    assert shop.server_of(12)["installed_template"] == "ISPsystem__Ubuntu-24.04-amd64"
    rulebook.wait_for(lambda: rulebook.state()["pending"] == [], 10, "both events acknowledged")


def test_a_restart_in_a_burst_loses_no_event_and_finishes_none_twice(tmp_path, eda_shop, rulebooks):
    count = 6
    shop = eda_shop(count)
    services = list(range(100, 100 + count))
    rulebook = rulebooks(tmp_path / "eda", shop.env, shop.products, "poll", interval=0.5).start()
    for service_id in services:
        shop.whmcs.module_event(service_id, "create")
    # Stop ansible-rulebook (SIGTERM, as systemd does) once some runs have ended and others not.
    rulebook.wait_for(lambda: len(rulebook.ended()) >= 1, 180, "a run of the burst to end")
    rulebook.stop()
    ended_before = {r["service_id"] for r in rulebook.ended()}
    assert ended_before != set(services), "the restart came too late to test anything"
    rulebook.start()
    rulebook.wait_for(lambda: {r["service_id"] for r in rulebook.ended()} >= set(services), 240, "every service of the burst to have a finished run")
    rulebook.wait_for(lambda: rulebook.state()["pending"] == [], 20, "every event acknowledged")
    time.sleep(2)  # nothing more may start
    runs = rulebook.runs()
    for service_id in services:
        ends = [r for r in runs if r["what"] == "end" and r["service_id"] == service_id]
        starts = [r for r in runs if r["what"] == "start" and r["service_id"] == service_id]
        assert len(ends) == 1, (service_id, runs)
        assert not ends[0]["failed"], rulebook.log_tail()
        # A run that ended before the stop is never started again; one the stop cut short (started,
        # never ended) is started once more.
        assert (len(starts) == 1) if service_id in ended_before else (len(starts) in (1, 2)), (service_id, runs)
        # One server each: the rerun of a cut-short run finished that run's server, took no second one.
        assert len(shop.servers_named("burst%d.example.net" % service_id)) == 1
        assert shop.server_of(service_id)["installed_template"] == "ISPsystem__Ubuntu-24.04-amd64"
    assert all(r["service_id"] in services for r in runs)
