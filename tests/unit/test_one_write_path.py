# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The write path's ``change()`` is the one way a write reaches a client: no plugin sends one any other way.

``change()`` (``Writes.change`` in plugins/module_utils/_writes.py, which the modules and fleet_apply reach
through the service operations: ``Panel.write()``, ``login_key()``, ``ServiceUpdate`` ...) marks the change,
skips the call in check mode and resolves lost answers. A writing client call anywhere else would escape all
three, so the modules call no writing method of a client at all, and everywhere else in plugins/ (the service
operations, the inventory plugins ...) every such call sits inside a function handed to ``change()``.

A writing client call is a call of a client's writing method (``write``, ``update_client_product``,
``new_login_key``), of its generic ``_call`` / ``call``, or of a reading method (``list``, ``form``,
``document``; WHMCS's ``read``) with a function the catalogues (_dci/functions.py, _whmcs/actions.py)
call a write, or do not list at all, on anything whose name says it is a client (``self.client``,
``dci_client``, ``clients[panel]`` ...). The clients themselves refuse those at run time too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.functions import FUNCTIONS, READS
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.actions import ACTIONS, READ

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"
# The clients' methods that send a writing call, and their generic senders.
WRITE_METHODS = {"write", "update_client_product", "module_create", "new_login_key", "call", "_call"}
# Reading methods, and the catalogue that says which names they may be given.
DCI_READS = {"list", "form", "document"}
WHMCS_READS = {"read"}
MODULES = sorted((PLUGINS / "modules").glob("*.py"))
# The clients and their transport: where the writing calls are made, so not scanned.
CLIENTS = [PLUGINS / "module_utils" / "_dci", PLUGINS / "module_utils" / "_whmcs", PLUGINS / "module_utils" / "_transport.py"]
OTHERS = sorted(
    path for path in PLUGINS.rglob("*.py") if path.parent != PLUGINS / "modules" and not any(path == client or client in path.parents for client in CLIENTS)
)
# The service operations that hand writes to change(): where the modules' and fleet_apply's writes reach a client.
BASES = [PLUGINS / "module_utils" / "_service" / "panel.py", PLUGINS / "module_utils" / "_service" / "billing.py"]


def _named(node):
    """The first argument of a call when it is a string literal (the function or action it names), else None."""
    if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def is_writing_client_call(node):
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    # A client is whatever the code calls one: self.client, client, dci_client, self.clients[panel] ...
    if "client" not in ast.unparse(node.func.value).lower():
        return False
    method, name = node.func.attr, _named(node)
    if method in WRITE_METHODS:
        return True
    if method in DCI_READS and name is not None:
        return name not in FUNCTIONS or not FUNCTIONS[name].kinds.intersection(READS)
    if method in WHMCS_READS and name is not None:
        return ACTIONS.get(name) != READ
    return False


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
        if is_writing_client_call(node) and (anywhere or not _inside_change(node, parents, handed_to_change)):
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


@pytest.mark.parametrize(
    "call",
    [
        "self.client._call('server.disable', {'elid': 1}, 'write')",
        "client.call('UpdateClientProduct', {'serviceid': 1})",
        "self.client.list('server.disable', elid=1)",
        "self.client.form('user.delete', elid=2)",
        "resource.client.document('server.reboot', elid=1)",
        "self.client.list('no.such.function')",
        "self.client.read('UpdateClientProduct', {'serviceid': 1})",
        "self.client.new_login_key('alice', 'k' * 32)",
        "self.client.update_client_product(1, fields={'notes': 'n'})",
        "self.clients[panel].write('server.disable', elid=1)",
        "dci_client.write('server.disable', elid=1)",
    ],
)
def test_the_scan_finds_every_way_to_send_a_write(call):
    assert write_calls_outside_change("def f(self, resource, client):\n    %s\n" % call) == [(2, call[:80])]


@pytest.mark.parametrize(
    "call",
    [
        "self.client.list('server', flags=FLAGS)",
        "self.client.form('server.edit', elid=1)",
        "self.client.document(func, **params)",
        "self.client.read('GetProducts', {})",
        "self.client.get_clients_products(clientid=1)",
        "self.write('server.edit', read_back, 'what', elid=1)",
        "handle.write(text)",
    ],
)
def test_the_scan_leaves_reads_alone(call):
    assert write_calls("def f(self):\n    %s\n" % call, anywhere=True) == []


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_modules_call_no_client_write(path):
    assert write_calls(path.read_text(encoding="utf-8"), anywhere=True) == []


@pytest.mark.parametrize("path", OTHERS, ids=lambda path: path.relative_to(PLUGINS).as_posix())
def test_every_other_plugin_writes_only_through_change(path):
    assert write_calls_outside_change(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", BASES, ids=lambda path: path.name)
def test_the_service_operations_do_write(path):
    assert path in OTHERS
    assert write_calls(path.read_text(encoding="utf-8"), anywhere=True), "the scan found no write at all in %s" % path.name
