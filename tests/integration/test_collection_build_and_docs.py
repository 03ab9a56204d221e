# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Collection-level checks: every plugin's documentation renders, action groups, the build.

These run the real ``ansible-doc`` and ``ansible-galaxy`` of the test environment.  The
collection is found through ``ANSIBLE_COLLECTIONS_PATH`` as ``scripts/test.sh`` exports it
(``.venv/collections``, where ``scripts/setup.sh`` links this checkout); without it, the same
link under ``.venv`` is used, or a temporary one is made.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
NAMESPACE, NAME = "ispsystem", "dcimanager"
FQCN_PREFIX = "%s.%s." % (NAMESPACE, NAME)


def _plugin_names(kind):
    directory = REPO / "plugins" / kind
    return sorted(path.stem for path in directory.glob("*.py") if path.name != "__init__.py" and not path.name.startswith("_"))


MODULES = _plugin_names("modules")
INVENTORY_PLUGINS = _plugin_names("inventory")
FILTERS = _plugin_names("filter")


def _collection_resolves_here(collections_path):
    """True when ``collections_path`` holds ispsystem.dcimanager and it is this checkout."""
    for entry in collections_path.split(os.pathsep):
        candidate = Path(entry) / "ansible_collections" / NAMESPACE / NAME
        if candidate.exists():
            return candidate.resolve() == REPO
    return False


def _collections_path():
    """The collections path of the test environment (see the module docstring)."""
    if not hasattr(_collections_path, "cached"):
        configured = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
        venv_collections = REPO / ".venv" / "collections"
        if configured and _collection_resolves_here(configured):
            path = configured
        elif _collection_resolves_here(str(venv_collections)):
            path = str(venv_collections)
        else:
            root = Path(tempfile.mkdtemp(prefix="dci-doc-collections-"))
            (root / "ansible_collections" / NAMESPACE).mkdir(parents=True)
            (root / "ansible_collections" / NAMESPACE / NAME).symlink_to(REPO)
            path = str(root)
        _collections_path.cached = path
    return _collections_path.cached


def _run(args, cwd=None):
    """Run an ansible-* command of this Python environment with the collection path set."""
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": _collections_path(),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "PAGER": "cat",
            "ANSIBLE_PAGER": "cat",
        }
    )
    bindir = Path(sys.executable).parent
    command = [str(bindir / args[0])] + list(args[1:]) if (bindir / args[0]).exists() else list(args)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def _assert_doc_renders(plugin_type, name):
    fqcn = FQCN_PREFIX + name
    text = _run(["ansible-doc", "-t", plugin_type, fqcn])
    output = text.stdout + text.stderr
    assert text.returncode == 0, "ansible-doc -t %s %s failed:\n%s" % (plugin_type, fqcn, output)
    assert fqcn in text.stdout, output
    assert "ERROR" not in output, output

    # The JSON form carries the parsed DOCUMENTATION/EXAMPLES/RETURN.
    data = _run(["ansible-doc", "--json", "-t", plugin_type, fqcn])
    assert data.returncode == 0, data.stdout + data.stderr
    entry = json.loads(data.stdout)[fqcn]
    assert entry["doc"]["short_description"], "no short_description in %s" % fqcn
    assert entry["doc"]["description"], "no description in %s" % fqcn
    assert entry.get("examples"), "no EXAMPLES in %s" % fqcn
    return entry


def test_plugins_exist():
    assert MODULES, "no modules found in plugins/modules"


@pytest.mark.parametrize("module", MODULES)
def test_module_doc_renders(module):
    entry = _assert_doc_renders("module", module)
    assert entry["doc"]["module"] == module
    # every module documents what it returns (possibly nothing beyond the common keys)
    assert "return" in entry, "no RETURN in %s" % module
    # ... how far it supports check and diff mode, and the module_defaults group that really holds it
    attributes = entry["doc"]["attributes"]
    for attribute in ("check_mode", "diff_mode"):
        assert attributes[attribute]["description"] and attributes[attribute]["support"], (module, attribute)
    groups = sorted(FQCN_PREFIX + group for group, members in _action_groups().items() if module in members)
    assert attributes["action_group"]["membership"] == groups, (module, attributes["action_group"], groups)


@pytest.mark.parametrize("plugin", INVENTORY_PLUGINS)
def test_inventory_doc_renders(plugin):
    _assert_doc_renders("inventory", plugin)


@pytest.mark.parametrize("plugin", FILTERS)
def test_filter_doc_renders(plugin):
    entry = _assert_doc_renders("filter", plugin)
    assert entry["doc"]["name"] == plugin
    assert entry["return"]["_value"]["description"], "no RETURN _value in %s" % plugin


def test_role_doc_renders_every_entry_point():
    text = _run(["ansible-doc", "-t", "role", "--json", FQCN_PREFIX + "dedicated_server"])
    assert text.returncode == 0, text.stdout + text.stderr
    entry_points = json.loads(text.stdout)[FQCN_PREFIX + "dedicated_server"]["entry_points"]
    assert sorted(entry_points) == ["apply", "converge", "main", "plan", "usage"]
    for name in entry_points:  # the connection variables, typed, on every entry point
        options = entry_points[name]["options"]
        assert options["dcimanager_password"]["no_log"] and options["whmcs_secret"]["no_log"], name
        assert options["dcimanager_validate_certs"]["type"] == "bool", name


def _action_groups():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text(encoding="utf-8")) or {}
    groups = {}
    for group, members in (runtime.get("action_groups") or {}).items():
        names = set()
        for member in members or []:
            if isinstance(member, str):  # dict entries are `metadata: {extend_group: ...}`
                names.add(member[len(FQCN_PREFIX) :] if member.startswith(FQCN_PREFIX) else member)
        groups[group] = names
    return groups


@pytest.mark.parametrize("prefix, group", [("dci_", "dcimanager"), ("whmcs_", "whmcs")])
def test_modules_are_in_their_action_group(prefix, group):
    groups = _action_groups()
    modules = {name for name in MODULES if name.startswith(prefix)}
    missing = sorted(modules - groups.get(group, set()))
    assert not missing, "meta/runtime.yml: action group %r lacks %s" % (group, ", ".join(missing))
    unknown = sorted(name for name in groups.get(group, set()) if name not in MODULES)
    assert not unknown, "meta/runtime.yml: action group %r names modules that do not exist: %s" % (group, ", ".join(unknown))


def test_collection_builds(tmp_path):
    result = _run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(REPO)], cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr

    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
    tarball = tmp_path / ("%s-%s-%s.tar.gz" % (NAMESPACE, NAME, galaxy["version"]))
    assert tarball.is_file(), sorted(os.listdir(tmp_path))

    with tarfile.open(tarball) as archive:
        members = [member.name[2:] if member.name.startswith("./") else member.name for member in archive.getmembers()]
        manifest = json.load(archive.extractfile("MANIFEST.json"))

    assert manifest["collection_info"]["namespace"] == NAMESPACE
    assert manifest["collection_info"]["name"] == NAME
    for required in ["MANIFEST.json", "FILES.json", "meta/runtime.yml"] + ["plugins/modules/%s.py" % name for name in MODULES]:
        assert required in members, "%s is missing from the built collection" % required

    excluded = (".venv", ".ci", "tests/output", ".pytest_cache", ".cache", ".git")
    leaked = [name for name in members if any(name == top or name.startswith(top + "/") for top in excluded)]
    assert not leaked, "the built collection contains files it must not: %s" % leaked[:20]
    junk = [name for name in members if "__pycache__" in name.split("/") or name.endswith(".pyc")]
    assert not junk, junk[:20]
