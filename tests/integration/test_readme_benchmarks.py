# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The benchmark commands that README.md and docs/performance.md show are ones the scripts accept.

Running them is what the benchmarks are for (minutes each); here every command line is parsed by
its script's own argument parser, so a renamed or removed option shows up as a failing test.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from harness import REPO

COMMAND = re.compile(r"^\.venv/bin/python (benchmarks/\w+\.py)(.*)$")


def documented_commands(pages=("README.md", "docs/performance.md")):
    """(page, script, arguments) of every benchmark command line in ``pages``."""
    commands = []
    for page in pages:
        for line in (REPO / page).read_text(encoding="utf-8").splitlines():
            match = COMMAND.match(line.strip())
            if match:
                commands.append((page, match.group(1), shlex.split(match.group(2).split("#", 1)[0])))
    return commands


def test_the_readme_shows_every_benchmark():
    shown = {script for dummy, script, dummy_arguments in documented_commands(["README.md"])}
    scripts = {"benchmarks/" + path.name for path in (REPO / "benchmarks").glob("*.py")}
    assert scripts <= shown, sorted(scripts - shown)


@pytest.mark.parametrize(
    "script, arguments",
    [pytest.param(script, arguments, id="%s: %s %s" % (page, script, " ".join(arguments))) for page, script, arguments in documented_commands()],
)
def test_documented_benchmark_command_parses(script, arguments):
    # parse_known_args would hide a misspelt option: run the script's parser on the real arguments
    # with a stand-in main that stops right after parsing.
    probe = (
        "import argparse, runpy, sys\n"
        "argparse.ArgumentParser.parse_args_orig = argparse.ArgumentParser.parse_args\n"
        "def parse(self, *args, **kwargs):\n"
        "    self.parse_args_orig(*args, **kwargs)\n"
        "    raise SystemExit(0)\n"
        "argparse.ArgumentParser.parse_args = parse\n"
        "sys.argv = sys.argv[1:]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe, str(REPO / script)] + arguments, cwd=str(REPO), capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
