# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to this collection (no compatibility promise): the WHMCS event source's durable state,
and how WHMCS events become playbook runs.

A WHMCS event is a hint: it names a service whose status WHMCS changed, and the run it starts
(the ``converge`` playbook) reads WHMCS's status itself. So the events of one service are
coalesced: at most one run is in flight per service (emitted, not yet acknowledged by the
``eda_ack`` callback); every event that arrives meanwhile marks the service for exactly one more
run, emitted when the acknowledgement of the one in flight arrives. Nothing is dropped by a
time window, and the state file (written before anything is emitted) holds the runs in flight
and the services marked, so a restart loses nothing and finishes no run twice.

Standard library only (see settings.py).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import tempfile
import time

from ansible_collections.ispsystem.dcimanager.plugins.plugin_utils._eda.settings import LOG, SERVER_CONTROL, SourceError, positive_int

STATE_VERSION = 2
ACK_CALLBACK = "ispsystem.dcimanager.eda_ack"
ACK_DIR_ENV = "ISPSYSTEM_EDA_ACK_DIR"
# How many event ids the state file remembers (de-duplication, replay refusal): a few days of events.
SEEN_KEPT = 10000
# Acknowledgement files that settle none of this source's runs are removed once this old (another
# source in the same ansible-rulebook may still be waiting for a younger one).
ACK_KEPT_SECONDS = 86400
# A run in flight longer than this is reported (once an interval): its service's events wait for it.
SLOW_RUN_SECONDS = 3600
# The newest event ids and actions a run lists (for logs and filters; the count is kept in full).
LISTED = 20


def make_hint(service_id, action, product_id, event_id, server_id=None):
    """One WHMCS event as the receivers read it: which service, what WHMCS did, and its unique id."""
    return {"service_id": service_id, "action": action, "product_id": product_id or 0, "server_id": server_id, "event_id": event_id}


def run_id(event):
    return event["whmcs"]["event_id"]


class State:
    """The state file: poll cursor, recent event ids, and per service its run in flight and what waits.

    ``services`` maps a service id (a string: JSON keys) to
    ``{product_id, server_id, new, run, next}``: ``new`` is the id of the ``create`` event that
    marked the service new (None when it is not), ``run`` the run in flight (``{event, new,
    emitted_at}``, None when none is), ``next`` the events that arrived since it was emitted
    (``{event_ids, actions, events}``, None when none did). A service with neither a run, nor
    waiting events, nor the new mark is removed.
    """

    def __init__(self, path):
        self.path = path
        self.activity_id = None  # poll: the newest activity log id handled
        self.queue_ids = set()  # poll: module queue entries taken (while still in the queue)
        self.seen = collections.OrderedDict()  # event id -> time it was received
        self.services = {}
        # A version 1 state's events that were emitted and never acknowledged: taken in again on start.
        self.upgraded = []

    def load(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as exc:
            # Never guess a cursor: a reset could skip events or repeat them all.
            raise SourceError("state file %s cannot be read (%s); repair it, or remove it to start afresh" % (self.path, exc.__class__.__name__)) from None
        if not isinstance(data, dict) or data.get("version") not in (1, STATE_VERSION):
            raise SourceError("state file %s is not a version 1 or 2 state of this source" % self.path)
        self.activity_id = data.get("activity_id")
        self.queue_ids = set(str(i) for i in data.get("queue_ids", []))
        if data["version"] == 1:
            self._load_version_1(data)
        else:
            self.seen = collections.OrderedDict((str(k), float(v)) for k, v in data.get("seen", []))
            self.services = {}
            for key, svc in (data.get("services") or {}).items():
                if not isinstance(svc, dict) or positive_int(key) is None:
                    raise SourceError("state file %s has an unreadable entry for service %r; repair it, or remove it to start afresh" % (self.path, key))
                self.services[str(key)] = dict({"product_id": 0, "server_id": None, "new": None, "run": None, "next": None}, **svc)
        return True

    def _load_version_1(self, data):
        """Version 1 (one run per event): its settled ids are seen, its unacknowledged events are hints again."""
        self.seen = collections.OrderedDict((str(k), float(v)) for k, v in data.get("done", []))
        for pending in data.get("pending", []):
            whmcs = pending.get("event", {}).get("whmcs") if isinstance(pending, dict) and isinstance(pending.get("event"), dict) else None
            if isinstance(whmcs, dict) and positive_int(whmcs.get("service_id")) and whmcs.get("event_id"):
                self.seen[str(whmcs["event_id"])] = float(pending.get("emitted_at") or time.time())
                self.upgraded.append(
                    make_hint(positive_int(whmcs["service_id"]), str(whmcs.get("action")), positive_int(whmcs.get("product_id")), str(whmcs["event_id"]))
                )

    def save(self):
        data = {
            "version": STATE_VERSION,
            "activity_id": self.activity_id,
            "queue_ids": sorted(self.queue_ids),
            "seen": list(self.seen.items()),
            "services": self.services,
        }
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
        return event_id in self.seen

    def remember(self, event_id):
        self.seen[event_id] = time.time()
        self.seen.move_to_end(event_id)
        while len(self.seen) > SEEN_KEPT:
            self.seen.popitem(last=False)

    def in_flight(self):
        """{run id: service id (str)} of the runs emitted and not yet acknowledged."""
        return {run_id(svc["run"]["event"]): key for key, svc in self.services.items() if svc.get("run")}


class Delivery:
    """Turns events into runs (coalesced per service), hands them to ansible-rulebook, and settles them."""

    def __init__(self, queue, settings, state):
        self.queue = queue
        self.settings = settings
        self.state = state
        self._outbox = asyncio.Queue()
        self._emitted = set()  # run ids this process put in the outbox
        self._slow = {}  # run id -> when it was last reported as slow

    # --- events in ----------------------------------------------------------------------------

    def receive(self, hint, cursor=None):
        """Take one WHMCS event; False when its id was received before (a duplicate or a replay).

        It is in the state file, with the poll ``cursor`` moved onto it, before anything is
        emitted for it (and, in push mode, before the hook is told it was taken).
        """
        if self.state.known(hint["event_id"]):
            LOG.info("event %s was received before; nothing more to do for it", hint["event_id"])
            return False
        self.state.remember(hint["event_id"])
        if cursor is not None:
            self.state.activity_id = cursor
        event = self._take(hint)
        self.state.save()
        if event is not None:
            self._emit(event)
        return True

    def _take(self, hint):
        """The run to emit for this event now, or None when it waits for the service's run in flight."""
        if hint["action"] == SERVER_CONTROL:
            # A button: a command, not a hint. Emitted once, never merged and never emitted again after a
            # restart (a reboot or a reinstall is not done twice); the rule's lock orders it with converge.
            event = self._event(hint["service_id"], hint["server_id"], hint["product_id"], [hint["event_id"]], [SERVER_CONTROL], 1, False)
            event["whmcs"].update(operation=hint["operation"], requested_by=hint["requested_by"])
            return event
        if not self.settings.acknowledge:
            # Nothing will say when a run ended (AAP's run_job_template): every event is a run of its own.
            return self._event(hint["service_id"], hint["server_id"], hint["product_id"], [hint["event_id"]], [hint["action"]], 1, hint["action"] == "create")
        svc = self.state.services.setdefault(str(hint["service_id"]), {"product_id": 0, "server_id": None, "new": None, "run": None, "next": None})
        if hint["action"] == "create":
            svc["new"] = hint["event_id"]
        if hint["product_id"]:
            svc["product_id"] = hint["product_id"]
        if hint["server_id"] is not None:
            svc["server_id"] = hint["server_id"]
        waiting = svc["next"] or {"event_ids": [], "actions": [], "events": 0}
        waiting["event_ids"] = (waiting["event_ids"] + [hint["event_id"]])[-LISTED:]
        waiting["actions"] = (waiting["actions"] + [hint["action"]])[-LISTED:]
        waiting["events"] += 1
        svc["next"] = waiting
        if svc["run"] is None:
            return self._start(hint["service_id"], svc)
        LOG.info(
            "%s of service %s (event %s) arrived while run %s is in flight: one more run after it (%d event(s) waiting)",
            hint["action"],
            hint["service_id"],
            hint["event_id"],
            run_id(svc["run"]["event"]),
            waiting["events"],
        )
        return None

    def _start(self, service_id, svc):
        """Make the service's waiting events its run in flight; returns the event to emit."""
        event = self._waiting_run(service_id, svc)
        svc["next"] = None
        svc["run"] = {"event": event, "new": svc["new"], "emitted_at": time.time()}
        return event

    def _waiting_run(self, service_id, svc):
        """The run of the service's waiting events."""
        waiting, new = svc["next"], svc["new"] is not None
        return self._event(int(service_id), svc["server_id"], svc["product_id"], waiting["event_ids"], waiting["actions"], waiting["events"], new)

    @staticmethod
    def _event(service_id, server_id, product_id, event_ids, actions, events, new):
        # The run's id is its newest event's: unique, since every event belongs to exactly one run.
        return {
            "whmcs": {
                "service_id": service_id,
                "server_id": server_id,
                "product_id": product_id,
                "action": actions[-1],
                "actions": list(actions),
                "events": events,
                "event_id": event_ids[-1],
                "dedicated_server_new_service": bool(new),
            }
        }

    # --- runs out -----------------------------------------------------------------------------

    def _emit(self, event):
        self._emitted.add(run_id(event))
        self._outbox.put_nowait(event)

    async def forward(self):
        """Put runs on ansible-rulebook's queue in order (runs for the source's life)."""
        while True:
            event = await self._outbox.get()
            whmcs = event["whmcs"]
            if whmcs["action"] == SERVER_CONTROL:
                what = "%s %s, asked by the %s" % (SERVER_CONTROL, whmcs["operation"], whmcs["requested_by"])
            else:
                more = whmcs["events"] - len(whmcs["actions"])
                what = ", ".join(whmcs["actions"]) + (" and %d more" % more if more > 0 else "")
                what += "; new service: %s" % ("yes" if whmcs["dedicated_server_new_service"] else "no")
            LOG.info("emitting run %s of service %s (%s)", whmcs["event_id"], whmcs["service_id"], what)
            # A copy: ansible-rulebook's filters add "meta" to what they are given.
            await self.queue.put(json.loads(json.dumps(event)))

    def resume(self):
        """After a start: apply acknowledgements, then emit again the runs that were in flight at the last stop."""
        if not self.settings.acknowledge and self.state.services:
            # Started without acknowledgements after a life with them: what was in flight or waiting
            # is emitted once more, and nothing is kept (no acknowledgement would ever settle it).
            LOG.warning("acknowledge is off: the runs in flight or waiting of %d service(s) are emitted once more, then forgotten", len(self.state.services))
            for key, svc in sorted(self.state.services.items()):
                if svc["run"]:
                    self._emit(svc["run"]["event"])
                if svc["next"]:
                    self._emit(self._waiting_run(key, svc))
            self.state.services = {}
            self.state.save()
        if self.state.upgraded:
            LOG.warning("state file of version 1: its %d unacknowledged event(s) are taken in again, coalesced per service", len(self.state.upgraded))
            for hint in self.state.upgraded:
                if os.path.exists(os.path.join(self.settings.ack_dir, hint["event_id"] + ".json")):
                    continue  # its run ended before the upgrade
                event = self._take(hint)
                if event is not None and not self.settings.acknowledge:
                    self._emit(event)
            self.state.upgraded = []
            self.state.save()
        self.read_acks()
        again = [svc["run"]["event"] for svc in self.state.services.values() if svc.get("run") and run_id(svc["run"]["event"]) not in self._emitted]
        if again:
            LOG.warning("emitting again %d run(s) that had not ended before the last stop", len(again))
            now = time.time()
            for svc in self.state.services.values():
                if svc.get("run") and run_id(svc["run"]["event"]) not in self._emitted:
                    svc["run"]["emitted_at"] = now
            self.state.save()
            for event in again:
                self._emit(event)

    # --- acknowledgements ---------------------------------------------------------------------

    def read_acks(self):
        """Settle the runs whose eda_ack file has appeared, and emit the one more run of each service marked meanwhile."""
        if not self.settings.acknowledge:
            return
        try:
            names = sorted(os.listdir(self.settings.ack_dir))
        except FileNotFoundError:
            return
        now = time.time()
        in_flight = self.state.in_flight()
        settled, emits = [], []
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            path = os.path.join(self.settings.ack_dir, name)
            key = in_flight.get(name[: -len(".json")])
            if key is None:
                self._expire(path, now)
                continue
            ack = self._read_ack(path, name)
            if ack is None:
                continue
            event = self._finish(key, ack)
            settled.append(path)
            if event is not None:
                emits.append(event)
        if settled:
            self.state.save()
            for event in emits:
                self._emit(event)
            # Only after the state file says so: a file left by a crash here settles nothing twice.
            for path in settled:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        self._report_slow(now)

    def _read_ack(self, path, name):
        """The acknowledgement; an unreadable one still says the run ended (the callback writes it only then)."""
        try:
            with open(path, encoding="utf-8") as handle:
                ack = json.load(handle)
            if isinstance(ack, dict) and str(ack.get("event_id")) == name[: -len(".json")]:
                return ack
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            pass
        LOG.warning("the acknowledgement file %s cannot be read: its run counts as ended, without an outcome", path)
        return {"failed": True}

    def _expire(self, path, now):
        """A file that settles no run of this source: another source's, or left from before a crash."""
        try:
            if now - os.stat(path).st_mtime > ACK_KEPT_SECONDS:
                os.unlink(path)
        except FileNotFoundError:
            pass

    def _finish(self, key, ack):
        """Settle the run in flight of service ``key``; returns the service's next run to emit, if one is waiting.

        The new mark goes once a run that carried it ended without failing and left the service
        with a server (``server`` in the acknowledgement: the callback reads it from the run's
        result) or was for a terminate. A mark set by a create that arrived during the run stays.
        """
        svc = self.state.services[key]
        run, svc["run"] = svc["run"], None
        self._slow.pop(run_id(run["event"]), None)
        failed = bool(ack.get("failed", True))
        server = ack.get("server")
        LOG.info(
            "run %s of service %s ended%s%s",
            run_id(run["event"]),
            key,
            " (failed)" if failed else "",
            ", server %s" % server if server not in (None, "") else "",
        )
        if svc["new"] is not None and svc["new"] == run.get("new") and not failed:
            if server not in (None, "", 0, "0"):
                svc["new"] = None
                LOG.info("service %s has its server: no longer new", key)
            elif run["event"]["whmcs"]["action"] == "terminate":
                svc["new"] = None
        if svc["next"]:
            return self._start(key, svc)
        if svc["new"] is None:
            del self.state.services[key]
        return None

    def _report_slow(self, now):
        for key, svc in self.state.services.items():
            run = svc.get("run")
            if not run or now - run["emitted_at"] < SLOW_RUN_SECONDS or now - self._slow.get(run_id(run["event"]), 0) < SLOW_RUN_SECONDS:
                continue
            self._slow[run_id(run["event"])] = now
            LOG.warning(
                "run %s of service %s has not been acknowledged for %d minutes; the service's events wait for it "
                "(is the acks directory %s writable for the playbooks?)",
                run_id(run["event"]),
                key,
                (now - run["emitted_at"]) // 60,
                self.settings.ack_dir,
            )


def enable_acknowledgements(settings):
    """Make the playbooks ansible-rulebook starts (they inherit its environment) acknowledge their run."""
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
