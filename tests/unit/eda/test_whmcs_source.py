# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The event source extensions/eda/plugins/event_source/whmcs.py on a plain asyncio queue: its receivers.

Push mode gets real HTTP(S) posts; poll mode reads the WHMCS simulator (in-process, on loopback).
Each test runs the source's ``main()`` as ansible-rulebook would, and stops it by cancelling it.
Most run with ``acknowledge: false`` (every event a run of its own); test_coalescing.py has the runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import runpy
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

aiohttp = pytest.importorskip("aiohttp", reason="the event source runs under ansible-rulebook, which brings aiohttp")
# The event source runs on asyncio and its tests wait in real time (polls, back-offs): not in the quick loop.
pytestmark = pytest.mark.realtime

from simulators._tls import make_tls  # noqa: E402  pylint: disable=wrong-import-position
from simulators.shop import make_shop  # noqa: E402  pylint: disable=wrong-import-position
from simulators.whmcs import WHMCSSimulator  # noqa: E402  pylint: disable=wrong-import-position

CHECKOUT = Path(__file__).resolve().parents[3]
# The path ansible-rulebook finds it at (through the collection path scripts/setup.sh links), loaded as it does.
INSTALLED = CHECKOUT / ".venv" / "collections" / "ansible_collections" / "ispsystem" / "dcimanager"
SOURCE_PATH = INSTALLED / "extensions" / "eda" / "plugins" / "event_source" / "whmcs.py"
SOURCE = runpy.run_path(str(SOURCE_PATH))
SourceError = SOURCE["_load"]("settings").SourceError
SECRET = "unit-hmac-secret-5b1e0c3a9f7d4e2b8a6c"
API_SECRET = "sim-secret"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Source:
    """One run of the source's main() on a queue, in the test's event loop."""

    def __init__(self, args):
        self.args = args
        self.queue = asyncio.Queue()
        self.task = None

    async def __aenter__(self):
        self.task = asyncio.create_task(SOURCE["main"](self.queue, dict(self.args)))
        return self

    async def __aexit__(self, *exc):
        await self.stop()

    async def stop(self):
        if self.task and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        elif self.task:
            self.task.result()  # raise what ended it

    async def events(self, count, timeout=5.0):
        """The next ``count`` events (fails the test if they do not come)."""
        got = []
        for dummy in range(count):
            got.append(await asyncio.wait_for(self.queue.get(), timeout))
        return got

    async def nothing(self, seconds=0.6):
        await asyncio.sleep(seconds)
        assert self.queue.empty(), "unexpected event %s" % self.queue.get_nowait()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


# --- push ---------------------------------------------------------------------------------------------


def push_args(tmp_path, port, **changes):
    args = {"mode": "push", "state_file": str(tmp_path / "state.json"), "hmac_secret": SECRET, "port": port, "acknowledge": False}
    args.update(changes)
    return args


def body_of(action="create", service_id=42, product_id=1, event_id=None, timestamp=None, server_id=3, **extra):
    data = {
        "event_id": event_id or "whmcs-push-%s" % uuid.uuid4().hex,
        "timestamp": int(time.time()) if timestamp is None else timestamp,
        "hook": "AfterModuleCreate",
        "action": action,
        "service_id": service_id,
        "product_id": product_id,
        "server_id": server_id,
        "client_id": 7,
    }
    data.update(extra)
    return json.dumps(data).encode()


def sign(body, secret=SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post(url, body, signature=True, headers=None, ssl_context=None):
    headers = dict(headers or {})
    if signature is True:
        headers["X-Ispsystem-Signature"] = sign(body)
    elif signature:
        headers["X-Ispsystem-Signature"] = signature
    headers.setdefault("Content-Type", "application/json")
    async with aiohttp.ClientSession() as session:
        for dummy in range(50):  # the listener may still be starting
            try:
                async with session.post(url, data=body, headers=headers, ssl=ssl_context) as answer:
                    return answer.status, await answer.json(content_type=None)
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.1)
    raise AssertionError("the source never listened on %s" % url)


def test_push_a_signed_post_becomes_one_event(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()

    async def scenario():
        async with Source(push_args(tmp_path, port)) as source:
            body = body_of(event_id="whmcs-push-0123456789abcdef")
            started = time.monotonic()
            status, answer = await post("http://127.0.0.1:%d/whmcs" % port, body)
            answered = time.monotonic() - started
            assert (status, answer["status"]) == (202, "accepted")
            [event] = await source.events(1)
            assert event == {
                "whmcs": {
                    "service_id": 42,
                    "server_id": 3,
                    "product_id": 1,
                    "action": "create",
                    "actions": ["create"],
                    "events": 1,
                    "event_id": "whmcs-push-0123456789abcdef",
                    "dedicated_server_new_service": True,
                }
            }
            assert answered < 1.0
            # The same post again is a replay: refused, and nothing more is emitted.
            status, answer = await post("http://127.0.0.1:%d/whmcs" % port, body)
            assert status == 409 and "replay" in answer["reason"]
            await source.nothing()

    run(scenario())
    assert SECRET not in caplog.text and SECRET[:12] not in caplog.text


@pytest.mark.parametrize(
    "case, status, reason",
    [
        ("unsigned", 401, "unsigned"),
        ("wrong-signature", 401, "wrong signature"),
        ("other-secret", 401, "wrong signature"),
        ("not-json", 400, "not JSON"),
        ("not-an-object", 422, "not a JSON object"),
        ("unknown-action", 422, "unknown action"),
        ("old", 422, "more than 300 seconds"),
        ("future", 422, "more than 300 seconds"),
        ("no-service", 422, "service_id"),
        ("bad-event-id", 422, "event_id"),
        ("bool-timestamp", 422, "timestamp"),
        ("bad-server-id", 422, "server_id"),
        ("oversized", 413, "limit"),
    ],
)
def test_push_bad_posts_are_refused_and_the_source_keeps_running(tmp_path, caplog, case, status, reason):
    caplog.set_level(logging.INFO)
    port = free_port()
    url = "http://127.0.0.1:%d/whmcs" % port
    signature = True
    if case == "unsigned":
        body, signature = body_of(), None
    elif case == "wrong-signature":
        body, signature = body_of(), "sha256=" + "0" * 64
    elif case == "other-secret":
        body = body_of()
        signature = sign(body, "another-secret-of-at-least-32-characters")
    elif case == "not-json":
        body = b"service_id=42&action=create"
    elif case == "not-an-object":
        body = b"[1, 2, 3]"
    elif case == "unknown-action":
        body = body_of(action="changepackage")
    elif case == "old":
        body = body_of(timestamp=int(time.time()) - 3600)
    elif case == "future":
        body = body_of(timestamp=int(time.time()) + 3600)
    elif case == "no-service":
        body = body_of(service_id="forty-two")
    elif case == "bad-event-id":
        body = body_of(event_id="../../etc/passwd")
    elif case == "bool-timestamp":
        body = body_of(timestamp=True)
    elif case == "bad-server-id":
        body = body_of(server_id="panel-1")
    else:
        body = body_of(padding="x" * 20000)

    async def scenario():
        async with Source(push_args(tmp_path, port)) as source:
            got_status, answer = await post(url, body, signature=signature)
            assert got_status == status
            assert reason in answer["reason"]
            await source.nothing(0.3)
            # Still listening, still emitting.
            good_status, dummy = await post(url, body_of(action="suspend", service_id=7))
            assert good_status == 202
            [event] = await source.events(1)
            assert event["whmcs"]["action"] == "suspend"

    run(scenario())
    assert "refused a post from 127.0.0.1" in caplog.text
    assert SECRET not in caplog.text


def test_push_a_post_of_an_older_hook_without_server_id(tmp_path):
    port = free_port()

    async def scenario():
        async with Source(push_args(tmp_path, port)) as source:
            body = json.loads(body_of(action="suspend"))
            del body["server_id"]
            status, dummy = await post("http://127.0.0.1:%d/whmcs" % port, json.dumps(body).encode())
            assert status == 202
            [event] = await source.events(1)
            assert event["whmcs"]["server_id"] is None and event["whmcs"]["dedicated_server_new_service"] is False

    run(scenario())


def test_push_product_filter(tmp_path):
    port = free_port()

    async def scenario():
        async with Source(push_args(tmp_path, port, product_ids=[3, 4])) as source:
            status, answer = await post("http://127.0.0.1:%d/whmcs" % port, body_of(product_id=9))
            assert (status, answer["status"]) == (200, "ignored")
            await source.nothing(0.3)
            status, dummy = await post("http://127.0.0.1:%d/whmcs" % port, body_of(product_id=4))
            assert status == 202
            await source.events(1)

    run(scenario())


def test_push_over_tls(tmp_path):
    port = free_port()
    ca_path, cert_path, key_path = make_tls(str(tmp_path / "tls"))
    context = ssl.create_default_context(cafile=ca_path)

    async def scenario():
        async with Source(push_args(tmp_path, port, certfile=cert_path, keyfile=key_path)) as source:
            status, dummy = await post("https://127.0.0.1:%d/whmcs" % port, body_of(), ssl_context=context)
            assert status == 202
            await source.events(1)
            # Plain HTTP to a TLS listener gets no event out of it.
            with pytest.raises(aiohttp.ClientError):
                async with aiohttp.ClientSession() as session:
                    async with session.post("http://127.0.0.1:%d/whmcs" % port, data=body_of()) as answer:
                        await answer.read()
            await source.nothing(0.3)

    run(scenario())


def test_push_replay_is_refused_after_a_restart(tmp_path):
    """The ids of emitted events live in the state file: a restart does not reopen the replay window."""
    port = free_port()
    body = body_of()

    async def scenario():
        async with Source(push_args(tmp_path, port)) as source:
            assert (await post("http://127.0.0.1:%d/whmcs" % port, body))[0] == 202
            await source.events(1)
        async with Source(push_args(tmp_path, port)) as source:
            status, dummy = await post("http://127.0.0.1:%d/whmcs" % port, body)
            assert status == 409
            await source.nothing(0.3)

    run(scenario())


@pytest.mark.parametrize(
    "args, message",
    [
        ({"hmac_secret": "short"}, "at least 32 characters"),
        ({"mode": "pull"}, "mode must be push or poll"),
        ({"state_file": "/nonexistent/dir/state.json"}, "does not exist"),
        ({"certfile": "/tmp/cert.pem"}, "certfile and keyfile together"),
        ({"product_ids": ["x"]}, "product_ids"),
    ],
)
def test_bad_arguments_stop_the_source_with_a_reason(tmp_path, args, message):
    full = push_args(tmp_path, free_port())
    full.update(args)
    with pytest.raises(SourceError, match=message):
        run(SOURCE["main"](asyncio.Queue(), full))


def test_a_corrupt_state_file_is_not_guessed_over(tmp_path):
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(SourceError, match="cannot be read"):
        run(SOURCE["main"](asyncio.Queue(), push_args(tmp_path, free_port())))


# --- poll ---------------------------------------------------------------------------------------------


@pytest.fixture
def whmcs(tmp_path):
    dummy, state, dummy_products = make_shop()
    sim = WHMCSSimulator(state=state, tls_dir=str(tmp_path / "whmcs-tls"))
    sim.start()
    yield sim
    sim.close()
    assert not sim.errors


def poll_args(tmp_path, whmcs, **changes):
    args = {
        "mode": "poll",
        "state_file": str(tmp_path / "state.json"),
        "whmcs_url": whmcs.url,
        "whmcs_identifier": whmcs.identifier,
        "whmcs_secret": whmcs.secret,
        "ca_path": whmcs.ca_path,
        "interval": 0.1,
        "acknowledge": False,
    }
    args.update(changes)
    return args


def test_poll_emits_module_actions_once_and_in_order(tmp_path, whmcs, caplog):
    caplog.set_level(logging.DEBUG)
    whmcs.module_event(20, "suspend")  # history: before the source's first start

    async def scenario():
        async with Source(poll_args(tmp_path, whmcs)) as source:
            await source.nothing(0.5)  # start_at: now skips the history
            whmcs.module_event(10, "create")
            whmcs.module_event(21, "unsuspend")
            whmcs.log_activity("Cron Job: Check for Updates: No new updates available")
            whmcs.module_event(22, "terminate")
            events = await source.events(3)
            assert [(e["whmcs"]["service_id"], e["whmcs"]["action"]) for e in events] == [(10, "create"), (21, "unsuspend"), (22, "terminate")]
            assert all(e["whmcs"]["product_id"] == 1 for e in events)
            # The service's WHMCS server entry, from GetClientsProducts.
            assert [e["whmcs"]["server_id"] for e in events] == [whmcs.service(s)["serverid"] or None for s in (10, 21, 22)]
            assert [e["whmcs"]["event_id"] for e in events] == ["whmcs-log-2", "whmcs-log-3", "whmcs-log-5"]
            await source.nothing(0.5)

    run(scenario())
    assert API_SECRET not in caplog.text


def test_poll_cursor_survives_a_restart(tmp_path, whmcs):
    async def scenario():
        async with Source(poll_args(tmp_path, whmcs)) as source:
            await source.nothing(0.3)
            whmcs.module_event(10, "create")
            await source.events(1)
        # While the source is down: two more module actions.
        whmcs.module_event(11, "create")
        whmcs.module_event(10, "suspend")
        async with Source(poll_args(tmp_path, whmcs)) as source:
            events = await source.events(2)
            assert [(e["whmcs"]["service_id"], e["whmcs"]["action"]) for e in events] == [(11, "create"), (10, "suspend")]
            await source.nothing(0.5)
        assert json.loads((tmp_path / "state.json").read_text())["activity_id"] == 3

    run(scenario())


def test_poll_start_at_beginning_and_pages(tmp_path, whmcs):
    for service_id in (10, 11, 12):
        whmcs.module_event(service_id, "create")
        whmcs.module_event(service_id, "suspend")

    async def scenario():
        async with Source(poll_args(tmp_path, whmcs, start_at="beginning", page_size=2)) as source:
            events = await source.events(6)
            assert [e["whmcs"]["event_id"] for e in events] == ["whmcs-log-%d" % i for i in range(1, 7)]
            await source.nothing(0.4)

    run(scenario())


def test_poll_product_filter_and_deleted_services(tmp_path, whmcs, caplog):
    caplog.set_level(logging.INFO)
    state = whmcs.dump_state()
    state["products"].append(dict(state["products"][0], pid=2, name="Shared hosting"))
    state["services"].append(dict(state["services"][0], id=30, pid=2))
    whmcs.load_state(state)

    async def scenario():
        async with Source(poll_args(tmp_path, whmcs, product_ids=[1])) as source:
            await source.nothing(0.3)
            whmcs.module_event(30, "create")  # another product
            whmcs.log_activity("Module Create Successful - Service ID: 999")  # a service WHMCS no longer has
            whmcs.module_event(12, "create")
            [event] = await source.events(1)
            assert event["whmcs"]["service_id"] == 12
            await source.nothing(0.4)

    run(scenario())
    assert "WHMCS has no service 999" in caplog.text


def test_poll_failed_module_actions_are_emitted_once(tmp_path, whmcs):
    whmcs.module_event(12, "create", error="Package DL360 not found")  # before the start: still emitted

    async def scenario():
        async with Source(poll_args(tmp_path, whmcs)) as source:
            [event] = await source.events(1)
            assert {key: event["whmcs"][key] for key in ("service_id", "action", "product_id", "event_id")} == {
                "service_id": 12,
                "action": "create",
                "product_id": 1,
                "event_id": "whmcs-queue-1",
            }
            whmcs.module_event(12, "create", error="again")  # WHMCS's own retry fails: same queue entry
            whmcs.module_event(21, "unsuspend", error="timeout")
            [event] = await source.events(1)
            assert event["whmcs"]["event_id"] == "whmcs-queue-2"
            await source.nothing(0.5)
        async with Source(poll_args(tmp_path, whmcs)) as source:
            await source.nothing(0.5)

    run(scenario())


def test_poll_survives_an_unreachable_or_garbage_answering_whmcs(tmp_path, whmcs, caplog):
    caplog.set_level(logging.INFO)

    async def scenario():
        async with Source(poll_args(tmp_path, whmcs, timeout=2)) as source:
            await source.nothing(0.3)
            cursor = json.loads((tmp_path / "state.json").read_text())["activity_id"]
            # Garbage and errors on every read of the log, while module actions happen.
            whmcs.set_faults(rate=1.0, kinds=("badbody", "http500"), names=["GetActivityLog"], seed=3)
            whmcs.module_event(10, "create")
            await source.nothing(2.5)
            assert json.loads((tmp_path / "state.json").read_text())["activity_id"] == cursor
            whmcs.set_faults(rate=0.0)
            [event] = await source.events(1, timeout=15)
            assert event["whmcs"]["service_id"] == 10
            # Wrong credentials: WHMCS's own error message, and no progress.
            whmcs.apply_settings({"secret": "rotated"})
            whmcs.module_event(11, "create")
            await source.nothing(1.5)
            whmcs.apply_settings({"secret": API_SECRET})
            [event] = await source.events(1, timeout=15)
            assert event["whmcs"]["service_id"] == 11
        whmcs.stop()
        async with Source(poll_args(tmp_path, whmcs, timeout=1)) as source:
            await source.nothing(4.0)  # the client's three attempts, then the poller's backoff
            assert not source.task.done()

    run(scenario())
    assert "WHMCS poll failed" in caplog.text
    assert "Invalid or missing credentials" in caplog.text
    assert "cannot connect to WHMCS at https://127.0.0.1:" in caplog.text
    assert API_SECRET not in caplog.text and "rotated" not in caplog.text


def test_poll_needs_https_and_credentials(tmp_path, whmcs):
    with pytest.raises(SourceError, match="https://"):
        run(SOURCE["main"](asyncio.Queue(), poll_args(tmp_path, whmcs, whmcs_url="http://127.0.0.1:1/")))
    with pytest.raises(SourceError, match="whmcs_secret"):
        run(SOURCE["main"](asyncio.Queue(), poll_args(tmp_path, whmcs, whmcs_secret="")))


# --- loading, as ansible-rulebook does it in a decision environment -----------------------------------

LOADER = r"""
import asyncio, json, runpy, sys
if sys.argv[2] == "no-requests":
    sys.modules["requests"] = None  # a decision environment without the collection's requirements.txt
source = runpy.run_path(sys.argv[1])
found = {"push": source["_load"]("push").__file__, "modules": sorted(m for m in sys.modules if m.startswith("ansible_collections"))}
settings = source["_load"]("settings")
args = {"mode": "poll", "state_file": sys.argv[3], "whmcs_url": "https://127.0.0.1:9/", "whmcs_identifier": "i", "whmcs_secret": "s"}
try:
    source["_load"]("poll").WHMCSReader(settings.Settings(args))
    found["poll"] = "ready"
except settings.SourceError as exc:
    found["poll"] = str(exc)
found["ansible"] = "ansible" in sys.modules
print(json.dumps(found))
"""


def load_in_a_fresh_python(tmp_path, path, requests=True):
    # No PYTHONPATH and another working directory: only what ansible-rulebook's process would have.
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "ANSIBLE_COLLECTIONS_PATH")}
    args = [sys.executable, "-c", LOADER, str(path), "with-requests" if requests else "no-requests", str(tmp_path / "state.json")]
    return subprocess.run(args, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_entry_point_imports_its_package_from_the_collection_it_is_installed_in(tmp_path):
    result = load_in_a_fresh_python(tmp_path, SOURCE_PATH)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["push"] == str(INSTALLED / "plugins" / "plugin_utils" / "_eda" / "push.py")
    assert found["poll"] == "ready"
    # Neither ansible-core nor its collection loader: the source needs only the collection's files.
    assert found["ansible"] is False


def test_push_mode_needs_no_requests_and_poll_mode_says_what_is_missing(tmp_path):
    result = load_in_a_fresh_python(tmp_path, SOURCE_PATH, requests=False)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["push"].endswith("push.py")
    assert found["poll"].startswith("poll mode cannot talk to WHMCS: the Python library requests is required")
    assert "requirements.txt" in found["poll"]


def test_the_entry_point_outside_an_installed_collection_says_so(tmp_path):
    result = load_in_a_fresh_python(tmp_path, CHECKOUT / "extensions" / "eda" / "plugins" / "event_source" / "whmcs.py")
    assert result.returncode != 0
    assert "runs from an installed collection (ansible_collections/ispsystem/dcimanager/)" in result.stderr


def test_the_documentation_parses_and_names_every_argument():
    import re  # pylint: disable=import-outside-toplevel

    import yaml  # pylint: disable=import-outside-toplevel

    documentation = yaml.safe_load(SOURCE["DOCUMENTATION"])
    assert isinstance(yaml.safe_load(SOURCE["EXAMPLES"]), list)
    settings_source = (CHECKOUT / "plugins" / "plugin_utils" / "_eda" / "settings.py").read_text()
    read = set(re.findall(r"args\.get\(\"(\w+)\"", settings_source)) | set(re.findall(r"args\[\"(\w+)\"\]", settings_source))
    # duplicate_window: only read to warn that it is no longer used.
    assert read - {"duplicate_window"} == set(documentation["options"])
