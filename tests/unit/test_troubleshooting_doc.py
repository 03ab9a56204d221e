# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""docs/troubleshooting.md names every error message the plugins can give a user.

The fixed start of each message (up to its first placeholder) is taken from the source: the
argument of ``fail_json(msg=...)`` or of a raised error, when it is a string literal.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# What starts a message: a module failure, an error raised, an Ansible error.
STARTS = r"fail_json\(msg=|raise \w+Error\(|raise (?:OperationFailed|NotTheirs)\(|AnsibleError\(|AnsibleParserError\(|AnsibleFilterError\(|AnsibleActionFail\("
MESSAGE = re.compile(r"""(?:%s)\s*["']([^"']+)""" % STARTS)
# Raised only on a programming error inside the collection, never by what a user gives or a server answers.
INTERNAL = {
    "limit must be positive",
    "PHP array keys must be int or str, not",
    "cannot PHP-serialize",
    # A call the catalogues (_dci/functions.py, _whmcs/actions.py) do not allow: refused before it is sent.
    "the DCImanager function",
    "the catalogue (_dci/functions.py) does not let the collection use",
    "the WHMCS action",
    "the catalogue (_whmcs/actions.py) lists",
    "dci_panel_info checked",
    "dci_panel_info has no check of",
}


def message_heads():
    heads = set()
    for path in sorted((REPO / "plugins").rglob("*.py")):
        for literal in MESSAGE.findall(path.read_text(encoding="utf-8")):
            head = re.split(r"%[sdr]|\{", literal)[0].strip()
            if len(head) >= 8:  # shorter heads ("%s: %s") say nothing to look up
                heads.add((path.relative_to(REPO).as_posix(), head))
    return heads


def test_the_scan_finds_the_messages():
    heads = {head for dummy, head in message_heads()}
    assert len(heads) > 30
    assert "unknown os_template" in heads


def test_every_error_message_is_in_troubleshooting():
    doc = (REPO / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    missing = sorted("%s: %s" % (path, head) for path, head in message_heads() if head not in INTERNAL and head not in doc)
    assert not missing, "docs/troubleshooting.md lacks:\n" + "\n".join(missing)
