# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""scripts/demo.sh looks for a Python 3.11+ quietly: a name that exists only as a shim that cannot run says nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIM = '#!/bin/sh\necho "pyenv: $(basename "$0"): command not found" >&2\nexit 127\n'


def find_python(tmp_path, runnable):
    """``demo.sh --find-python`` with a PATH of pyenv-like shims, ``runnable`` names a real Python 3.11+."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python3.13", "python3.12", "python3.11", "python3"):
        path = bin_dir / name
        if name in runnable:
            path.symlink_to(sys.executable)
        else:
            path.write_text(SHIM)
            path.chmod(0o755)
    env = {"PATH": "%s:/usr/bin:/bin" % bin_dir, "HOME": str(tmp_path)}
    return subprocess.run(["bash", str(REPO / "scripts" / "demo.sh"), "--find-python"], env=env, capture_output=True, text=True, timeout=30, check=False)


def test_the_first_python_that_runs_is_chosen_without_noise(tmp_path):
    found = find_python(tmp_path, ("python3.11",))
    assert (found.returncode, found.stdout, found.stderr) == (0, "python3.11\n", "")


def test_no_python_that_runs_is_one_clear_line(tmp_path):
    found = find_python(tmp_path, ())
    assert found.returncode == 1 and found.stderr == ""
    assert found.stdout == "demo.sh: needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)\n"
