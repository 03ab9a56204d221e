# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run the collection's modules in this process against the simulators, on a virtual clock.

A module's ``main()`` runs as ansible-core runs it (its arguments through ``AnsibleModule``, its
result from ``exit_json`` / ``fail_json``), without ansible-playbook's start-up. The requests still
go over HTTPS to the simulator.

With a ``VirtualClock``, every module and module_utils file that sleeps or reads the time (``TIMED``:
the waits, the write path's repeats, the clients' retry backoff in the transport, the allocation
lock's polling and the claim's settle pause, the install record's and the install's clock; a unit
test checks that the list names every such file) gets the clock as its ``time``: a pause moves the
simulator's clock (and the module's) instead of sleeping, so an install that takes minutes on the
simulator's clock passes in milliseconds. What it does not cover: HTTP time-outs (the sockets'
own, real seconds), the simulator's ``latency`` and ``stall`` faults (real sleeps on the server's
side), and a lock held by another process (whose wait it would run through at once).

    runner = ModuleRunner(connection_args(dci), clock=VirtualClock(dci), monkeypatch=monkeypatch)
    result = runner.run("dci_server", {"server_id": "6", "blocked": True})
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import time as _time

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as module_warnings

from simulators.dcimanager import DCImanagerSimulator, default_state

try:  # ansible-core 2.19 and later
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core 2.16 to 2.18: the module reads basic._ANSIBLE_ARGS

    @contextlib.contextmanager
    def patch_module_args(args):
        saved = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()  # pylint: disable=protected-access
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved  # pylint: disable=protected-access


PACKAGE = "ansible_collections.ispsystem.dcimanager.plugins."
# The collection's modules and module_utils that pause or read the time: they get the virtual clock as ``time``
# (tests/unit/test_inprocess_clock.py checks that this names every one of them).
TIMED = (
    "module_utils._service.install_record",
    "module_utils._fleet_apply",
    "module_utils._service.lock",
    "module_utils._service.allocation",
    "module_utils._service.converge",
    "module_utils._service.install",
    "module_utils._service.panel",
    "module_utils._service.view",
    "module_utils._transport",
    "module_utils._wait",
    "module_utils._writes",
    "modules.dci_panel_info",
)


def connection_args(dci=None, whmcs=None):
    """The connection options of the dci_* modules (or, given ``whmcs``, the whmcs_* modules) for a simulator."""
    if whmcs is not None:
        return dict(whmcs_url=whmcs.url, whmcs_identifier=whmcs.identifier, whmcs_secret=whmcs.secret, ca_path=whmcs.ca_path)
    return dict(api_url=dci.url, api_username=dci.admin_user, api_password=dci.admin_password, ca_path=dci.ca_path)


# A panel's pace on the virtual clock: long enough that every wait really waits.
PANEL_TIMINGS = dict(poweron_seconds=20, poweroff_seconds=10, install_seconds=300, enable_seconds=5)


def start_panel(tmp_path, monkeypatch, state=None, **knobs):
    """A started DCImanager simulator (the sample panel, PANEL_TIMINGS, ``knobs``), a runner for it on a
    virtual clock, and the clock: ``(sim, runner, clock)``. The caller closes the simulator."""
    sim = DCImanagerSimulator(state=default_state() if state is None else state, tls_dir=str(tmp_path / "tls"), **dict(PANEL_TIMINGS, **knobs))
    sim.start()
    clock = VirtualClock(sim)
    return sim, ModuleRunner(connection_args(sim), clock=clock, monkeypatch=monkeypatch), clock


class VirtualClock:
    """``time`` for the modules: ``sleep`` moves the simulator's clock (and this one) instead of waiting."""

    def __init__(self, *simulators):
        self.simulators = simulators
        self.offset = 0.0

    def sleep(self, seconds):
        self.offset += seconds
        for sim in self.simulators:
            sim.advance(seconds)

    def time(self):
        return _time.time() + self.offset

    def monotonic(self):
        return _time.monotonic() + self.offset

    def __getattr__(self, name):
        return getattr(_time, name)


class ModuleRunner:
    """Runs collection modules in-process; ``run()`` returns the module's result dict."""

    def __init__(self, common_args, clock=None, monkeypatch=None):
        self.common_args = dict(common_args)
        self.clock = clock
        if clock is not None:
            for name in TIMED:
                monkeypatch.setattr(importlib.import_module(PACKAGE + name), "time", clock)

    def run(self, module, args, check=False, diff=False):
        """The result of one module run; ``failed`` is set when the module failed."""
        params = dict(self.common_args, **args)
        params.update(_ansible_check_mode=check, _ansible_diff=diff)
        main = importlib.import_module(PACKAGE + "modules." + module).main
        # A module's warnings collect in a process-wide list until it exits: start each run without the last run's.
        module_warnings._global_warnings.clear()  # pylint: disable=protected-access
        module_warnings._global_deprecations.clear()  # pylint: disable=protected-access
        out = io.StringIO()
        with patch_module_args(params), contextlib.redirect_stdout(out):
            try:
                main()
            except SystemExit:
                pass
        text = out.getvalue()
        try:
            result = json.loads(text[text.index("{") :])
        except ValueError:
            raise AssertionError("module %s printed no result: %r" % (module, text)) from None
        result["warnings"] = [warning_text(warning) for warning in result.get("warnings", [])]
        return result


def warning_text(warning):
    """A warning's message: ansible-core 2.19 returns warnings as structured events, older ones as text."""
    if isinstance(warning, dict):
        event = warning.get("event", warning)
        return event.get("msg", str(event))
    return warning


def another_allocation(sim, server_id, hostname, owner=None):
    """What another controller's allocation leaves on server ``server_id``: ``hostname`` on every address (its claim)
    and, given ``owner`` (a login, whose account is made when missing), that owner. Written into the simulator's state
    under its lock, as one request of that controller would be: for tests that play a contender at a chosen moment."""
    with sim.lock:
        state = sim.state
        user = next((u for u in state["users"] if u["name"] == owner), None) if owner else None
        if owner and user is None:
            user = {"id": str(state["next_id"]), "name": owner, "password": owner + "-pw-123456", "level": 16, "suspended": False}
            state["next_id"] += 1
            state["users"].append(user)
        server = next(s for s in state["servers"] if s["id"] == str(server_id))
        for address in server["addresses"]:
            address["domain"] = hostname
        if user is not None:
            server["owner"] = user["id"]
