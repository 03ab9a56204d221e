# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""ispsystem.dcimanager.whmcs: WHMCS module events as ansible-rulebook events.

Self-contained on purpose (asyncio + aiohttp, which ansible-rulebook itself depends on): a decision
environment need not carry ansible-core or requests, and the collection's WHMCS client is
synchronous, which would stall ansible-rulebook's event loop.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import json
import logging
import os
import re
import ssl
import tempfile
import time
from typing import Any

DOCUMENTATION = r"""
---
short_description: WHMCS module events (create, suspend, unsuspend, terminate) of dedicated server services.
description:
  - Emits C({whmcs: {service_id, action, product_id, event_id}}) for each module action WHMCS
    performed on a service, with I(action) one of C(create), C(suspend), C(unsuspend), C(terminate).
  - C(mode=push) listens for the signed POSTs of the WHMCS hook
    C(extras/whmcs/hooks/ispsystem_dcimanager_awx.php) (its C(eda_url) setting). C(mode=poll) reads
    WHMCS's activity log (C(GetActivityLog)) and module queue (C(GetModuleQueue)) every I(interval)
    seconds, from a cursor kept in I(state_file).
  - Events are de-duplicated by C(event_id). The state file (written atomically) keeps the cursor,
    the ids recently emitted, and the events whose playbook run has not ended yet; those are emitted
    again after a restart (I(acknowledge)).
  - No secret ever appears in an event or a log line. See docs/eda.md of the collection.
options:
  mode:
    description: C(push) (listen for the WHMCS hook) or C(poll) (read the WHMCS API).
    type: str
    required: true
    choices: [push, poll]
  state_file:
    description:
      - A file of the source's own (JSON): the poll cursor, recent event ids, events not yet acknowledged.
      - Its directory must exist and be writable; an C(acks) directory is made next to the file.
    type: str
    required: true
  acknowledge:
    description:
      - Keep each emitted event until a playbook run for its service and action has ended (the
        C(ispsystem.dcimanager.eda_ack) callback, which the source enables for the playbooks that
        ansible-rulebook runs), and emit the unacknowledged ones again after a restart.
      - Set C(false) with C(run_job_template) (AAP), where the playbook runs elsewhere; an event then
        counts as delivered once it is handed to ansible-rulebook.
    type: bool
    default: true
  duplicate_window:
    description:
      - The rulebook's throttle (C(once_within)) in seconds. An event of a service and action that
        arrives within this time after a run for them started is taken as covered by that run
        (the throttle drops it), so it is not emitted again after a restart.
    type: int
    default: 60
  product_ids:
    description: Only services of these WHMCS product ids (default, and with an empty list, every product).
    type: list
    elements: int
  host:
    description: (push) The address to listen on.
    type: str
    default: 127.0.0.1
  port:
    description: (push) The TCP port to listen on.
    type: int
    default: 5443
  path:
    description: (push) The URL path the hook posts to.
    type: str
    default: /whmcs
  hmac_secret:
    description:
      - (push) The secret shared with the hook (its C(eda_secret)), at least 32 characters.
      - Default from the environment variable C(ISPSYSTEM_EDA_SECRET).
    type: str
  certfile:
    description: (push) A PEM certificate (chain) to serve HTTPS; without it the source serves plain HTTP.
    type: str
  keyfile:
    description: (push) The PEM private key of I(certfile).
    type: str
  max_body:
    description: (push) The largest body accepted, in bytes; a bigger post is refused with 413.
    type: int
    default: 16384
  max_age:
    description: (push) Seconds a signed post stays valid (its timestamp, either way); older or later ones are refused.
    type: int
    default: 300
  whmcs_url:
    description: (poll) The WHMCS base URL; default from C(WHMCS_URL).
    type: str
  whmcs_identifier:
    description: (poll) API credential identifier; default from C(WHMCS_API_IDENTIFIER).
    type: str
  whmcs_secret:
    description: (poll) API credential secret; default from C(WHMCS_API_SECRET).
    type: str
  whmcs_access_key:
    description: (poll) The API access key, if WHMCS's IP allow-list needs it; default from C(WHMCS_API_ACCESS_KEY).
    type: str
  ca_path:
    description: (poll) A PEM CA file for a WHMCS with a private CA; default from C(WHMCS_CA_PATH).
    type: str
  validate_certs:
    description: (poll) Verify WHMCS's TLS certificate.
    type: bool
    default: true
  interval:
    description: (poll) Seconds between two reads of WHMCS.
    type: float
    default: 30
  timeout:
    description: (poll) Seconds one API request may take.
    type: float
    default: 30
  page_size:
    description: (poll) Activity log entries read per request.
    type: int
    default: 100
  start_at:
    description:
      - (poll) Where a source without a cursor starts; C(now) skips the activity log's history,
        C(beginning) emits every module action still in it. Incomplete module queue entries are
        emitted in both cases.
    type: str
    default: now
    choices: [now, beginning]
  module_queue:
    description: (poll) Also emit WHMCS's failed module actions (its module queue), so that they are retried.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Dedicated servers from WHMCS
  hosts: localhost
  sources:
    - ispsystem.dcimanager.whmcs:
        mode: push
        port: 5443
        certfile: /etc/eda/tls/cert.pem
        keyfile: /etc/eda/tls/key.pem
        state_file: /var/lib/eda/whmcs-push.json
        product_ids: [3, 4]
    - ispsystem.dcimanager.whmcs:
        mode: poll
        interval: 30
        state_file: /var/lib/eda/whmcs-poll.json
        product_ids: [3, 4]
"""

LOG = logging.getLogger("ispsystem.dcimanager.whmcs")

ACTIONS = ("create", "suspend", "unsuspend", "terminate")
# The module queue's moduleAction -> our action.
QUEUE_ACTIONS = {"CreateAccount": "create", "SuspendAccount": "suspend", "UnsuspendAccount": "unsuspend", "TerminateAccount": "terminate"}
# WHMCS's activity log line of a successful module action (assumption W-EDA-1 in docs/eda.md).
LOG_LINE = re.compile(r"(?<![A-Za-z])Module (Create|Suspend|Unsuspend|Terminate) Successful - Service ID: (\d+)\b")
# The activity log search that narrows GetActivityLog to module lines (a substring match).
LOG_FILTER = "Successful - Service ID"
EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,127}$")
SIGNATURE_HEADER = "X-Ispsystem-Signature"
ACK_CALLBACK = "ispsystem.dcimanager.eda_ack"
ACK_DIR_ENV = "ISPSYSTEM_EDA_ACK_DIR"
# How many event ids the state file remembers (de-duplication, replay refusal); a few days of events.
DONE_KEPT = 10000
# Acknowledgement files older than this are removed (they settle nothing newer than themselves).
ACK_KEPT_SECONDS = 86400
MAX_ANSWER_BYTES = 8 * 1024 * 1024
MAX_PAGES = 200
TICK = 0.25


class SourceError(Exception):
    """A configuration or state problem that stops the source, with a message a person can act on."""


class WHMCSUnavailable(Exception):
    """WHMCS could not be read this time (unreachable, an error answer, garbage): try again later."""


# --- arguments ---------------------------------------------------------------------------------


def _bool(value):
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _positive_int(value):
    """An int > 0 from an int or a string of digits, else None (bools are not numbers here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return number if number > 0 else None
    return None


class Settings:
    """The source's arguments, checked, with the environment's defaults."""

    def __init__(self, args: dict[str, Any]):
        env = os.environ
        self.mode = args.get("mode")
        if self.mode not in ("push", "poll"):
            raise SourceError("mode must be push or poll, not %r" % (self.mode,))
        if not args.get("state_file"):
            raise SourceError("state_file is required (a JSON file the source keeps its cursor in)")
        self.state_file = os.path.abspath(str(args["state_file"]))
        if not os.path.isdir(os.path.dirname(self.state_file)):
            raise SourceError("the directory of state_file %s does not exist" % self.state_file)
        self.acknowledge = _bool(args.get("acknowledge", True))
        self.ack_dir = os.path.join(os.path.dirname(self.state_file), "acks")
        self.duplicate_window = int(args.get("duplicate_window", 60))
        products = args.get("product_ids") or []
        if not isinstance(products, list) or any(_positive_int(p) is None for p in products):
            raise SourceError("product_ids must be a list of product ids (positive integers)")
        self.product_ids = frozenset(_positive_int(p) for p in products)
        # push
        self.host = str(args.get("host", "127.0.0.1"))
        self.port = int(args.get("port", 5443))
        self.path = "/" + str(args.get("path", "/whmcs")).strip("/")
        self.hmac_secret = str(args.get("hmac_secret") or env.get("ISPSYSTEM_EDA_SECRET") or "")
        self.certfile = args.get("certfile")
        self.keyfile = args.get("keyfile")
        self.max_body = int(args.get("max_body", 16384))
        self.max_age = int(args.get("max_age", 300))
        # poll
        self.whmcs_url = str(args.get("whmcs_url") or env.get("WHMCS_URL") or "")
        self.identifier = str(args.get("whmcs_identifier") or env.get("WHMCS_API_IDENTIFIER") or "")
        self.secret = str(args.get("whmcs_secret") or env.get("WHMCS_API_SECRET") or "")
        self.access_key = str(args.get("whmcs_access_key") or env.get("WHMCS_API_ACCESS_KEY") or "")
        self.ca_path = args.get("ca_path") or env.get("WHMCS_CA_PATH") or None
        self.validate_certs = _bool(args.get("validate_certs", True))
        self.interval = float(args.get("interval", 30))
        self.timeout = float(args.get("timeout", 30))
        self.page_size = int(args.get("page_size", 100))
        self.start_at = args.get("start_at", "now")
        self.module_queue = _bool(args.get("module_queue", True))
        self._check()

    def _check(self):
        if self.mode == "push":
            if len(self.hmac_secret) < 32:
                raise SourceError("push mode needs hmac_secret (or ISPSYSTEM_EDA_SECRET) of at least 32 characters")
            if bool(self.certfile) != bool(self.keyfile):
                raise SourceError("give certfile and keyfile together")
            if not 256 <= self.max_body <= 1048576:
                raise SourceError("max_body must be between 256 and 1048576 bytes")
            if not 10 <= self.max_age <= 86400:
                raise SourceError("max_age must be between 10 and 86400 seconds")
        else:
            missing = [
                name for name, value in (("whmcs_url", self.whmcs_url), ("whmcs_identifier", self.identifier), ("whmcs_secret", self.secret)) if not value
            ]
            if missing:
                raise SourceError("poll mode needs %s (or WHMCS_URL, WHMCS_API_IDENTIFIER, WHMCS_API_SECRET)" % ", ".join(missing))
            if not self.whmcs_url.lower().startswith("https://"):
                raise SourceError("whmcs_url must start with https:// (the API credentials travel in each request)")
            if not 0.05 <= self.interval <= 86400 or not 1 <= self.timeout <= 600:
                raise SourceError("interval must be 0.05 to 86400 seconds and timeout 1 to 600 seconds")
            if not 1 <= self.page_size <= 1000:
                raise SourceError("page_size must be between 1 and 1000")
            if self.start_at not in ("now", "beginning"):
                raise SourceError("start_at must be now or beginning")

    def selected(self, product_id):
        return not self.product_ids or product_id in self.product_ids


def api_endpoint(url):
    """WHMCS's includes/api.php for a base URL (one that already ends in it is kept)."""
    url = url.strip()
    if url.rstrip("/").endswith("/includes/api.php"):
        return url.rstrip("/")
    return url.rstrip("/") + "/includes/api.php"


# --- durable state ---------------------------------------------------------------------------------


class State:
    """The state file: cursor, recent event ids, unacknowledged events. Written atomically."""

    def __init__(self, path):
        self.path = path
        self.activity_id = None  # poll: the newest activity log id handled
        self.queue_ids = set()  # poll: module queue entries emitted (while still in the queue)
        self.done = collections.OrderedDict()  # event id -> time it was settled
        self.pending = []  # [{"event": ..., "emitted_at": float}], in emission order

    def load(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as exc:
            # Never guess a cursor: a reset could skip events or repeat them all.
            raise SourceError("state file %s cannot be read (%s); repair it, or remove it to start afresh" % (self.path, exc.__class__.__name__)) from None
        if not isinstance(data, dict) or data.get("version") != 1:
            raise SourceError("state file %s is not a version 1 state of this source" % self.path)
        self.activity_id = data.get("activity_id")
        self.queue_ids = set(str(i) for i in data.get("queue_ids", []))
        self.done = collections.OrderedDict((str(k), float(v)) for k, v in data.get("done", []))
        self.pending = [p for p in data.get("pending", []) if isinstance(p, dict) and isinstance(p.get("event"), dict)]
        return True

    def save(self):
        data = {"version": 1, "activity_id": self.activity_id, "queue_ids": sorted(self.queue_ids), "done": list(self.done.items()), "pending": self.pending}
        directory = os.path.dirname(self.path)
        fd, tmp = tempfile.mkstemp(prefix=".whmcs-state-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        # The rename itself must reach the disk too.
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def known(self, event_id):
        return event_id in self.done or any(p["event"]["whmcs"]["event_id"] == event_id for p in self.pending)

    def settle(self, event_id, when=None):
        self.done[event_id] = when or time.time()
        self.done.move_to_end(event_id)
        while len(self.done) > DONE_KEPT:
            self.done.popitem(last=False)


class Delivery:
    """Hands events to ansible-rulebook once each, durably: pending until acknowledged (or handed over)."""

    def __init__(self, queue, settings, state):
        self.queue = queue
        self.settings = settings
        self.state = state
        self._acks_read = {}  # ack file name -> mtime already applied
        self._covered = {}  # (service id, action) -> events emitted until then are covered
        self._outbox = asyncio.Queue()

    def record(self, event):
        """Make the event pending in the state file (before anyone is told it was taken). False if known."""
        event_id = event["whmcs"]["event_id"]
        if self.state.known(event_id):
            LOG.info("event %s was already emitted; not emitting it again", event_id)
            return False
        self.state.pending.append({"event": event, "emitted_at": time.time()})
        self.state.save()
        self._outbox.put_nowait(event)
        return True

    async def forward(self):
        """Put recorded events on ansible-rulebook's queue in order (runs for the source's life)."""
        while True:
            event = await self._outbox.get()
            LOG.info("emitting %s of service %s (event %s)", event["whmcs"]["action"], event["whmcs"]["service_id"], event["whmcs"]["event_id"])
            # A copy: ansible-rulebook's filters add "meta" to what they are given.
            await self.queue.put(json.loads(json.dumps(event)))
            if not self.settings.acknowledge:
                self._settle_pending(lambda p, e=event: p["event"]["whmcs"]["event_id"] == e["whmcs"]["event_id"])
                self.state.save()

    def resume(self):
        """After a start: apply acknowledgements, then emit again what was never acknowledged."""
        self.read_acks()
        if self.state.pending:
            LOG.warning("emitting again %d event(s) whose playbook run did not end before the last stop", len(self.state.pending))
            for pending in self.state.pending:
                pending["emitted_at"] = time.time()
                self._outbox.put_nowait(pending["event"])
            self.state.save()

    def _settle_pending(self, matches):
        keep = []
        for pending in self.state.pending:
            if matches(pending):
                self.state.settle(pending["event"]["whmcs"]["event_id"])
            else:
                keep.append(pending)
        changed = len(keep) != len(self.state.pending)
        self.state.pending = keep
        return changed

    def read_acks(self):
        """Settle pending events from the acknowledgement files of ended playbook runs.

        A run for a service and action that ended after an event of the same service and action
        was emitted covers that event: it converged the service to the same state. So does a run
        that started less than duplicate_window before the event: the rulebook's throttle dropped
        the event as a duplicate of the one that started the run.
        """
        if not self.settings.acknowledge:
            return
        try:
            names = os.listdir(self.settings.ack_dir)
        except FileNotFoundError:
            return
        now = time.time()
        for name in names:
            if not name.endswith(".json"):
                continue
            path = os.path.join(self.settings.ack_dir, name)
            try:
                mtime = os.stat(path).st_mtime
                if now - mtime > ACK_KEPT_SECONDS:
                    os.unlink(path)
                    self._acks_read.pop(name, None)
                    continue
                if self._acks_read.get(name) == mtime:
                    continue
                with open(path, encoding="utf-8") as handle:
                    ack = json.load(handle)
                key = (int(ack["service_id"]), str(ack["action"]))
                # Events up to a few seconds before the throttle's end: the run starts a moment
                # after the event that fired it, so this never covers an event the throttle let through.
                covered = max(float(ack["ended_at"]), float(ack.get("started_at", 0)) + self.settings.duplicate_window - 5)
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError, TypeError):
                LOG.warning("ignoring the unreadable acknowledgement file %s", path)
                self._acks_read[name] = None
                continue
            self._acks_read[name] = mtime
            self._covered[key] = max(covered, self._covered.get(key, 0.0))
        # Also settles an event recorded after its run's acknowledgement was read (a duplicate
        # the throttle drops).
        if self._settle_pending(lambda p: p["emitted_at"] <= self._covered.get((p["event"]["whmcs"]["service_id"], p["event"]["whmcs"]["action"]), -1.0)):
            self.state.save()


def make_event(service_id, action, product_id, event_id):
    return {"whmcs": {"service_id": service_id, "action": action, "product_id": product_id, "event_id": event_id}}


def enable_acknowledgements(settings):
    """Make the playbooks ansible-rulebook starts (they inherit its environment) acknowledge their event."""
    os.makedirs(settings.ack_dir, exist_ok=True)
    current = os.environ.get(ACK_DIR_ENV)
    if current and os.path.abspath(current) != settings.ack_dir:
        raise SourceError(
            "two whmcs sources in one ansible-rulebook keep their state in different directories "
            "(%s, %s): put both state files in one directory" % (current, os.path.dirname(settings.state_file))
        )
    os.environ[ACK_DIR_ENV] = settings.ack_dir
    enabled = [name.strip() for name in os.environ.get("ANSIBLE_CALLBACKS_ENABLED", "").split(",") if name.strip()]
    if ACK_CALLBACK not in enabled:
        os.environ["ANSIBLE_CALLBACKS_ENABLED"] = ",".join(enabled + [ACK_CALLBACK])


# --- push -------------------------------------------------------------------------------------------


class PushReceiver:
    """The HTTP(S) endpoint for the WHMCS hook's signed posts."""

    def __init__(self, settings, delivery):
        self.settings = settings
        self.delivery = delivery
        self.secret = settings.hmac_secret.encode("utf-8")

    def refuse(self, request, status, reason):
        from aiohttp import web  # pylint: disable=import-outside-toplevel

        LOG.warning("refused a post from %s: %s (HTTP %d)", request.remote, reason, status)
        return web.json_response({"status": "refused", "reason": reason}, status=status)

    async def handle(self, request):
        from aiohttp import web  # pylint: disable=import-outside-toplevel

        if request.method != "POST":
            return self.refuse(request, 405, "only POST is accepted")
        length = request.content_length
        if length is None:
            return self.refuse(request, 411, "no Content-Length")
        if length > self.settings.max_body:
            return self.refuse(request, 413, "body of %d bytes is over the %d byte limit" % (length, self.settings.max_body))
        try:
            body = await asyncio.wait_for(request.content.read(self.settings.max_body + 1), timeout=10)
        except asyncio.TimeoutError:
            return self.refuse(request, 408, "the body did not arrive within 10 seconds")
        if len(body) > self.settings.max_body:
            return self.refuse(request, 413, "body over the %d byte limit" % self.settings.max_body)
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            return self.refuse(request, 401, "unsigned (no %s header)" % SIGNATURE_HEADER)
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.strip().lower().encode("ascii", "replace"), expected.encode("ascii")):
            return self.refuse(request, 401, "wrong signature")
        try:
            post = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self.refuse(request, 400, "the body is not JSON")
        problem, event = self.parse(post)
        if problem:
            return self.refuse(request, 422 if event is None else 409, problem)
        if not self.settings.selected(event["whmcs"]["product_id"]):
            LOG.info(
                "ignoring %s of service %s: product %s is not in product_ids",
                event["whmcs"]["action"],
                event["whmcs"]["service_id"],
                event["whmcs"]["product_id"],
            )
            return web.json_response({"status": "ignored", "event_id": event["whmcs"]["event_id"]}, status=200)
        try:
            self.delivery.record(event)
        except OSError as exc:
            LOG.error("could not write the state file %s: %s", self.settings.state_file, exc)
            return web.json_response({"status": "error", "reason": "state file not writable"}, status=503)
        return web.json_response({"status": "accepted", "event_id": event["whmcs"]["event_id"]}, status=202)

    def parse(self, post):
        """(problem, event): problem is None for a good post; event is None unless only a replay is wrong."""
        if not isinstance(post, dict):
            return "the body is not a JSON object", None
        event_id = post.get("event_id")
        if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
            return "event_id missing or not 8 to 128 letters, digits, '_.:-'", None
        timestamp = post.get("timestamp")
        if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
            return "timestamp missing or not a number", None
        if abs(time.time() - timestamp) > self.settings.max_age:
            return "timestamp is more than %d seconds away from now (a replay, or a wrong clock)" % self.settings.max_age, None
        action = post.get("action")
        if action not in ACTIONS:
            return "unknown action %r (expected one of %s)" % (str(action)[:40], ", ".join(ACTIONS)), None
        service_id = _positive_int(post.get("service_id"))
        if service_id is None:
            return "service_id missing or not a positive integer", None
        product_id = post.get("product_id", 0)
        product_id = 0 if product_id in (0, "0", None, "") else _positive_int(product_id)
        if product_id is None:
            return "product_id is not a positive integer", None
        event = make_event(service_id, action, product_id, event_id)
        if self.delivery.state.known(event_id):
            return "event %s was received before (a replay)" % event_id, event
        return None, event


async def run_push(settings, delivery):
    from aiohttp import web  # pylint: disable=import-outside-toplevel

    receiver = PushReceiver(settings, delivery)
    # client_max_size bounds what aiohttp itself would buffer; the handler reads with its own bound.
    app = web.Application(client_max_size=settings.max_body)
    app.router.add_route("*", settings.path, receiver.handle)
    context = None
    if settings.certfile:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(settings.certfile, settings.keyfile)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, ssl_context=context)
    await site.start()
    LOG.info("listening on %s://%s:%d%s", "https" if context else "http", settings.host, settings.port, settings.path)
    try:
        while True:
            await asyncio.sleep(TICK)
            delivery.read_acks()
    finally:
        await runner.cleanup()


# --- poll -------------------------------------------------------------------------------------------


class WHMCSReader:
    """The three read-only API actions poll mode needs, with bounded retries."""

    def __init__(self, settings):
        self.settings = settings
        self.endpoint = api_endpoint(settings.whmcs_url)
        self.session = None

    async def open(self):
        import aiohttp  # pylint: disable=import-outside-toplevel

        if not self.settings.validate_certs:
            context = False
        else:
            context = ssl.create_default_context(cafile=self.settings.ca_path)
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
            connector=aiohttp.TCPConnector(ssl=context, limit=4),
            headers={"User-Agent": "ispsystem.dcimanager-eda/1"},
        )

    async def close(self):
        if self.session is not None:
            await self.session.close()

    async def call(self, action, **params):
        """One API call, up to 3 attempts with backoff; raises WHMCSUnavailable."""
        import aiohttp  # pylint: disable=import-outside-toplevel

        data = dict(params, action=action, identifier=self.settings.identifier, secret=self.settings.secret, responsetype="json")
        if self.settings.access_key:
            data["accesskey"] = self.settings.access_key
        problem = ""
        for attempt in range(3):
            if attempt:
                await asyncio.sleep(0.5 * 2**attempt)
            try:
                async with self.session.post(self.endpoint, data=data, allow_redirects=False) as answer:
                    raw = await answer.content.read(MAX_ANSWER_BYTES + 1)
                    status = answer.status
            except (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError, OSError) as exc:
                # The exception names the URL at most; the credentials travel in the body.
                problem = "%s could not be reached: %s" % (action, exc.__class__.__name__ + (": %s" % exc if str(exc) else ""))
                continue
            if len(raw) > MAX_ANSWER_BYTES:
                raise WHMCSUnavailable("%s answered more than %d bytes" % (action, MAX_ANSWER_BYTES))
            if status in (429, 500, 502, 503, 504):
                problem = "%s answered HTTP %d" % (action, status)
                continue
            try:
                answer_data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                problem = "%s answered HTTP %d with something that is not JSON" % (action, status)
                continue
            if not isinstance(answer_data, dict) or status != 200:
                raise WHMCSUnavailable("%s answered HTTP %d: %s" % (action, status, _short(answer_data)))
            if answer_data.get("result") != "success":
                raise WHMCSUnavailable("%s failed: %s" % (action, _short(answer_data.get("message"))))
            return answer_data
        raise WHMCSUnavailable(problem + " (3 attempts)")

    async def product_of(self, service_id):
        """The service's product id, or None when WHMCS has no such service."""
        answer = await self.call("GetClientsProducts", serviceid=service_id, limitnum=1)
        products = answer.get("products")
        services = products.get("product") if isinstance(products, dict) else []
        for service in services if isinstance(services, list) else []:
            if isinstance(service, dict) and _positive_int(service.get("id")) == service_id:
                return _positive_int(service.get("pid")) or 0
        return None


def _short(value):
    text = " ".join(str(value).split())
    return text[:200] + ("..." if len(text) > 200 else "")


def _entries(activity):
    """The entry list of GetActivityLog's 'activity' in any shape WHMCS gives it (W-EDA-2)."""
    if activity in ("", None, [], {}):
        return []
    if isinstance(activity, dict):
        activity = activity.get("entry", [])
        if isinstance(activity, dict):  # one entry, XML-to-JSON style
            activity = [activity]
    if not isinstance(activity, list):
        raise WHMCSUnavailable("GetActivityLog answered an 'activity' that is not a list of entries")
    return activity


class Poller:
    """Reads new module actions from WHMCS and emits them in order, moving the cursor behind them."""

    def __init__(self, settings, delivery, reader):
        self.settings = settings
        self.delivery = delivery
        self.state = delivery.state
        self.reader = reader
        self._reported = set()

    async def poll_once(self):
        """One read of WHMCS; returns the number of events emitted. Raises WHMCSUnavailable."""
        emitted = 0
        if self.state.activity_id is None:
            await self._start_cursor()
        lines, newest = await self._new_log_entries()
        for entry_id, action, service_id in lines:
            product_id = await self.reader.product_of(service_id)
            if product_id is None:
                LOG.warning("activity log entry %d: WHMCS has no service %d (deleted?); skipped", entry_id, service_id)
            elif self.settings.selected(product_id):
                emitted += self._emit(make_event(service_id, action, product_id, "whmcs-log-%d" % entry_id), entry_id)
                continue
            self.state.activity_id = entry_id
            self.state.save()
        if newest > self.state.activity_id:
            # What follows the last module line (lines the search matched that are not ours).
            self.state.activity_id = newest
            self.state.save()
        if self.settings.module_queue:
            emitted += await self._queue()
        return emitted

    def _emit(self, event, entry_id=None):
        """Record one event (with the cursor moved onto its log entry, in the same write)."""
        if entry_id is not None:
            self.state.activity_id = entry_id
        if self.delivery.record(event):
            return 1
        self.state.save()
        return 0

    async def _start_cursor(self):
        if self.settings.start_at == "beginning":
            self.state.activity_id = 0
        else:
            answer = await self.reader.call("GetActivityLog", description=LOG_FILTER, limitstart=0, limitnum=1)
            ids = [self._entry_id(entry) for entry in _entries(answer.get("activity"))]
            self.state.activity_id = max(ids) if ids else 0
            LOG.info("no cursor yet: starting after activity log entry %d (start_at: now)", self.state.activity_id)
        self.state.save()

    @staticmethod
    def _entry_id(entry):
        entry_id = _positive_int(entry.get("id")) if isinstance(entry, dict) else None
        if entry_id is None:
            raise WHMCSUnavailable("GetActivityLog answered an entry without a numeric id: %s" % _short(entry))
        return entry_id

    async def _new_log_entries(self):
        """([(entry id, action, service id)] newer than the cursor, oldest first; the newest id seen).

        The log is listed newest first and only by offset, so pages are read until one reaches
        the cursor; entries that arrive meanwhile push the rest down, which repeats (never skips)
        an entry, and repeats are dropped by id.
        """
        cursor = self.state.activity_id
        found = {}
        for page in range(MAX_PAGES):
            answer = await self.reader.call(
                "GetActivityLog", description=LOG_FILTER, limitstart=page * self.settings.page_size, limitnum=self.settings.page_size
            )
            entries = _entries(answer.get("activity"))
            reached = not entries or len(entries) < self.settings.page_size
            for entry in entries:
                entry_id = self._entry_id(entry)
                if entry_id <= cursor:
                    reached = True
                    continue
                match = LOG_LINE.search(str(entry.get("description", "")))
                found[entry_id] = (match.group(1).lower(), int(match.group(2))) if match else None
            if reached:
                break
        else:
            raise WHMCSUnavailable("more than %d new activity log entries since entry %d; raise page_size" % (MAX_PAGES * self.settings.page_size, cursor))
        lines = [(entry_id,) + found[entry_id] for entry_id in sorted(found) if found[entry_id] is not None]
        return lines, max(found) if found else cursor

    async def _queue(self):
        answer = await self.reader.call("GetModuleQueue", serviceType="service")
        items = answer.get("queue")
        if items in ("", None, {}):
            items = []
        if not isinstance(items, list):
            raise WHMCSUnavailable("GetModuleQueue answered a 'queue' that is not a list")
        present = set()
        emitted = 0
        for item in items:
            if not isinstance(item, dict) or _positive_int(item.get("id")) is None:
                LOG.warning("GetModuleQueue answered an item without an id; skipped: %s", _short(item))
                continue
            queue_id = str(_positive_int(item["id"]))
            present.add(queue_id)
            if str(item.get("completed", "0")) not in ("0", "", "false", "False") or queue_id in self.state.queue_ids:
                continue
            action = QUEUE_ACTIONS.get(str(item.get("moduleAction")))
            service_id = _positive_int(item.get("serviceId"))
            if action is None or service_id is None or str(item.get("serviceType", "service")) != "service":
                if queue_id not in self._reported:
                    self._reported.add(queue_id)
                    LOG.info(
                        "module queue entry %s (%s of %s %s) is not an action this source handles",
                        queue_id,
                        _short(item.get("moduleAction")),
                        _short(item.get("serviceType")),
                        _short(item.get("serviceId")),
                    )
                continue
            product_id = await self.reader.product_of(service_id)
            self.state.queue_ids.add(queue_id)
            if product_id is None or not self.settings.selected(product_id):
                self.state.save()
                continue
            LOG.info(
                "WHMCS's %s of service %d failed (%s); emitting it to be done again",
                item.get("moduleAction"),
                service_id,
                _short(item.get("lastAttemptError", ""))[:120],
            )
            emitted += self._emit(make_event(service_id, action, product_id, "whmcs-queue-%s" % queue_id))
        # Forget entries that left the queue (done or deleted), so the state stays small.
        if self.state.queue_ids - present:
            self.state.queue_ids &= present
            self.state.save()
        return emitted


async def run_poll(settings, delivery):
    reader = WHMCSReader(settings)
    await reader.open()
    poller = Poller(settings, delivery, reader)
    failures = 0
    LOG.info("polling %s every %s s", reader.endpoint, settings.interval)
    try:
        while True:
            try:
                await poller.poll_once()
                if failures:
                    LOG.info("WHMCS answers again")
                failures = 0
                wait = settings.interval
            except WHMCSUnavailable as exc:
                failures += 1
                wait = min(settings.interval * 2 ** min(failures, 10), max(settings.interval, 300))
                LOG.error(
                    "WHMCS poll failed (%d in a row), next try in %.0f s; the cursor stays at activity log entry %s: %s",
                    failures,
                    wait,
                    delivery.state.activity_id,
                    exc,
                )
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                delivery.read_acks()
                await asyncio.sleep(min(TICK, max(0.0, deadline - time.monotonic())))
    finally:
        await reader.close()


# --- entry point ------------------------------------------------------------------------------------


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    """ansible-rulebook's entry point."""
    settings = Settings(args)
    state = State(settings.state_file)
    if not state.load():
        LOG.info("no state file %s yet; starting a new one", settings.state_file)
        state.save()
    if settings.acknowledge:
        enable_acknowledgements(settings)
    delivery = Delivery(queue, settings, state)
    delivery.resume()
    forwarder = asyncio.create_task(delivery.forward())
    try:
        if settings.mode == "push":
            await run_push(settings, delivery)
        else:
            await run_poll(settings, delivery)
    finally:
        forwarder.cancel()


if __name__ == "__main__":
    # Try it without ansible-rulebook: print what would be emitted.
    class _PrintQueue:
        async def put(self, event):
            print(json.dumps(event))

    logging.basicConfig(level=logging.INFO)
    import sys  # pylint: disable=import-outside-toplevel

    asyncio.run(main(_PrintQueue(), json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}))
