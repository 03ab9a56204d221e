# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""extras/awx/: the example AWX project and credential types, run the way AWX runs them.

The credential types are checked as AWX checks one it is given (the input and injector schemas, every
template rendered with each field set, an undefined name an error) and their injectors rendered as
AWX renders them for a job or an inventory sync (a sandboxed Jinja2 environment, file injectors
written first and named by ``tower.filename.<name>``, empty inputs left out). The project is copied
with the shop's product settings in its ``inventories/group_vars/all.yml``, and its playbooks and
inventories run with that environment against the simulators. (Read from AWX 24's
awx/main/models/credential.py and awx/main/fields.py.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from harness import ansible_env, run_playbook, unwrap

REPO = Path(__file__).resolve().parents[2]
EXTRAS = REPO / "extras" / "awx"
PANEL_TYPES = {n: "dcimanager-panels-%d.yml" % n for n in (2, 3, 4)}
SAME_ID = "ERROR: two panels of the DCImanager panels credential have the same WHMCS server id"
# AWX's patterns: file injector names, environment variable names.
FILE_NAME = re.compile(r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$")
ENV_NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")


class _Namespace:  # pylint: disable=too-few-public-methods
    """AWX's ``tower`` template namespace."""


def definition_of(credential_type):
    return yaml.safe_load((EXTRAS / "credential-types" / credential_type).read_text(encoding="utf-8"))


def validate(definition):
    """What AWX checks when a credential type is created; an AssertionError naming the first problem."""
    assert definition["kind"] == "cloud"
    fields = definition["inputs"]["fields"]
    ids = [field["id"] for field in fields]
    assert len(ids) == len(set(ids)), "field ids must be unique"
    assert all(field.get("type", "string") in ("string", "boolean") and field.get("label") for field in fields)
    assert set(definition["inputs"].get("required", ())) <= set(ids)
    injectors = definition["injectors"]
    assert set(injectors) <= {"file", "env"}, "the collection's types inject files and environment variables only"
    files = list(injectors.get("file", {}))
    assert all(FILE_NAME.match(name) for name in files) and ("template" not in files or len(files) == 1)
    namespace = dict((field_id, "EXAMPLE") for field_id in ids)
    tower = _Namespace()
    tower.filename = _Namespace()
    for name in files:
        setattr(tower.filename, name.split(".", 1)[1], "EXAMPLE_FILENAME")
    namespace["tower"] = tower
    strict = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    templates = list(injectors.get("file", {}).values())
    for name, template in injectors.get("env", {}).items():
        assert ENV_NAME.match(name) and not name.startswith("ANSIBLE_"), name
        assert all(ord(char) < 128 for char in template), "an environment variable's template must be ASCII: %s" % name
        templates.append(template)
    for template in templates:
        strict.from_string(template).render(**namespace)


def inject(credential_type, inputs, private_dir):
    """The environment AWX gives a job or an inventory sync for a credential of ``credential_type`` with ``inputs``."""
    definition = definition_of(credential_type)
    # AWX leaves empty inputs out of the template namespace.
    namespace = {key: value for key, value in inputs.items() if value != ""}
    tower = _Namespace()
    tower.filename = _Namespace()
    namespace["tower"] = tower
    sandbox = ImmutableSandboxedEnvironment()
    for label, template in definition["injectors"].get("file", {}).items():
        handle, path = tempfile.mkstemp(dir=str(private_dir))
        os.close(handle)
        Path(path).write_text(sandbox.from_string(template).render(**namespace), encoding="utf-8")
        setattr(tower.filename, label.split(".", 1)[1], path)
    return {name: sandbox.from_string(template).render(**namespace) for name, template in definition["injectors"]["env"].items()}


def project_run(project, env, *args):
    bindir = Path(sys.executable).parent
    command = [str(bindir / args[0])] + list(args[1:])
    return subprocess.run(command, cwd=project, env=ansible_env(env), capture_output=True, text=True, timeout=600, check=False)


def test_credential_types_without_a_ca(tmp_path):
    env = inject("dcimanager.yml", {"url": "https://dci.example.com", "username": "admin", "password": "pw", "ca_cert": ""}, tmp_path)
    assert env == {"DCIMANAGER_URL": "https://dci.example.com", "DCIMANAGER_USERNAME": "admin", "DCIMANAGER_PASSWORD": "pw", "DCIMANAGER_CA_PATH": ""}
    env = inject("whmcs.yml", {"url": "https://billing.example.com/", "identifier": "id", "secret": "s"}, tmp_path)
    assert env["WHMCS_CA_PATH"] == "" and env["WHMCS_API_ACCESS_KEY"] == ""


def test_the_example_project_runs_the_lifecycle(shop, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXTRAS / "project", project)
    (project / "inventories" / "group_vars" / "all.yml").write_text(
        yaml.safe_dump({"dedicated_server_products": shop_products(shop), "dedicated_server_poll_interval": 1, "dedicated_server_install_settle_time": 2}),
        encoding="utf-8",
    )
    source = project / "inventories" / "billing.whmcs.yml"
    settings = yaml.safe_load(source.read_text(encoding="utf-8"))
    settings["product_ids"] = [int(pid) for pid in shop_products(shop)]
    source.write_text(yaml.safe_dump(settings), encoding="utf-8")

    private = tmp_path / "private"
    private.mkdir()
    env = inject(
        "whmcs.yml",
        {
            "url": shop.whmcs.url,
            "identifier": shop.whmcs.identifier,
            "secret": shop.whmcs.secret,
            "ca_cert": Path(shop.whmcs.ca_path).read_text(encoding="utf-8"),
        },
        private,
    )
    env.update(
        inject(
            "dcimanager.yml",
            {
                "url": shop.dci.url,
                "username": shop.dci.admin_user,
                "password": shop.dci.admin_password,
                "ca_cert": Path(shop.dci.ca_path).read_text(encoding="utf-8"),
            },
            private,
        )
    )

    run = project_run(project, env, "ansible-inventory", "-i", "inventories/billing.whmcs.yml", "--list", "--export")
    assert run.returncode == 0, run.stderr
    single = ["-i", "inventories/localhost.yml", "-e", '{"service_id": 12}']
    for playbook in ("provision", "suspend", "unsuspend"):
        run = project_run(project, env, "ansible-playbook", "playbooks/%s.yml" % playbook, *single)
        assert run.returncode == 0, run.stdout + run.stderr
    assert shop.whmcs.service(12)["status"] == "Active" and shop.whmcs.service(12)["dedicatedip"]

    # Without service_id the single-service inventory holds only localhost: the job fails, nothing changes.
    shop.clear_calls()
    run = project_run(project, env, "ansible-playbook", "playbooks/terminate.yml", "-i", "inventories/localhost.yml")
    assert run.returncode != 0
    assert shop.writes() == []

    # The WHMCS inventory feeds reconcile (its own tests are in test_role_playbooks.py): one run shows the layout works.
    run = project_run(project, env, "ansible-playbook", "playbooks/sync_usage.yml", "-i", "inventories/billing.whmcs.yml")
    assert run.returncode == 0, run.stdout + run.stderr


def shop_products(shop):
    return yaml.safe_load(shop.products_file.read_text(encoding="utf-8"))["dedicated_server_products"]


# Several datacenters ----------------------------------------------------------------------------


def panel_inputs(panels, ca_of=("1",)):
    """The inputs of a DCImanager panels credential for ``panels`` (dcimanager_panels), the CA pasted for the keys in ``ca_of``."""
    inputs = {}
    for number, (key, panel) in enumerate(sorted(panels.items()), 1):
        inputs.update(
            {
                "panel%d_server_id" % number: key,
                "panel%d_url" % number: panel["url"],
                "panel%d_username" % number: panel["username"],
                "panel%d_password" % number: panel["password"],
                "panel%d_ca_cert" % number: Path(panel["ca_path"]).read_text(encoding="utf-8") if key in ca_of else "",
            }
        )
    return inputs


@pytest.mark.quick
@pytest.mark.parametrize("credential_type", ["whmcs.yml", "dcimanager.yml"] + list(PANEL_TYPES.values()))
def test_credential_types_pass_awx_checks(credential_type):
    validate(definition_of(credential_type))


@pytest.mark.quick
def test_panels_credential_types_are_generated():
    completed = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_awx_credential_types.py"), "--check"], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for n, name in PANEL_TYPES.items():
        definition = definition_of(name)
        assert definition["name"] == "DCImanager panels (%d)" % n
        assert len(definition["inputs"]["fields"]) == 5 * n and len(definition["inputs"]["required"]) == 4 * n
        assert [f["id"] for f in definition["inputs"]["fields"] if f.get("secret")] == ["panel%d_password" % i for i in range(1, n + 1)]
        assert list(definition["injectors"]["env"]) == ["DCIMANAGER_PANELS"] and len(definition["injectors"]["file"]) == n
    # The check can fail: a template that uses a field the type does not define is refused, as AWX refuses it.
    broken = definition_of(PANEL_TYPES[2])
    broken["inputs"]["fields"] = [f for f in broken["inputs"]["fields"] if f["id"] != "panel2_username"]
    broken["inputs"]["required"].remove("panel2_username")
    with pytest.raises(Exception, match="panel2_username|StrictUndefined"):
        validate(broken)


@pytest.mark.quick
def test_panels_credential_injects_the_mapping(tmp_path):
    panels = {
        "1": {"url": "https://dci-ams.example.com", "username": "admin", "password": "007", "ca_path": str(tmp_path / "ams.pem")},
        "2": {"url": "https://dci-fra.example.com:1500/dcimgr", "username": "api", "password": "fra\"pw'<&>{{ x }}", "ca_path": ""},
    }
    Path(panels["1"]["ca_path"]).write_text("-----BEGIN CERTIFICATE-----\nAMS\n-----END CERTIFICATE-----\n", encoding="utf-8")
    private = tmp_path / "private"
    private.mkdir()
    inputs = panel_inputs(panels)
    inputs["panel2_server_id"] = " 2 "  # typed with spaces
    injected = json.loads(inject(PANEL_TYPES[2], inputs, private)["DCIMANAGER_PANELS"])
    ca_file = injected["1"]["ca_path"]
    assert Path(ca_file).parent == private and Path(ca_file).read_text(encoding="utf-8") == Path(panels["1"]["ca_path"]).read_text(encoding="utf-8")
    # Every value the text it was typed as ("007" stays "007").
    assert injected == {"1": dict(panels["1"], ca_path=ca_file), "2": panels["2"]}

    # Two panels under one server id: the URL says so, wherever it is used.
    inputs["panel2_server_id"] = "1"
    injected = json.loads(inject(PANEL_TYPES[2], inputs, private)["DCIMANAGER_PANELS"])
    assert [panel["url"] for panel in injected.values()] == [SAME_ID]
    inputs = panel_inputs(dict((str(key), dict(panels["2"], ca_path="")) for key in (1, 2, 3, 4)), ca_of=())
    inputs["panel3_server_id"] = "2"
    injected = json.loads(inject(PANEL_TYPES[4], inputs, private)["DCIMANAGER_PANELS"])
    assert sorted(injected) == ["1", "2", "4"] and {panel["url"] for panel in injected.values()} == {SAME_ID}


def test_a_play_reads_the_injected_panels_as_text(tmp_path):
    """What a play gets from DCIMANAGER_PANELS (``lookup('env') | from_json``): a mapping whose values are the text typed
    into AWX, never templated (a password with ``{{``) and never retyped (``007``, ``yes``)."""
    panels = {
        "1": {"url": "https://dci-ams.example.com", "username": "admin", "password": "{{ lookup('ansible.builtin.pipe', 'echo INJ\"\"ECTED') }}"},
        "2": {"url": "https://dci-fra.example.com", "username": "yes", "password": "007"},
    }
    for panel in panels.values():
        panel["ca_path"] = ""
    env = inject(PANEL_TYPES[2], panel_inputs(panels, ca_of=()), tmp_path)
    show = "{{ {'panels': lookup('ansible.builtin.env', 'DCIMANAGER_PANELS') | from_json} }}"
    run = run_playbook(tmp_path / "play", [{"name": "show", "ansible.builtin.debug": {"msg": show}}], env=env)
    assert run.status("show") == "ok", run.output
    assert unwrap(run.result("show")["msg"]) == {"panels": panels}
    assert "INJECTED" not in run.output


def test_the_example_project_reads_two_locations(two_panels, tmp_path):
    """The project's DCImanager inventory source reads both panels from what the DCImanager panels credential gives an
    inventory sync (DCIMANAGER_PANELS); passwords AWX must hand over as they were typed (``007``, ``yes``) log in; its
    WHMCS source shows each service's server entry."""
    for key, password in (("1", "007"), ("2", "yes")):
        two_panels.panels[key].apply_settings({"admin_password": password})
    project = tmp_path / "project"
    shutil.copytree(EXTRAS / "project", project)
    private = tmp_path / "private"
    private.mkdir()
    env = inject(PANEL_TYPES[2], panel_inputs(two_panels.dcimanager_panels, ca_of=("1", "2")), private)
    whmcs = two_panels.whmcs
    env.update(
        inject(
            "whmcs.yml",
            {"url": whmcs.url, "identifier": whmcs.identifier, "secret": whmcs.secret, "ca_cert": Path(whmcs.ca_path).read_text(encoding="utf-8")},
            private,
        )
    )

    run = project_run(project, env, "ansible-inventory", "-i", "inventories/servers.dcimanager.yml", "--list")
    assert run.returncode == 0, run.stderr
    data = unwrap(json.loads(run.stdout))
    hostvars = data["_meta"]["hostvars"]
    assert sorted(hostvars) == [
        "carol.dc2.example.net",
        "carol.example.net",
        "dave.dc2.example.net",
        "dave.example.net",
        "erin.dc2.example.net",
        "erin.example.net",
    ]
    assert hostvars["carol.dc2.example.net"]["dci_panel"] == "2" and hostvars["carol.example.net"]["dci_panel"] == "1"
    assert (
        sorted(data["location_2"]["hosts"]) == sorted(data["dci_panel_2"]["hosts"]) == ["carol.dc2.example.net", "dave.dc2.example.net", "erin.dc2.example.net"]
    )
    assert [call["params"]["password"] for call in two_panels.panels["1"].calls if call["name"] == "auth"] == ["007"]
    assert two_panels.list_reads() == {"1": 1, "2": 1}

    # Two panels given the same WHMCS server id: the sync fails saying so (AWX fails a sync on a source it cannot
    # parse: ANSIBLE_INVENTORY_UNPARSED_FAILED), and asks neither panel.
    inputs = panel_inputs(two_panels.dcimanager_panels, ca_of=())
    inputs["panel2_server_id"] = "1"
    env["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = "true"
    two_panels.clear_calls()
    run = project_run(project, dict(env, **inject(PANEL_TYPES[2], inputs, private)), "ansible-inventory", "-i", "inventories/servers.dcimanager.yml", "--list")
    assert run.returncode != 0
    assert "DCImanager inventory: panel 1: api_url '%s' has an invalid port" % SAME_ID in " ".join(run.stderr.split())
    assert two_panels.calls() == {"1": [], "2": [], "whmcs": []}

    settings = yaml.safe_load((project / "inventories" / "billing.whmcs.yml").read_text(encoding="utf-8"))
    settings["product_ids"] = [1]
    (project / "inventories" / "billing.whmcs.yml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    run = project_run(project, env, "ansible-inventory", "-i", "inventories/billing.whmcs.yml", "--list")
    assert run.returncode == 0, run.stderr
    services = unwrap(json.loads(run.stdout))["_meta"]["hostvars"]
    assert {(host["whmcs_service_id"], host["whmcs_server_id"]) for host in services.values() if host["whmcs_service_id"] in (20, 120)} == {(20, 1), (120, 2)}
    assert two_panels.writes() == []
