# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run the real ansible-rulebook with the collection's rulebook against the simulators.

Used by tests/integration/test_eda_rulebook.py and benchmarks/eda_latency.py. Every process is
started in a session of its own and the whole session is killed on ``stop()``/``kill()``, so no
ansible-playbook child outlives a test, even a failing one.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from harness import CALLBACKS, ansible_env
from simulators.dcimanager import DCImanagerSimulator, make_state as make_dci_state
from simulators.shop import PRODUCTS, whmcs_state
from simulators.whmcs import WHMCSSimulator

RULEBOOK = "ispsystem.dcimanager.dedicated_servers"
EDA_SECRET = "eda-test-secret-3c9a1f0e7b5d4a2c8e6f"
BIN = Path(sys.executable).parent
# The DCImanager simulator's transitions, as in the other integration tests (tests/integration/conftest.py).
FAST = dict(poweron_seconds=0.4, poweroff_seconds=0.2, install_seconds=1.5, enable_seconds=0.2)


def rulebook_binary():
    """ansible-rulebook next to this Python (scripts/setup.sh installs it into .venv), or None."""
    path = BIN / "ansible-rulebook"
    return str(path) if path.exists() else None


def java_available():
    return bool(os.environ.get("JAVA_HOME") and Path(os.environ["JAVA_HOME"], "bin", "java").exists()) or bool(shutil.which("java"))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def burst_shop(count, first_id=100):
    """(dci_state, whmcs_state, products): the sample shop plus ``count`` Pending orders and free servers for them."""
    state = whmcs_state()
    template = next(s for s in state["services"] if s["id"] == 12)
    for index in range(count):
        service = copy.deepcopy(template)
        service.update(
            id=first_id + index,
            orderid=900 + index,
            domain="burst%d.example.net" % (first_id + index),
            configoptions={"1": template["configoptions"]["1"], "2": "null", "3": "0", "4": "0"},
        )
        state["services"].append(service)
    dci = make_dci_state(count + 8, package=PRODUCTS[1]["package"], ipv4=count + 16, ipv6=count + 16)
    return dci, state, copy.deepcopy(PRODUCTS)


class Shop:
    """Both simulators, with ``count`` extra Pending orders (services 100...)."""

    def __init__(self, tmp_path, count=0):
        dci_state, whmcs_state, self.products = burst_shop(count)
        self.dci = DCImanagerSimulator(state=dci_state, tls_dir=str(tmp_path / "dci-tls"), **FAST).start()
        self.whmcs = WHMCSSimulator(state=whmcs_state, tls_dir=str(tmp_path / "whmcs-tls")).start()
        self.env = {
            **self.dci.env(),
            **self.whmcs.env(),
        }

    def close(self):
        self.dci.stop()
        self.whmcs.close()

    def server_of(self, service_id):
        """The server the panel shows for a service (hostname <id>.domain, or the order's domain), or None."""
        service = self.whmcs.service(service_id)
        hostname = service["domain"] or "%d.domain" % service_id
        return self.servers_named(hostname)[0] if self.servers_named(hostname) else None

    def servers_named(self, hostname):
        return [server for server in self.dci.dump_state()["servers"] if any(address["domain"] == hostname for address in server["addresses"])]


class RulebookRun:
    """ansible-rulebook with the collection's rulebook, the shop's connections, and a run log."""

    def __init__(self, workdir, shop_env, products, mode, **source_vars):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.mode = mode
        self.port = source_vars.pop("port", None) or free_port()
        self.state_file = self.workdir / "eda-state" / ("%s.json" % mode)
        self.state_file.parent.mkdir(exist_ok=True)
        self.run_log = self.workdir / "runs.jsonl"
        self.output = self.workdir / "ansible-rulebook.log"
        self.proc = None
        self.inventory = self.workdir / "eda-inventory.yml"
        self.inventory.write_text(
            yaml.safe_dump(
                {
                    "all": {
                        "hosts": {"localhost": {"ansible_connection": "local"}},
                        "vars": {"dedicated_server_products": products, "dedicated_server_install_settle_time": 2},
                    }
                }
            )
        )
        variables = {"whmcs_eda_mode": mode, "whmcs_eda_state_file": str(self.state_file), "whmcs_eda_port": self.port}
        variables.update({"whmcs_eda_" + key: value for key, value in source_vars.items()})
        self.vars_file = self.workdir / "eda-vars.yml"
        self.vars_file.write_text(yaml.safe_dump(variables))
        self.env = ansible_env(
            dict(
                shop_env,
                ISPSYSTEM_EDA_SECRET=EDA_SECRET,
                RUN_LOG_FILE=str(self.run_log),
                ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS),
                ANSIBLE_CALLBACKS_ENABLED="run_log",
            )
        )
        self.env.pop("RECORD_RESULTS_FILE", None)
        # The source sets it for its own playbooks; one left over from elsewhere would stop it.
        self.env.pop("ISPSYSTEM_EDA_ACK_DIR", None)

    @property
    def url(self):
        return "http://127.0.0.1:%d/whmcs" % self.port

    def start(self, timeout=90):
        """Start ansible-rulebook and wait until its source listens (push) or has its state file (poll)."""
        command = [rulebook_binary(), "-r", RULEBOOK, "-i", str(self.inventory), "--vars", str(self.vars_file), "-v"]
        with open(self.output, "ab") as log:
            log.write(("\n=== start %s ===\n" % time.strftime("%H:%M:%S")).encode())
            self.proc = subprocess.Popen(command, cwd=str(self.workdir), env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("ansible-rulebook ended (%s):\n%s" % (self.proc.returncode, self.log_tail()))
            if self._ready():
                return self
            time.sleep(0.1)
        raise AssertionError("ansible-rulebook did not get ready in %d s:\n%s" % (timeout, self.log_tail()))

    def _ready(self):
        if self.mode == "push":
            with socket.socket() as sock:
                sock.settimeout(0.2)
                return sock.connect_ex(("127.0.0.1", self.port)) == 0
        # Poll: ready once the cursor is set (start_at: now skips what happened before that).
        try:
            return self.state()["activity_id"] is not None
        except (OSError, ValueError, KeyError):
            return False

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Stop ansible-rulebook as systemd would (SIGTERM), then make sure its whole session is gone."""
        if self.proc is None:
            return
        try:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:
            self.kill()

    def kill(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None

    def log_tail(self, chars=6000):
        return self.output.read_text(errors="replace")[-chars:] if self.output.exists() else ""

    def runs(self):
        """The run log: dicts with what (start / end), service_id, event_id, playbook, time, failed."""
        if not self.run_log.exists():
            return []
        return [json.loads(line) for line in self.run_log.read_text().splitlines() if line.strip()]

    def ended(self, service_id=None):
        return [r for r in self.runs() if r["what"] == "end" and (service_id is None or r["service_id"] == service_id)]

    def state(self):
        return json.loads(self.state_file.read_text())

    def wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("ansible-rulebook ended while waiting for %s:\n%s" % (what, self.log_tail()))
            time.sleep(0.1)
        raise AssertionError("timed out after %d s waiting for %s; runs: %s\n%s" % (timeout, what, self.runs(), self.log_tail()))
