# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Test helper: write every task result of a playbook run to the JSON file named by RECORD_RESULTS_FILE."""

from __future__ import annotations

DOCUMENTATION = r"""
name: record_results
type: aggregate
short_description: Record task results for the collection's integration tests
description:
  - Writes each task's name, action, host, status and result to the JSON file named by E(RECORD_RESULTS_FILE).
requirements:
  - enabled in C(callbacks_enabled)
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.records = []

    def _record(self, status, result):
        self.records.append(
            {
                "task": result._task.get_name(),  # pylint: disable=protected-access
                "action": result._task.action,  # pylint: disable=protected-access
                "host": result._host.get_name(),  # pylint: disable=protected-access
                "status": status,
                "result": result._result,  # pylint: disable=protected-access
            }
        )

    def v2_runner_on_ok(self, result):
        self._record("changed" if result._result.get("changed") else "ok", result)  # pylint: disable=protected-access

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record("failed", result)

    def v2_runner_on_skipped(self, result):
        self._record("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._record("unreachable", result)

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["RECORD_RESULTS_FILE"], "w", encoding="utf-8") as handle:
            json.dump(self.records, handle, default=str)
