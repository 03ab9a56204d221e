# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The resource base's ``change()`` is the one write path: no module sends a write any other way.

``change()`` marks the change, skips the call in check mode and resolves lost answers
(plugins/module_utils/_resource.py). A writing client call anywhere else would escape all three, so
the modules call no writing method of a client at all (they call the resource bases' ``write()``,
``update_service()``, ``login_key()`` ...), and in the resource bases every such call sits inside a
function handed to ``change()``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The clients' methods that send a writing call.
WRITE_METHODS = {"write", "update_client_product", "new_login_key"}
MODULES = sorted((REPO / "plugins" / "modules").glob("*.py"))
# The resource bases: the only place a write reaches a client, inside change().
BASES = [REPO / "plugins" / "module_utils" / "_dci_module.py", REPO / "plugins" / "module_utils" / "_whmcs_module.py"]


def write_calls(source, anywhere=False):
    """(line, text) of every writing client call in ``source`` that is not inside what a change() call gets
    (with ``anywhere``: of every writing client call)."""
    tree = ast.parse(source)
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    handed_to_change = set()  # names of local functions passed to change()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "change":
            handed_to_change.update(arg.id for arg in node.args[:1] if isinstance(arg, ast.Name))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITE_METHODS):
            continue
        owner = node.func.value
        if not (isinstance(owner, ast.Attribute) and owner.attr == "client" or isinstance(owner, ast.Name) and owner.id == "client"):
            continue
        if anywhere or not _inside_change(node, parents, handed_to_change):
            found.append((node.lineno, ast.unparse(node)[:80]))
    return found


def _inside_change(node, parents, handed_to_change):
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute) and parent.func.attr == "change" and parent.args and child is parent.args[0]:
            return True
        if isinstance(parent, ast.FunctionDef) and parent.name in handed_to_change:
            return True
        child, parent = parent, parents.get(parent)
    return False


def write_calls_outside_change(source):
    return write_calls(source)


def test_the_scan_finds_a_write_outside_change():
    assert write_calls_outside_change("def f(self):\n    self.client.write('user.delete', elid=1)\n") == [(2, "self.client.write('user.delete', elid=1)")]
    assert write_calls_outside_change("def f(self):\n    self.change(lambda: self.client.write('x'), None)\n") == []
    assert write_calls_outside_change("def f(self):\n    def send():\n        return self.client.write('x')\n    self.change(send, None)\n") == []
    # Handing change() the write's answer (the write already made) is no better than calling it bare.
    assert write_calls_outside_change("def f(self):\n    self.change(None, self.client.write('x'))\n") != []

    assert write_calls("def f(self):\n    self.change(lambda: self.client.write('x'), None)\n", anywhere=True) != []


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_modules_call_no_client_write(path):
    assert write_calls(path.read_text(encoding="utf-8"), anywhere=True) == []


@pytest.mark.parametrize("path", BASES, ids=lambda path: path.name)
def test_the_resource_bases_write_only_through_change(path):
    assert write_calls_outside_change(path.read_text(encoding="utf-8")) == []
    assert write_calls(path.read_text(encoding="utf-8"), anywhere=True), "the scan found no write at all in %s" % path.name
