# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""docs/plugins/*.md are what ansible-doc says now (scripts/gen_docs.py --check)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness import REPO, ansible_env


def test_plugin_pages_match_ansible_doc():
    env = ansible_env()
    env["PATH"] = str(Path(sys.executable).parent) + ":" + env["PATH"]
    completed = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_docs.py"), "--check"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    pages = sorted(path.stem for path in (REPO / "docs" / "plugins").glob("*.md"))
    plugins = sorted(path.stem for path in (REPO / "plugins" / "modules").glob("*.py"))
    assert set(plugins) <= set(pages)
