# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""extras/awx/: the example AWX project and credential types, run the way AWX runs them.

The credential types' injectors are rendered as AWX renders them (a sandboxed Jinja2 environment,
file injectors written first and named by ``tower.filename.<name>``), the project is copied with
the shop's product settings in its ``inventories/group_vars/all.yml``, and its playbooks run with
those environment variables against both simulators.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from harness import ansible_env

REPO = Path(__file__).resolve().parents[2]
EXTRAS = REPO / "extras" / "awx"


class _Namespace:  # pylint: disable=too-few-public-methods
    """AWX's ``tower`` template namespace."""


def inject(credential_type, inputs, private_dir):
    """The environment AWX gives a job for a credential of ``credential_type`` with ``inputs``."""
    definition = yaml.safe_load((EXTRAS / "credential-types" / credential_type).read_text(encoding="utf-8"))
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
