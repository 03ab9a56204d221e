# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Test helper: one JSON line per playbook run start and end, appended to RUN_LOG_FILE.

The EDA tests count runs per service with it, independently of the event source's own
acknowledgement callback.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: run_log
type: aggregate
short_description: Log playbook run starts and ends for the collection's EDA tests
description:
  - Appends one JSON line to the file E(RUN_LOG_FILE) when a run starts and one when it ends, with the
    service id, the event's id and actions, and the extra vars C(dedicated_server_new_service),
    C(whmcs_server_id), C(operation) and C(requested_by) of the run.
requirements:
  - enabled in C(callbacks_enabled)
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "run_log"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.run = None

    def _write(self, record):
        path = os.environ.get("RUN_LOG_FILE")
        if path:
            # O_APPEND: lines of concurrent runs never interleave.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, (json.dumps(record) + "\n").encode())
            finally:
                os.close(fd)

    def v2_playbook_on_start(self, playbook):
        self.run = {"playbook": os.path.basename(playbook._file_name), "pid": os.getpid()}  # pylint: disable=protected-access

    def v2_playbook_on_play_start(self, play):
        if "service_id" in self.run:
            return
        extra = play.get_variable_manager().extra_vars
        whmcs = ((extra.get("ansible_eda") or {}).get("event") or {}).get("whmcs") or {}
        self.run.update(
            service_id=int(extra.get("service_id", 0)),
            event_id=whmcs.get("event_id"),
            actions=whmcs.get("actions"),
            new=extra.get("dedicated_server_new_service"),
            whmcs_server_id=extra.get("whmcs_server_id"),
            operation=extra.get("operation"),
            requested_by=extra.get("requested_by"),
        )
        self._write(dict(self.run, what="start", time=time.time()))

    def v2_playbook_on_stats(self, stats):
        failed = any(stats.failures.get(host) or stats.dark.get(host) for host in stats.processed)
        self._write(dict(self.run, what="end", time=time.time(), failed=failed))
