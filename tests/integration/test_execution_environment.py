# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Execution environments: what ansible-builder makes of this collection.

* The collection is built and installed from its tarball (what Galaxy would serve), and
  ``ansible-builder introspect`` - the step that runs inside an EE build - must find exactly
  the Python requirements of ``requirements.txt`` through ``meta/execution-environment.yml``.
* ``ansible-builder create`` (which writes a build context and needs no container engine) must
  accept the example definition ``extras/awx/execution-environment.yml`` and a definition that
  installs the collection from a local tarball.

Skipped when ansible-builder is not installed in the test environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("ansible_builder", reason="ansible-builder is not installed in this Python environment (pip install ansible-builder)")

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_EE = REPO / "extras" / "awx" / "execution-environment.yml"
BINDIR = Path(sys.executable).parent


def _run(args, cwd=None, env=None):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", **(env or {}))
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, "%s failed (%d)\nstdout: %s\nstderr: %s" % (" ".join(map(str, args)), proc.returncode, proc.stdout, proc.stderr)
    return proc


def _tool(name):
    path = BINDIR / name
    return str(path) if path.exists() else name


def _builder(*args, cwd=None):
    return _run([sys.executable, "-m", "ansible_builder"] + [str(arg) for arg in args], cwd=cwd)


def _requirement_lines(path):
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = re.sub(r"(^|\s+)#.*$", "", line).strip()
        if line:
            lines.append(line)
    return lines


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    """The collection artifact, built from the working tree as `ansible-galaxy collection build` does."""
    out = tmp_path_factory.mktemp("build")
    _run([_tool("ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO)])
    [artifact] = out.glob("ispsystem-dcimanager-*.tar.gz")
    return artifact


def test_introspect_finds_the_collection_requirements(tmp_path, tarball):
    """What an EE build installs for the collection: the lines of requirements.txt, nothing else."""
    collections = tmp_path / "collections"
    # Only the target as collections path: ansible-galaxy skips a collection it finds installed anywhere on
    # ANSIBLE_COLLECTIONS_PATH (scripts/test.sh points it at this checkout).
    _run(
        [_tool("ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force", "-p", str(collections), str(tarball)],
        env={"ANSIBLE_COLLECTIONS_PATH": str(collections)},
    )
    installed = collections / "ansible_collections" / "ispsystem" / "dcimanager"
    meta = yaml.safe_load((installed / "meta" / "execution-environment.yml").read_text(encoding="utf-8"))
    python_file = meta["dependencies"]["python"]
    assert (installed / python_file).is_file(), "%s is not in the built collection (build_ignore?)" % python_file

    proc = _builder("introspect", collections)
    data = yaml.safe_load(proc.stdout)
    found = [re.sub(r"\s+#.*$", "", line) for line in data["python"]]
    assert sorted(found) == sorted(_requirement_lines(REPO / "requirements.txt"))
    assert all(line.endswith("# from collection ispsystem.dcimanager") for line in data["python"])
    expected_system = _requirement_lines(installed / meta["dependencies"]["system"]) if "system" in meta["dependencies"] else []
    assert [re.sub(r"\s+#.*$", "", line) for line in data["system"]] == expected_system


def test_example_definition_creates_a_build_context(tmp_path):
    context = tmp_path / "context"
    _builder("create", "-f", EXAMPLE_EE, "-c", context, "--output-filename", "Containerfile")
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    assert "ispsystem.dcimanager" in [entry["name"] for entry in requirements["collections"]]
    assert "ansible-galaxy collection install" in containerfile
    # The introspection of the installed collections (the test above) runs during the build.
    assert "introspect" in containerfile
    # The collection needs Python 3.11+ on the controller side, which is the EE.
    python = re.search(r'^ARG PYCMD="/usr/bin/python3\.(\d+)"$', containerfile, re.MULTILINE)
    assert python and int(python.group(1)) >= 11, "the example EE must use Python 3.11 or newer"


def test_definition_with_a_local_tarball(tmp_path, tarball):
    """A collection not (yet) on Galaxy: the artifact travels in the build context."""
    definition = yaml.safe_load(EXAMPLE_EE.read_text(encoding="utf-8"))
    definition["dependencies"]["galaxy"] = {"collections": [{"name": "collections/%s" % tarball.name, "type": "file"}]}
    definition["additional_build_files"] = [{"src": str(tarball), "dest": "collections"}]
    ee_file = tmp_path / "execution-environment.yml"
    ee_file.write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")

    context = tmp_path / "context"
    _builder("create", "-f", ee_file, "-c", context, "--output-filename", "Containerfile")
    copied = context / "_build" / "collections" / tarball.name
    assert copied.read_bytes() == tarball.read_bytes()
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    # _build is copied to /build, the working directory of `ansible-galaxy collection install`.
    assert "COPY _build /build" in containerfile
    assert "WORKDIR /build" in containerfile
