# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dcimanager
short_description: DCImanager 5 servers as inventory hosts
version_added: 0.1.0
description:
  - Reads the C(server) list of an ISPsystem DCImanager 5 panel and makes one host of each server, so
    playbooks can run on the machines themselves. C(ansible_host) is the server's main address.
  - One read of the whole list (plus the login, and the panel's C(user) list only when its C(owner) column
    holds account ids); no call per server.
  - Uses a YAML configuration file whose name ends in C(dcimanager.yml) or C(dcimanager.yaml).
  - Works the same from the command line and as an AWX / Automation Controller inventory source.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
requirements:
  - requests
  - lxml
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - ispsystem.dcimanager.network
options:
  plugin:
    description: Marks this as an instance of the P(ispsystem.dcimanager.dcimanager#inventory) plugin.
    type: str
    required: true
    choices: [ispsystem.dcimanager.dcimanager]
  api_url:
    description:
      - URL of the DCImanager 5 panel. V(https://host), V(https://host:1500) and V(https://host:1500/dcimgr) are
        accepted; a missing port means V(1500) and a missing path means V(/dcimgr).
      - May be a template (for example a C(lookup)) or a vaulted value.
    type: str
    required: true
    env:
      - name: DCIMANAGER_URL
  api_username:
    description:
      - Login of the panel account the plugin reads as, an administrator (a customer account sees only its own servers).
      - May be a template or a vaulted value.
    type: str
    required: true
    env:
      - name: DCIMANAGER_USERNAME
  api_password:
    description:
      - Password of O(api_username). Sent only in POST bodies; never in host variables, the cache, warnings or errors.
      - May be a template or a vaulted value.
    type: str
    required: true
    env:
      - name: DCIMANAGER_PASSWORD
  validate_certs:
    description:
      - Verify the panel's TLS certificate. DCImanager ships a self-signed certificate; give its CA in O(ca_path)
        rather than turning this off.
    type: bool
    default: true
    env:
      - name: DCIMANAGER_VALIDATE_CERTS
  ca_path:
    description:
      - A PEM file with the CA certificate(s) to verify the panel's certificate with.
    type: path
    env:
      - name: DCIMANAGER_CA_PATH
  packages:
    description:
      - Only servers of these packages (the server's C(chassis_templ), or its C(type) on older panels; as
        C(dci_package) shows it). Empty means every package.
    type: list
    elements: str
    default: []
  owners:
    description:
      - Only servers owned by these accounts, by login (as C(dci_owner) shows it, also on a panel whose C(owner) column
        holds account ids). Empty means any owner or none.
    type: list
    elements: str
    default: []
  states:
    description:
      - Only servers in these states, as C(dci_state) shows them (V(free), V(owned), V(suspended), V(installing),
        V(hwproblem), V(diag)), compared without regard to case. Empty means every state.
    type: list
    elements: str
    default: []
  hostname:
    description:
      - A Jinja2 template for the host name, over the host variables (for example V({{ dci_name }}.dc.example.com)).
      - Without it, a host is named after the server's hostname (the domain on its addresses), and a free or
        unnamed server (hostname C(free.ds) or none) C(dci-<server id>).
      - Host names are compared without regard to case. A server whose name comes out empty, or the same as an earlier
        server's (in the order of server ids), is named C(dci-<server id>) instead, with a warning (an error with O(strict=true)).
    type: str
  allow_empty:
    description:
      - Accept a panel whose server list is empty, giving an empty inventory.
      - By default an empty list fails the source, since it far more often means that the API user may not see
        servers, or that a proxy answered instead of the panel, than a panel without servers.
    type: bool
    default: false
notes:
  - "Host variables: C(dci_server_id), C(dci_name) (the label), C(dci_hostname), C(dci_owner) (login; V('') when free),
    C(dci_package), C(dci_rack), C(dci_main_ip), C(dci_blocked) (bool), C(dci_power) (V(on), V(off), V(error), V(unknown)),
    C(dci_state) (V(free), V(owned), V(suspended), V(installing), V(hwproblem), V(diag)); C(ansible_host) is the main address."
  - "Groups: C(dci_state_<state>), C(dci_package_<package>) and C(dci_rack_<rack>), lower-case, every character other
    than a letter, a digit or C(_) replaced by C(_); plus those made with O(groups) and O(keyed_groups)."
  - The cache holds the built hosts (one entry per inventory source, no credential in it); it is used only if the source's
    URL, user name, filters, O(hostname), O(strict) and O(allow_empty) are the ones it was built with.
seealso:
  - module: ispsystem.dcimanager.dci_server_info
  - plugin: ispsystem.dcimanager.whmcs
    plugin_type: inventory
"""

EXAMPLES = r"""
# inventory/servers.dcimanager.yml: the connection from DCIMANAGER_URL, DCIMANAGER_USERNAME,
# DCIMANAGER_PASSWORD (and DCIMANAGER_CA_PATH)
plugin: ispsystem.dcimanager.dcimanager

---
# Customers' servers of two packages, named by label, cached for ten minutes
plugin: ispsystem.dcimanager.dcimanager
api_url: https://dci.example.com:1500/dcimgr
api_username: "{{ lookup('ansible.builtin.env', 'DCI_USER') }}"
api_password: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  ...
ca_path: /etc/pki/dcimanager-ca.pem
packages: [DL360-G9, R640]
states: [owned, suspended]
hostname: "{{ dci_name }}.dc.example.com"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/dcimanager-inventory
cache_timeout: 600

---
# Groups by owner and power, and a login user for the machines
plugin: ispsystem.dcimanager.dcimanager
keyed_groups:
  - key: dci_owner or 'nobody'
    prefix: owner
  - key: dci_power
    prefix: power
groups:
  needs_attention: dci_state in ['hwproblem', 'diag'] or dci_power == 'error'
compose:
  ansible_user: "'root'"
"""

from urllib.parse import quote, quote_plus

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.answers import HAS_LXML
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.client import DCIClient
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.errors import DCIError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.panel import (
    FREE_HOSTNAME,
    fleet_server,
    hostname_key,
    read_fleet,
)
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._transport import HAS_REQUESTS
from ansible_collections.ispsystem.dcimanager.plugins.plugin_utils._inventory import CachedInventory, group_name

STATES = ("free", "owned", "suspended", "installing", "hwproblem", "diag")
# What of fleet_server() a host shows, each as dci_<name>, besides dci_server_id.
HOST_VARIABLES = ("name", "hostname", "owner", "package", "rack", "main_ip", "blocked", "power", "state")
# The plugin's own groups: (host variable, group name prefix).
_GROUPED = tuple(("dci_" + kind, "dci_%s_" % kind) for kind in ("state", "package", "rack"))


class InventoryModule(CachedInventory):
    NAME = "ispsystem.dcimanager.dcimanager"
    # Bump when the shape of the cached entry changes, so an old one is not used.
    CACHE_FORMAT = 1
    ERROR_PREFIX = "DCImanager inventory: "

    def __init__(self):
        super().__init__()
        self._secrets = set()

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("dcimanager.yml", "dcimanager.yaml"))

    # Options ---------------------------------------------------------------------------------

    def _filters(self):
        states = sorted(set(str(state).strip().lower() for state in self.get_option("states") or ()))
        unknown = [state for state in states if state not in STATES]
        if unknown:
            raise AnsibleParserError("DCImanager inventory: unknown states %s; a server's state is one of %s" % (", ".join(unknown), ", ".join(STATES)))
        return {
            "packages": sorted(set(str(package) for package in self.get_option("packages") or ())),
            "owners": sorted(set(str(owner) for owner in self.get_option("owners") or ())),
            "states": states,
        }

    def _cache_settings(self):
        # No credential but the user name (hashed with the rest): the password is never part of it.
        # Unknown states fail here, before the cache is looked at.
        return [
            self._option("api_url"),
            self._option("api_username"),
            self._filters(),
            self.get_option("hostname"),
            bool(self.get_option("strict")),
            bool(self.get_option("allow_empty")),
        ]

    # Reading the panel -----------------------------------------------------------------------

    def _client(self):
        if not (HAS_REQUESTS and HAS_LXML):
            raise AnsibleParserError(
                "DCImanager inventory: the Python libraries requests and lxml are required to talk to DCImanager; "
                "install the collection's requirements.txt into the Python that runs Ansible"
            )
        password = self._option("api_password")
        if password:
            self._secrets.add(password)
        try:
            # The session id is a credential too: it is kept out of every message, like the password.
            return DCIClient(
                self._option("api_url"),
                self._option("api_username"),
                password,
                validate_certs=self.get_option("validate_certs"),
                ca_path=self.get_option("ca_path"),
                timeout=self.get_option("timeout"),
                on_session=self._secrets.add,
                use_proxy=self.get_option("use_proxy"),
            )
        except DCIError as exc:
            raise AnsibleParserError("DCImanager inventory: %s" % self._scrub(exc.msg)) from None

    def _scrub(self, text):
        """``text`` without the password or the session id, in any spelling a form body or URL would give them."""
        text = to_text(text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            for spelling in (secret, quote(secret, safe=""), quote_plus(secret)):
                text = text.replace(spelling, "********")
        return text

    def _read_rows(self):
        client = self._client()
        try:
            return read_fleet(client, allow_empty=bool(self.get_option("allow_empty")))
        except DCIError as exc:
            raise AnsibleParserError("DCImanager inventory: %s" % self._scrub(exc.msg)) from None
        finally:
            client.close()

    def _build_hosts(self):
        """([[host name, host variables]], warnings) for the servers that pass the filters, by server id."""
        filters = self._filters()
        rows = self._read_rows()
        states, packages, owners = set(filters["states"]), set(filters["packages"]), set(filters["owners"])
        servers = []
        for row in rows:
            server = fleet_server(row)
            if (states and server["state"] not in states) or (packages and server["package"] not in packages) or (owners and server["owner"] not in owners):
                continue
            # The host variables are the collection's bulk view of a server (the drift plan's too).
            hostvars = dict(("dci_" + key, server[key]) for key in HOST_VARIABLES)
            hostvars["dci_server_id"] = server["id"]
            if server["main_ip"]:
                hostvars["ansible_host"] = server["main_ip"]
            servers.append(hostvars)
        servers.sort(key=lambda hostvars: _id_order(hostvars["dci_server_id"]))
        return self._name_hosts(servers)

    def _name_hosts(self, servers):
        template = self.get_option("hostname")
        strict = self.get_option("strict")
        # Every server's own fallback name is kept for it: no other server may take it.
        reserved = dict((hostname_key(_fallback(hostvars)), hostvars["dci_server_id"]) for hostvars in servers)
        taken = {}
        hosts, warnings = [], []
        for hostvars in servers:
            server_id = hostvars["dci_server_id"]
            fallback = _fallback(hostvars)
            name, problem = self._templated_name(template, hostvars, "server %s" % server_id, strict) if template else (_default_name(hostvars), "")
            key = hostname_key(name)
            if problem or not name:  # the template failed (the warning says why), or gave nothing
                problem = problem or "the hostname template gives server %s an empty name" % server_id
            elif key in taken:
                problem = "server %s has the host name %s, which server %s already has" % (server_id, name, taken[key])
            elif key in reserved and reserved[key] != server_id:
                problem = "server %s has the host name %s, which is server %s's fallback name" % (server_id, name, reserved[key])
            if problem:
                warnings.append(self._fall_back(problem, fallback, strict))
                name, key = fallback, hostname_key(fallback)
            taken[key] = server_id
            hosts.append([name, hostvars])
        return hosts, warnings

    # Groups ----------------------------------------------------------------------------------

    def _own_groups(self, hostvars):
        for variable, prefix in _GROUPED:
            value = hostvars.get(variable)
            if value:
                yield group_name(prefix, value)


def _id_order(server_id):
    """Servers in the order of their ids: numbers by value, any other id after them."""
    return (0, int(server_id), "") if server_id.isdigit() else (1, 0, server_id)


def _fallback(hostvars):
    return "dci-%s" % hostvars["dci_server_id"]


def _default_name(hostvars):
    """The server's hostname; ``dci-<id>`` for a free (``free.ds``) or unnamed server."""
    hostname = (hostvars["dci_hostname"] or "").strip().rstrip(".")
    if not hostname or hostname_key(hostname) == FREE_HOSTNAME:
        return _fallback(hostvars)
    return hostname
