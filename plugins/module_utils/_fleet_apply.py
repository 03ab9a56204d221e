# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: fleet_apply's options, and a plan applied with them.

The fleet_apply action plugin validates its options against ``argument_spec()`` and calls
``apply_plan()``; the in-process tests call it the same way.
Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import copy
import time

from ansible.module_utils.basic import env_fallback

from ._dci.client import DCIClient
from ._dci_module import dci_argument_spec
from ._service.apply import Panels, apply
from ._service.converge import FOLLOW, SET, Run
from ._whmcs.client import WHMCSClient
from ._whmcs_module import whmcs_argument_spec

WHMCS_GROUP = "ispsystem.dcimanager.whmcs"
# Option names the two connection fragments share: on fleet_apply they are the DCImanager panel's, and the
# WHMCS ones carry a whmcs_ prefix (a module_defaults group of either API sets its own).
WHMCS_SHARED_OPTIONS = ("validate_certs", "ca_path", "timeout", "use_proxy")


def argument_spec():
    spec = dict(
        plan=dict(type="raw", required=True),
        parallelism=dict(type="int", default=50),
        panels=dict(type="dict", no_log=True, fallback=(env_fallback, ["DCIMANAGER_PANELS"])),
        products=dict(type="dict", default={}),
        secrets=dict(type="dict", no_log=True, default={}),
        whmcs_status=dict(type="str", choices=[FOLLOW, SET], default=FOLLOW),
        wait_for_install=dict(type="bool", default=True),
        install_timeout=dict(type="int", default=720),
        settle_time=dict(type="int", default=60),
        poll_interval=dict(type="int", default=15),
        wait_timeout=dict(type="int", default=600),
        claim_bound=dict(type="float", default=2.0),
        claim_settle=dict(type="float", default=4.0),
    )
    dci = dci_argument_spec()
    for name in ("api_url", "api_username", "api_password"):
        dci[name] = dict(dci[name], required=False)  # not needed with dcimanager_panels (panels)
    spec.update(dci)
    for name, option in whmcs_argument_spec().items():
        spec[("whmcs_" + name) if name in WHMCS_SHARED_OPTIONS else name] = dict(option, required=False)
    return spec


def entries_of(plan):
    """The services a plan names: the drift_plan filter's output (its ``changes``), a list of entries, or one entry."""
    if isinstance(plan, dict) and "changes" in plan:
        plan = plan["changes"]
    elif isinstance(plan, dict):
        plan = [plan]
    entries = []
    for index, entry in enumerate(plan or ()):
        if not isinstance(entry, dict):
            raise ValueError("plan entry %d is not a dict (a service: service_id, or host and settings)" % (index + 1))
        if entry.get("service_id") in (None, "") and not entry.get("settings"):
            raise ValueError("plan entry %d names no service: give service_id (a WHMCS service) or settings" % (index + 1))
        entries.append(copy.deepcopy(entry))
    return entries


def _connection(params):
    """The one panel of the DCImanager options, or None when they are not all given."""
    if not (params.get("api_url") and params.get("api_username") and params.get("api_password")):
        return None
    return dict(
        url=params["api_url"],
        username=params["api_username"],
        password=params["api_password"],
        ca_path=params.get("ca_path"),
        validate_certs=params.get("validate_certs", True),
        use_proxy=params.get("use_proxy", True),
    )


def line(service, check_mode):
    """One line of progress for a service's result."""
    name = "%s (service %s%s)" % (service["host"], service.get("service_id") or "-", ", " + service["hostname"] if service.get("hostname") else "")
    if service["failed"]:
        return "%s: FAILED: %s" % (name, service["msg"])
    server = service.get("server") or {}
    where = " server %s%s" % (server.get("id"), " (%s)" % server["main_ip"] if server.get("main_ip") else "") if server.get("id") else ""
    done = service["action"] or "in sync"
    if check_mode and service["action"]:
        done = "would " + done
    panel = " on panel %s" % service["panel_id"] if service.get("panel_id") not in (None, "default") else ""
    return "%s: %s%s%s%s" % (name, done, where, panel, ", changed" if service["changed"] and not check_mode else "")


def apply_plan(params, check_mode=False, diff=False, warn=None, progress=None):
    """Apply ``params['plan']`` (validated fleet_apply options); returns the action's result."""
    try:
        entries = entries_of(params["plan"])
    except ValueError as exc:
        return {"failed": True, "changed": False, "msg": "fleet_apply: %s" % exc, "services": []}
    timeout = params["timeout"]
    default = _connection(params)
    if params.get("panels") is None and default is None and entries:
        return {
            "failed": True,
            "changed": False,
            "msg": "fleet_apply needs a DCImanager panel: api_url, api_username and api_password (or DCIMANAGER_URL ...), "
            "or dcimanager_panels (the panels option) for several",
            "services": [],
        }

    def make_client(connection):
        return DCIClient(
            connection["url"],
            connection["username"],
            connection["password"],
            validate_certs=connection.get("validate_certs", True),
            ca_path=connection.get("ca_path"),
            timeout=timeout,
            use_proxy=connection.get("use_proxy", True),
        )

    whmcs = None
    if params.get("whmcs_url") and any(entry.get("service_id") not in (None, "") for entry in entries):
        whmcs = WHMCSClient(
            params["whmcs_url"],
            params["whmcs_identifier"],
            params["whmcs_secret"],
            access_key=params.get("whmcs_access_key"),
            validate_certs=params["whmcs_validate_certs"],
            ca_path=params.get("whmcs_ca_path"),
            timeout=params["whmcs_timeout"],
            use_proxy=params["whmcs_use_proxy"],
        )
    panels = Panels(make_client, default=default, mapping=params.get("panels"), poll_interval=params["poll_interval"])
    warnings = []

    def warn_of(host, message):
        text = "%s: %s" % (host, message)
        warnings.append(text)
        if warn is not None:
            warn(text)

    run = Run(
        panels,
        whmcs_client=whmcs,
        products=params["products"],
        policy=params["whmcs_status"],
        check_mode=check_mode,
        wait_for_install=params["wait_for_install"],
        install_timeout=params["install_timeout"],
        settle_time=params["settle_time"],
        poll_interval=params["poll_interval"],
        wait_timeout=params["wait_timeout"],
        claim_bound=params["claim_bound"],
        claim_settle=params["claim_settle"],
        warn=warn_of,
    )
    started = time.monotonic()

    def report(service):
        service["line"] = line(service, check_mode)
        if progress is not None:
            progress(service, len(entries))

    try:
        services = apply(run, entries, params["secrets"], params["parallelism"], report)
    finally:
        panels.close()
        if whmcs is not None:
            whmcs.close()
    failed = [service for service in services if service["failed"]]
    result = {
        "changed": any(service["changed"] for service in services),
        "services": services,
        "failed_hosts": [service["host"] for service in failed],
        "list_reads": panels.list_reads(),
        "list_polls": panels.list_polls(),
        "seconds": round(time.monotonic() - started, 1),
    }
    if diff:
        result["diff"] = {
            "before": "".join("%s: %s\n" % (s["host"], s.get("status") or "-") for s in services if s["action"]),
            "after": "".join("%s: %s\n" % (s["host"], s["line"]) for s in services if s["action"]),
        }
    if failed:
        result["failed"] = True
        result["msg"] = "%d of %d services failed: %s; relaunch with --limit %s" % (
            len(failed),
            len(services),
            "; ".join(service["line"] for service in failed[:20]),
            ",".join(result["failed_hosts"]),
        )
    return result
