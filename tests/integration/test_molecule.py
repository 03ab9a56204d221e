# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Molecule scenario of the dedicated_server role (extensions/molecule/dedicated_server), run whole.

``molecule test -s dedicated_server`` from the collection root: create starts both simulators,
converge activates WHMCS service 12, idempotence converges again expecting no change, verify
checks both sides with the info modules, destroy stops the simulators. Skipped when Molecule is
not installed (requirements-dev.txt installs it).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness import REPO, ansible_env

pytest.importorskip("molecule", reason="molecule is not installed in this Python environment (pip install -r requirements-dev.txt)")

SCENARIO = "dedicated_server"
# Below pytest-timeout's 600 s, so a hung run still ends with its output and without simulators left behind.
TIMEOUT = 540


def _processes_mentioning(text):
    """Pids of running processes whose command line contains ``text``."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if text.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


def test_dedicated_server_scenario(tmp_path):
    """molecule test passes every step and leaves no simulator running."""
    ephemeral = tmp_path / "molecule"
    env = ansible_env(
        {
            # A private ephemeral directory: the simulators' state files and pids live there, and a
            # developer's own `molecule test` (which uses ~/.ansible/tmp) does not collide with this one.
            "MOLECULE_EPHEMERAL_DIRECTORY": str(ephemeral),
            "NO_COLOR": "1",
            "PY_COLORS": "0",
        }
    )
    # The harness's result recorder needs a file per run; Molecule runs several playbooks.
    env.pop("ANSIBLE_CALLBACKS_ENABLED")
    env.pop("ANSIBLE_CALLBACK_PLUGINS")

    # A session of its own: if the run hangs, its whole process group (the simulators included) is ended.
    with subprocess.Popen(
        [sys.executable, "-m", "molecule", "test", "-s", SCENARIO],
        cwd=str(REPO),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            output = proc.communicate(timeout=TIMEOUT)[0]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output = proc.communicate()[0]
            pytest.fail("molecule test did not finish in %d s:\n%s" % (TIMEOUT, output))

    left = _processes_mentioning(str(ephemeral))
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 0, output
    # Molecule's step lines: "INFO [dedicated_server > converge] Executed: Successful", and the
    # same without brackets in its closing DETAILS list.
    for step in ("create", "converge", "idempotence", "verify", "destroy"):
        assert re.search(r"\b%s > %s\]?:? Executed: Successful" % (SCENARIO, step), output), "no successful %s step in:\n%s" % (step, output)
    assert not left, "simulators still running after molecule test: %s" % left
