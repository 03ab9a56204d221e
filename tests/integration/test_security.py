# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The security review, proven with real ansible-playbook / ansible-inventory runs (see docs/security.md).

* Secrets: every secret a run uses is first shown to have been used (it reached a simulator in a POST
  body, or the module masked it in its invocation), then looked for - as is and URL-encoded - in the
  ``-vvv`` output, in every task result and in every URL the simulators saw.
* TLS: every module and the inventory plugin refuse the simulators' self-signed certificate unless
  its CA is given, before any request is made.
* Hostile answers: a tiny HTTPS server (``HostileServer``) answers with entity bombs, external
  entities, huge and compressed bodies, web pages, redirects and echoes of the request; the modules
  and the inventory plugin fail cleanly, show no secret, and send no writing call after it.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import zlib
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, quote, quote_plus, urlsplit

import pytest
import yaml

from harness import REPO, run_ansible_playbook, run_inventory, run_playbook
from simulators._tls import TLSHTTPServer, server_context
from whmcs_fixtures import inventory_list, whmcs, whmcs_env, write_source  # noqa: F401 pylint: disable=unused-import

PREFIX = "ispsystem.dcimanager."
MASKED = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

# Secrets with characters that URL encoding changes, so a secret in a query string or an echoed
# form body would be found in either spelling.
PANEL_PW = "Panel pw/7!q"
WRONG_PANEL_PW = "Wrong panel/pw 3!"
CUSTOMER_PW = "Cust0mer pw/4!x"
CUSTOMER_PW2 = "Cust0mer pw/5?y"
ROOT_PW = "R00t pw/6!z"
WHMCS_SECRET = "Whmcs secret/9!k"
WRONG_WHMCS_SECRET = "Wrong whmcs/secret 1!"
ACCESS_KEY = "Access key/2!m"
SERVICE_PW = "Serv1ce pw/8!n"
SERVICE_PW2 = "Serv1ce pw/0?p"
SECRETS = {
    "panel_pw": PANEL_PW,
    "wrong_panel_pw": WRONG_PANEL_PW,
    "customer_pw": CUSTOMER_PW,
    "customer_pw2": CUSTOMER_PW2,
    "root_pw": ROOT_PW,
    "whmcs_secret": WHMCS_SECRET,
    "wrong_whmcs_secret": WRONG_WHMCS_SECRET,
    "access_key": ACCESS_KEY,
    "service_pw": SERVICE_PW,
    "service_pw2": SERVICE_PW2,
}

# The limits of the clients (MAX_BODY_BYTES in plugins/module_utils/_dci/client.py, _whmcs/client.py).
DCI_MAX_BODY = 64 * 1024 * 1024
WHMCS_MAX_BODY = 128 * 1024 * 1024
MIB = 1024 * 1024


def secrets_file(directory):
    """``-e @FILE`` with the secrets as variables (as a vault file would give them).

    Tasks name secrets ("{{ root_pw }}") and never spell them: ansible-core 2.19 prints the playbook
    lines around a failed task, so a secret written into a playbook shows in its error output.
    """
    path = directory / "secrets.yml"
    path.write_text(yaml.safe_dump(SECRETS))
    return ["-e", "@%s" % path]


def task(name, module, args, **extra):
    return dict({"name": name, PREFIX + module: args, "ignore_errors": True}, **extra)


def spellings(secret):
    """A secret as is and URL-encoded (as it would look in a query string or a form body)."""
    return {secret, quote(secret, safe=""), quote_plus(secret)}


def assert_not_shown(secrets, *texts):
    for secret in secrets:
        for text in texts:
            # ansible-core 2.16 wraps warnings at 80 columns, splitting long words too: look across line breaks.
            compact = "".join(text.split())
            for spelling in spellings(secret):
                assert spelling not in text, "secret %r shows (as %r)" % (secret, spelling)
                assert "".join(spelling.split()) not in compact, "secret %r shows (as %r, across lines)" % (secret, spelling)


def posted_values(calls):
    for call in calls:
        for value in call["params"].values():
            yield from value if isinstance(value, list) else [value]


def assert_posted_never_in_urls(sim, secrets):
    """Each secret reached ``sim`` in a POST body (so the run really used it), and no URL carried anything."""
    calls = sim.calls
    assert calls
    for call in calls:
        assert call["method"] == "POST" and call["query"] == "", call
    values = list(posted_values(calls))
    for secret in secrets:
        assert any(secret in value for value in values), "%r never reached the simulator: the test would prove nothing" % secret


def records_text(run):
    return json.dumps(run.records)


def assert_no_log_everywhere(output):
    """-vvv printed module arguments, all secret ones masked, and Ansible found no password-like option without no_log."""
    assert MASKED in output
    assert "did not set no_log" not in output


def assert_clean_failure(run, name):
    """The task failed with a message of its own: no traceback, no MODULE FAILURE."""
    assert run.status(name) == "failed", run.output
    result = run.result(name)
    assert result.get("msg") and "Traceback" not in result["msg"], result
    # At -vvv ansible-core 2.19 adds "exception": "(traceback unavailable)" to every fail_json.
    assert "module_stderr" not in result and "Traceback" not in str(result.get("exception", "")), result


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- secrets: DCImanager ----------------------------------------------------------------------------


def test_dcimanager_secrets_in_a_successful_run(tmp_path, dci, dci_env):
    """Panel, customer and root passwords and login keys: POSTed only, masked at -vvv, out of results and diffs."""
    dci.apply_settings({"admin_password": PANEL_PW})
    env = dict(dci_env, DCIMANAGER_PASSWORD=PANEL_PW)
    run = run_playbook(
        tmp_path,
        [
            task("create", "dci_user", {"name": "bob", "password": "{{ customer_pw }}"}),
            task("new password", "dci_user", {"name": "bob", "password": "{{ customer_pw2 }}", "update_password": "always"}),
            task("allocate", "dci_server_allocate", {"owner": "bob", "hostname": "bob1.example.net", "package": "DL360-G9"}),
            task(
                "install",
                "dci_os_install",
                {"hostname": "bob1.example.net", "os_template": "ISPsystem__Debian-12-amd64", "root_password": "{{ root_pw }}", "poll_interval": 1},
            ),
            task("link", "dci_login_key", {"login": "bob"}),
            task("hidden link", "dci_login_key", {"login": "bob"}, no_log=True),
        ],
        env=env,
        diff=True,
        args=["-vvv"] + secrets_file(tmp_path),
    )
    for name in ("create", "new password", "allocate", "install", "link"):
        assert run.status(name) == "changed", run.output
    assert dci.server_state(run.result("allocate")["server"]["id"])["root_password"] == ROOT_PW

    # -vvv prints each module's arguments: every secret option is masked there.
    assert run.result("install")["invocation"]["module_args"]["root_password"] == MASKED
    assert run.result("install")["invocation"]["module_args"]["api_password"] == MASKED
    assert run.result("new password")["invocation"]["module_args"]["password"] == MASKED
    assert '"root_password": "%s"' % MASKED in run.output
    assert_no_log_everywhere(run.output)
    # A password change shows in --diff as a change, never as the password.
    assert run.result("new password")["diff"]["before"]["password"] == "(old)"
    assert run.result("new password")["diff"]["after"]["password"] == "(changed)"

    assert_posted_never_in_urls(dci, [PANEL_PW, CUSTOMER_PW, CUSTOMER_PW2, ROOT_PW])
    assert_not_shown([PANEL_PW, CUSTOMER_PW, CUSTOMER_PW2, ROOT_PW], run.output, records_text(run))

    # Login keys: POSTed to session.newkey; the key shows only inside the returned url.
    keys = [call["params"]["key"] for call in dci.calls if call["name"] == "session.newkey"]
    assert len(keys) == 2 and all(len(key) >= 16 for key in keys)
    url = run.result("link")["url"]
    assert parse_qs(urlsplit(url).query)["key"] == [keys[0]]
    assert records_text(run).count(keys[0]) == 1  # in url, nowhere else in any result
    assert run.output.count(keys[0]) == run.output.count(url) >= 1  # printed only as part of the url
    # With no_log on the task, as the module's documentation asks, the key shows nowhere.
    assert_not_shown([keys[1]], run.output, records_text(run))


def test_dcimanager_secrets_in_failing_runs(tmp_path, dci, dci_env):
    """Bad credentials, a panel error, a failed write and an unreachable panel, at -vvv: no secret anywhere."""
    dci.apply_settings({"admin_password": PANEL_PW})
    env = dict(dci_env, DCIMANAGER_PASSWORD=PANEL_PW)
    # The install's writing call fails after the root password was sent.
    dci.set_faults(rate=1.0, kinds=("http500",), names=["server.operations"], seed=1, writes_only=True)
    unreachable = "https://127.0.0.1:%d/dcimgr" % closed_port()
    run = run_playbook(
        tmp_path,
        [
            task("bad credentials", "dci_user", {"name": "bob", "password": "{{ customer_pw }}", "api_password": "{{ wrong_panel_pw }}"}),
            task("panel error", "dci_user", {"name": "bad name!", "password": "{{ customer_pw }}"}),
            task(
                "failed write",
                "dci_os_install",
                # wait_timeout: the time for repeats of the start, each read back as not made.
                {"server_id": "6", "os_template": "ISPsystem__Ubuntu-24.04-amd64", "root_password": "{{ root_pw }}", "settle_time": 1, "wait_timeout": 5},
            ),
            task("unreachable", "dci_user", {"name": "bob", "password": "{{ customer_pw2 }}", "api_url": unreachable}),
        ],
        env=env,
        args=["-vvv"] + secrets_file(tmp_path),
    )
    for name in ("bad credentials", "panel error", "failed write", "unreachable"):
        assert_clean_failure(run, name)
    assert run.result("bad credentials")["api_error"]["object"] == "badpassword"
    assert run.result("panel error")["api_error"] == {"type": "value", "object": "name", "msg": "Invalid login 'bad name!'"}
    assert "the start of the install of ISPsystem__Ubuntu-24.04-amd64 on server 6 was not made" in run.result("failed write")["msg"]
    assert len([call for call in dci.calls if call["name"] == "server.operations" and call["write"]]) >= 2  # sent again: the root password too
    assert "cannot connect to DCImanager at %s" % unreachable in run.result("unreachable")["msg"]
    # The unreachable run never sent its secrets anywhere; they were given to the module and masked.
    args = run.result("unreachable")["invocation"]["module_args"]
    assert args["password"] == MASKED and args["api_password"] == MASKED
    assert_no_log_everywhere(run.output)

    assert_posted_never_in_urls(dci, [WRONG_PANEL_PW, PANEL_PW, CUSTOMER_PW, ROOT_PW])
    assert_not_shown([WRONG_PANEL_PW, PANEL_PW, CUSTOMER_PW, CUSTOMER_PW2, ROOT_PW], run.output, records_text(run))
    assert "Traceback" not in run.output


# --- secrets: WHMCS -----------------------------------------------------------------------------------


def test_whmcs_secrets_in_successful_and_failing_runs(tmp_path, whmcs, whmcs_env):
    """API secret, access key and service passwords: POSTed only, masked at -vvv, out of results and diffs."""
    whmcs.apply_settings({"secret": WHMCS_SECRET, "access_key": ACCESS_KEY})
    env = dict(whmcs_env, WHMCS_API_SECRET=WHMCS_SECRET, WHMCS_API_ACCESS_KEY=ACCESS_KEY, EXPECTED_PASSWORD="bob-Pw-2")
    # The first password write loses its answer three times after the password was sent (each send the
    # module makes, after reading back that it did not take effect), the fourth goes through, with warnings.
    whmcs.set_faults(rate=1.0, kinds=("http500",), names=["UpdateClientProduct"], seed=1, count=3)
    unreachable = "https://127.0.0.1:%d/" % closed_port()
    run = run_playbook(
        tmp_path,
        [
            task("read", "whmcs_service_info", {"service_id": 3}),
            dict(task("read with password", "whmcs_service_info", {"service_id": 3, "include_password": True}), register="with_password", no_log=True),
            {
                "name": "the password was read",
                "ansible.builtin.assert": {"that": ["with_password.service.password == lookup('ansible.builtin.env', 'EXPECTED_PASSWORD')"], "quiet": True},
            },
            task("lost write", "whmcs_service", {"service_id": 3, "password": "{{ service_pw2 }}"}),
            task("set password", "whmcs_service", {"service_id": 3, "password": "{{ service_pw }}"}),
            task("bad secret", "whmcs_service_info", {"service_id": 3, "whmcs_secret": "{{ wrong_whmcs_secret }}"}),
            task("unreachable", "whmcs_service", {"service_id": 3, "password": "{{ service_pw2 }}", "whmcs_url": unreachable}),
        ],
        env=env,
        diff=True,
        args=["-vvv"] + secrets_file(tmp_path),
    )
    assert run.status("read") == "ok" and "password" not in run.result("read")["service"]  # include_password is off by default
    assert run.status("the password was read") == "ok", run.output
    assert run.status("set password") == "changed" and whmcs.service(3)["password"] == SERVICE_PW
    assert run.result("set password")["diff"] == {"before": {"password": "********"}, "after": {"password": "********"}}
    assert run.status("lost write") == "changed" and len([call for call in whmcs.calls if call["name"] == "UpdateClientProduct"]) == 5
    assert "read back: the update of service 3 was not made, so it was sent again" in " ".join(run.output.split())
    for name in ("bad secret", "unreachable"):
        assert_clean_failure(run, name)
    assert run.result("bad secret")["api_error"]["msg"] == "Invalid or missing credentials"
    assert "cannot connect to WHMCS" in run.result("unreachable")["msg"]
    args = run.result("unreachable")["invocation"]["module_args"]
    assert args["password"] == MASKED and args["whmcs_secret"] == MASKED and args["whmcs_access_key"] == MASKED
    assert_no_log_everywhere(run.output)

    assert_posted_never_in_urls(whmcs, [WHMCS_SECRET, ACCESS_KEY, SERVICE_PW, SERVICE_PW2, WRONG_WHMCS_SECRET])
    assert_not_shown([WHMCS_SECRET, ACCESS_KEY, SERVICE_PW, SERVICE_PW2, WRONG_WHMCS_SECRET, "bob-Pw-2"], run.output, records_text(run))
    assert "Traceback" not in run.output


def inventory_vvv(source, env, output):
    """``ansible-inventory -vvv --list`` with the inventory written to ``output`` (-vvv talks on stdout)."""
    completed = run_inventory(source, env, "ispsystem.dcimanager.whmcs", ["-vvv", "--list", "--output", str(output)])
    return completed, completed.stdout + completed.stderr


def test_inventory_without_secrets_at_vvv(tmp_path, whmcs, whmcs_env):
    """include_secrets is off by default: no service password in the inventory, its cache or -vvv output."""
    whmcs.apply_settings({"secret": WHMCS_SECRET, "access_key": ACCESS_KEY})
    env = dict(whmcs_env, WHMCS_API_SECRET=WHMCS_SECRET, WHMCS_API_ACCESS_KEY=ACCESS_KEY)
    cache = tmp_path / "cache"
    source = write_source(tmp_path, {"statuses": [], "cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(cache)})
    completed, output = inventory_vvv(source, env, tmp_path / "inventory.json")
    assert completed.returncode == 0, output
    listed = (tmp_path / "inventory.json").read_text()
    hostvars = json.loads(listed)["_meta"]["hostvars"]
    assert len(hostvars) == 8 and not any("whmcs_password" in host for host in hostvars.values())
    cached = "".join(path.read_text() for path in cache.iterdir())
    assert "whmcs-1" in cached
    assert_posted_never_in_urls(whmcs, [WHMCS_SECRET, ACCESS_KEY])
    assert_not_shown([WHMCS_SECRET, ACCESS_KEY, "ada-Pw-1", "bob-Pw-2"], output, listed, cached)

    # WHMCS did send the passwords: asked for, they are there (so the check above could fail).
    source = write_source(tmp_path, {"statuses": [], "include_secrets": True}, name="secrets.whmcs.yml")
    completed, data = inventory_list(source, env)
    assert completed.returncode == 0, completed.stderr
    assert "ada-Pw-1" in json.dumps(data["_meta"]["hostvars"]["whmcs-1"]["whmcs_password"])

    whmcs.clear_calls()
    completed, output = inventory_vvv(write_source(tmp_path, {}), dict(env, WHMCS_API_SECRET=WRONG_WHMCS_SECRET), tmp_path / "failed.json")
    assert completed.returncode != 0 and "Invalid or missing credentials" in output
    assert_posted_never_in_urls(whmcs, [WRONG_WHMCS_SECRET, ACCESS_KEY])
    assert_not_shown([WRONG_WHMCS_SECRET, WHMCS_SECRET, ACCESS_KEY], output)


# --- secrets: the role and its playbooks --------------------------------------------------------------


def test_role_keeps_service_passwords_out_of_vvv_output(shop, tmp_path):
    """A provision that works and one that fails after the root password was sent, both at -vvv."""
    common = ["-vvv", "-e", "@%s" % shop.products_file, "-e", "dedicated_server_poll_interval=1", "-e", "dedicated_server_install_settle_time=1"]
    run = run_ansible_playbook(tmp_path, ["ispsystem.dcimanager.provision", "-e", "service_id=12"] + common, env=shop.env)
    assert run.rc == 0, run.output
    shop.dci.set_faults(rate=1.0, kinds=("http500",), names=["server.operations"], seed=1, writes_only=True)
    # The install's time (install_timeout) bounds the repeats of its start, each read back as not made.
    failed = run_ansible_playbook(
        tmp_path, ["ispsystem.dcimanager.provision", "-e", "service_id=10", "-e", "dedicated_server_install_timeout=5"] + common, env=shop.env
    )
    assert failed.rc != 0 and "activation of service 10 (10.domain) failed" in failed.output

    # bob's and ada's WHMCS service passwords became their DCImanager and root passwords.
    installs = [call["params"] for call in shop.dci.calls if call["name"] == "server.operations" and call["write"]]
    # ada's install was sent again and again within its time, each time its answer lost and the panel not showing it.
    assert [params["passwd"] for params in installs] == ["bob-Pw-2m8x4z"] + ["ada-Pw-7f3k9q"] * (len(installs) - 1) and len(installs) >= 3
    assert_posted_never_in_urls(shop.dci, ["bob-Pw-2m8x4z", "ada-Pw-7f3k9q", shop.dci.admin_password])
    assert_posted_never_in_urls(shop.whmcs, [shop.whmcs.secret])
    for each in (run, failed):
        assert_not_shown(["bob-Pw-2m8x4z", "ada-Pw-7f3k9q", shop.dci.admin_password, shop.whmcs.secret], each.output, records_text(each))
        assert "Traceback" not in each.output


# --- TLS ---------------------------------------------------------------------------------------------

MODULE_ARGS = {
    "dci_fleet_info": {},
    "dci_login_key": {},
    "dci_os_install": {"server_id": "1", "os_template": "ISPsystem__Debian-12-amd64", "root_password": "not-used-1"},
    "dci_os_template_info": {},
    "dci_panel_info": {},
    "dci_server": {"server_id": "6", "blocked": True},
    "dci_server_allocate": {"owner": "alice", "hostname": "a2.example.net", "package": "DL360-G9"},
    "dci_server_info": {},
    "dci_server_release": {"server_id": "6"},
    "dci_traffic_info": {},
    "dci_user": {"name": "bob", "password": "not-used-2"},
    # fleet_apply reads the service from WHMCS first: its one service fails with WHMCS's TLS error.
    "fleet_apply": {"plan": {"service_id": 1}},
    "whmcs_service": {"service_id": 1, "notes": "x"},
    "whmcs_service_info": {"service_id": 1},
}


def test_every_module_verifies_tls_by_default(tmp_path, dci, dci_env, whmcs, whmcs_env):
    """No CA given: each module refuses the self-signed certificate, names ca_path, and sends nothing."""
    modules = sorted(path.stem for path in (REPO / "plugins" / "modules").glob("*.py") if not path.stem.startswith("_"))
    assert modules == sorted(MODULE_ARGS), "a new module needs its entry in MODULE_ARGS"
    env = {key: value for key, value in dict(dci_env, **whmcs_env).items() if not key.endswith("_CA_PATH")}
    # Only ca_path adds a CA: the CA bundles requests would read from the environment are ignored.
    # The proxy the environment names is used (use_proxy), but not for an address NO_PROXY lists.
    proxy = "http://127.0.0.1:%d" % closed_port()
    env.update(REQUESTS_CA_BUNDLE=dci.ca_path, CURL_CA_BUNDLE=dci.ca_path, HTTPS_PROXY=proxy, https_proxy=proxy, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    tasks = [task(module, module, args) for module, args in MODULE_ARGS.items()]
    # A CA file, but of another CA, does not make the certificate acceptable either.
    tasks.append(task("other CA (dci)", "dci_server_info", {"ca_path": whmcs.ca_path}))
    tasks.append(task("other CA (whmcs)", "whmcs_service_info", {"service_id": 1, "ca_path": dci.ca_path}))
    run = run_playbook(tmp_path, tasks, env=env)
    for name in list(MODULE_ARGS) + ["other CA (dci)", "other CA (whmcs)"]:
        assert_clean_failure(run, name)
        msg = run.result(name)["msg"]
        url = whmcs.url + "includes/api.php" if "whmcs" in name or name == "fleet_apply" else dci.url
        if name == "fleet_apply":
            msg = msg.split("FAILED: ", 1)[1]
        assert msg.startswith("TLS verification of %s failed" % url), msg
        assert "ca_path" in msg and "validate_certs: false" in msg, msg
    assert dci.calls == [] and whmcs.calls == []  # refused at the handshake: not one request was made


def test_inventory_verifies_tls_by_default(tmp_path, whmcs, whmcs_env, dci):
    env = {key: value for key, value in whmcs_env.items() if key != "WHMCS_CA_PATH"}
    proxy = "http://127.0.0.1:%d" % closed_port()
    env.update(REQUESTS_CA_BUNDLE=whmcs.ca_path, CURL_CA_BUNDLE=whmcs.ca_path, HTTPS_PROXY=proxy, https_proxy=proxy, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    for options in ({}, {"ca_path": dci.ca_path}):
        completed, dummy = inventory_list(write_source(tmp_path, options), env)
        assert completed.returncode != 0
        assert "TLS verification of %sincludes/api.php failed" % whmcs.url in completed.said
        assert "ca_path" in completed.said and "validate_certs: false" in completed.said
        assert "Traceback" not in completed.stderr
    assert whmcs.calls == []


def test_nothing_shipped_turns_verification_off():
    """No playbook, role, script, hook or plugin sets validate_certs false or verify=False."""
    turned_off = re.compile(
        r"validate_certs:\s*(false|no)\s*$"  # YAML
        r"|(?-i:VALIDATE_CERTS)\W{1,3}(false|no|0)\b"  # environment
        r"|verify\s*=\s*False|[\"']validate_certs[\"']\s*:\s*False",  # Python
        re.IGNORECASE,
    )
    checked = 0
    for folder in ("playbooks", "roles", "scripts", "meta", "plugins", "extras"):
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and path.suffix in (".yml", ".yaml", ".py", ".sh", ".php"):
                checked += 1
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    assert not turned_off.search(line), "%s:%d turns TLS verification off" % (path.relative_to(REPO), number)
    assert checked > 20
    # The demo verifies the simulators' certificates against their throwaway CA: it runs with the
    # simulators' env(), which names their CA.
    demo = (REPO / "scripts" / "demo.py").read_text(encoding="utf-8")
    assert "**dci.env()" in demo and "**whmcs.env()" in demo
    for name, variable in (("dcimanager", "DCIMANAGER_CA_PATH"), ("whmcs", "WHMCS_CA_PATH")):
        simulator = (REPO / "tests" / "simulators" / (name + ".py")).read_text(encoding="utf-8")
        assert re.search(r"[\"']%s[\"']\s*:\s*self\.ca_path" % variable, simulator), name


# --- hostile answers ---------------------------------------------------------------------------------


class _HostileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Quiet: HostileServer.requests is the record."""

    def do_POST(self):  # pylint: disable=invalid-name
        length = int(self.headers.get("Content-Length") or 0)
        self.server.hostile.answer(self, self.rfile.read(length) if length else b"")

    do_GET = do_POST


class _HostileHTTPServer(TLSHTTPServer):
    def __init__(self, hostile, context):
        self.hostile = hostile
        super().__init__(("127.0.0.1", 0), _HostileHandler, context)


class HostileServer:
    """An HTTPS endpoint on 127.0.0.1 with hostile answers, one behaviour per first path segment.

    ``cases[segment](request)`` returns ``(status, headers, body)``; ``body`` is bytes, or an iterable
    of chunks streamed until the client hangs up. ``requests`` logs every request:
    ``{"method", "path", "case", "form"}`` (``form``: the decoded POST fields).
    """

    def __init__(self, directory):
        self.ca_path, context = server_context(str(directory))
        self.cases = {}
        self.requests = []
        self._lock = threading.Lock()
        self._httpd = _HostileHTTPServer(self, context)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def url(self, case, host="127.0.0.1"):
        return "https://%s:%d/%s/" % (host, self.port, case)

    def requests_of(self, case):
        with self._lock:
            return [request for request in self.requests if request["case"] == case]

    def answer(self, handler, raw):
        path = urlsplit(handler.path).path
        case = path.strip("/").split("/")[0]
        request = {"method": handler.command, "path": path, "case": case, "form": dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))}
        with self._lock:
            self.requests.append(request)
        if case in self.cases:
            status, headers, body = self.cases[case](request)
        else:
            status, headers, body = 404, {"Content-Type": "text/plain"}, b"no such case"
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if isinstance(body, bytes):
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        handler.send_header("Connection", "close")
        handler.close_connection = True
        handler.end_headers()
        for chunk in body:
            handler.wfile.write(chunk)


@pytest.fixture
def hostile(tmp_path):
    server = HostileServer(tmp_path / "hostile-tls")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def listener():
    """A plain TCP port that nothing should ever connect to: ``listener()`` tells whether something did."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)

    def connected():
        try:
            conn, dummy = sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True

    connected.port = sock.getsockname()[1]
    yield connected
    sock.close()


XML = {"Content-Type": "text/xml; charset=UTF-8"}
JSON = {"Content-Type": "application/json"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
GZIP_XML = dict(XML, **{"Content-Encoding": "gzip"})
GZIP_JSON = dict(JSON, **{"Content-Encoding": "gzip"})
HTML_PAGE = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
# Over 512 bytes of comment first: a DTD that does not open the document.
PADDING = "<!-- %s -->\n" % ("padding " * 80)


def billion_laughs(padding=""):
    entities = '<!ENTITY lol0 "lol">' + "".join('<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1)) * 10) for i in range(1, 10))
    return ('<?xml version="1.0"?>\n%s<!DOCTYPE doc [%s]>\n<doc><elem><id>1</id><name>&lol9;</name></elem></doc>' % (padding, entities)).encode()


def external_entities(canary, port, padding=""):
    """A document whose error message would show a local file and an answer from ``port`` if entities were resolved."""
    return (
        '<?xml version="1.0"?>\n%s<!DOCTYPE doc SYSTEM "http://127.0.0.1:%d/dtd" [\n'
        '  <!ENTITY %% remote SYSTEM "http://127.0.0.1:%d/parameter"> %%remote;\n'
        '  <!ENTITY file SYSTEM "file://%s">\n'
        '  <!ENTITY net SYSTEM "http://127.0.0.1:%d/entity">\n]>\n'
        '<doc><error type="value" object="name"><msg>file: &file; net: &net;</msg></error></doc>' % (padding, port, port, canary, port)
    ).encode()


def streamed(first, total, chunk=b" " * MIB):
    """``first`` then spaces, ``total`` bytes in all, a MiB at a time (never held in memory at once)."""
    yield first
    sent = len(first)
    while sent < total:
        yield chunk
        sent += len(chunk)


@lru_cache(maxsize=None)
def gzip_bomb(first, total):
    """``first`` then spaces, ``total`` bytes once decompressed; about a thousandth of that on the wire."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(first)]
    parts.extend(packer.compress(b" " * MIB) for dummy in range(total // MIB + 1))
    parts.append(packer.flush())
    return b"".join(parts)


def dci_case(answer):
    """A DCImanager endpoint that lets the login through, then gives ``answer`` to every other call."""

    def respond(request):
        if request["form"].get("func") == "auth":
            return 200, XML, b'<?xml version="1.0"?>\n<doc><auth id="s3ss10n">s3ss10n</auth></doc>'
        return answer(request)

    return respond


def fixed(status, headers, body):
    return lambda _request: (status, headers, body)


def echo_dci_error(request):
    """A panel whose error message repeats every field of the request, passwords included."""
    if request["form"].get("func") == "user":
        return 200, XML, b'<?xml version="1.0"?>\n<doc/>'
    echo = "; ".join("%s=%s" % item for item in sorted(request["form"].items()))
    return (
        200,
        XML,
        (
            '<?xml version="1.0"?>\n<doc><error type="value" object="passwd"><msg>%s</msg></error></doc>' % echo.replace("&", "&amp;").replace("<", "&lt;")
        ).encode(),
    )


def echo_dci_login(request):
    echo = "; ".join("%s=%s" % item for item in sorted(request["form"].items()))
    return (
        200,
        XML,
        (
            '<?xml version="1.0"?>\n<doc><error type="auth" object="badpassword"><msg>%s</msg></error></doc>' % echo.replace("&", "&amp;").replace("<", "&lt;")
        ).encode(),
    )


def dci_task(hostile, case, host="127.0.0.1"):
    """dci_user creating an account through the hostile endpoint ``case``: its first read meets the hostile answer."""
    return task(
        case,
        "dci_user",
        {
            "name": "mallory",
            "password": "{{ customer_pw }}",
            "api_url": hostile.url(case, host),
            "api_username": "admin",
            "api_password": "{{ panel_pw }}",
            "ca_path": hostile.ca_path,
        },
    )


def test_hostile_dcimanager_answers_are_refused(tmp_path, hostile, listener):
    canary_file = tmp_path / "canary.txt"
    canary_file.write_text("CANARY-4f1e9 the content of a local file\n")
    stolen = hostile.url("stolen", host="localhost") + "?next=1"
    hostile.cases.update(
        {
            "laughs": dci_case(fixed(200, XML, billion_laughs())),
            "laughs-late": dci_case(fixed(200, XML, billion_laughs(PADDING))),
            "xxe": dci_case(fixed(200, XML, external_entities(canary_file, listener.port))),
            "xxe-late": dci_case(fixed(200, XML, external_entities(canary_file, listener.port, PADDING))),
            "huge": dci_case(lambda _request: (200, XML, streamed(b"<doc>", DCI_MAX_BODY + 2 * MIB))),
            "gzip": dci_case(lambda _request: (200, GZIP_XML, gzip_bomb(b"<doc>", DCI_MAX_BODY + MIB))),
            "web-page": dci_case(fixed(200, HTML, HTML_PAGE)),
            "json": dci_case(fixed(200, JSON, b'{"doc": {"elem": []}}')),
            "redirect": dci_case(fixed(302, {"Location": stolen}, b"")),
            "echo": dci_case(echo_dci_error),
            "echo-login": echo_dci_login,
        }
    )
    cases = ["laughs", "laughs-late", "xxe", "xxe-late", "huge", "gzip", "web-page", "json", "redirect", "echo", "echo-login"]
    run = run_playbook(tmp_path, [dci_task(hostile, case) for case in cases], args=secrets_file(tmp_path))
    for case in cases:
        assert_clean_failure(run, case)
    msg = {case: run.result(case)["msg"] for case in cases}
    assert "carries a DTD, which the API never sends; refused" in msg["laughs"]
    assert "carries a DTD, which the API never sends; refused" in msg["xxe"]
    assert msg["huge"].endswith("answer to user is larger than %d bytes; refused" % DCI_MAX_BODY)
    assert msg["gzip"].endswith("answer to user is larger than %d bytes; refused" % DCI_MAX_BODY)
    assert "answered user with a web page instead of API XML" in msg["web-page"]
    assert "answer to user is not XML at all; check that api_url points to the API endpoint" in msg["json"]
    assert "answered user with a redirect to %s, which is not followed" % stolen in msg["redirect"]
    assert "rejected the login of api_username 'admin'" in msg["echo-login"]
    assert run.result("echo")["api_error"]["object"] == "passwd"

    # Nothing was changed: no call after the hostile answer, and no writing call at all.
    for case in cases:
        funcs = set(request["form"].get("func") for request in hostile.requests_of(case))
        # Only the echoing panel lets a writing call through (and refuses it).
        assert funcs <= ({"auth", "user", "user.edit"} if case == "echo" else {"auth", "user"}), (case, funcs)
    # The login, then the read: an answer that is not XML at all is another service's, not a broken one: not asked again.
    assert len(hostile.requests_of("json")) == 2
    # Not one entity was resolved: no local file shown, no network fetch, the redirect not followed.
    assert "CANARY-4f1e9" not in run.output + records_text(run)
    assert not listener()
    assert hostile.requests_of("stolen") == []
    assert all(request["method"] == "POST" for request in hostile.requests)
    # The echoing panel got the passwords, and neither shows.
    posted = [request["form"] for request in hostile.requests_of("echo") + hostile.requests_of("echo-login")]
    assert any(form.get("passwd") == CUSTOMER_PW for form in posted) and any(form.get("password") == PANEL_PW for form in posted)
    assert_not_shown([PANEL_PW, CUSTOMER_PW], run.output, records_text(run))
    assert "Traceback" not in run.output


def test_a_dtd_anywhere_in_a_dcimanager_answer_is_refused(tmp_path, hostile):
    """A DTD after a long comment, or in a UTF-16 document, is refused like one at the start."""
    document = (
        '<?xml version="1.0" encoding="%s"?>\n%s<!DOCTYPE doc [<!ENTITY a "AAAA"><!ENTITY b "&a;&a;&a;&a;">]>\n'
        "<doc><elem><id>&b;</id><name>&b;</name><level>16</level></elem></doc>"
    )
    hostile.cases.update(
        {
            "late": dci_case(fixed(200, XML, (document % ("UTF-8", PADDING)).encode("utf-8"))),
            "utf16": dci_case(fixed(200, XML, (document % ("UTF-16", "")).encode("utf-16"))),
        }
    )
    run = run_playbook(tmp_path, [dci_task(hostile, "late"), dci_task(hostile, "utf16")], args=secrets_file(tmp_path))
    for case in ("late", "utf16"):
        assert_clean_failure(run, case)
        assert "carries a DTD, which the API never sends; refused" in run.result(case)["msg"]
        assert [request["form"]["func"] for request in hostile.requests_of(case)] == ["auth", "user"]


def whmcs_task(hostile, case, name=None):
    """whmcs_service writing a note through the hostile endpoint ``case``: its first read meets the hostile answer."""
    return task(
        name or case,
        "whmcs_service",
        {
            "service_id": 1,
            "notes": "x",
            "password": "{{ service_pw }}",
            "whmcs_url": hostile.url(case),
            "whmcs_identifier": "api-id",
            "whmcs_secret": "{{ whmcs_secret }}",
            "whmcs_access_key": "{{ access_key }}",
            "ca_path": hostile.ca_path,
        },
    )


def echo_whmcs_error(request):
    """WHMCS refusing with a message that repeats every field of the request, credentials included."""
    echo = "; ".join("%s=%s" % item for item in sorted(request["form"].items()))
    return 200, JSON, json.dumps({"result": "error", "message": "refused: " + echo}).encode()


def echo_whmcs_redirect(request):
    """A redirect whose Location carries the request's credentials."""
    return 301, {"Location": "https://localhost:1/stolen/?secret=%s&key=%s" % (request["form"].get("secret"), request["form"].get("accesskey"))}, b""


WHMCS_HOSTILE = {
    "huge": lambda _request: (200, JSON, streamed(b'{"result": "success", "x": "', WHMCS_MAX_BODY + 2 * MIB)),
    "gzip": lambda _request: (200, GZIP_JSON, gzip_bomb(b'{"result": "success", "x": "', WHMCS_MAX_BODY + MIB)),
    "web-page": fixed(200, HTML, HTML_PAGE),
    "xml": fixed(200, XML, b'<?xml version="1.0"?>\n<whmcsapi><result>success</result></whmcsapi>'),
    "deep": fixed(200, JSON, b"[" * 100000 + b"]" * 100000),
    "not-object": fixed(200, JSON, b'["success"]'),
    "wrong-shape": fixed(200, JSON, b'{"result": "success", "totalresults": "1", "products": {"product": ["1", ["x"]]}}'),
    "redirect": echo_whmcs_redirect,
    "echo": echo_whmcs_error,
}


def test_hostile_whmcs_answers_are_refused(tmp_path, hostile):
    hostile.cases.update(WHMCS_HOSTILE)
    run = run_playbook(tmp_path, [whmcs_task(hostile, case) for case in WHMCS_HOSTILE], args=secrets_file(tmp_path))
    for case in WHMCS_HOSTILE:
        assert_clean_failure(run, case)
    msg = {case: run.result(case)["msg"] for case in WHMCS_HOSTILE}
    assert "answer to GetClientsProducts is larger than %d bytes; refused" % WHMCS_MAX_BODY in msg["huge"]
    assert "answer to GetClientsProducts is larger than %d bytes; refused" % WHMCS_MAX_BODY in msg["gzip"]
    for case in ("web-page", "xml", "deep"):
        assert "answered GetClientsProducts with something that is not JSON" in msg[case], msg[case]
    assert "answered GetClientsProducts with unexpected JSON (not an object)" in msg["not-object"]
    assert msg["wrong-shape"] == "WHMCS has no service with id 1"  # entries that are not objects are no services
    assert "answered GetClientsProducts with a redirect to https://localhost:1/stolen/" in msg["redirect"]
    assert "which is not followed" in msg["redirect"]
    assert msg["echo"].startswith("WHMCS refused GetClientsProducts: refused: ")
    # Nothing was changed: the hostile answer to the first read ended each task.
    for case in WHMCS_HOSTILE:
        assert [request["form"]["action"] for request in hostile.requests_of(case)] == ["GetClientsProducts"], case
    assert all(request["method"] == "POST" for request in hostile.requests)
    # The hostile server got the credentials; neither the echo nor the redirect shows them.
    assert all(request["form"]["secret"] == WHMCS_SECRET and request["form"]["accesskey"] == ACCESS_KEY for request in hostile.requests)
    assert_not_shown([WHMCS_SECRET, ACCESS_KEY, SERVICE_PW], run.output, records_text(run))
    assert "Traceback" not in run.output


@pytest.mark.parametrize(
    "case, expected",
    [
        pytest.param("web-page", "answered GetClientsProducts with something that is not JSON", id="web-page"),
        pytest.param("deep", "answered GetClientsProducts with something that is not JSON", id="deep"),
        pytest.param("redirect", "answered GetClientsProducts with a redirect to https://localhost:1/stolen/", id="redirect"),
        pytest.param("echo", "WHMCS refused GetClientsProducts: refused: ", id="echo"),
    ],
)
def test_hostile_answers_to_the_inventory_plugin(tmp_path, hostile, case, expected):
    """The plugin has no no_log to hide behind: the client itself keeps the credentials out of its messages."""
    hostile.cases[case] = WHMCS_HOSTILE[case]
    source = write_source(tmp_path, {"url": hostile.url(case), "identifier": "api-id", "ca_path": hostile.ca_path})
    completed, dummy = inventory_list(source, {"WHMCS_API_SECRET": WHMCS_SECRET, "WHMCS_API_ACCESS_KEY": ACCESS_KEY})
    assert completed.returncode != 0
    assert "WHMCS inventory: " in completed.said and expected in completed.said, completed.stderr
    assert "Traceback" not in completed.stderr
    assert [request["form"]["secret"] for request in hostile.requests] == [WHMCS_SECRET]
    assert_not_shown([WHMCS_SECRET, ACCESS_KEY], completed.stdout + completed.stderr)


# --- the DCImanager inventory plugin -------------------------------------------------------------------


def dci_inventory(directory, env, options=None, vvv=False):
    """``ansible-inventory --list`` over a ``dcimanager.yml`` source with ``options``; (completed, its output on one line)."""
    source = Path(directory) / "panel.dcimanager.yml"
    source.write_text(yaml.safe_dump(dict({"plugin": "ispsystem.dcimanager.dcimanager"}, **(options or {}))))
    completed = run_inventory(source, env, "ispsystem.dcimanager.dcimanager", (["-vvv"] if vvv else []) + ["--list"])
    return completed, " ".join((completed.stdout + completed.stderr).split())


def test_dcimanager_inventory_verifies_tls_by_default(tmp_path, dci, dci_env, whmcs):
    env = {key: value for key, value in dci_env.items() if key != "DCIMANAGER_CA_PATH"}
    proxy = "http://127.0.0.1:%d" % closed_port()
    env.update(REQUESTS_CA_BUNDLE=dci.ca_path, CURL_CA_BUNDLE=dci.ca_path, HTTPS_PROXY=proxy, https_proxy=proxy, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    for options in ({}, {"ca_path": whmcs.ca_path}):
        completed, said = dci_inventory(tmp_path, env, options)
        assert completed.returncode != 0
        assert "DCImanager inventory: TLS verification of %s failed" % dci.url in said
        assert "ca_path" in said and "validate_certs: false" in said and "Traceback" not in said
    assert dci.calls == []


def echo_dci_login_encoded(request):
    """A login refused with the request's form body, URL-encoded, as the error message."""
    echo = "&".join("%s=%s" % (key, quote_plus(value)) for key, value in sorted(request["form"].items()))
    return 200, XML, ('<?xml version="1.0"?>\n<doc><error type="auth" object="badpassword"><msg>%s</msg></error></doc>' % echo.replace("&", "&amp;")).encode()


def test_hostile_answers_to_the_dcimanager_inventory_plugin(tmp_path, hostile):
    """No no_log here: the plugin itself keeps the password and the session id out of every message, at -vvv too."""
    hostile.cases.update(
        {
            "echo-login": echo_dci_login,
            "echo-login-encoded": echo_dci_login_encoded,
            "echo": dci_case(echo_dci_error),
            "redirect": dci_case(
                lambda request: (302, {"Location": "https://localhost:1/stolen/?auth=%s&pw=%s" % (request["form"].get("auth"), quote_plus(PANEL_PW))}, b"")
            ),
            "laughs": dci_case(fixed(200, XML, billion_laughs())),
            "web-page": dci_case(fixed(200, HTML, HTML_PAGE)),
        }
    )
    expected = {
        "echo-login": "rejected the login of api_username 'admin': func=auth; out=xml; password=********; username=admin",
        "echo-login-encoded": "rejected the login of api_username 'admin': func=auth&out=xml&password=********&username=admin",
        "echo": "DCImanager refused server: auth=********; func=server; out=xml",
        "redirect": "answered server with a redirect to https://localhost:1/stolen/?auth=********&pw=********, which is not followed",
        "laughs": "DCImanager's answer to server carries a DTD, which the API never sends; refused",
        "web-page": "answered server with a web page instead of API XML",
    }
    for case, message in expected.items():
        completed, said = dci_inventory(
            tmp_path, {"DCIMANAGER_PASSWORD": PANEL_PW}, {"api_url": hostile.url(case), "api_username": "admin", "ca_path": hostile.ca_path}, vvv=True
        )
        assert completed.returncode != 0, case
        assert "DCImanager inventory: " in said and message in said, (case, said)
        assert "Traceback (most recent call last)" not in completed.stderr, case
        funcs = [request["form"]["func"] for request in hostile.requests_of(case)]
        assert funcs == (["auth"] if case.startswith("echo-login") else ["auth", "server"]), (case, funcs)
        assert hostile.requests_of(case)[0]["form"]["password"] == PANEL_PW
        assert_not_shown([PANEL_PW, "s3ss10n"], completed.stdout + completed.stderr)
