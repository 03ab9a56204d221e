# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The WHMCS hook extras/whmcs/hooks/ispsystem_dcimanager_awx.php, run by the real php-cli.

A small PHP harness stands in for WHMCS: it defines ``add_hook`` (records the callbacks) and
``logActivity`` (collects the activity log), includes the hook, calls the registered callbacks
with sample ``$vars`` and prints what happened as JSON. The hook talks to a fake AWX: an HTTPS
server on 127.0.0.1 with a throwaway CA (``simulators._tls``) that records every request.

Needs ``php`` with the curl extension (Debian: ``apt-get install -y php-cli php-curl``); the
tests skip, saying so, only when there is no ``php`` at all.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from simulators._tls import TLSHTTPServer, server_context

REPO = Path(__file__).resolve().parents[2]
HOOK = REPO / "extras" / "whmcs" / "hooks" / "ispsystem_dcimanager_awx.php"
MODULE = REPO / "extras" / "whmcs" / "modules" / "servers" / "ispsystem_dcimanager"
LIBRARY = MODULE / "lib" / "automation.php"
CONFIG_EXAMPLE = REPO / "extras" / "whmcs" / "hooks" / "ispsystem_dcimanager_awx.config.php.example"
CONFIG_NAME = "ispsystem_dcimanager_awx.config.php"
PHP = shutil.which("php")

pytestmark = pytest.mark.skipif(PHP is None, reason="php is not installed (Debian: apt-get install -y php-cli php-curl)")

TOKEN = "tok-Secret-4f9a27c1"
TEMPLATES = {"provision": 11, "suspend": 12, "unsuspend": 13, "terminate": 14}
HOOK_PLAYBOOKS = {
    "AfterModuleCreate": "provision",
    "AfterModuleSuspend": "suspend",
    "AfterModuleUnsuspend": "unsuspend",
    "AfterModuleTerminate": "terminate",
}
PRODUCT = 5
LAUNCH_PATH = re.compile(r"^/api(?:/controller)?/v2/job_templates/(\d+)/launch/$")

# The harness: WHMCS's two functions as recorders, then every requested hook call.
HARNESS = r"""<?php
define('WHMCS', true);
$GLOBALS['test_hooks'] = [];
$GLOBALS['test_log'] = [];
function add_hook($name, $priority, $callback)
{
    $GLOBALS['test_hooks'][] = ['name' => $name, 'priority' => $priority, 'callback' => $callback];
}
function logActivity($message, $userId = 0)
{
    $GLOBALS['test_log'][] = ['message' => $message, 'user_id' => $userId];
}
require $argv[1];
$calls = json_decode(file_get_contents($argv[2]), true);
$errors = [];
foreach ($calls as $call) {
    foreach ($GLOBALS['test_hooks'] as $hook) {
        if ($hook['name'] === $call['hook']) {
            try {
                $hook['callback']($call['vars']);
            } catch (Throwable $e) {
                $errors[] = get_class($e) . ': ' . $e->getMessage();
            }
        }
    }
}
$hooks = array_map(function ($hook) { return [$hook['name'], $hook['priority']]; }, $GLOBALS['test_hooks']);
echo json_encode(['hooks' => $hooks, 'log' => $GLOBALS['test_log'], 'errors' => $errors]);
"""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Quiet: FakeAWX.requests is the record."""

    def do_POST(self):  # pylint: disable=invalid-name
        self.server.awx.answer(self)

    do_GET = do_POST


class _Server(TLSHTTPServer):
    def __init__(self, awx, context):
        self.awx = awx
        super().__init__(("127.0.0.1", 0), _Handler, context)


class FakeAWX:
    """Records requests; answers launches with 201 and a job id (9000 + template id), cancels with 202.

    ``answers`` maps a path to ``(status, body)`` (a dict is sent as JSON) to answer otherwise;
    ``delay`` seconds pass before every answer.
    """

    def __init__(self, tls_dir=None):
        self.requests = []
        self.answers = {}
        self.delay = 0.0
        self.ca_path = None
        context = None
        if tls_dir is not None:
            self.ca_path, context = server_context(str(tls_dir))
        self.scheme = "https" if context else "http"
        self._server = _Server(self, context)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self._server.server_address[1])

    @property
    def failed_handshakes(self):
        """Clients that refused the certificate."""
        return self._server.failed_handshakes

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def answer(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        self.requests.append(
            {
                "method": handler.command,
                "path": handler.path,
                "headers": {key.lower(): value for key, value in handler.headers.items()},
                "body": raw.decode("utf-8"),
            }
        )
        if self.delay:
            time.sleep(self.delay)
        launch = LAUNCH_PATH.match(handler.path)
        if handler.path in self.answers:
            status, body = self.answers[handler.path]
        elif launch and handler.command == "POST":
            job = 9000 + int(launch.group(1))
            status, body = 201, {"job": job, "id": job, "ignored_fields": {}, "type": "job"}
        elif re.match(r"^/api(?:/controller)?/v2/jobs/\d+/cancel/$", handler.path) and handler.command == "POST":
            status, body = 202, ""
        else:
            status, body = 404, {"detail": "Not found."}
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json" if isinstance(body, (dict, list)) else "text/html")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@pytest.fixture
def awx(tmp_path):
    server = FakeAWX(tmp_path / "awx-tls").start()
    yield server
    server.stop()


def php_literal(value):
    """A Python value as a PHP literal (for config files)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'%s'" % value.replace("\\", "\\\\").replace("'", "\\'")
    if isinstance(value, (list, tuple)):
        return "[%s]" % ", ".join(php_literal(item) for item in value)
    if isinstance(value, dict):
        return "[%s]" % ", ".join("%s => %s" % (php_literal(key), php_literal(item)) for key, item in value.items())
    raise TypeError(value)


def good_config(awx, **changes):
    config = {
        "awx_url": awx.url,
        "token": TOKEN,
        "job_templates": dict(TEMPLATES),
        "product_ids": [PRODUCT],
        "ca_file": awx.ca_path,
    }
    config.update(changes)
    return config


def service_vars(service_id=42, pid=PRODUCT, module="autorelease", client_id=7, **extra):
    """$vars as WHMCS gives them to AfterModule* hooks: the module parameters under 'params'."""
    params = {
        "serviceid": service_id,
        "accountid": service_id,
        "userid": client_id,
        "pid": pid,
        "packageid": pid,
        "moduletype": module,
        "producttype": "server",
        "domain": "s%d.example.com" % service_id,
        "username": "client%d" % client_id,
        "password": "not-for-the-log",
        "configoption1": "dedicated",
    }
    params.update(extra)
    return {"params": params}


class HookRun:
    """What one harness run printed: registered ``hooks``, the activity ``log``, ``errors`` out of hooks, ``stderr``, ``elapsed``."""

    def __init__(self, output, stderr, elapsed):
        self.hooks = output["hooks"]
        self.log = output["log"]
        self.errors = output["errors"]
        self.stderr = stderr
        self.elapsed = elapsed

    @property
    def messages(self):
        return [entry["message"] for entry in self.log]

    def assert_clean(self):
        """No PHP warning or notice, no exception out of a hook, and no secret in any log line."""
        assert self.stderr == ""
        assert self.errors == []
        for message in self.messages:
            assert TOKEN[:10] not in message  # not even a part of it
            assert "not-for-the-log" not in message


def install_whmcs_files(root):
    """Copy the hook and the module folder (its library) into a WHMCS tree at ``root``; return includes/hooks."""
    hooks = root / "includes" / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    shutil.copy(HOOK, hooks / HOOK.name)
    module = root / "modules" / "servers" / MODULE.name
    if not module.exists():
        shutil.copytree(MODULE, module)
    return hooks


def run_hook(tmp_path, calls, config=None, env=None, config_text=None):
    """Run the hook under the harness; return a HookRun.

    The hook is copied into a WHMCS tree's includes/hooks (with the module folder, whose library it
    uses) so that its config file is read from next to it. ``config`` (dict) or ``config_text`` (PHP
    source) becomes that file.
    """
    hooks = install_whmcs_files(tmp_path / "whmcs")
    config_path = hooks / CONFIG_NAME
    if config is not None:
        config_text = "<?php\nreturn %s;\n" % php_literal(config)
    if config_text is not None:
        config_path.write_text(config_text, encoding="utf-8")
    elif config_path.exists():
        config_path.unlink()
    harness = tmp_path / "harness.php"
    harness.write_text(HARNESS, encoding="utf-8")
    calls_path = tmp_path / "calls.json"
    calls_path.write_text(json.dumps([{"hook": hook, "vars": variables} for hook, variables in calls]), encoding="utf-8")

    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ISPSYSTEM_AWX_") and key.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    environment["NO_PROXY"] = environment["no_proxy"] = "127.0.0.1,localhost"
    environment.update(env or {})
    started = time.monotonic()
    proc = subprocess.run(
        [PHP, "-d", "display_errors=stderr", "-d", "error_reporting=-1", "-d", "log_errors=0", str(harness), str(hooks / HOOK.name), str(calls_path)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, "php failed (%d)\nstdout: %s\nstderr: %s" % (proc.returncode, proc.stdout, proc.stderr)
    return HookRun(json.loads(proc.stdout), proc.stderr, elapsed)


# --- the files themselves ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [HOOK, CONFIG_EXAMPLE, LIBRARY], ids=lambda path: path.name)
def test_php_lint(path):
    proc = subprocess.run([PHP, "-l", str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No syntax errors" in proc.stdout


def test_php_has_curl():
    proc = subprocess.run([PHP, "-m"], capture_output=True, text=True, timeout=60, check=False)
    assert "curl" in proc.stdout.split(), "PHP's curl extension is missing (Debian: apt-get install -y php-curl)"


def test_registers_the_four_module_hooks(tmp_path):
    run = run_hook(tmp_path, [], config={})
    run.assert_clean()
    assert sorted(hook[0] for hook in run.hooks) == sorted(HOOK_PLAYBOOKS)
    assert all(hook[1] == 1 for hook in run.hooks)


def test_example_config_unchanged_launches_nothing(tmp_path, awx):
    """The example as shipped is a valid config file whose gaps are reported, not guessed."""
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config_text=CONFIG_EXAMPLE.read_text(encoding="utf-8"))
    run.assert_clean()
    assert awx.requests == []
    [line] = run.messages
    assert "provision of service #42 NOT launched" in line
    assert "no AWX token" in line
    assert "no job template id for provision" in line
    assert "neither product_ids nor modules" in line


# --- launching ---------------------------------------------------------------------------------


def test_each_event_launches_its_job_template(tmp_path, awx):
    calls = [(hook, service_vars(service_id=40 + index)) for index, hook in enumerate(HOOK_PLAYBOOKS)]
    run = run_hook(tmp_path, calls, config=good_config(awx))
    run.assert_clean()

    assert len(awx.requests) == 4
    for index, (request, hook) in enumerate(zip(awx.requests, HOOK_PLAYBOOKS)):
        template = TEMPLATES[HOOK_PLAYBOOKS[hook]]
        assert request["method"] == "POST"
        assert request["path"] == "/api/v2/job_templates/%d/launch/" % template
        assert request["headers"]["authorization"] == "Bearer " + TOKEN
        assert request["headers"]["content-type"] == "application/json"
        assert json.loads(request["body"]) == {"extra_vars": {"service_id": 40 + index}}
        assert isinstance(json.loads(request["body"])["extra_vars"]["service_id"], int)

    assert len(run.log) == 4
    for index, (entry, hook) in enumerate(zip(run.log, HOOK_PLAYBOOKS)):
        playbook = HOOK_PLAYBOOKS[hook]
        assert entry["message"].startswith(
            "ispsystem.dcimanager AWX: %s of service #%d launched as AWX job %d" % (playbook, 40 + index, 9000 + TEMPLATES[playbook])
        )
        assert entry["user_id"] == 7


def test_other_parameter_names_and_string_ids(tmp_path, awx):
    """Older WHMCS versions name the keys accountid / packageid and send numbers as strings."""
    variables = {"params": {"accountid": "77", "packageid": str(PRODUCT), "userid": "3"}}
    run = run_hook(tmp_path, [("AfterModuleSuspend", variables)], config=good_config(awx))
    run.assert_clean()
    [request] = awx.requests
    assert request["path"] == "/api/v2/job_templates/%d/launch/" % TEMPLATES["suspend"]
    assert json.loads(request["body"]) == {"extra_vars": {"service_id": 77}}
    assert run.log[0]["user_id"] == 3


@pytest.mark.parametrize(
    "variables, config_changes, launched",
    [
        pytest.param(service_vars(pid=6, module="cpanel"), {}, False, id="other-product"),
        pytest.param(service_vars(addonId=3), {}, False, id="addon-of-a-selected-product"),
        pytest.param(service_vars(pid=6, module="AutoRelease"), {"product_ids": [], "modules": ["autorelease"]}, True, id="by-module"),
        pytest.param(service_vars(pid=6, module="cpanel"), {"product_ids": [], "modules": ["autorelease"]}, False, id="other-module"),
        pytest.param(service_vars(pid=6), {"product_ids": [5, 6]}, True, id="second-product"),
    ],
)
def test_product_selection(tmp_path, awx, variables, config_changes, launched):
    run = run_hook(tmp_path, [("AfterModuleCreate", variables)], config=good_config(awx, **config_changes))
    run.assert_clean()
    if launched:
        assert len(awx.requests) == 1
        assert "launched as AWX job" in run.messages[0]
    else:
        assert awx.requests == []
        assert run.log == []


def test_settings_from_the_environment(tmp_path, awx):
    """Environment variables alone are enough, and win over the file (here: a stale token)."""
    env = {
        "ISPSYSTEM_AWX_URL": awx.url + "/api/v2/",
        "ISPSYSTEM_AWX_TOKEN": TOKEN,
        "ISPSYSTEM_AWX_TEMPLATE_TERMINATE": "21",
        "ISPSYSTEM_AWX_PRODUCT_IDS": "4, %d" % PRODUCT,
        "ISPSYSTEM_AWX_CA_FILE": awx.ca_path,
    }
    run = run_hook(tmp_path, [("AfterModuleTerminate", service_vars())], config={"token": "stale-token", "job_templates": {"terminate": 14}}, env=env)
    run.assert_clean()
    [request] = awx.requests
    assert request["path"] == "/api/v2/job_templates/21/launch/"
    assert request["headers"]["authorization"] == "Bearer " + TOKEN
    assert "stale-token" not in json.dumps(run.log)


def test_api_path_of_the_aap_gateway(tmp_path, awx):
    """Red Hat AAP 2.5+ serves the controller API at /api/controller/v2 (a URL that already ends in it is accepted)."""
    config = good_config(awx, awx_url=awx.url + "/api/controller/v2/", api_path="/api/controller/v2")
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config=config)
    run.assert_clean()
    assert [request["path"] for request in awx.requests] == ["/api/controller/v2/job_templates/%d/launch/" % TEMPLATES["provision"]]
    assert "launched as AWX job" in run.messages[0]


def test_config_file_named_by_the_environment(tmp_path, awx):
    elsewhere = tmp_path / "private" / "awx.php"
    elsewhere.parent.mkdir()
    elsewhere.write_text("<?php\nreturn %s;\n" % php_literal(good_config(awx)), encoding="utf-8")
    run = run_hook(tmp_path, [("AfterModuleUnsuspend", service_vars())], env={"ISPSYSTEM_AWX_CONFIG": str(elsewhere)})
    run.assert_clean()
    assert [request["path"] for request in awx.requests] == ["/api/v2/job_templates/%d/launch/" % TEMPLATES["unsuspend"]]


# --- failures: logged, never raised --------------------------------------------------------------


@pytest.mark.parametrize(
    "status, body, expected",
    [
        pytest.param(400, {"variables_needed_to_start": ["'service_id' value missing"]}, "variables_needed_to_start", id="400"),
        pytest.param(403, {"detail": "You do not have permission to perform this action."}, "You do not have permission", id="403"),
        # A proxy's error page that echoes the request headers: the token must still not reach the log.
        pytest.param(500, "<html><body>Internal error. Authorization: Bearer %s</body></html>" % TOKEN, "Internal error", id="500"),
        # ... where the log's 300 characters of the body would end in the middle of the token.
        pytest.param(502, "Bad gateway %s Bearer %s" % ("." * 270, TOKEN), "Bad gateway", id="502-long"),
    ],
)
def test_awx_refuses(tmp_path, awx, status, body, expected):
    awx.answers["/api/v2/job_templates/%d/launch/" % TEMPLATES["provision"]] = (status, body)
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config=good_config(awx))
    run.assert_clean()
    assert len(awx.requests) == 1
    [line] = run.messages
    assert "provision of service #42 NOT launched" in line
    assert "AWX answered HTTP %d" % status in line
    assert expected in line


def test_awx_unreachable(tmp_path, awx):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    config = good_config(awx, awx_url="https://127.0.0.1:%d" % closed_port)
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars()), ("AfterModuleSuspend", service_vars())], config=config)
    run.assert_clean()
    assert len(run.log) == 2
    for line in run.messages:
        assert "NOT launched: could not reach AWX" in line
        assert "curl error 7" in line
    assert run.elapsed < 10


def test_awx_too_slow(tmp_path, awx):
    awx.delay = 4
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config=good_config(awx, timeout=1))
    run.assert_clean()
    [line] = run.messages
    assert "could not reach AWX" in line
    assert "curl error 28" in line
    assert run.elapsed < 3.5


def test_tls_is_verified(tmp_path, awx):
    """Without the CA file the fake AWX's certificate is refused: verification is really on."""
    config = good_config(awx)
    del config["ca_file"]
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config=config)
    run.assert_clean()
    assert awx.requests == []
    [line] = run.messages
    assert "could not reach AWX" in line
    assert "curl error 60" in line


def test_http_refused_unless_allowed(tmp_path):
    plain = FakeAWX().start()
    try:
        config = {"awx_url": plain.url, "token": TOKEN, "job_templates": TEMPLATES, "product_ids": [PRODUCT]}
        run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config=config)
        run.assert_clean()
        assert plain.requests == []
        assert "must start with https://" in run.messages[0]

        config["allow_http"] = True
        run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config=config)
        run.assert_clean()
        assert len(plain.requests) == 1
        assert "launched as AWX job" in run.messages[0]
    finally:
        plain.stop()


def test_no_configuration(tmp_path, awx):
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())])
    run.assert_clean()
    assert awx.requests == []
    [line] = run.messages
    assert "NOT launched" in line
    assert "no AWX URL" in line
    assert "no AWX token" in line


def test_event_without_a_template_is_reported(tmp_path, awx):
    templates = dict(TEMPLATES, unsuspend=0)
    run = run_hook(tmp_path, [("AfterModuleUnsuspend", service_vars())], config=good_config(awx, job_templates=templates))
    run.assert_clean()
    assert awx.requests == []
    assert "no job template id for unsuspend" in run.messages[0]


def test_job_started_without_service_id_is_cancelled(tmp_path, awx):
    """A template that ignores extra_vars would run over the whole inventory: the hook cancels it."""
    path = "/api/v2/job_templates/%d/launch/" % TEMPLATES["terminate"]
    awx.answers[path] = (201, {"job": 77, "id": 77, "ignored_fields": {"extra_vars": {"service_id": 42}}})
    run = run_hook(tmp_path, [("AfterModuleTerminate", service_vars())], config=good_config(awx))
    run.assert_clean()
    assert [(request["method"], request["path"]) for request in awx.requests] == [("POST", path), ("POST", "/api/v2/jobs/77/cancel/")]
    assert awx.requests[1]["headers"]["authorization"] == "Bearer " + TOKEN
    [line] = run.messages
    assert "AWX job 77" in line
    assert "WITHOUT service_id" in line
    assert "the job was cancelled" in line


def test_failed_cancel_is_reported(tmp_path, awx):
    path = "/api/v2/job_templates/%d/launch/" % TEMPLATES["terminate"]
    awx.answers[path] = (201, {"job": 78, "ignored_fields": {"extra_vars": {"service_id": 42}}})
    awx.answers["/api/v2/jobs/78/cancel/"] = (405, {"detail": "Method not allowed."})
    run = run_hook(tmp_path, [("AfterModuleTerminate", service_vars())], config=good_config(awx))
    run.assert_clean()
    assert "cancelling it FAILED (HTTP 405): cancel it in AWX now" in run.messages[0]


@pytest.mark.parametrize("variables", [None, "42", {}, {"params": {"pid": PRODUCT}}], ids=["null", "string", "empty", "no-service-id"])
def test_odd_vars_are_reported(tmp_path, awx, variables):
    run = run_hook(tmp_path, [("AfterModuleCreate", variables)], config=good_config(awx))
    run.assert_clean()
    assert awx.requests == []
    # Without a product or module there is nothing to select the service by, so it is not ours;
    # a selected product without a service id is reported.
    selected = isinstance(variables, dict) and "params" in variables
    assert len(run.log) == (1 if selected else 0)
    if selected:
        assert "WHMCS gave no service id to AfterModuleCreate" in run.messages[0]


def test_a_broken_config_file_does_not_break_whmcs(tmp_path, awx):
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config_text="<?php\nthrow new RuntimeException('config exploded');\n")
    run.assert_clean()
    assert awx.requests == []
    assert run.messages == ["ispsystem.dcimanager AWX: AfterModuleCreate failed: RuntimeException: config exploded"]


def test_config_file_that_returns_no_array(tmp_path, awx):
    env = {
        "ISPSYSTEM_AWX_URL": awx.url,
        "ISPSYSTEM_AWX_TOKEN": TOKEN,
        "ISPSYSTEM_AWX_TEMPLATE_PROVISION": "11",
        "ISPSYSTEM_AWX_PRODUCT_IDS": str(PRODUCT),
        "ISPSYSTEM_AWX_CA_FILE": awx.ca_path,
    }
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config_text="<?php\n$awx_url = 'x';\n", env=env)
    run.assert_clean()
    assert awx.requests == []
    assert "does not return an array" in run.messages[0]


# --- Event-Driven Ansible: the signed post to the ispsystem.dcimanager.whmcs event source ------------

EDA_SECRET = "eda-Secret-0f9e8d7c6b5a49382716afbecd"
EDA_PATH = "/whmcs"
HOOK_ACTIONS = {"AfterModuleCreate": "create", "AfterModuleSuspend": "suspend", "AfterModuleUnsuspend": "unsuspend", "AfterModuleTerminate": "terminate"}


@pytest.fixture
def eda(tmp_path):
    """A fake event source: records the posts, answers 202 like the real one."""
    server = FakeAWX(tmp_path / "eda-tls").start()
    server.answers[EDA_PATH] = (202, {"status": "accepted"})
    yield server
    server.stop()


def eda_config(eda, **changes):
    config = {"eda_url": eda.url + EDA_PATH, "eda_secret": EDA_SECRET, "eda_ca_file": eda.ca_path, "product_ids": [PRODUCT]}
    config.update(changes)
    return config


def assert_no_eda_secret(run):
    for message in run.messages:
        assert EDA_SECRET[:12] not in message


def check_signature(request):
    """The header is sha256=HMAC-SHA256(body, secret), computed here independently of the hook."""
    import hashlib  # pylint: disable=import-outside-toplevel
    import hmac  # pylint: disable=import-outside-toplevel

    expected = "sha256=" + hmac.new(EDA_SECRET.encode(), request["body"].encode(), hashlib.sha256).hexdigest()
    assert request["headers"]["x-ispsystem-signature"] == expected


def test_eda_each_event_is_posted_signed(tmp_path, eda):
    calls = [(hook, service_vars(service_id=60 + index)) for index, hook in enumerate(HOOK_ACTIONS)]
    started = int(time.time())
    run = run_hook(tmp_path, calls, config=eda_config(eda))
    run.assert_clean()
    assert_no_eda_secret(run)
    assert len(eda.requests) == 4
    event_ids = set()
    for index, (request, hook) in enumerate(zip(eda.requests, HOOK_ACTIONS)):
        assert request["method"] == "POST" and request["path"] == EDA_PATH
        assert request["headers"]["content-type"] == "application/json"
        check_signature(request)
        body = json.loads(request["body"])
        assert body["action"] == HOOK_ACTIONS[hook] and body["hook"] == hook
        assert body["service_id"] == 60 + index and body["product_id"] == PRODUCT and body["client_id"] == 7
        assert started - 1 <= body["timestamp"] <= time.time() + 1
        assert re.match(r"^whmcs-push-[0-9a-f]{32}$", body["event_id"])
        event_ids.add(body["event_id"])
        assert "not-for-the-log" not in request["body"]
    assert len(event_ids) == 4
    # EDA only: AWX is not configured, so nothing is said about it.
    assert [m.split(" (")[0] for m in run.messages] == [
        "ispsystem.dcimanager EDA: %s of service #%d posted" % (HOOK_ACTIONS[hook], 60 + index) for index, hook in enumerate(HOOK_ACTIONS)
    ]


def test_eda_and_awx_together(tmp_path, awx, eda):
    config = dict(good_config(awx), **eda_config(eda))
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config=config)
    run.assert_clean()
    assert_no_eda_secret(run)
    assert len(eda.requests) == 1 and len(awx.requests) == 1
    assert "EDA: create of service #42 posted" in run.messages[0]
    assert "AWX: provision of service #42 launched as AWX job" in run.messages[1]


def test_eda_settings_from_the_environment(tmp_path, eda):
    env = {
        "ISPSYSTEM_AWX_EDA_URL": eda.url + EDA_PATH,
        "ISPSYSTEM_AWX_EDA_SECRET": EDA_SECRET,
        "ISPSYSTEM_AWX_EDA_CA_FILE": eda.ca_path,
        "ISPSYSTEM_AWX_PRODUCT_IDS": str(PRODUCT),
    }
    run = run_hook(tmp_path, [("AfterModuleSuspend", service_vars())], config={"eda_secret": "stale"}, env=env)
    run.assert_clean()
    [request] = eda.requests
    check_signature(request)
    assert "posted" in run.messages[0]


def test_eda_replay_answer_counts_as_posted(tmp_path, eda):
    """409: the source had the event already (a first try arrived although its answer was lost)."""
    eda.answers[EDA_PATH] = (409, {"status": "refused", "reason": "a replay"})
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config=eda_config(eda))
    run.assert_clean()
    assert len(eda.requests) == 1
    assert "create of service #42 posted" in run.messages[0]


def test_eda_server_error_is_tried_once_more_with_the_same_event(tmp_path, eda):
    eda.answers[EDA_PATH] = (503, {"status": "error", "reason": "state file not writable"})
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config=eda_config(eda))
    run.assert_clean()
    assert len(eda.requests) == 2
    assert eda.requests[0]["body"] == eda.requests[1]["body"]
    [line] = run.messages
    assert "NOT posted" in line and "HTTP 503" in line and "state file not writable" in line


@pytest.mark.parametrize("status", [401, 413, 422])
def test_eda_refusal_is_reported(tmp_path, eda, status):
    eda.answers[EDA_PATH] = (status, {"status": "refused", "reason": "wrong signature"})
    run = run_hook(tmp_path, [("AfterModuleTerminate", service_vars())], config=eda_config(eda))
    run.assert_clean()
    assert len(eda.requests) == 1
    assert "terminate of service #42 NOT posted" in run.messages[0]
    assert "HTTP %d" % status in run.messages[0]


def test_eda_unreachable(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    config = {"eda_url": "https://127.0.0.1:%d/whmcs" % closed_port, "eda_secret": EDA_SECRET, "product_ids": [PRODUCT]}
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config=config)
    run.assert_clean()
    [line] = run.messages
    assert "NOT posted" in line and "could not reach the event source" in line and "curl error 7" in line
    assert run.elapsed < 5


def test_eda_tls_is_verified(tmp_path, eda):
    config = eda_config(eda)
    del config["eda_ca_file"]
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config=config)
    run.assert_clean()
    assert eda.requests == []
    assert "curl error 60" in run.messages[0]


@pytest.mark.parametrize(
    "changes, expected",
    [
        pytest.param({"eda_secret": "short"}, "must be at least 32 characters", id="short-secret"),
        pytest.param({"eda_url": "http://127.0.0.1:1/whmcs"}, "must start with https://", id="http"),
        pytest.param({"product_ids": []}, "neither product_ids nor modules", id="no-products"),
    ],
)
def test_eda_bad_settings_post_nothing(tmp_path, eda, changes, expected):
    run = run_hook(tmp_path, [("AfterModuleCreate", service_vars())], config=eda_config(eda, **changes))
    run.assert_clean()
    assert eda.requests == []
    [line] = run.messages
    assert line.startswith("ispsystem.dcimanager EDA: create of service #42 NOT posted: ") and expected in line


# --- the converge template (one for every action), the server entry, the module's products ---------------------------

CONVERGE = 21


@pytest.mark.parametrize("hook, action", list(HOOK_ACTIONS.items()))
def test_converge_template_for_every_action(tmp_path, awx, hook, action):
    """With job_templates.converge set, every action launches that one template with the service and its server entry."""
    config = good_config(awx, job_templates=dict(TEMPLATES, converge=CONVERGE))
    run = run_hook(tmp_path, [(hook, service_vars(serverid=3))], config=config)
    run.assert_clean()
    [request] = awx.requests
    assert request["path"] == "/api/v2/job_templates/%d/launch/" % CONVERGE
    expected = {"service_id": 42, "server_id": 3}
    if action == "create":
        expected["dedicated_server_new_service"] = True
    assert json.loads(request["body"]) == {"extra_vars": expected}
    [line] = run.messages
    assert line.startswith("ispsystem.dcimanager AWX: converge (%s) of service #42 launched as AWX job %d" % (action, 9000 + CONVERGE))


def test_converge_template_from_the_environment_without_a_server_entry(tmp_path, awx):
    env = {"ISPSYSTEM_AWX_TEMPLATE_CONVERGE": str(CONVERGE)}
    run = run_hook(tmp_path, [("AfterModuleSuspend", service_vars())], config=good_config(awx), env=env)
    run.assert_clean()
    [request] = awx.requests
    assert request["path"] == "/api/v2/job_templates/%d/launch/" % CONVERGE
    assert json.loads(request["body"]) == {"extra_vars": {"service_id": 42}}


def test_a_dropped_variable_other_than_service_id_is_named(tmp_path, awx):
    """A survey with only service_id drops server_id: the job runs (it reads the server from WHMCS), the log says what to fix."""
    path = "/api/v2/job_templates/%d/launch/" % CONVERGE
    awx.answers[path] = (201, {"job": 5, "ignored_fields": {"extra_vars": {"server_id": 3}}})
    run = run_hook(tmp_path, [("AfterModuleSuspend", service_vars(serverid=3))], config=good_config(awx, job_templates={"converge": CONVERGE}))
    run.assert_clean()
    assert [request["path"] for request in awx.requests] == [path]  # not cancelled
    assert "launched as AWX job 5" in run.messages[0] and "AWX dropped the variables server_id" in run.messages[0]


def test_the_modules_products_are_left_to_the_module(tmp_path, awx, eda):
    """The provisioning module starts its own runs: the standalone hook does nothing for its services, even when selected."""
    config = dict(good_config(awx, modules=["ispsystem_dcimanager"], job_templates={"converge": CONVERGE}), **eda_config(eda))
    run = run_hook(tmp_path, [(hook, service_vars(module="ispsystem_dcimanager")) for hook in HOOK_ACTIONS], config=config)
    run.assert_clean()
    assert awx.requests == [] and eda.requests == [] and run.log == []


def test_eda_post_names_the_server_entry(tmp_path, eda):
    run = run_hook(tmp_path, [("AfterModuleTerminate", service_vars(serverid=4))], config=eda_config(eda))
    run.assert_clean()
    [request] = eda.requests
    check_signature(request)
    assert json.loads(request["body"])["server_id"] == 4


def test_without_the_module_folder_the_hook_says_so(tmp_path, awx):
    hooks = install_whmcs_files(tmp_path / "whmcs")
    shutil.rmtree(tmp_path / "whmcs" / "modules")
    harness = tmp_path / "harness.php"
    harness.write_text(HARNESS, encoding="utf-8")
    calls = tmp_path / "calls.json"
    calls.write_text(json.dumps([{"hook": "AfterModuleCreate", "vars": service_vars()}]), encoding="utf-8")
    proc = subprocess.run([PHP, str(harness), str(hooks / HOOK.name), str(calls)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    [entry] = json.loads(proc.stdout)["log"]
    assert entry["message"].startswith("ispsystem.dcimanager AWX: AfterModuleCreate not handled: ")
    assert "modules/servers/ispsystem_dcimanager/lib/automation.php is missing; copy the folder modules/servers/ispsystem_dcimanager/" in entry["message"]
    assert awx.requests == []
