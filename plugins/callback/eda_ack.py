# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: eda_ack
type: notification
short_description: Tell the WHMCS event source that the playbook run of an event has ended, and whether it left a server
version_added: 0.1.0
description:
  - For playbooks that ansible-rulebook runs on an event of the C(ispsystem.dcimanager.whmcs) event
    source. When the run ends, successfully or not, it writes one small JSON file into O(ack_dir) named
    after the event's id, with the event's service id, action and id, when the run started and
    ended, whether it failed, and C(server) - a server the run reported for the service, or null.
  - It reads C(server) from the results of the run's tasks - an entry of a C(services) list (the
    C(ispsystem.dcimanager.fleet_apply) result) with the event's C(service_id), not failed, and a
    non-empty C(server); or the C(dedicated_server_result) fact (the C(ispsystem.dcimanager.dedicated_server)
    role's record) with the event's C(service_id) and a non-empty C(server_id).
  - The event source keeps a service's run in flight until this file arrives, then emits the one more
    run that events arriving meanwhile asked for; it clears the service's I(new) mark once a run
    that carried it ended, not failed, with a server. After a restart of ansible-rulebook it emits
    again the runs that have no such file.
  - The event source enables this callback itself (it adds it to E(ANSIBLE_CALLBACKS_ENABLED) and sets
    E(ISPSYSTEM_EDA_ACK_DIR) in ansible-rulebook's environment, which the playbooks inherit). Runs
    without C(ansible_eda.event.whmcs) in their extra vars are left alone.
options:
  ack_dir:
    description: The directory to write into (the event source's C(acks) directory).
    type: path
    env:
      - name: ISPSYSTEM_EDA_ACK_DIR
    ini:
      - section: ispsystem_dcimanager_eda_ack
        key: ack_dir
"""

import json
import os
import re
import tempfile
import time

from ansible.plugins.callback import CallbackBase

# Event ids as the event source accepts them: safe as a file name.
_EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,127}$")
_ACTIONS = ("create", "suspend", "unsuspend", "terminate")


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _server_id(value):
    """A server as a result shows it (an id, or a dict with one) as a string; None for none."""
    if isinstance(value, dict):
        value = value.get("id", value.get("server_id"))
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    return text if text not in ("", "0") else None


class CallbackModule(CallbackBase):
    """Writes <ack_dir>/<event id>.json when a run for a WHMCS event ends."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "ispsystem.dcimanager.eda_ack"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._event = None
        self._server = None
        self._started = time.time()

    def v2_playbook_on_play_start(self, play):
        if self._event is not None:
            return
        manager = play.get_variable_manager()
        eda = (manager.extra_vars if manager is not None else {}).get("ansible_eda")
        event = eda.get("event") if isinstance(eda, dict) else None
        whmcs = event.get("whmcs") if isinstance(event, dict) else None
        if not isinstance(whmcs, dict):
            return
        event_id, action, service_id = str(whmcs.get("event_id", "")), str(whmcs.get("action", "")), _int(whmcs.get("service_id"))
        if service_id is not None and _EVENT_ID.match(event_id) and action in _ACTIONS:
            self._event = {"event_id": event_id, "service_id": service_id, "action": action}

    def v2_runner_on_ok(self, result):
        self._read(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._read(result)

    def _read(self, result):
        """Remember a server a task result shows for the event's service (the last one; never forgotten)."""
        data = getattr(result, "_result", None)
        if self._event is None or not isinstance(data, dict):
            return
        items = [data] + [item for item in data.get("results", []) if isinstance(item, dict)] if isinstance(data.get("results"), list) else [data]
        for item in items:
            for server in self._servers_in(item):
                self._server = server

    def _servers_in(self, item):
        service_id = self._event["service_id"]
        entries = item.get("services")
        for entry in entries if isinstance(entries, list) else []:
            # fleet_apply's record of one service; a failed one may name a server it did not finish.
            if isinstance(entry, dict) and "server" in entry and _int(entry.get("service_id")) == service_id and not entry.get("failed"):
                server = _server_id(entry["server"])
                if server:
                    yield server
        facts = item.get("ansible_facts")
        record = facts.get("dedicated_server_result") if isinstance(facts, dict) else None
        if isinstance(record, dict) and _int(record.get("service_id")) == service_id:
            server = _server_id(record.get("server_id"))
            if server:
                yield server

    def v2_playbook_on_stats(self, stats):
        directory = self.get_option("ack_dir")
        if self._event is None or not directory:
            return
        failed = any(stats.failures.get(host) or stats.dark.get(host) for host in stats.processed)
        ack = dict(self._event, started_at=self._started, ended_at=time.time(), failed=bool(failed), server=self._server)
        try:
            fd, tmp = tempfile.mkstemp(prefix=".ack-", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(ack, handle)
                handle.flush()
                os.fsync(handle.fileno())
            # The event source reads only complete files: write aside, then rename into place.
            os.replace(tmp, os.path.join(directory, self._event["event_id"] + ".json"))
        except OSError as exc:
            self._display.warning("could not acknowledge WHMCS event %s in %s: %s" % (self._event["event_id"], directory, exc))
