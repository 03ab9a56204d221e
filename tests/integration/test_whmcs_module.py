# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The WHMCS provisioning module extras/whmcs/modules/servers/ispsystem_dcimanager/, run by the real php-cli.

``whmcs_standin.php`` loads the module as WHMCS does and models what matters (see its header): the status
saved only after a function returned success, the AfterModule* hooks after that, the module queue of failed
automatic actions, the request's time limit, the Module Log with its replace list, localAPI backed by the
WHMCS simulator over HTTPS. The panel is the DCImanager simulator; AWX is ``RunningAWX`` below, which really
runs ansible-playbook for a launched job template, so CreateAccount waits for a real run and sees the IP it
writes back; the event source is ``RunningEventSource``, which checks the signature as the real one does and
runs the same playbooks.

The fake AWX runs, for the converge template, the collection's ``converge`` playbook.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import html
import json
import os
import re
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import yaml
from test_whmcs_hook import HOOK, MODULE, php_literal

from harness import run_ansible_playbook
from simulators._tls import TLSHTTPServer, server_context

REPO = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).resolve().parent / "whmcs_standin.php"
PHP = shutil.which("php")

pytestmark = pytest.mark.skipif(PHP is None, reason="php is not installed (Debian: apt-get install -y php-cli php-curl)")

# The playbook the fake AWX and event source run for every module action.
CONVERGE_PLAYBOOK = "ispsystem.dcimanager.converge"
SERVER_CONTROL_PLAYBOOK = "ispsystem.dcimanager.server_control"

TOKEN = "awx-Token-5e0b9c7d1f"
EDA_SECRET = "eda-Secret-71c2d3e4f5a6b7c8d9e0f1a2b3c4"
TEMPLATES = {31: "converge", 32: "server_control"}
MODULE_NAME = "ispsystem_dcimanager"
PID = 1
# Package, OS template, recipe, don't wait the OS install, domain template, IP group, Create waits (seconds).
SETTINGS = ["DL360-G9", "ISPsystem__Debian-12-amd64", "null", "on", "", "public", "150"]
NOTE_GAVE_UP = "ispsystem-dcimanager: create gave up "


# --- a fake AWX that runs the playbooks -------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Quiet."""

    def do_GET(self):  # pylint: disable=invalid-name
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        status, payload = self.server.owner.answer(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET


class _Server(TLSHTTPServer):
    def __init__(self, owner, context):
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler, context)


class _HTTPSFake:
    """An HTTPS server on loopback with its own CA, answering through ``answer()``; records every request."""

    def __init__(self, tls_dir):
        self.requests = []
        self.ca_path, context = server_context(str(tls_dir))
        self._server = _Server(self, context)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self._server.server_address[1]

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method, path, headers, body):
        raise NotImplementedError


class Runner:
    """Runs the playbook of a job (a launch or an event) against the shop, as AWX or ansible-rulebook would."""

    def __init__(self, shop, workdir):
        self.shop = shop
        self.workdir = Path(workdir)
        self.runs = []  # (playbook, extra vars, rc)
        self.lock = threading.Lock()

    def playbook_for(self, template, extra_vars):
        if template == "server_control":
            return SERVER_CONTROL_PLAYBOOK
        return CONVERGE_PLAYBOOK

    def run(self, template, extra_vars):
        playbook = self.playbook_for(template, extra_vars)
        workdir = self.workdir / ("job-%d" % time.monotonic_ns())
        workdir.mkdir(parents=True)
        args = [playbook, "-e", json.dumps(extra_vars), "-e", "@%s" % self.shop.products_file]
        args += ["-e", "dedicated_server_poll_interval=1", "-e", "dedicated_server_install_settle_time=2"]
        run = run_ansible_playbook(workdir, args, env=self.shop.env)
        with self.lock:
            self.runs.append((playbook, extra_vars, run.rc))
        return run.rc, run.output


class Job:
    def __init__(self, job_id, template, extra_vars):
        self.id = job_id
        self.template = template
        self.extra_vars = extra_vars
        self.status = "pending"
        self.output = ""
        self.done = threading.Event()


class RunningAWX(_HTTPSFake):
    """AWX's API as far as the module uses it: launch (and the job really runs), job status, stdout, templates, cancel.

    ``hold``: launched jobs stay pending until ``release()``. ``fail_next``: the next job fails at once with this output.
    """

    def __init__(self, tls_dir, runner):
        super().__init__(tls_dir)
        self.runner = runner
        self.jobs = {}
        self.hold = False
        self.released = threading.Event()
        self.fail_next = None

    def release(self):
        self.hold = False
        self.released.set()

    def launches(self, template=None):
        return [
            json.loads(r["body"])["extra_vars"]
            for r in self.requests
            if r["method"] == "POST" and r["path"].endswith("/launch/") and (template is None or "/%d/" % template in r["path"])
        ]

    def wait_jobs(self, timeout=300):
        for job in list(self.jobs.values()):
            assert job.done.wait(timeout), "job %d did not end" % job.id

    def _run(self, job):
        try:
            if self.hold:
                self.released.wait(600)
            job.status = "running"
            if self.fail_next is not None:
                job.output, self.fail_next = self.fail_next, None
                rc = 2
            else:
                rc, job.output = self.runner.run(job.template, job.extra_vars)
            job.status = "successful" if rc == 0 else "failed"
        except Exception as exc:  # pylint: disable=broad-exception-caught
            job.status, job.output = "error", "the fake AWX could not run the job: %r" % exc
        finally:
            job.done.set()

    def answer(self, method, path, headers, body):
        self.requests.append({"method": method, "path": path, "body": body})
        if headers.get("authorization") != "Bearer " + TOKEN:
            return 401, {"detail": "Authentication credentials were not provided."}
        found = re.match(r"^/api/v2/job_templates/(\d+)/(launch/)?$", path)
        if found and int(found.group(1)) in TEMPLATES:
            template = TEMPLATES[int(found.group(1))]
            if not found.group(2):
                return 200, {"id": int(found.group(1)), "name": "dcimanager " + template}
            job = Job(9000 + len(self.jobs) + 1, template, json.loads(body)["extra_vars"])
            self.jobs[job.id] = job
            threading.Thread(target=self._run, args=(job,), daemon=True).start()
            return 201, {"job": job.id, "id": job.id, "ignored_fields": {}}
        found = re.match(r"^/api/v2/jobs/(\d+)/(stdout/\?format=txt|cancel/)?$", path)
        if found and int(found.group(1)) in self.jobs:
            job = self.jobs[int(found.group(1))]
            if found.group(2) == "cancel/":
                return 202, ""
            if found.group(2):
                return 200, job.output
            return 200, {"id": job.id, "status": job.status, "failed": job.status == "failed"}
        return 404, {"detail": "Not found."}


class RunningEventSource(_HTTPSFake):
    """The event source's push endpoint as the hook and the module see it: signature (401), fields (422), 202, and
    the playbook run. ``on_event``: instead of running, call this with the event."""

    def __init__(self, tls_dir, runner):
        super().__init__(tls_dir)
        self.runner = runner
        self.events = []
        self.threads = []
        self.on_event = None

    def answer(self, method, path, headers, body):
        self.requests.append({"method": method, "path": path, "body": body, "headers": headers})
        expected = "sha256=" + hmac.new(EDA_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("x-ispsystem-signature", ""), expected):
            return 401, {"status": "refused", "reason": "wrong signature"}
        event = json.loads(body)
        if event.get("action") not in ("create", "suspend", "unsuspend", "terminate", "server_control") or not event.get("service_id"):
            return 422, {"status": "refused", "reason": "unknown action %s" % event.get("action")}
        self.events.append(event)
        if self.on_event is not None:
            target, args = self.on_event, (event,)
        elif event["action"] == "server_control":
            target, args = self.runner.run, ("server_control", {k: event[k] for k in ("service_id", "operation", "requested_by")})
        else:
            variables = {"service_id": event["service_id"]}
            if event["action"] == "create":
                variables["dedicated_server_new_service"] = True
            target, args = self.runner.run, ("converge", variables)
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)
        return 202, {"status": "accepted"}

    def wait_runs(self, timeout=300):
        for thread in self.threads:
            thread.join(timeout)


# --- the WHMCS stand-in -------------------------------------------------------------------------------------


class StandinRun:
    """What one stand-in run printed, with the secrets it must not have logged."""

    def __init__(self, output, stderr, elapsed, secrets):
        self.results = [entry["result"] for entry in output["results"]]
        self.seconds = [entry["seconds"] for entry in output["results"]]
        self.module_log = output["module_log"]
        self.activity = [entry["message"] for entry in output["activity"]]
        self.hooks = output["hooks"]
        self.killed = output["killed"]
        self.errors = output["errors"]
        self.stderr = stderr
        self.elapsed = elapsed
        self.secrets = [secret for secret in secrets if secret]

    def assert_clean(self):
        """No PHP warning, no exception out of the module, no secret in the Module Log as stored or the activity log,
        and none in a logged request or answer unless that entry's replace list has it."""
        assert self.stderr == "", self.stderr
        assert self.errors == [], self.errors
        secrets = list(self.secrets)
        for result in self.results:  # one-time login keys
            if isinstance(result, dict) and "key=" in str(result.get("redirectTo", "")):
                secrets.append(dict(parse_qsl(urlsplit(result["redirectTo"]).query))["key"])
        for entry in self.module_log:
            for secret in secrets:
                assert secret not in json.dumps(entry["stored"]), (entry["action"], secret)
                if secret in json.dumps(entry["raw"]):
                    assert secret in entry["replace"], (entry["action"], secret)
        for line in self.activity:
            for secret in secrets:
                assert secret not in line

    def log(self, action):
        return [entry for entry in self.module_log if entry["action"] == action]


class WHMCS:
    """A WHMCS tree with the module (and the standalone hook), the shop's simulators, and the stand-in to drive it."""

    def __init__(self, shop, tmp_path, awx, eda):
        self.shop = shop
        self.tmp = tmp_path
        self.awx = awx
        self.eda = eda
        self.root = tmp_path / "whmcs"
        shutil.copytree(MODULE, self.root / "modules" / "servers" / MODULE_NAME)
        (self.root / "includes" / "hooks").mkdir(parents=True)
        shutil.copy(HOOK, self.root / "includes" / "hooks" / HOOK.name)
        # The standalone hook serves the Auto Release products (none here): it must leave the module's alone.
        (self.root / "includes" / "hooks" / "ispsystem_dcimanager_awx.config.php").write_text(
            "<?php\nreturn %s;\n" % php_literal(self.awx_config(product_ids=[PID], modules=["autorelease", MODULE_NAME], job_templates={"converge": 99})),
            encoding="utf-8",
        )
        self.slot_dir = tmp_path / "slots"
        self.slot_dir.mkdir()
        self.cache_dir = tmp_path / "cache"
        self.cache_dir.mkdir()
        self.server = {
            "hostname": "127.0.0.1:%d" % shop.dci.port,
            "ipaddress": "127.0.0.1",
            "port": "",
            "username": shop.dci.admin_user,
            "password": shop.dci.admin_password,
            "accesshash": Path(shop.dci.ca_path).read_text(encoding="utf-8"),
        }
        self.settings = list(SETTINGS)
        state = shop.whmcs.dump_state()
        for product in state["products"]:
            product["module"] = MODULE_NAME
        shop.whmcs.load_state(state)
        products = {PID: {"package": SETTINGS[0], "os_template": SETTINGS[1], "recipe": "null", "wait_for_install": False}}
        shop.products_file.write_text(yaml.safe_dump({"dedicated_server_products": products}))
        self.configure()

    def awx_config(self, **changes):
        config = {"awx_url": self.awx.url, "token": TOKEN, "ca_file": self.awx.ca_path, "job_templates": {"converge": 31, "server_control": 32}}
        config.update(changes)
        return config

    def eda_config(self, **changes):
        config = {"eda_url": self.eda.url + "/whmcs", "eda_secret": EDA_SECRET, "eda_ca_file": self.eda.ca_path}
        config.update(changes)
        return config

    def configure(self, config=None):
        """The module's config file (default: AWX)."""
        path = self.root / "modules" / "servers" / MODULE_NAME / "ispsystem_dcimanager.config.php"
        path.write_text("<?php\nreturn %s;\n" % php_literal(config if config is not None else self.awx_config()), encoding="utf-8")

    def secrets(self):
        state = self.shop.whmcs.dump_state()
        return [TOKEN, EDA_SECRET, self.shop.dci.admin_password] + [service["password"] for service in state["services"]]

    def run(self, steps, area="admin", time_limit=0, server=None, env=None):
        whmcs = self.shop.whmcs
        scenario = {
            "root": str(self.root),
            "area": area,
            "whmcs": {
                "api_url": whmcs.api_url,
                "control_url": whmcs.control_url,
                "identifier": whmcs.identifier,
                "secret": whmcs.secret,
                "ca_file": whmcs.ca_path,
            },
            "servers": {"1": dict(self.server, **(server or {}))},
            "products": {str(PID): {"module": MODULE_NAME, "settings": self.settings}},
            "time_limit": time_limit,
            "test": {"slot_dir": str(self.slot_dir), "cache_dir": str(self.cache_dir)},
            "steps": steps,
        }
        path = self.tmp / ("scenario-%d.json" % time.monotonic_ns())
        path.write_text(json.dumps(scenario), encoding="utf-8")
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith("ISPSYSTEM_AWX_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        environment["NO_PROXY"] = environment["no_proxy"] = "127.0.0.1,localhost"
        environment.update(env or {})
        command = [PHP, "-d", "display_errors=stderr", "-d", "error_reporting=-1", "-d", "log_errors=0"]
        command += ["-d", "max_execution_time=%d" % time_limit, str(STANDIN), str(path)]
        started = time.monotonic()
        proc = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900, check=False)
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, "php failed (%d)\nstdout: %s\nstderr: %s" % (proc.returncode, proc.stdout, proc.stderr)
        return StandinRun(json.loads(proc.stdout), proc.stderr, elapsed, self.secrets())


@pytest.fixture
def whmcs(shop, tmp_path):
    runner = Runner(shop, tmp_path / "runs")
    awx = RunningAWX(tmp_path / "awx-tls", runner)
    eda = RunningEventSource(tmp_path / "eda-tls", runner)
    try:
        yield WHMCS(shop, tmp_path, awx, eda)
    finally:
        awx.release()
        awx.wait_jobs()
        eda.wait_runs()
        awx.stop()
        eda.stop()


def module(function, service_id, automatic=False):
    return {"do": "module", "function": function, "service_id": service_id, "automatic": automatic}


def server_of(shop, hostname):
    [server] = [s for s in shop.dci.dump_state()["servers"] if {a["domain"] for a in s["addresses"]} == {hostname}]
    return server


# --- the files ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(MODULE.rglob("*.php")) + [MODULE / "ispsystem_dcimanager.config.php.example", STANDIN], ids=lambda path: path.name)
def test_php_lint(path):
    proc = subprocess.run([PHP, "-l", str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "No syntax errors" in proc.stdout, proc.stdout + proc.stderr


def test_what_whmcs_reads_of_the_module(whmcs):
    run = whmcs.run([{"do": "buttons"}])
    run.assert_clean()
    [found] = run.results
    assert found["client"] == {"Reboot": "reboot", "Power off": "poweroff", "Power on": "poweron"}
    assert found["admin"]["Reinstall OS"] == "adminreinstall" and "Reinstall OS" not in found["client"]
    assert found["meta"]["RequiresServer"] is True and found["meta"]["DefaultSSLPort"] == "1500"
    # ISPsystem's module's six settings, in its order, then the wait of CreateAccount.
    assert found["options"] == [
        "Package Name",
        "Operation system",
        "Recipe",
        "Don't wait the OS install",
        "Domain template",
        "IP address group",
        "Create waits (seconds)",
    ]


# --- CreateAccount -------------------------------------------------------------------------------------------


def test_create_waits_for_the_run_and_activates(whmcs):
    shop = whmcs.shop
    run = whmcs.run([module("CreateAccount", 12, automatic=True)], area="cron")
    run.assert_clean()
    assert run.results == ["success"], run.module_log
    service = shop.whmcs.service(12)
    server = server_of(shop, "bob.example.net")
    assert service["status"] == "Active"
    assert service["dedicatedip"] == server["main_ip"]
    # One run, started by CreateAccount with the server entry and the new-service flag; AfterModuleCreate adds none.
    assert whmcs.awx.launches() == [{"service_id": 12, "server_id": 1, "dedicated_server_new_service": True}]
    assert run.hooks == ["AfterModuleCreate"]
    assert shop.whmcs.modulequeue == []
    assert "Module Create Successful - Service ID: 12" in [entry["description"] for entry in shop.whmcs.activitylog]
    assert any("converge (create) of service #12 launched as AWX job 9001" in line for line in run.activity)
    [waited] = [entry for entry in run.log("CreateAccount") if "shows the dedicated IP" in entry["stored"]["response"]]
    assert server["main_ip"] in waited["stored"]["response"]


def test_a_failing_job_keeps_the_service_pending_with_its_error(whmcs):
    shop = whmcs.shop
    whmcs.settings[0] = "NO-SUCH-PACKAGE"
    shop.products_file.write_text(yaml.safe_dump({"dedicated_server_products": {PID: {"package": "NO-SUCH-PACKAGE", "os_template": SETTINGS[1]}}}))
    run = whmcs.run([module("CreateAccount", 10, automatic=True)], area="cron")
    run.assert_clean()
    [message] = run.results
    # The run noted its own reason in the service's admin notes (the same in event-source mode), with the job's link.
    assert message.startswith("the run for service #10 failed: ")
    assert "no free server of package NO-SUCH-PACKAGE" in message
    assert "(AWX job 9001: " in message and "/#/jobs/playbook/9001/output" in message
    service = shop.whmcs.service(10)
    assert service["status"] == "Pending" and service["dedicatedip"] == ""
    assert run.hooks == ["AfterModuleCreateFailed"]
    [queued] = shop.whmcs.modulequeue
    assert queued["serviceId"] == "10" and queued["moduleAction"] == "CreateAccount" and "NO-SUCH-PACKAGE" in queued["lastAttemptError"]


def test_create_gives_up_and_a_later_module_create_completes_it(whmcs):
    shop = whmcs.shop
    whmcs.awx.hold = True  # the job waits in AWX's queue
    whmcs.settings[6] = "3"
    run = whmcs.run([module("CreateAccount", 11, automatic=True)], area="cron")
    run.assert_clean()
    [message] = run.results
    assert message.startswith("CreateAccount stopped waiting: WHMCS shows no dedicated IP after 3 s. The run goes on in AWX job 9001")
    assert 3 <= run.seconds[0] < 10
    service = shop.whmcs.service(11)
    assert service["status"] == "Pending"
    assert re.search(r"^ispsystem-dcimanager: create gave up \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", service["notes"], re.M)

    # The run goes on, writes the address, then finishes the create through WHMCS's ModuleCreate and removes the line.
    whmcs.awx.release()
    whmcs.awx.wait_jobs()
    service = shop.whmcs.service(11)
    assert service["dedicatedip"] and service["status"] == "Active" and NOTE_GAVE_UP not in service["notes"]
    assert [call["params"]["serviceid"] for call in shop.whmcs.writes() if call["name"] == "ModuleCreate"] == ["11"]
    # What ModuleCreate runs in WHMCS (the simulator does not call the module): CreateAccount again, which finds the
    # line and the address and answers at once, starting nothing.
    state = _with_status(shop.whmcs.dump_state(), 11, "Pending")
    [entry] = [s for s in state["services"] if s["id"] == 11]
    entry["notes"] = (entry["notes"] + "\n" + NOTE_GAVE_UP + "2026-12-03T10:00:00Z").strip()
    shop.whmcs.load_state(state)
    again = whmcs.run([module("CreateAccount", 11)])
    again.assert_clean()
    assert again.results == ["success"] and again.seconds[0] < 5
    assert len(whmcs.awx.launches()) == 1  # nothing started again
    assert shop.whmcs.service(11)["status"] == "Active"


def _with_status(state, service_id, status):
    for service in state["services"]:
        if service["id"] == service_id:
            service["status"] = status
    return state


def test_create_keeps_within_the_requests_time_limit(whmcs):
    """max_execution_time 9 s: Create stops waiting with time to spare, before the request would be killed."""
    whmcs.awx.hold = True
    run = whmcs.run([module("CreateAccount", 10, automatic=True)], area="cron", time_limit=9)
    run.assert_clean()
    assert run.killed is None
    [message] = run.results
    assert "WHMCS shows no dedicated IP after" in message
    assert run.seconds[0] < 9 - 2
    assert NOTE_GAVE_UP in whmcs.shop.whmcs.service(10)["notes"]


def test_an_order_day_leaves_the_rest_to_the_run(whmcs):
    """Every create_max_waiting slot is taken (here: one, held by another request): Create starts the run and stops at once."""
    whmcs.configure(whmcs.awx_config(create_max_waiting=1))
    whmcs.awx.hold = True
    with open(whmcs.slot_dir / "ispsystem_dcimanager_create_1.lock", "w", encoding="utf-8") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        run = whmcs.run([module("CreateAccount", 10, automatic=True)], area="cron")
    run.assert_clean()
    [message] = run.results
    assert "all 1 create_max_waiting slots of this WHMCS are waiting already" in message
    assert run.seconds[0] < 3
    assert len(whmcs.awx.launches()) == 1


def test_create_through_the_event_source(whmcs):
    shop = whmcs.shop
    whmcs.configure(whmcs.eda_config())
    run = whmcs.run([module("CreateAccount", 12, automatic=True)], area="cron")
    run.assert_clean()
    assert run.results == ["success"], run.module_log
    [event] = whmcs.eda.events
    assert {key: event[key] for key in ("action", "service_id", "product_id", "server_id")} == {
        "action": "create",
        "service_id": 12,
        "product_id": PID,
        "server_id": 1,
    }
    assert shop.whmcs.service(12)["status"] == "Active" and shop.whmcs.service(12)["dedicatedip"]


def test_create_through_the_event_source_reports_what_the_run_wrote(whmcs):
    """EDA mode has no job to ask: a run that failed writes "ispsystem-dcimanager: run failed <time>: <reason>" into the
    service's admin notes (the contract with the collection's runs), and Create returns that reason."""
    shop = whmcs.shop
    whmcs.configure(whmcs.eda_config())

    def failing_run(event):
        time.sleep(1)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = "ispsystem-dcimanager: run failed %s: no free server of package DL360-G9 on panel 1" % stamp
        requests.post(
            shop.whmcs.api_url,
            data={
                "action": "UpdateClientProduct",
                "identifier": shop.whmcs.identifier,
                "secret": shop.whmcs.secret,
                "responsetype": "json",
                "serviceid": event["service_id"],
                "notes": line,
            },
            verify=shop.whmcs.ca_path,
            timeout=30,
        ).raise_for_status()

    whmcs.eda.on_event = failing_run
    run = whmcs.run([module("CreateAccount", 10, automatic=True)], area="cron")
    run.assert_clean()
    assert run.results == ["the run for service #10 failed: no free server of package DL360-G9 on panel 1"]
    assert shop.whmcs.service(10)["status"] == "Pending"


def test_create_without_a_route_to_ansible_fails_before_anything_starts(whmcs):
    whmcs.configure({})
    run = whmcs.run([module("CreateAccount", 10, automatic=True)], area="cron")
    run.assert_clean()
    [message] = run.results
    assert message.startswith("the ispsystem_dcimanager module has no route to Ansible")
    assert whmcs.shop.whmcs.service(10)["status"] == "Pending"
    assert whmcs.awx.requests == [] and whmcs.eda.requests == []


def test_create_when_awx_refuses_the_token(whmcs):
    whmcs.configure(whmcs.awx_config(token="not-the-token-1234"))
    run = whmcs.run([module("CreateAccount", 10)])
    run.assert_clean()
    [message] = run.results
    assert "converge (create) of service #10 NOT launched (job template 31 at %s): AWX answered HTTP 401" % whmcs.awx.url in message
    assert "not-the-token-1234" not in json.dumps([entry["stored"] for entry in run.module_log])
    assert whmcs.shop.whmcs.service(10)["status"] == "Pending"


# --- Suspend, Unsuspend, Terminate: from the AfterModule* hooks ----------------------------------------------------


def test_the_lifecycle_after_create_runs_from_the_hooks(whmcs):
    shop = whmcs.shop
    run = whmcs.run([module("CreateAccount", 12)])
    run.assert_clean()
    assert run.results == ["success"]
    server = server_of(shop, "bob.example.net")
    whmcs.awx.wait_jobs()

    run = whmcs.run([module("SuspendAccount", 12)])
    run.assert_clean()
    assert run.results == ["success"] and run.hooks == ["AfterModuleSuspend"]
    whmcs.awx.wait_jobs()
    assert shop.whmcs.service(12)["status"] == "Suspended"
    assert shop.dci.server_state(server["id"])["blocked"] is True

    run = whmcs.run([module("UnsuspendAccount", 12)])
    run.assert_clean()
    whmcs.awx.wait_jobs()
    assert shop.dci.server_state(server["id"])["blocked"] is False

    run = whmcs.run([module("TerminateAccount", 12)])
    run.assert_clean()
    whmcs.awx.wait_jobs()
    assert shop.dci.server_state(server["id"])["owner"] is None
    assert shop.whmcs.service(12)["status"] == "Terminated"

    # One converge launch per action, each after WHMCS had saved the status, with the server entry: no password, no action.
    launches = whmcs.awx.launches()
    assert launches == [{"service_id": 12, "server_id": 1, "dedicated_server_new_service": True}] + [{"service_id": 12, "server_id": 1}] * 3
    assert [playbook for playbook, dummy, dummy in whmcs.awx.runner.runs] == [CONVERGE_PLAYBOOK] * 4
    assert all(rc == 0 for dummy, dummy, rc in whmcs.awx.runner.runs)
    # The standalone hook (configured for these products) left them to the module: no launch of its template 99.
    assert not any("/job_templates/99/" in request["path"] for request in whmcs.awx.requests)


def test_hook_launch_failures_are_logged_and_never_stop_whmcs(whmcs):
    whmcs.configure(whmcs.awx_config(awx_url="https://127.0.0.1:9"))
    run = whmcs.run([module("SuspendAccount", 21)])
    run.assert_clean()
    assert run.results == ["success"]
    assert whmcs.shop.whmcs.service(21)["status"] == "Suspended"
    [line] = [line for line in run.activity if "AWX" in line]
    assert "converge (suspend) of service #21 NOT launched: could not reach AWX" in line


# --- single sign-on -------------------------------------------------------------------------------------------------


def login_with(url, ca_path):
    """Submit the login link's parameters to the panel's API (out=xml): what the browser's visit does to the key."""
    split = urlsplit(url)
    form = dict(parse_qsl(split.query), out="xml")
    answer = requests.post("%s://%s%s" % (split.scheme, split.netloc, split.path), data=form, verify=ca_path, timeout=30)
    answer.raise_for_status()
    return answer.text


@pytest.mark.parametrize("area", ["client", "admin"])
def test_single_sign_on_logs_in_once(whmcs, area):
    shop = whmcs.shop
    run = whmcs.run([{"do": "sso", "service_id": 20}], area=area)  # carol, Active
    run.assert_clean()
    [answer] = run.results
    assert answer["success"] is True and run.seconds[0] < 2
    url = answer["redirectTo"]
    split = urlsplit(url)
    assert "%s://%s%s" % (split.scheme, split.netloc, split.path) == shop.dci.url
    params = dict(parse_qsl(split.query))
    assert params["func"] == "auth" and params["username"] == "carol" and len(params["key"]) == 32
    assert shop.dci.admin_password not in url and "carol-Pw-5t1r" not in url
    [newkey] = [call for call in shop.dci.calls if call["name"] == "session.newkey"]
    assert newkey["method"] == "POST" and newkey["query"] == ""  # the credentials in the body only
    assert "<auth" in login_with(url, shop.dci.ca_path)
    second = login_with(url, shop.dci.ca_path)
    assert 'type="auth"' in second and 'object="badpassword"' in second


def test_admin_single_sign_on_as_the_server_entrys_user(whmcs):
    run = whmcs.run([{"do": "admin_sso", "server_id": 1}])
    run.assert_clean()
    [answer] = run.results
    assert answer["success"] is True
    assert dict(parse_qsl(urlsplit(answer["redirectTo"]).query))["username"] == whmcs.shop.dci.admin_user
    assert "<auth" in login_with(answer["redirectTo"], whmcs.shop.dci.ca_path)


@pytest.mark.parametrize(
    "server, service_id, expected",
    [
        pytest.param(
            {"password": "wrong-Password-77"}, 20, "refused the user name or password of the WHMCS server entry (auth/badpassword", id="wrong-password"
        ),
        pytest.param({"hostname": "127.0.0.1:9"}, 20, "cannot reach DCImanager at https://127.0.0.1:9/dcimgr: ", id="unreachable"),
        pytest.param({"accesshash": ""}, 20, "(curl error 60)", id="certificate-not-trusted"),
        pytest.param({}, 10, "The service is Pending: it has no server in the control panel.", id="pending"),
    ],
)
def test_single_sign_on_errors_are_clear(whmcs, server, service_id, expected):
    run = whmcs.run([{"do": "sso", "service_id": service_id}], area="client", server=server)
    run.secrets.append("wrong-Password-77")
    run.assert_clean()
    [answer] = run.results
    assert answer["success"] is False
    assert expected in answer["errorMsg"]
    assert "#0 " not in answer["errorMsg"] and "Stack trace" not in answer["errorMsg"] and "wrong-Password-77" not in answer["errorMsg"]
    assert not whmcs.shop.dci.dump_state().get("login_keys")  # no key was made


# --- buttons --------------------------------------------------------------------------------------------------------


def test_client_reboot_acts_on_the_panel(whmcs):
    shop = whmcs.shop
    shop.dci.apply_settings({"poweron_seconds": 0.2, "poweroff_seconds": 0.2})
    shop.clear_calls()
    run = whmcs.run([{"do": "custom", "function": "reboot", "service_id": 20}], area="client")
    run.assert_clean()
    assert run.results == ["success"], run.module_log
    assert whmcs.awx.launches(32) == [{"service_id": 20, "operation": "reboot", "requested_by": "client"}]
    assert [(call["name"], call["params"].get("elid")) for call in shop.dci.writes()] == [("server.reboot", "101")]


@pytest.mark.parametrize("without", [[], ["status"]], ids=["status-in-params", "status-read-from-whmcs"])
def test_client_buttons_act_only_while_active(whmcs, without):
    run = whmcs.run([{"do": "custom", "function": "poweron", "service_id": 21, "without": without}], area="client")  # dave, Suspended
    run.assert_clean()
    assert run.results == ["The server can be controlled only while the service is Active (it is Suspended)."]
    assert whmcs.awx.requests == []


def test_admin_buttons(whmcs):
    shop = whmcs.shop
    shop.clear_calls()
    run = whmcs.run(
        [{"do": "custom", "function": "adminpoweroff", "service_id": 21}, {"do": "custom", "function": "adminreinstall", "service_id": 21}],
    )
    run.assert_clean()
    assert run.results == ["success", "success"], run.module_log
    whmcs.awx.wait_jobs()
    assert whmcs.awx.launches(32) == [
        {"service_id": 21, "operation": "power_off", "requested_by": "admin"},
        {"service_id": 21, "operation": "reinstall", "requested_by": "admin"},
    ]
    writes = [(call["name"], call["params"].get("elid")) for call in shop.dci.writes()]
    assert ("server.poweroff", "102") in writes and ("server.operations", "102") in writes
    assert any("reinstall of service #21 (admin) launched as AWX job" in line for line in run.activity)
    # An admin function is refused in the client area, whatever the request says.
    refused = whmcs.run([{"do": "custom", "function": "adminreinstall", "service_id": 20}], area="client")
    assert refused.results == ["this action is for WHMCS admins only"]


def test_a_failed_button_job_says_why(whmcs):
    whmcs.awx.fail_next = (
        'TASK [x]\nfatal: [localhost]: FAILED! => {"changed": false, "msg": "DCImanager refused server.reboot: busy/server: an install runs"}\n'
    )
    run = whmcs.run([{"do": "custom", "function": "reboot", "service_id": 20}], area="client")
    run.assert_clean()
    assert run.results == ["The reboot did not succeed: DCImanager refused server.reboot: busy/server: an install runs"]
    admin = whmcs.run([{"do": "custom", "function": "adminreboot", "service_id": 20}])
    assert admin.results == ["success"]  # the real run this time


# --- the admin tab, TestConnection ---------------------------------------------------------------------------------------


def test_admin_tab_shows_the_panels_server_cached(whmcs):
    shop = whmcs.shop
    assert whmcs.run([module("CreateAccount", 12)]).results == ["success"]
    whmcs.awx.wait_jobs()
    server = server_of(shop, "bob.example.net")
    shop.clear_calls()
    run = whmcs.run([{"do": "tab", "service_id": 12}, {"do": "tab", "service_id": 12}])
    run.assert_clean()
    first, second = run.results
    assert first == second
    assert first["DCImanager server"].startswith("%s (%s) on %s" % (server["id"], server["name"], shop.dci.url))
    assert first["Main address"] == "%s (bob.example.net)" % server["main_ip"]
    assert first["Package"] == "DL360-G9"
    assert first["OS"].startswith("ISPsystem__Ubuntu-24.04-amd64")  # the customer's OS option, from the install record
    assert first["State"] in ("installing", "active, powered on")
    expected = 'dedicated_server_products: {1: {package: "DL360-G9", os_template: "ISPsystem__Debian-12-amd64", recipe: "null", '
    assert html.unescape(first["Settings for runs"]) == expected + 'wait_for_install: false, ip_group: "public"}}'
    assert [call["name"] for call in shop.dci.calls] == ["server", "server.edit"]  # once: the second view came from the cache
    assert shop.dci.writes() == []


def test_admin_tab_of_a_service_without_a_server(whmcs):
    run = whmcs.run([{"do": "tab", "service_id": 10}])
    run.assert_clean()
    [fields] = run.results
    assert fields["DCImanager server"] == "none yet (no server on %s carries 10.domain)" % whmcs.shop.dci.url


def test_test_connection(whmcs):
    run = whmcs.run([{"do": "test_connection", "server_id": 1}])
    run.assert_clean()
    assert run.results == [{"success": True, "error": ""}]
    assert [r["path"] for r in whmcs.awx.requests] == ["/api/v2/job_templates/31/", "/api/v2/job_templates/32/"]

    bad = whmcs.run([{"do": "test_connection", "server_id": 1}], server={"password": "wrong-Password-77"})
    bad.secrets.append("wrong-Password-77")
    bad.assert_clean()
    [answer] = bad.results
    assert answer["success"] is False and "refused the user name or password" in answer["error"]

    whmcs.configure(whmcs.awx_config(token="stale-token-000"))
    stale = whmcs.run([{"do": "test_connection", "server_id": 1}])
    assert stale.results[0]["error"] == "AWX does not show job template 31 (converge) at %s: HTTP 401 (the token is wrong or expired)" % whmcs.awx.url

    whmcs.configure(whmcs.eda_config())
    eda = whmcs.run([{"do": "test_connection", "server_id": 1}])
    eda.assert_clean()
    assert eda.results == [{"success": True, "error": ""}] and whmcs.eda.events == []  # the probe emits nothing
    whmcs.configure(whmcs.eda_config(eda_secret="x" * 40))
    wrong = whmcs.run([{"do": "test_connection", "server_id": 1}])
    assert "refused the signature: eda_secret differs from its hmac_secret" in wrong.results[0]["error"]


# --- the messages are documented -------------------------------------------------------------------------------------------


def test_every_module_message_is_in_troubleshooting():
    doc = (REPO / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    heads = set()
    for path in MODULE.rglob("*.php"):
        for literal in re.findall(r"new (?:ModuleError|PanelError|P\\PanelError)\(\s*'((?:[^'\\]|\\.)+)'", path.read_text(encoding="utf-8")):
            head = literal.replace("\\'", "'").strip()
            if len(head) >= 8:
                heads.add(head)
    assert len(heads) > 10
    missing = sorted(head for head in heads if head not in doc)
    assert not missing, "docs/troubleshooting.md lacks:\n" + "\n".join(missing)
