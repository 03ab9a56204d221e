# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: eda_ack
type: notification
short_description: Tell the WHMCS event source that the playbook run of an event has ended
version_added: 0.1.0
description:
  - For playbooks that ansible-rulebook runs on an event of the C(ispsystem.dcimanager.whmcs) event
    source. When the run ends, successfully or not, it writes one small JSON file into O(ack_dir) with
    the event's service id, action and event id, and when the run started and ended.
  - The event source keeps each event until such a file says that a run for its service and action
    has ended, and emits unacknowledged events again after a restart of ansible-rulebook.
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


class CallbackModule(CallbackBase):
    """Writes <ack_dir>/<event id>.json when a run for a WHMCS event ends."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "ispsystem.dcimanager.eda_ack"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._event = None
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
        event_id, action = str(whmcs.get("event_id", "")), str(whmcs.get("action", ""))
        try:
            service_id = int(whmcs.get("service_id"))
        except (TypeError, ValueError):
            return
        if _EVENT_ID.match(event_id) and action in _ACTIONS:
            self._event = {"event_id": event_id, "service_id": service_id, "action": action}

    def v2_playbook_on_stats(self, stats):
        directory = self.get_option("ack_dir")
        if self._event is None or not directory:
            return
        failed = any(stats.failures.get(host) or stats.dark.get(host) for host in stats.processed)
        ack = dict(self._event, started_at=self._started, ended_at=time.time(), failed=bool(failed))
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
