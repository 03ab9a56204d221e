# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures and helpers of the WHMCS integration tests: the simulator, started in-process on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness import run_inventory
from simulators.whmcs import WHMCSSimulator

GOLDEN = Path(__file__).resolve().parent / "golden"
STATE_FILE = GOLDEN / "whmcs-state.json"


def hand_written_state():
    """The hand-written WHMCS installation of the golden tests: every status, options, fields, gaps."""
    return json.loads(STATE_FILE.read_text(encoding="utf-8"))


@pytest.fixture
def whmcs(tmp_path):
    """A WHMCS simulator with the hand-written state."""
    sim = WHMCSSimulator(state=hand_written_state(), tls_dir=str(tmp_path / "whmcs-tls"))
    sim.start()
    yield sim
    sim.close()
    assert not sim.errors, "the WHMCS simulator failed:\n" + "\n".join(sim.errors)


@pytest.fixture
def whmcs_env(whmcs):
    """The environment variables that point the whmcs_* modules and the inventory plugin at the simulator."""
    return whmcs.env()


def api_calls(sim, action=None):
    return [call for call in sim.calls if action is None or call["name"] == action]


def write_source(directory, options, name="billing.whmcs.yml"):
    """Write an inventory source file for the plugin; returns its path."""
    path = Path(directory) / name
    path.write_text(yaml.safe_dump(dict({"plugin": "ispsystem.dcimanager.whmcs"}, **options), sort_keys=False))
    return path


def inventory_list(source, env, extra_args=(), cwd=None):
    """Run ``ansible-inventory -i SOURCE --list``; returns (completed process, parsed JSON or None)."""
    completed = run_inventory(source, env, "ispsystem.dcimanager.whmcs", ["--list"] + list(extra_args), cwd=cwd)
    data = None
    if completed.returncode == 0 and completed.stdout.strip():
        data = json.loads(completed.stdout)
    return completed, data
