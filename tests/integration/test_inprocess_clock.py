# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The in-process runs' virtual clock (tests/integration/inprocess.py) covers every pause of the modules.

A file that sleeps or reads the time and is missing from ``TIMED`` would make the quick tests
really sleep (or, worse, mix two clocks: a wait measured on the real one while the simulator runs
on the virtual one). Each such file must also look ``time`` up when it pauses, not bind
``time.sleep`` once at import (``from time import sleep``, a default argument ``sleep=time.sleep``),
which the clock could not replace.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from inprocess import TIMED, start_panel

pytestmark = pytest.mark.quick

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
TIME_MODULES = ("time", "datetime")


def module_name(path):
    return ".".join(path.relative_to(PLUGINS).with_suffix("").parts)


def uses_time(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(alias.name in TIME_MODULES for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module in TIME_MODULES:
            return True
    return False


def bound_at_import(tree):
    """What in ``tree`` takes the time module's functions once, out of the clock's reach."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in TIME_MODULES:
            found.append("from %s import ..." % node.module)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for default in node.args.defaults + node.args.kw_defaults:
                if isinstance(default, ast.Attribute) and isinstance(default.value, ast.Name) and default.value.id in TIME_MODULES:
                    found.append("%s(... = %s)" % (node.name, ast.unparse(default)))
    return found


@functools.lru_cache(maxsize=None)
def timed_files():
    files = sorted((PLUGINS / "modules").glob("*.py")) + sorted((PLUGINS / "module_utils").rglob("*.py"))
    return {module_name(path): ast.parse(path.read_text(encoding="utf-8")) for path in files}


def test_timed_names_exactly_the_files_that_read_the_time():
    using = sorted(name for name, tree in timed_files().items() if uses_time(tree))
    assert "module_utils._transport" in using and "module_utils._service.lock" in using  # the scan sees them
    assert sorted(TIMED) == using


@pytest.mark.parametrize("name", sorted(TIMED))
def test_timed_files_look_the_time_up_when_they_pause(name):
    assert bound_at_import(timed_files()[name]) == []


def test_the_scan_sees_what_the_clock_could_not_replace():
    tree = ast.parse("from time import sleep\ndef f(sleep=time.sleep, clock=None):\n    pass\n")
    assert bound_at_import(tree) == ["from time import ...", "f(... = time.sleep)"]


def test_the_clients_retry_backoff_runs_on_the_virtual_clock(tmp_path, monkeypatch):
    sim, runner, clock = start_panel(tmp_path, monkeypatch)
    try:
        # Three failed reads of the server list, then an answer: the client pauses 0.5, 1 and 2 seconds (jittered).
        sim.set_faults(rate=1.0, kinds=["http500"], names=["server"], count=3)
        before = clock.offset
        result = runner.run("dci_server_info", {"server_id": "6"})
        assert not result.get("failed"), result["msg"]
        assert 0.75 * 3.5 <= clock.offset - before <= 1.5 * 3.5
        assert len([call for call in sim.calls if call["name"] == "server"]) == 4
    finally:
        sim.close()
