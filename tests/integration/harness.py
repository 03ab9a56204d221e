# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run real ansible-playbook / ansible-inventory against the collection in this checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from ansible.release import __version__ as _ANSIBLE_CORE_VERSION

# (major, minor) of the ansible-core the tests run with: a few options differ between 2.16 and 2.19.
ANSIBLE_CORE = tuple(int(part) for part in _ANSIBLE_CORE_VERSION.split(".")[:2])
REPO = Path(__file__).resolve().parents[2]
CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"
# The DCImanager simulator's fast timings for the playbook tests: the waits are real, only shorter than on a real panel.
FAST = dict(poweron_seconds=0.4, poweroff_seconds=0.2, install_seconds=1.5, enable_seconds=0.2)


def collections_path():
    """A collections path in which ispsystem.dcimanager is this checkout (made once per process)."""
    if not hasattr(collections_path, "cached"):
        if REPO.parent.name == "ispsystem" and REPO.parent.parent.name == "ansible_collections":
            collections_path.cached = str(REPO.parent.parent.parent)
        else:
            root = Path(tempfile.mkdtemp(prefix="dci-collections-"))
            (root / "ansible_collections" / "ispsystem").mkdir(parents=True)
            (root / "ansible_collections" / "ispsystem" / "dcimanager").symlink_to(REPO)
            collections_path.cached = str(root)
    return collections_path.cached


def ansible_env(extra=None):
    """The environment of an ansible-* subprocess: this checkout's collection, quiet, no user config."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "DCIMANAGER_", "WHMCS_"))}
    bindir = str(Path(sys.executable).parent)
    env.update(
        {
            "PATH": bindir + os.pathsep + env.get("PATH", ""),
            "ANSIBLE_COLLECTIONS_PATH": collections_path(),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
            "ANSIBLE_CALLBACKS_ENABLED": "record_results",
            "ANSIBLE_DEPRECATION_WARNINGS": "true",
        }
    )
    env.update(extra or {})
    return env


class PlaybookRun:
    """The outcome of one ansible-playbook run: exit code, output and every task's result."""

    def __init__(self, completed, records):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.records = records

    @property
    def output(self):
        return self.stdout + self.stderr

    def task(self, name):
        """The result of the (last) task called ``name``; fails the test if it did not run."""
        found = [record for record in self.records if record["task"] == name]
        assert found, "task %r did not run; output:\n%s" % (name, self.output)
        return found[-1]

    def result(self, name):
        return self.task(name)["result"]

    def status(self, name):
        return self.task(name)["status"]

    @property
    def changed_tasks(self):
        return [record["task"] for record in self.records if record["status"] == "changed"]

    @property
    def warnings(self):
        return [line for line in self.output.splitlines() if "[WARNING]" in line or "[DEPRECATION WARNING]" in line]


def run_playbook(workdir, tasks, env=None, check=False, diff=False, args=(), play_vars=None, hosts="localhost", inventory=None, timeout=600):
    """Write a one-play playbook with ``tasks`` and run it with ansible-playbook."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    play = {"name": "test", "hosts": hosts, "gather_facts": False, "tasks": tasks}
    if hosts == "localhost":
        play["connection"] = "local"
    if play_vars:
        play["vars"] = play_vars
    count = len(list(workdir.glob("playbook-*.yml")))
    playbook = workdir / ("playbook-%d.yml" % count)
    playbook.write_text(yaml.safe_dump([play], sort_keys=False))
    return run_ansible_playbook(workdir, [str(playbook)], env=env, check=check, diff=diff, args=args, inventory=inventory, timeout=timeout)


def run_ansible_playbook(workdir, playbook_args, env=None, check=False, diff=False, args=(), inventory=None, timeout=600):
    """Run ansible-playbook with the given playbook name(s) and collect the recorded task results."""
    workdir = Path(workdir)
    records_file = workdir / ("records-%d.json" % len(list(workdir.glob("records-*.json"))))
    command = [str(Path(sys.executable).parent / "ansible-playbook")]
    command += ["-i", inventory or "localhost,"]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    command += list(args) + list(playbook_args)
    completed = subprocess.run(
        command,
        cwd=str(workdir),
        env=ansible_env({**(env or {}), "RECORD_RESULTS_FILE": str(records_file)}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    records = json.loads(records_file.read_text()) if records_file.exists() else []
    return PlaybookRun(completed, records)


def run_command(command, env=None, cwd=None, timeout=600):
    """Run another ansible-* command (ansible-inventory, ansible-doc ...) in the test environment."""
    if not os.path.isabs(command[0]):
        command = [str(Path(sys.executable).parent / command[0])] + list(command[1:])
    return subprocess.run(command, cwd=cwd, env=ansible_env(env), capture_output=True, text=True, timeout=timeout, check=False)


def run_inventory(source, env, plugin, args=("--list",), cwd=None):
    """Run ``ansible-inventory -i SOURCE ARGS`` with ``plugin`` the only inventory plugin (unless ``env`` names others).

    An unparsable source fails the command, rather than becoming a warning and an empty inventory.
    ``completed.said`` is stderr on one line: ansible-core 2.16 wraps its warnings at 80 columns.
    """
    env = dict(env)
    env.setdefault("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
    env.setdefault("ANSIBLE_INVENTORY_ENABLED", plugin)
    completed = run_command(["ansible-inventory", "-i", str(source)] + list(args), env=env, cwd=str(cwd or Path(source).parent))
    completed.said = " ".join(completed.stderr.split())
    return completed


def cache_options(directory, timeout=3600, **extra):
    """Inventory source options for a jsonfile cache in ``directory``, and ``extra`` ones."""
    return dict({"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(directory), "cache_timeout": timeout}, **extra)


def check_golden(path, data, update_variable):
    """An ansible-inventory listing against the golden file ``path``; with ``update_variable``=1 in the
    environment, the file is rewritten from ``data`` first (then review the diff)."""
    # ansible-core 2.19 names its output format in _meta.profile; older versions do not.
    data = dict(data, _meta={key: value for key, value in data["_meta"].items() if key != "profile"})
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get(update_variable) == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), "golden file %s is missing (run with %s=1 and review it)" % (path, update_variable)
    assert json.loads(text) == json.loads(path.read_text(encoding="utf-8"))


def unwrap(value):
    """ansible-inventory's JSON marks untrusted text ``{"__ansible_unsafe": ...}``: plain values."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value
