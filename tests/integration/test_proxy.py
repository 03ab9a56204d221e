# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Networks as users have them: the proxy the environment names (use_proxy), through a CONNECT proxy on loopback.

The modules and the WHMCS inventory plugin go through ``HTTPS_PROXY`` unless ``NO_PROXY`` lists the
host or ``use_proxy`` is false, as ``ansible.builtin.uri`` does; whom they trust stays ``ca_path``'s
business: the CA bundles of the environment (``REQUESTS_CA_BUNDLE``) never count.
"""

from __future__ import annotations

import pytest

from harness import run_playbook
from simulators.proxy import ConnectProxy
from whmcs_fixtures import inventory_list, whmcs, whmcs_env, write_source  # noqa: F401 pylint: disable=unused-import

PREFIX = "ispsystem.dcimanager."


def proxy_env(proxy, no_proxy=""):
    return {"HTTPS_PROXY": proxy.url, "https_proxy": proxy.url, "NO_PROXY": no_proxy, "no_proxy": no_proxy}


def task(name, module, args):
    return {"name": name, PREFIX + module: args, "ignore_errors": True}


def target(sim):
    return "127.0.0.1:%d" % sim.port


def test_modules_go_through_the_proxy_unless_told_otherwise(tmp_path, dci, dci_env, whmcs, whmcs_env):
    with ConnectProxy() as proxy:
        env = dict(dci_env, **whmcs_env, **proxy_env(proxy))
        run = run_playbook(
            tmp_path, [task("dci", "dci_server_info", {"server_id": "6", "details": False}), task("whmcs", "whmcs_service_info", {"service_id": 1})], env=env
        )
        assert run.status("dci") == "ok" and run.status("whmcs") == "ok", run.output
        assert target(dci) in proxy.connects and target(whmcs) in proxy.connects
        # TLS went end to end through the tunnel: the simulators saw the requests.
        assert dci.calls and whmcs.calls

        proxy.connects.clear()
        run = run_playbook(
            tmp_path,
            [
                task("dci", "dci_server_info", {"server_id": "6", "details": False, "use_proxy": False}),
                task("whmcs", "whmcs_service_info", {"service_id": 1, "use_proxy": False}),
            ],
            env=env,
        )
        assert run.status("dci") == "ok" and run.status("whmcs") == "ok", run.output
        assert proxy.connects == []

        run = run_playbook(
            tmp_path, [task("dci", "dci_server_info", {"server_id": "6", "details": False})], env=dict(env, **proxy_env(proxy, no_proxy="127.0.0.1"))
        )
        assert run.status("dci") == "ok" and proxy.connects == []


def test_the_proxy_does_not_decide_trust(tmp_path, dci, dci_env):
    """Through the proxy, the panel's certificate is still checked against ca_path alone."""
    with ConnectProxy() as proxy:
        env = {key: value for key, value in dci_env.items() if key != "DCIMANAGER_CA_PATH"}
        env.update(proxy_env(proxy), REQUESTS_CA_BUNDLE=dci.ca_path, CURL_CA_BUNDLE=dci.ca_path)
        run = run_playbook(tmp_path, [task("dci", "dci_server_info", {"details": False})], env=env)
        assert run.status("dci") == "failed"
        assert run.result("dci")["msg"].startswith("TLS verification of %s failed" % dci.url)
        assert target(dci) in proxy.connects and dci.calls == []


def test_a_proxy_that_refuses_is_a_clear_error(tmp_path, dci, dci_env):
    env = dict(dci_env, HTTPS_PROXY="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9", NO_PROXY="", no_proxy="")
    run = run_playbook(tmp_path, [task("dci", "dci_server_info", {"details": False})], env=env)
    assert run.status("dci") == "failed"
    assert "through the proxy from the environment" in run.result("dci")["msg"]
    assert "use_proxy: false" in run.result("dci")["msg"]
    assert dci.calls == []


@pytest.mark.parametrize("use_proxy", [True, False])
def test_the_whmcs_inventory_honours_use_proxy(tmp_path, whmcs, whmcs_env, use_proxy):
    with ConnectProxy() as proxy:
        completed, data = inventory_list(write_source(tmp_path, {"use_proxy": use_proxy}), dict(whmcs_env, **proxy_env(proxy)))
        assert completed.returncode == 0, completed.stderr
        assert data["_meta"]["hostvars"]
        assert (target(whmcs) in proxy.connects) is use_proxy
