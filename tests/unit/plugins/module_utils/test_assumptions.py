# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The table of panel assumptions: dci_panel_info checks each one it can, and docs/lifecycle.md shows the table as it is."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.assumptions import ASSUMPTIONS, MARKS, by_id, markdown_table

REPO = Path(__file__).resolve().parents[4]


def gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "scripts" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_ids_run_from_p1_in_order():
    assert [item.id for item in ASSUMPTIONS] == ["P%d" % n for n in range(1, len(ASSUMPTIONS) + 1)]
    assert by_id("P13").assumption.startswith("the `server.edit` form")


def test_every_text_fits_a_table_cell():
    for item in ASSUMPTIONS:
        for field, text in item._asdict().items():
            assert text is None and field == "checked" or (text and "|" not in text and "\n" not in text), (item.id, field)


def test_every_mark_in_the_evidence_is_explained():
    used = set()
    for item in ASSUMPTIONS:
        used.update(re.findall(r"\[[A-Z]\]|\b(?:dm|fn):", item.basis))
    explained = " ".join(marks for marks, dummy in MARKS)
    assert used and all(mark.rstrip(":") in explained for mark in used), used


def test_dci_panel_info_checks_what_the_table_says_it_reads():
    source = (REPO / "plugins" / "modules" / "dci_panel_info.py").read_text(encoding="utf-8")
    noted = set(re.findall(r'_note\(\s*"(P\d+)"', source))
    assert noted == {item.id for item in ASSUMPTIONS if item.checked is not None}


def test_lifecycle_md_shows_the_table():
    text = (REPO / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    assert gen_docs().with_assumptions(text) == text, "docs/lifecycle.md's table is stale: run scripts/gen_docs.py --assumptions"
    assert "\n".join(markdown_table()) in text
