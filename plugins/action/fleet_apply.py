# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet_apply action: a drift plan applied to many services in the controller's process.

An action plugin rather than a module so that each service's result shows in the job output as it
finishes (a module's output comes only at its end). The work itself is the service operations of
module_utils/_service, which the dci_* modules use too. The documentation is plugins/modules/fleet_apply.py.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._fleet_apply import (
    WHMCS_GROUP,
    WHMCS_SHARED_OPTIONS,
    apply_plan,
    argument_spec,
)

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _whmcs_group_defaults(self, omit=None):
        """The module_defaults of the whmcs action group, which apply to this action too. Its shared option names
        (validate_certs, ca_path, timeout, use_proxy) are the DCImanager panel's here: the WHMCS ones take a whmcs_ prefix.
        ``omit``: the play's omit token; ansible-core before 2.19 leaves it in a templated value (``default(omit)``)."""
        merged = {}
        for defaults in self._task.module_defaults or []:
            merged.update(defaults)
        found = {}
        for key in ("group/" + WHMCS_GROUP, "group/whmcs"):
            if key in merged:
                found.update(self._templar.template(merged[key]) or {})
        return dict(("whmcs_" + key if key in WHMCS_SHARED_OPTIONS else key, value) for key, value in found.items() if omit is None or value != omit)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._whmcs_group_defaults((task_vars or {}).get("omit")))
        args.update(self._task.args)
        validated = ArgumentSpecValidator(argument_spec()).validate(args)
        if validated.error_messages:
            raise AnsibleActionFail("fleet_apply: %s" % "; ".join(validated.error_messages))
        params = validated.validated_parameters
        started = time.monotonic()
        done = [0]

        def progress(service, total):
            done[0] += 1
            display.display("fleet_apply [%d/%d, %.0fs]: %s" % (done[0], total, time.monotonic() - started, service["line"]))

        outcome = apply_plan(
            params,
            check_mode=bool(self._task.check_mode),
            diff=bool(self._task.diff),
            warn=display.warning,
            progress=progress,
        )
        result.update(outcome)
        return result
