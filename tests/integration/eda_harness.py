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
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import yaml

from harness import CALLBACKS, FAST, ansible_env
from simulators.dcimanager import DCImanagerSimulator, make_state as make_dci_state
from simulators.shop import PRODUCTS, whmcs_state
from simulators.whmcs import WHMCSSimulator

RULEBOOK = "ispsystem.dcimanager.dedicated_servers"
EDA_SECRET = "eda-test-secret-3c9a1f0e7b5d4a2c8e6f"
BIN = Path(sys.executable).parent
CHECKOUT = Path(__file__).resolve().parents[2]
# The test stand-in for the converge playbook (a model panel in files; see its header).
MODEL_PLAYBOOK = Path(__file__).resolve().parent / "eda_model_converge.yml"


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


def model_rulebook(workdir, lock=True):
    """The collection's rulebook with the model playbook for converge (and, with ``lock=False``, no lock,
    so that only the event source keeps one service's runs apart). Returns its path."""
    rulebook = yaml.safe_load((CHECKOUT / "extensions" / "eda" / "rulebooks" / "dedicated_servers.yml").read_text())
    [rule] = [r for r in rulebook[0]["rules"] if r["action"]["run_playbook"]["name"] == "ispsystem.dcimanager.converge"]
    action = rule["action"]["run_playbook"]
    assert action["name"] == "ispsystem.dcimanager.converge"
    action["name"] = str(MODEL_PLAYBOOK)
    if not lock:
        del action["lock"]
    path = Path(workdir) / "model-rulebook.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(rulebook, sort_keys=False))
    return path


def signed_post(url, data):
    """POST one event as the WHMCS hook does; (HTTP status, answer)."""
    body = json.dumps(data).encode()
    signature = "sha256=" + hmac.new(EDA_SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", "X-Ispsystem-Signature": signature}, method="POST")
    try:
        # ansible-rulebook's event loop (the source's too) can be busy for seconds while it starts many
        # playbook runs at once on a loaded machine; the latency benchmark measures the idle case.
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - a loopback URL of the test
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def hook_body(action, service_id, server_id=None, product_id=1):
    """The body the WHMCS hook posts for one module action."""
    data = {
        "event_id": "whmcs-push-%s" % uuid.uuid4().hex,
        "timestamp": int(time.time()),
        "hook": "AfterModule" + action.capitalize(),
        "action": action,
        "service_id": service_id,
        "product_id": product_id,
        "client_id": 1,
    }
    if server_id is not None:
        data["server_id"] = server_id
    return data


def status_writes(whmcs):
    """(service id, status) of every UpdateClientProduct that set a status, from the WHMCS simulator's call log."""
    writes = []
    for call in whmcs.calls:
        if call["name"] == "UpdateClientProduct" and call["params"].get("status") not in (None, ""):
            writes.append((int(call["params"]["serviceid"]), call["params"]["status"]))
    return writes


def overlapping_runs(runs):
    """Pairs of runs of one service whose start-to-end spans overlap (runs: RulebookRun.runs())."""
    spans = {}
    for record in runs:
        key = (record["service_id"], record["pid"])
        spans.setdefault(key, {})[record["what"]] = record["time"]
    by_service = {}
    for (service_id, dummy), span in spans.items():
        # A run cut short by a stop has no end: it counts until the stop (its start is all we know).
        by_service.setdefault(service_id, []).append((span.get("start", 0.0), span.get("end", span.get("start", 0.0))))
    overlaps = []
    for service_id, spans_of in by_service.items():
        spans_of.sort()
        for (start_a, end_a), (start_b, end_b) in zip(spans_of, spans_of[1:]):
            if start_b < end_a:
                overlaps.append((service_id, (start_a, end_a), (start_b, end_b)))
    return overlaps


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

    def __init__(self, workdir, shop_env, products, mode, rulebook=RULEBOOK, extra_env=None, **source_vars):
        self.workdir = Path(workdir)
        self.rulebook = str(rulebook)
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
                **(extra_env or {}),
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
        command = [rulebook_binary(), "-r", self.rulebook, "-i", str(self.inventory), "--vars", str(self.vars_file), "-v"]
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

    def settled(self):
        """No run in flight and none waiting, for every service the source tracks."""
        return all(not service["run"] and not service["next"] for service in self.state()["services"].values())

    def wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("ansible-rulebook ended while waiting for %s:\n%s" % (what, self.log_tail()))
            time.sleep(0.1)
        raise AssertionError("timed out after %d s waiting for %s; runs: %s\n%s" % (timeout, what, self.runs(), self.log_tail()))


class PushStorm:
    """Random WHMCS status flips of ``services``, each posted as the hook does, with duplicates and replays.

    Each step picks a service at random, makes WHMCS do a module action that its status allows
    (create on a Pending order; mostly suspend / unsuspend; now and then terminate), and posts it;
    some posts are sent twice (the hook's retry) and some old ones again (a replay): both must be
    refused with 409. ``restart_at``: stop ansible-rulebook (SIGTERM) after that many events and
    start it again before the next.
    """

    # Mostly flips; now and then the end of a service (about one service in five ends within a storm of 64).
    FLIPS = {"Active": ("suspend",) * 19 + ("terminate",), "Suspended": ("unsuspend",) * 19 + ("terminate",)}

    def __init__(self, shop, rulebook, services, seed=0):
        self.shop = shop
        self.rulebook = rulebook
        self.services = list(services)
        self.rng = random.Random(seed)
        self.posted = []  # (time of the 202, service id, body)
        self.refused = 0

    def last_post(self):
        last = {}
        for when, service_id, dummy in self.posted:
            last[service_id] = when
        return last

    def run(self, events, restart_at=None, pause=0.4):
        for index in range(events):
            if index == restart_at:
                self.rulebook.stop()
                self.rulebook.start()
            live = [s for s in self.services if self.shop.whmcs.service(s)["status"] != "Terminated"]
            if not live:
                break
            service_id = self.rng.choice(live)
            status = self.shop.whmcs.service(service_id)["status"]
            action = "create" if status == "Pending" else self.rng.choice(self.FLIPS[status])
            self.shop.whmcs.module_event(service_id, action)
            body = hook_body(action, service_id, server_id=self.shop.whmcs.service(service_id)["serverid"] or None)
            answer = signed_post(self.rulebook.url, body)
            assert answer[0] == 202, answer
            self.posted.append((time.time(), service_id, body))
            if self.rng.random() < 0.2:
                self.expect_refused(body)  # the hook's second try of a post that arrived
            if self.rng.random() < 0.1:
                self.expect_refused(self.rng.choice(self.posted)[2], (409, 422))  # a replay of an older one (422 once stale)
            time.sleep(self.rng.uniform(0, pause))

    def expect_refused(self, body, statuses=(409,)):
        answer = signed_post(self.rulebook.url, body)
        assert answer[0] in statuses, answer
        self.refused += 1

    def problems(self, panel_state):
        """What went wrong, as a list of strings (empty: the storm's promises held).

        ``panel_state(service_id)``: "unblocked", "blocked" or None (no server).
        """
        runs = self.rulebook.runs()
        problems = []
        for service_id, last in sorted(self.last_post().items()):
            starts = [r["time"] for r in runs if r["what"] == "start" and r["service_id"] == service_id]
            if not starts or max(starts) <= last:
                problems.append("service %d: no run started after its last event (lost)" % service_id)
            final, panel = self.shop.whmcs.service(service_id)["status"], panel_state(service_id)
            # Suspended without a server: suspended before any run saw it Active (nothing to do yet).
            if panel not in {"Active": ("unblocked",), "Suspended": ("blocked", None), "Terminated": (None,)}[final]:
                problems.append("service %d: WHMCS says %s, the panel shows %s" % (service_id, final, panel))
        ends = {}
        for record in runs:
            if record["what"] == "end":
                ends[record["event_id"]] = ends.get(record["event_id"], 0) + 1
        problems += ["run %s finished %d times" % (event_id, count) for event_id, count in sorted(ends.items()) if count > 1]
        problems += ["service %d: two runs at once %s, %s" % overlap for overlap in overlapping_runs(runs)]
        problems += ["run of %s failed" % r["event_id"] for r in runs if r["what"] == "end" and r["failed"]]
        return problems
