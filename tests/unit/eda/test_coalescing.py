# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The event source's runs: coalesced per service, acknowledged, carried over a restart.

The first tests run the source's ``main()`` with real push posts and write the acknowledgement
files as the eda_ack callback does. The storm test drives the delivery directly against a model
of WHMCS, of the panel and of ansible-rulebook (which takes runs, starts them, and loses the ones
in progress on a restart), and checks the promises: at most one run in flight per service, no
run finished twice, every service converged after its last event, no new service taken for a
conflict.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("aiohttp", reason="the event source runs under ansible-rulebook, which brings aiohttp")

from test_whmcs_source import SOURCE, Source, body_of, free_port, post, run  # noqa: E402  pylint: disable=wrong-import-position

DELIVERY = SOURCE["_load"]("delivery")
# Real ansible-rulebook-style runs in real time (seconds each): not in the quick loop.
pytestmark = pytest.mark.realtime


@pytest.fixture(autouse=True)
def _ack_environment(monkeypatch):
    # The source sets both for the playbooks it starts; monkeypatch restores them after each test.
    monkeypatch.setenv("ISPSYSTEM_EDA_ACK_DIR", "")
    monkeypatch.setenv("ANSIBLE_CALLBACKS_ENABLED", "")


def ack(tmp_path, event, failed=False, server=None):
    """What the eda_ack callback writes when the run of ``event`` ends."""
    whmcs = event["whmcs"]
    data = {"event_id": whmcs["event_id"], "service_id": whmcs["service_id"], "action": whmcs["action"], "failed": failed, "server": server}
    (tmp_path / "acks").mkdir(exist_ok=True)
    (tmp_path / "acks" / (whmcs["event_id"] + ".json")).write_text(json.dumps(data))


def state_of(tmp_path):
    return json.loads((tmp_path / "state.json").read_text())


def push_args(tmp_path, port):
    return {"mode": "push", "state_file": str(tmp_path / "state.json"), "hmac_secret": "unit-hmac-secret-5b1e0c3a9f7d4e2b8a6c", "port": port}


class Hook:
    """Posts like the WHMCS hook; each post a new event id."""

    def __init__(self, port):
        self.url = "http://127.0.0.1:%d/whmcs" % port

    async def __call__(self, action, service_id, **changes):
        status, answer = await post(self.url, body_of(action=action, service_id=service_id, **changes))
        assert status == 202, answer
        return answer["event_id"]


def test_events_during_a_run_make_exactly_one_more_run(tmp_path):
    port = free_port()
    hook = Hook(port)

    async def scenario():
        async with Source(push_args(tmp_path, port)) as source:
            first_id = await hook("create", 5)
            [first] = await source.events(1)
            assert first["whmcs"]["event_id"] == first_id
            assert first["whmcs"]["dedicated_server_new_service"] is True
            # An admin flips the service three times while the first run is in flight: no run yet.
            ids = [await hook(action, 5) for action in ("suspend", "unsuspend", "suspend")]
            await source.nothing(0.5)
            services = state_of(tmp_path)["services"]
            assert services["5"]["run"]["event"]["whmcs"]["event_id"] == first_id
            assert services["5"]["next"] == {"event_ids": ids, "actions": ["suspend", "unsuspend", "suspend"], "events": 3}
            # The first run ends without a server (WHMCS said Suspended when it read): the mark stays.
            ack(tmp_path, first)
            [second] = await source.events(1)
            assert second["whmcs"] == {
                "service_id": 5,
                "server_id": 3,
                "product_id": 1,
                "action": "suspend",
                "actions": ["suspend", "unsuspend", "suspend"],
                "events": 3,
                "event_id": ids[-1],
                "dedicated_server_new_service": True,
            }
            await source.nothing(0.5)
            assert not (tmp_path / "acks" / (first_id + ".json")).exists(), "a settled acknowledgement is removed"
            # An unsuspend during the second run; the second ends without a server; the third provisions.
            await hook("unsuspend", 5)
            ack(tmp_path, second)
            [third] = await source.events(1)
            assert third["whmcs"]["dedicated_server_new_service"] is True
            ack(tmp_path, third, server="17")
            await source.nothing(0.5)
            # Provisioned: the service is forgotten, and a later event is not for a new service.
            assert state_of(tmp_path)["services"] == {}
            await hook("suspend", 5)
            [fourth] = await source.events(1)
            assert fourth["whmcs"]["dedicated_server_new_service"] is False
            assert fourth["whmcs"]["actions"] == ["suspend"]

    run(scenario())


def test_services_do_not_wait_for_each_other(tmp_path):
    port = free_port()
    hook = Hook(port)

    async def scenario():
        async with Source(push_args(tmp_path, port)) as source:
            for service_id in (1, 2, 3):
                await hook("suspend", service_id)
            events = await source.events(3)
            assert sorted(e["whmcs"]["service_id"] for e in events) == [1, 2, 3]
            await hook("unsuspend", 2)
            await source.nothing(0.3)
            ack(tmp_path, events[1])
            [again] = await source.events(1)
            assert again["whmcs"]["service_id"] == 2 and again["whmcs"]["action"] == "unsuspend"

    run(scenario())


def test_a_failed_run_keeps_the_new_mark_and_a_run_that_did_not_carry_it_does_not_clear_it(tmp_path):
    port = free_port()
    hook = Hook(port)

    async def scenario():
        async with Source(push_args(tmp_path, port)) as source:
            await hook("create", 8)
            [first] = await source.events(1)
            ack(tmp_path, first, failed=True, server="4")  # e.g. the install failed after the claim
            await source.nothing(0.5)
            await hook("unsuspend", 8)
            [second] = await source.events(1)
            assert second["whmcs"]["dedicated_server_new_service"] is True
            # Service 9: a run without the mark is in flight when a create arrives.
            await hook("suspend", 9)
            [other] = await source.events(1)
            assert other["whmcs"]["dedicated_server_new_service"] is False
            await hook("create", 9)
            ack(tmp_path, other, server="6")
            [after] = await source.events(1)
            assert after["whmcs"]["dedicated_server_new_service"] is True, "the create came after that run read WHMCS"
            # A terminate ends the mark: nothing is left to provision.
            await hook("terminate", 8)
            ack(tmp_path, second)
            [terminate] = await source.events(1)
            assert terminate["whmcs"]["dedicated_server_new_service"] is True
            ack(tmp_path, terminate)
            await source.nothing(0.5)
            assert "8" not in state_of(tmp_path)["services"]

    run(scenario())


def test_a_restart_emits_the_runs_in_flight_once_and_keeps_what_waits(tmp_path):
    port = free_port()
    hook = Hook(port)
    args = push_args(tmp_path, port)

    async def scenario():
        async with Source(args) as source:
            for service_id in (1, 2, 3):
                await hook("create", service_id)
            runs = {e["whmcs"]["service_id"]: e for e in await source.events(3)}
            waiting_id = await hook("suspend", 2)
            # The run of service 1 ends before the stop; the acknowledgement of service 3's run
            # is written while the source is down (its run ended just as ansible-rulebook stopped).
            ack(tmp_path, runs[1], server="11")
            await source.nothing(0.5)
        ack(tmp_path, runs[3], server="13")
        async with Source(args) as source:
            # Service 2's run was cut short by the stop: emitted again, the same run; its waiting
            # suspend is still one more run after it. Services 1 and 3 get nothing.
            [again] = await source.events(1)
            assert again == runs[2]
            await source.nothing(0.5)
            ack(tmp_path, again, server="12")
            [more] = await source.events(1)
            assert (more["whmcs"]["service_id"], more["whmcs"]["event_id"], more["whmcs"]["dedicated_server_new_service"]) == (2, waiting_id, False)
            ack(tmp_path, more, server="12")
            await source.nothing(0.5)
        assert state_of(tmp_path)["services"] == {}
        async with Source(args) as source:
            await source.nothing(0.5)

    run(scenario())


def test_an_unreadable_acknowledgement_still_ends_the_run(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    port = free_port()
    hook = Hook(port)

    async def scenario():
        async with Source(push_args(tmp_path, port)) as source:
            await hook("suspend", 4)
            [first] = await source.events(1)
            await hook("unsuspend", 4)
            (tmp_path / "acks" / (first["whmcs"]["event_id"] + ".json")).write_text("{cut off")
            [second] = await source.events(1)
            assert second["whmcs"]["action"] == "unsuspend"

    run(scenario())
    assert "cannot be read: its run counts as ended" in caplog.text


def test_acknowledgements_of_another_source_are_left_alone_until_old(tmp_path):
    port = free_port()
    other = {"whmcs": {"event_id": "whmcs-log-424242", "service_id": 7, "action": "create"}}
    ack(tmp_path, other)
    old = tmp_path / "acks" / "whmcs-log-1.json"
    old.write_text("{}")
    os.utime(old, (1, 1))

    async def scenario():
        async with Source(push_args(tmp_path, port)) as source:
            await source.nothing(0.6)

    run(scenario())
    assert sorted(p.name for p in (tmp_path / "acks").iterdir()) == ["whmcs-log-424242.json"]


def test_without_acknowledgements_every_event_is_a_run_of_its_own(tmp_path):
    port = free_port()
    hook = Hook(port)
    args = dict(push_args(tmp_path, port), acknowledge=False)

    async def scenario():
        async with Source(args) as source:
            for action in ("create", "suspend", "unsuspend"):
                await hook(action, 6)
            events = await source.events(3)
            assert [(e["whmcs"]["action"], e["whmcs"]["dedicated_server_new_service"]) for e in events] == [
                ("create", True),
                ("suspend", False),
                ("unsuspend", False),
            ]
        assert state_of(tmp_path)["services"] == {}
        assert not (tmp_path / "acks").exists()

    run(scenario())


def test_turning_acknowledgements_off_emits_what_was_in_flight_once_and_keeps_nothing(tmp_path):
    port = free_port()
    hook = Hook(port)

    async def scenario():
        async with Source(push_args(tmp_path, port)) as source:
            await hook("create", 1)
            [first] = await source.events(1)
            await hook("suspend", 1)
            await source.nothing(0.3)
        async with Source(dict(push_args(tmp_path, port), acknowledge=False)) as source:
            again, waiting = await source.events(2)
            assert again == first
            assert waiting["whmcs"]["actions"] == ["suspend"] and waiting["whmcs"]["dedicated_server_new_service"] is True
            assert state_of(tmp_path)["services"] == {}
        async with Source(dict(push_args(tmp_path, port), acknowledge=False)) as source:
            await source.nothing(0.5)

    run(scenario())


def test_a_damaged_service_entry_is_not_guessed_over(tmp_path):
    (tmp_path / "state.json").write_text(json.dumps({"version": 2, "activity_id": None, "queue_ids": [], "seen": [], "services": {"x": {}}}))
    with pytest.raises(SOURCE["_load"]("settings").SourceError, match="unreadable entry for service 'x'"):
        run(SOURCE["main"](asyncio.Queue(), push_args(tmp_path, free_port())))


def test_a_version_1_state_is_taken_over(tmp_path):
    """The state of the previous release: its unacknowledged events become runs, coalesced; settled ids stay replays."""
    v1 = {"version": 1, "activity_id": None, "queue_ids": [], "done": [["whmcs-push-settled-0001", 1.0]], "pending": []}
    for index, (service_id, action) in enumerate([(1, "create"), (1, "suspend"), (2, "unsuspend"), (3, "terminate")]):
        event = {"whmcs": {"service_id": service_id, "action": action, "product_id": 1, "event_id": "whmcs-push-pending-%04d" % index}}
        v1["pending"].append({"event": event, "emitted_at": 100.0 + index})
    (tmp_path / "state.json").write_text(json.dumps(v1))
    # Service 3's terminate run ended before the upgrade.
    ack(tmp_path, {"whmcs": {"event_id": "whmcs-push-pending-0003", "service_id": 3, "action": "terminate"}})
    port = free_port()

    async def scenario():
        async with Source(push_args(tmp_path, port)) as source:
            events = await source.events(2)
            assert [(e["whmcs"]["service_id"], e["whmcs"]["actions"], e["whmcs"]["dedicated_server_new_service"]) for e in events] == [
                (1, ["create"], True),
                (2, ["unsuspend"], False),
            ]
            await source.nothing(0.5)
            state = state_of(tmp_path)
            assert state["version"] == 2 and state["services"]["1"]["next"]["actions"] == ["suspend"]
            status, answer = await post("http://127.0.0.1:%d/whmcs" % port, body_of(event_id="whmcs-push-settled-0001"))
            assert status == 409 and "replay" in answer["reason"]

    run(scenario())


# --- the storm, against a model of WHMCS, the panel and ansible-rulebook --------------------------------


class Storm:
    """WHMCS changes a service's status and sends an event (delivered late, services in random order, old ones again);
    the model rulebook takes runs, each converges the model panel to WHMCS's status when it starts
    (as converge reads WHMCS first) and acknowledges when it ends; a restart loses the runs in progress."""

    # Mostly flips; now and then the end of a service.
    TRANSITIONS = {"Active": ("suspend",) * 9 + ("terminate",), "Suspended": ("unsuspend",) * 9 + ("terminate",)}
    STATUS_AFTER = {"create": "Active", "suspend": "Suspended", "unsuspend": "Active", "terminate": "Terminated"}

    def __init__(self, tmp_path, seed, services=10):
        self.rng = random.Random(seed)
        self.tmp_path = tmp_path
        self.settings = SimpleNamespace(acknowledge=True, ack_dir=str(tmp_path / "acks"), state_file=str(tmp_path / "state.json"))
        os.makedirs(self.settings.ack_dir, exist_ok=True)
        self.whmcs = {service_id: "Pending" for service_id in range(1, services + 1)}
        self.panel = {service_id: None for service_id in self.whmcs}  # None, or {"blocked": bool}
        self.undelivered = []  # events WHMCS sent that the source has not received yet
        self.delivered = []  # every event received once (replayed later)
        self.clock = 0
        self.last_event = {}  # service id -> clock of its newest event's receipt
        self.holding = {}  # run id -> (service id, event) taken by the model rulebook, not started
        self.running = {}  # run id -> (service id, event, started at)
        self.finished = []  # (run id, service id, started at)
        self.conflicts = []
        self.peak = 0
        self.events = 0
        self.queue = self.delivery = self.forwarder = None

    async def boot(self):
        state = DELIVERY.State(self.settings.state_file)
        state.load()
        self.queue = asyncio.Queue()
        self.delivery = DELIVERY.Delivery(self.queue, self.settings, state)
        self.delivery.resume()
        self.forwarder = asyncio.create_task(self.delivery.forward())
        await self.settle()

    async def restart(self):
        """ansible-rulebook stops: runs not ended are killed (no acknowledgement), queued ones lost."""
        self.forwarder.cancel()
        await asyncio.gather(self.forwarder, return_exceptions=True)
        self.holding.clear()
        self.running.clear()
        await self.boot()

    async def settle(self):
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        while not self.queue.empty():
            event = self.queue.get_nowait()
            self.holding[event["whmcs"]["event_id"]] = (event["whmcs"]["service_id"], event)
        self.check_in_flight()

    def check_in_flight(self):
        per_service = {}
        for service_id, dummy in list(self.holding.values()) + [(s, e) for s, e, dummy in self.running.values()]:
            per_service[service_id] = per_service.get(service_id, 0) + 1
        assert max(per_service.values(), default=0) <= 1, per_service
        self.peak = max(self.peak, sum(per_service.values()))

    def whmcs_acts(self, service_id):
        status = self.whmcs[service_id]
        if status == "Terminated":
            return
        action = "create" if status == "Pending" else self.rng.choice(self.TRANSITIONS[status])
        self.whmcs[service_id] = self.STATUS_AFTER[action]
        self.events += 1
        self.undelivered.append(DELIVERY.make_hint(service_id, action, 1, "whmcs-push-storm-%05d" % self.events, 2))

    def deliver(self):
        # Services in random order, one service's events in the order WHMCS sent them (the hook posts
        # each one as its module action returns; the activity log lists them in order).
        service_id = self.rng.choice(sorted({h["service_id"] for h in self.undelivered}))
        hint = next(h for h in self.undelivered if h["service_id"] == service_id)
        self.undelivered.remove(hint)
        self.clock += 1
        assert self.delivery.receive(hint)
        self.last_event[hint["service_id"]] = self.clock
        self.delivered.append(hint)

    def replay(self):
        assert not self.delivery.receive(dict(self.rng.choice(self.delivered)))

    def start_run(self):
        run_id = self.rng.choice(sorted(self.holding))
        service_id, event = self.holding.pop(run_id)
        self.clock += 1
        self.running[run_id] = (service_id, event, self.clock)
        self.converge(service_id, event["whmcs"]["dedicated_server_new_service"])

    def converge(self, service_id, new):
        """The drift function for one service, as converge applies it (reading WHMCS now)."""
        status, server = self.whmcs[service_id], self.panel[service_id]
        if status in ("Active", "Suspended") and server is None:
            if not new:
                self.conflicts.append((service_id, status))
            elif status == "Active":
                self.panel[service_id] = {"blocked": False}
        elif status in ("Active", "Suspended"):
            server["blocked"] = status == "Suspended"
        elif status == "Terminated":
            self.panel[service_id] = None

    def end_run(self):
        run_id = self.rng.choice(sorted(self.running))
        service_id, event, started = self.running.pop(run_id)
        assert run_id not in [f[0] for f in self.finished], "run %s finished twice" % run_id
        self.finished.append((run_id, service_id, started))
        server = self.panel[service_id]
        ack(self.tmp_path, event, server="1%02d" % service_id if server is not None else None)
        self.delivery.read_acks()

    def moves(self):
        """What may happen next: WHMCS acts (and old events are replayed) until 80 events; then it drains."""
        moves = []
        if self.events < 80 and any(status != "Terminated" for status in self.whmcs.values()):
            moves += ["whmcs"] * 4 + ["replay"] * bool(self.delivered)
        moves += ["deliver"] * 4 * bool(self.undelivered) + ["start"] * 3 * bool(self.holding) + ["end"] * 3 * bool(self.running)
        return moves

    async def step(self, moves):
        move = self.rng.choice(moves)
        if move == "whmcs":
            self.whmcs_acts(self.rng.choice([s for s, status in self.whmcs.items() if status != "Terminated"]))
        elif move == "deliver":
            self.deliver()
        elif move == "replay":
            self.replay()
        elif move == "start":
            self.start_run()
        else:
            self.end_run()
        await self.settle()


@pytest.mark.parametrize("seed", range(8))
def test_a_storm_with_restarts_converges_every_service_one_run_at_a_time(tmp_path, seed):
    storm = Storm(tmp_path, seed)

    async def scenario():
        await storm.boot()
        restarts = {storm.rng.randrange(40, 160) for dummy in range(2)}
        for index in range(5000):
            if index in restarts:
                await storm.restart()
            moves = storm.moves()
            if not moves:
                break
            await storm.step(moves)
        storm.forwarder.cancel()

    run(scenario())
    assert storm.events >= 60
    assert not storm.undelivered and not storm.holding and not storm.running, "the storm did not drain"
    assert storm.conflicts == [], "a new service was taken for a conflict"
    # Every service's last run started after its last event arrived: it read WHMCS's final status.
    for service_id, last in storm.last_event.items():
        assert max(started for dummy, s, started in storm.finished if s == service_id) > last, service_id
        status, server = storm.whmcs[service_id], storm.panel[service_id]
        if status == "Terminated":
            assert server is None
        elif status == "Active":
            assert server == {"blocked": False}
        elif server is not None:
            assert server["blocked"] is True
    # Coalesced: far fewer runs than events (each event alone would have been one run).
    assert len(storm.finished) < storm.events
    assert DELIVERY.State(storm.settings.state_file).load()
    state = json.loads(Path(storm.settings.state_file).read_text())
    assert all(svc["run"] is None and svc["next"] is None for svc in state["services"].values())


def test_a_button_is_a_run_of_its_own_emitted_once(tmp_path):
    """server_control (the provisioning module's buttons): never merged, never waits, not emitted again after a restart."""
    port = free_port()
    hook = Hook(port)
    args = push_args(tmp_path, port)

    async def scenario():
        async with Source(args) as source:
            await hook("create", 3)
            [converge] = await source.events(1)
            button_id = await hook("server_control", 3, operation="reboot", requested_by="client")
            [button] = await source.events(1)
            assert button["whmcs"] == {
                "service_id": 3,
                "server_id": 3,
                "product_id": 1,
                "action": "server_control",
                "actions": ["server_control"],
                "events": 1,
                "event_id": button_id,
                "dedicated_server_new_service": False,
                "operation": "reboot",
                "requested_by": "client",
            }
            # The converge run in flight is untouched: nothing waits behind it.
            assert state_of(tmp_path)["services"]["3"]["next"] is None
            status, answer = await post(hook.url, body_of(action="server_control", service_id=3, operation="format", requested_by="client"))
            assert status == 422 and "server_control needs operation" in answer["reason"]
            status, answer = await post(hook.url, body_of(action="connection_test", service_id=3))
            assert status == 422 and "unknown action" in answer["reason"]
        async with Source(args) as source:
            # Only the converge run is emitted again; the reboot is not done twice.
            [again] = await source.events(1)
            assert again == converge
            await source.nothing(0.5)

    run(scenario())
