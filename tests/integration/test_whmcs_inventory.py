# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The ispsystem.dcimanager.whmcs inventory plugin, through real ansible-inventory runs against the simulator.

Golden files: set WHMCS_UPDATE_GOLDEN=1 to rewrite them from the current output (then review the diff).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from harness import ANSIBLE_CORE, cache_options, check_golden as harness_check_golden, run_command, run_playbook, unwrap
from simulators.whmcs import make_state
from whmcs_fixtures import (  # noqa: F401 pylint: disable=unused-import
    GOLDEN,
    api_calls,
    inventory_list,
    whmcs,
    whmcs_env,
    write_source,
)

DEFAULT_STATUSES = ("Pending", "Active", "Suspended")


def check_golden(name, data):
    harness_check_golden(GOLDEN / name, data, "WHMCS_UPDATE_GOLDEN")


def hostnames(data):
    return sorted(data["_meta"]["hostvars"])


def expected_ids(state, statuses=DEFAULT_STATUSES, pids=None):
    return sorted(s["id"] for s in state["services"] if (not statuses or s["status"] in statuses) and (not pids or s["pid"] in pids))


def test_golden_default_options(tmp_path, whmcs, whmcs_env):
    """Credentials from the environment, default filters: Pending, Active and Suspended services."""
    source = write_source(tmp_path, {})
    completed, data = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    check_golden("whmcs-inventory-default.json", unwrap(data))
    calls = api_calls(whmcs)
    assert [c["name"] for c in calls] == ["GetClientsProducts"]
    params = calls[0]["params"]
    assert params["limitstart"] == "0" and params["limitnum"] == "250" and params["responsetype"] == "json"
    assert calls[0]["query"] == "" and calls[0]["method"] == "POST"
    # No secret in the inventory unless asked for.
    assert "ada-Pw-1" not in completed.stdout and whmcs.secret not in completed.stdout + completed.stderr


def test_golden_every_status_secrets_and_constructed(tmp_path, whmcs, whmcs_env):
    source = write_source(
        tmp_path,
        {
            "statuses": [],
            "include_secrets": True,
            "hostname": "{{ whmcs_domain }}",
            "compose": {"dcimanager_owner": "whmcs_username", "os": "whmcs_config_options.OS | default('none')"},
            "groups": {"with_address": "whmcs_dedicated_ip != ''", "unpaid": "whmcs_status == 'Suspended'"},
            "keyed_groups": [{"key": "whmcs_config_options.OS | default('none')", "prefix": "os"}, {"key": "whmcs_billing_cycle", "prefix": "cycle"}],
        },
    )
    completed, data = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    check_golden("whmcs-inventory-constructed.json", unwrap(data))
    # Services 2 and 5 have no domain: named whmcs-<id>, with a warning each.
    assert "whmcs-2" in data["_meta"]["hostvars"] and "whmcs-5" in data["_meta"]["hostvars"]
    assert completed.stderr.count("gives service") == 3  # 2, 5 (empty) and 8 (empty)


def test_duplicate_or_empty_names_fail_with_strict(tmp_path, whmcs, whmcs_env):
    source = write_source(tmp_path, {"statuses": [], "hostname": "{{ whmcs_domain }}", "strict": True})
    completed, dummy = inventory_list(source, whmcs_env)
    assert completed.returncode != 0
    assert "gives service 2 an empty name" in completed.said


def test_a_failing_hostname_template_says_why_in_its_warning(tmp_path, whmcs, whmcs_env):
    completed, data = inventory_list(write_source(tmp_path, {"statuses": [], "hostname": "{{ no_such_variable }}"}), whmcs_env)
    assert completed.returncode == 0, completed.stderr
    assert "whmcs-1" in data["_meta"]["hostvars"]
    failed = [line for line in completed.said.splitlines() if "the hostname template failed for service 1:" in line]
    assert failed and "no_such_variable" in " ".join(failed) and "an empty name" not in completed.said, completed.said


def test_untrusted_values_are_never_templated(tmp_path, whmcs, whmcs_env):
    """A customer's custom field holding a template stays text, also when a play uses it."""
    source = write_source(tmp_path, {})
    tasks = [{"name": "show", "ansible.builtin.debug": {"msg": "{{ whmcs_custom_fields.Serial }}"}}]
    run = run_playbook(tmp_path / "play", tasks, env=whmcs_env, hosts="whmcs-8", inventory=str(source), play_vars={"ansible_connection": "local"})
    assert run.status("show") == "ok", run.output
    assert run.result("show")["msg"] == "{{ lookup('ansible.builtin.pipe', 'echo INJ\"\"ECTED') }}"
    assert "INJECTED" not in run.output


def test_untrusted_values_are_never_templated_in_host_names(tmp_path, whmcs, whmcs_env):
    """A domain holding a template names the host as text: the hostname template never runs it."""
    whmcs.services[1]["domain"] = "{{ lookup('ansible.builtin.pipe', 'echo INJ\"\"ECTED') }}"
    completed, data = inventory_list(write_source(tmp_path, {"hostname": "{{ whmcs_domain }}"}), whmcs_env)
    assert completed.returncode == 0, completed.stderr
    assert whmcs.services[1]["domain"] in data["_meta"]["hostvars"]
    assert "INJECTED" not in completed.stdout + completed.stderr


def test_product_and_status_filters(tmp_path, whmcs, whmcs_env):
    source = write_source(tmp_path, {"product_ids": [2], "statuses": ["suspended", "COMPLETED"]})
    completed, data = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    assert hostnames(data) == ["whmcs-3", "whmcs-7"]
    calls = api_calls(whmcs)
    assert len(calls) == 1 and calls[0]["params"]["pid"] == "2"
    assert sorted(data["whmcs_product_2"]["hosts"]) == ["whmcs-3", "whmcs-7"]
    assert data["whmcs_status_completed"]["hosts"] == ["whmcs-7"]


def test_empty_whmcs(tmp_path, whmcs, whmcs_env):
    whmcs.load_state({"clients": [], "products": [], "services": []})
    source = write_source(tmp_path, {})
    completed, data = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    assert data["_meta"]["hostvars"] == {}
    assert [c["name"] for c in api_calls(whmcs)] == ["GetClientsProducts"]


def test_one_page(tmp_path, whmcs, whmcs_env):
    state = make_state(40, seed=3)
    whmcs.load_state(state)
    source = write_source(tmp_path, {"page_size": 40})
    completed, data = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    assert len(api_calls(whmcs)) == 1
    assert hostnames(data) == sorted("whmcs-%d" % i for i in expected_ids(state))


def test_many_pages_are_read_concurrently(tmp_path, whmcs, whmcs_env):
    state = make_state(250, seed=5)
    whmcs.load_state(state)
    whmcs.latency = 0.3
    source = write_source(tmp_path, {"page_size": 20, "concurrency": 4, "statuses": []})
    completed, data = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    calls = api_calls(whmcs)
    assert calls[0]["params"]["limitstart"] == "0"
    assert sorted(int(c["params"]["limitstart"]) for c in calls) == list(range(0, 250, 20))
    assert all(c["params"]["limitnum"] == "20" for c in calls)
    # Requests arrive before the simulated latency: any two that arrived within it overlapped.
    arrivals = sorted(c["time"] for c in calls[1:])
    overlapping = max(sum(1 for t in arrivals if start <= t < start + 0.3) for start in arrivals)
    assert 2 <= overlapping <= 4
    assert hostnames(data) == sorted("whmcs-%d" % i for i in expected_ids(state, statuses=()))
    # Each host's variables come from its own service.
    by_id = {s["id"]: s for s in state["services"]}
    for name, hostvars in unwrap(data["_meta"]["hostvars"]).items():
        service = by_id[int(name.split("-")[1])]
        assert hostvars["whmcs_service_id"] == service["id"] and hostvars["whmcs_status"] == service["status"]
        assert hostvars.get("ansible_host", "") == service["dedicatedip"]


def test_many_pages_of_several_products(tmp_path, whmcs, whmcs_env):
    state = make_state(120, seed=9)
    whmcs.load_state(state)
    source = write_source(tmp_path, {"page_size": 10, "product_ids": [1, 3]})
    completed, data = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    assert hostnames(data) == sorted("whmcs-%d" % i for i in expected_ids(state, pids=(1, 3)))
    assert {c["params"]["pid"] for c in api_calls(whmcs)} == {"1", "3"}


def test_bad_credentials(tmp_path, whmcs, whmcs_env):
    source = write_source(tmp_path, {})
    env = dict(whmcs_env, WHMCS_API_SECRET="wrong-Secret-4242")
    completed, dummy = inventory_list(source, env)
    assert completed.returncode != 0
    assert "Invalid or missing credentials" in completed.said
    assert "check the API identifier and secret" in completed.said
    assert "wrong-Secret-4242" not in completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr


def test_refused_ip_and_access_key(tmp_path, whmcs, whmcs_env):
    whmcs.refuse_ip = "403"
    source = write_source(tmp_path, {})
    completed, dummy = inventory_list(source, whmcs_env)
    assert completed.returncode != 0
    assert "HTTP 403" in completed.said and "allow-list" in completed.said and "access key" in completed.said
    assert len(api_calls(whmcs)) == 1  # a refusal is not retried

    whmcs.access_key = "Acc-Key-77"
    completed, data = inventory_list(source, dict(whmcs_env, WHMCS_API_ACCESS_KEY="Acc-Key-77"))
    assert completed.returncode == 0, completed.stderr
    assert len(data["_meta"]["hostvars"]) == 4
    assert "Acc-Key-77" not in completed.stdout + completed.stderr


def test_tls_is_verified_by_default(tmp_path, whmcs, whmcs_env):
    source = write_source(tmp_path, {})
    env = dict(whmcs_env)
    del env["WHMCS_CA_PATH"]
    completed, dummy = inventory_list(source, env)
    assert completed.returncode != 0 and "TLS verification" in completed.said and "ca_path" in completed.said
    assert api_calls(whmcs) == []


def test_cache_hit_is_not_rewritten_and_flush_refreshes(tmp_path, whmcs, whmcs_env):
    cache_dir = tmp_path / "cache"
    source = write_source(tmp_path, cache_options(cache_dir))
    completed, first = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    assert len(api_calls(whmcs)) == 1
    files = list(cache_dir.iterdir())
    assert len(files) == 1
    content, mtime = files[0].read_bytes(), files[0].stat().st_mtime_ns

    # WHMCS changes; the cache still answers, without a call, and its entry is left as it was.
    whmcs.services[1]["domain"] = "renamed.example.com"
    whmcs.clear_calls()
    time.sleep(0.05)
    completed, cached = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    assert api_calls(whmcs) == []
    assert cached == first
    assert files[0].read_bytes() == content and files[0].stat().st_mtime_ns == mtime

    # --flush-cache reads WHMCS again and stores the new hosts (ansible-inventory has the option
    # since ansible-core 2.17; before, ansible-playbook's does the same, as docs/inventory.md says).
    if ANSIBLE_CORE < (2, 17):
        flush = tmp_path / "flush.yml"
        flush.write_text("- hosts: localhost\n  gather_facts: false\n  tasks: []\n")
        completed = run_command(
            ["ansible-playbook", "--flush-cache", "-i", str(source), str(flush)],
            env=dict(whmcs_env, ANSIBLE_INVENTORY_ENABLED="ispsystem.dcimanager.whmcs"),
            cwd=str(tmp_path),
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        completed, fresh = inventory_list(source, whmcs_env)
    else:
        completed, fresh = inventory_list(source, whmcs_env, extra_args=["--flush-cache"])
    assert completed.returncode == 0, completed.stderr
    assert len(api_calls(whmcs)) == 1
    assert unwrap(fresh["_meta"]["hostvars"]["whmcs-1"]["whmcs_domain"]) == "renamed.example.com"
    assert files[0].read_bytes() != content

    # Other filters in the same source: the entry does not fit, so WHMCS is read again.
    whmcs.clear_calls()
    write_source(tmp_path, cache_options(cache_dir, statuses=["Active"]))
    completed, active = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    assert len(api_calls(whmcs)) == 1
    assert hostnames(active) == ["whmcs-1", "whmcs-8"]

    # A second source gets its own entry.
    other = write_source(tmp_path, cache_options(cache_dir), name="other.whmcs.yaml")
    completed, dummy = inventory_list(other, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    assert len(list(cache_dir.iterdir())) == 2


def test_cache_expiry(tmp_path, whmcs, whmcs_env):
    cache_dir = tmp_path / "cache"
    source = write_source(tmp_path, cache_options(cache_dir, timeout=60))
    completed, dummy = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    completed, dummy = inventory_list(source, whmcs_env)
    assert len(api_calls(whmcs)) == 1  # the second run was a cache hit
    # Age the entry past cache_timeout (the jsonfile cache goes by the file's modification time)
    # rather than sleeping a minute.
    entry = next(cache_dir.iterdir())
    past = time.time() - 61
    os.utime(entry, (past, past))
    completed, data = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    assert len(api_calls(whmcs)) == 2  # expired: read again
    assert len(data["_meta"]["hostvars"]) == 4
    assert entry.stat().st_mtime > past + 30  # and stored again


def test_awx_style_inventory_source(tmp_path, whmcs, whmcs_env):
    """AWX runs ``ansible-inventory -i <source file in the project> --list --export --output FILE`` with the
    credentials injected as environment variables; the source file names only the plugin and filters."""
    project = tmp_path / "project"
    (project / "inventories").mkdir(parents=True)
    source = write_source(project / "inventories", {"statuses": ["Active"], "compose": {"ansible_user": "'root'"}}, name="production.whmcs.yaml")
    output = tmp_path / "awx-out.json"
    env = dict(whmcs_env, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    completed = run_command(
        ["ansible-inventory", "-i", str(source.relative_to(project)), "--list", "--export", "--output", str(output)], env=env, cwd=str(project)
    )
    assert completed.returncode == 0, completed.stderr
    data = json.loads(output.read_text())
    assert sorted(data["_meta"]["hostvars"]) == ["whmcs-1", "whmcs-8"]
    assert unwrap(data["_meta"]["hostvars"]["whmcs-1"]["ansible_user"]) == "root"
    assert data["whmcs_status_active"]["hosts"] == ["whmcs-1", "whmcs-8"]


def test_vaulted_and_templated_credentials(tmp_path, whmcs, whmcs_env):
    vault_password = tmp_path / "vault-pass"
    vault_password.write_text("vault-pass-123\n")
    encrypted = run_command(["ansible-vault", "encrypt_string", "--vault-password-file", str(vault_password), whmcs.secret, "--name", "secret"], env={})
    assert encrypted.returncode == 0, encrypted.stderr
    source = tmp_path / "vaulted.whmcs.yml"
    source.write_text(
        "plugin: ispsystem.dcimanager.whmcs\n"
        "url: \"{{ lookup('ansible.builtin.env', 'BILLING_URL') }}\"\n"
        "identifier: \"{{ lookup('ansible.builtin.env', 'BILLING_ID') }}\"\n"
        "ca_path: %s\n" % whmcs.ca_path + encrypted.stdout
    )
    env = {"BILLING_URL": whmcs.url, "BILLING_ID": whmcs.identifier}
    completed, data = inventory_list(source, env, extra_args=["--vault-password-file", str(vault_password)])
    assert completed.returncode == 0, completed.stderr
    assert len(data["_meta"]["hostvars"]) == 4
    assert whmcs.secret not in completed.stdout + completed.stderr
    assert api_calls(whmcs)[0]["params"]["secret"] == whmcs.secret


def test_plugin_ignores_other_files(tmp_path, whmcs, whmcs_env):
    source = Path(tmp_path) / "hosts.yml"
    source.write_text("plugin: ispsystem.dcimanager.whmcs\n")
    completed, dummy = inventory_list(source, whmcs_env)
    assert completed.returncode != 0
    assert api_calls(whmcs) == []


def test_transient_failures_are_retried(tmp_path, whmcs, whmcs_env):
    """HTTP 5xx and dropped connections on reading calls: retried (bounded), the inventory is complete."""
    whmcs.load_state(make_state(60, seed=11))
    # The first three requests fail: the first page succeeds on its last allowed attempt.
    whmcs.set_faults(rate=1.0, kinds=("http500", "drop"), seed=3, count=3)
    source = write_source(tmp_path, {"page_size": 20, "statuses": []})
    completed, data = inventory_list(source, whmcs_env)
    assert completed.returncode == 0, completed.stderr
    assert len(data["_meta"]["hostvars"]) == 60
    calls = api_calls(whmcs)
    assert sum(1 for c in calls if c["fault"]) == 3 and len(calls) == 3 + 3


def test_persistent_failure_is_bounded_and_reported(tmp_path, whmcs, whmcs_env):
    whmcs.set_faults(rate=1.0, kinds=("http500",), seed=1)
    source = write_source(tmp_path, {})
    completed, dummy = inventory_list(source, whmcs_env)
    assert completed.returncode != 0
    assert "WHMCS inventory" in completed.said and "with HTTP 50" in completed.said
    # A failing answer is asked again for a minute (READ_RETRY_SECONDS, pauses doubling from 0.5 s to 5 s with
    # jitter: 10 to 14 repeats), then the inventory fails.
    assert 7 <= len(api_calls(whmcs)) <= 15
