# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to this collection (no compatibility promise): the WHMCS event source's poll mode.

Reads WHMCS's activity log (``GetActivityLog``) and module queue (``GetModuleQueue``) every
interval, from a cursor kept in the state file, and looks up each service's product and WHMCS
server (``GetClientsProducts``). The calls go through the collection's WHMCS client (requests)
in a thread of their own, so ansible-rulebook's event loop never waits on WHMCS.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import re

from ansible_collections.ispsystem.dcimanager.plugins.plugin_utils._eda.delivery import make_hint
from ansible_collections.ispsystem.dcimanager.plugins.plugin_utils._eda.settings import LOG, SourceError, positive_int
from ansible_collections.ispsystem.dcimanager.plugins.plugin_utils._eda.whmcs_api import WHMCSClient, WHMCSError, products_list, to_int

# The module queue's moduleAction -> our action.
QUEUE_ACTIONS = {"CreateAccount": "create", "SuspendAccount": "suspend", "UnsuspendAccount": "unsuspend", "TerminateAccount": "terminate"}
# WHMCS's activity log line of a successful module action (assumption W-EDA-1 in docs/eda.md).
LOG_LINE = re.compile(r"(?<![A-Za-z])Module (Create|Suspend|Unsuspend|Terminate) Successful - Service ID: (\d+)\b")
# The activity log search that narrows GetActivityLog to module lines (a substring match).
LOG_FILTER = "Successful - Service ID"
MAX_PAGES = 200
# Reads the client repeats after a failure that may pass; the poller itself tries again next interval.
READ_RETRIES = 2


class WHMCSUnavailable(Exception):
    """WHMCS could not be read this time (unreachable, an error answer, garbage): try again later."""


class WHMCSReader:
    """The three read-only API actions poll mode needs."""

    def __init__(self, settings):
        try:
            self.client = WHMCSClient(
                settings.whmcs_url,
                settings.identifier,
                settings.secret,
                access_key=settings.access_key or None,
                validate_certs=settings.validate_certs,
                ca_path=settings.ca_path,
                timeout=settings.timeout,
                retries=READ_RETRIES,
                pool_size=1,
                use_proxy=settings.use_proxy,
            )
        except WHMCSError as exc:
            raise SourceError("poll mode cannot talk to WHMCS: %s (a decision environment needs the collection's requirements.txt)" % exc.msg) from None
        self.endpoint = self.client.display_url
        # One thread: the calls of one poll are sequential anyway, and a stop never waits for it.
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="whmcs-poll")

    def close(self):
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    async def call(self, action, **params):
        """One reading API call (the client repeats it after failures that may pass); raises WHMCSUnavailable."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(self.client.read, action, params))
        except WHMCSError as exc:
            raise WHMCSUnavailable(exc.msg) from None

    async def service(self, service_id):
        """(product id, WHMCS server id or None) of a service, or None when WHMCS has no such service."""
        answer = await self.call("GetClientsProducts", serviceid=service_id, limitstart=0, limitnum=1)
        for raw in products_list(answer):
            if to_int(raw.get("id")) == service_id:
                return to_int(raw.get("pid"), 0) or 0, positive_int(to_int(raw.get("serverid")))
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


def _entry_id(entry):
    entry_id = positive_int(entry.get("id")) if isinstance(entry, dict) else None
    if entry_id is None:
        raise WHMCSUnavailable("GetActivityLog answered an entry without a numeric id: %s" % _short(entry))
    return entry_id


class Poller:
    """Reads new module actions from WHMCS and hands them to the delivery in order, moving the cursor behind them."""

    def __init__(self, settings, delivery, reader):
        self.settings = settings
        self.delivery = delivery
        self.state = delivery.state
        self.reader = reader
        self._reported = set()

    async def poll_once(self):
        """One read of WHMCS. Raises WHMCSUnavailable."""
        if self.state.activity_id is None:
            await self._start_cursor()
        lines, newest = await self._new_log_entries()
        for entry_id, action, service_id in lines:
            found = await self.reader.service(service_id)
            if found is None:
                LOG.warning("activity log entry %d: WHMCS has no service %d (deleted?); skipped", entry_id, service_id)
            elif self.settings.selected(found[0]):
                if self.delivery.receive(make_hint(service_id, action, found[0], "whmcs-log-%d" % entry_id, found[1]), cursor=entry_id):
                    continue
            self.state.activity_id = entry_id
            self.state.save()
        if newest > self.state.activity_id:
            # What follows the last module line (lines the search matched that are not ours).
            self.state.activity_id = newest
            self.state.save()
        if self.settings.module_queue:
            await self._queue()

    async def _start_cursor(self):
        if self.settings.start_at == "beginning":
            self.state.activity_id = 0
        else:
            answer = await self.reader.call("GetActivityLog", description=LOG_FILTER, limitstart=0, limitnum=1)
            ids = [_entry_id(entry) for entry in _entries(answer.get("activity"))]
            self.state.activity_id = max(ids) if ids else 0
            LOG.info("no cursor yet: starting after activity log entry %d (start_at: now)", self.state.activity_id)
        self.state.save()

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
                entry_id = _entry_id(entry)
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
        for item in items:
            if not isinstance(item, dict) or positive_int(item.get("id")) is None:
                LOG.warning("GetModuleQueue answered an item without an id; skipped: %s", _short(item))
                continue
            queue_id = str(positive_int(item["id"]))
            present.add(queue_id)
            if str(item.get("completed", "0")) not in ("0", "", "false", "False") or queue_id in self.state.queue_ids:
                continue
            action = QUEUE_ACTIONS.get(str(item.get("moduleAction")))
            service_id = positive_int(item.get("serviceId"))
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
            found = await self.reader.service(service_id)
            self.state.queue_ids.add(queue_id)
            if found is None or not self.settings.selected(found[0]):
                self.state.save()
                continue
            LOG.info(
                "WHMCS's %s of service %d failed (%s); emitting it to be done again",
                item.get("moduleAction"),
                service_id,
                _short(item.get("lastAttemptError", ""))[:120],
            )
            if not self.delivery.receive(make_hint(service_id, action, found[0], "whmcs-queue-%s" % queue_id, found[1])):
                self.state.save()
        # Forget entries that left the queue (done or deleted), so the state stays small.
        if self.state.queue_ids - present:
            self.state.queue_ids &= present
            self.state.save()


async def run_poll(settings, delivery):
    reader = WHMCSReader(settings)
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
            await asyncio.sleep(wait)
    finally:
        reader.close()
