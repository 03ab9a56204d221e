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
  - Several panels (one per datacenter) in one source with O(panels), read at the same time; each host tells its panel
    in C(dci_panel).
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
      - Required unless O(panels) is set. With O(panels), O(api_url), O(api_username), O(api_password), O(validate_certs)
        and O(ca_path) are not used.
    type: str
    env:
      - name: DCIMANAGER_URL
  api_username:
    description:
      - Login of the panel account the plugin reads as, an administrator (a customer account sees only its own servers).
      - May be a template or a vaulted value.
      - Required unless O(panels) is set.
    type: str
    env:
      - name: DCIMANAGER_USERNAME
  api_password:
    description:
      - Password of O(api_username). Sent only in POST bodies; never in host variables, the cache, warnings or errors.
      - May be a template or a vaulted value.
      - Required unless O(panels) is set.
    type: str
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
  panels:
    description:
      - Several panels in one source, one per datacenter, read at the same time. A mapping of a panel's key to its
        connection; the key is the id of the panel's WHMCS server entry, as in the collection's C(dcimanager_panels)
        variable (or any name). Each connection has C(url), C(username) and C(password) (required, as O(api_url),
        O(api_username) and O(api_password)), and may have C(ca_path), C(validate_certs) (default V(true)) and
        C(use_proxy) (default O(use_proxy)).
      - Every host gets the host variable C(dci_panel) (the panel's key) and is in the group C(dci_panel_<key>).
        See O(hostname) for how hosts are named across panels.
      - In the source file the whole mapping (for example V({{ dcimanager_panels }}) from extra variables, or a C(lookup))
        or each value in it may be a template or a vaulted value.
      - In the environment variable (what the collection's AWX credential type I(DCImanager panels) gives an inventory
        sync), the mapping as JSON (or YAML) text; never templated.
      - Set in the source file, it is used before O(api_url); O(api_url) set in the source file is used before the
        environment variable C(DCIMANAGER_PANELS), which is used before C(DCIMANAGER_URL). Setting both O(panels) and
        O(api_url) in the source file is an error.
      - A panel that cannot be read fails the whole source, naming the panel.
    type: raw
    env:
      - name: DCIMANAGER_PANELS
    version_added: 0.2.0
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
      - With O(panels), host names are unique across all panels. The panels are taken in the order of their keys
        (numbers by value), each panel's servers in the order of their ids; a free or unnamed server's name, and the
        fallback name, is C(dci-<panel key>-<server id>) (the key lower-case, every character other than a letter, a digit
        or C(_) replaced by C(_)), since the same server id is on every panel. A hostname found on two panels stays with
        the first panel's server, the other gets its fallback name, with a warning.
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
    C(dci_state) (V(free), V(owned), V(suspended), V(installing), V(hwproblem), V(diag)); C(ansible_host) is the main address;
    with O(panels) also C(dci_panel) (the panel's key, a string)."
  - "Groups: C(dci_state_<state>), C(dci_package_<package>) and C(dci_rack_<rack>), with O(panels) also C(dci_panel_<key>),
    lower-case, every character other than a letter, a digit or C(_) replaced by C(_); plus those made with O(groups) and
    O(keyed_groups)."
  - The cache holds the built hosts (one entry per inventory source, all its panels, no credential in it); it is used only
    if the source's URL (each panel's key and URL), user name, filters, O(hostname), O(strict) and O(allow_empty) are the
    ones it was built with.
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
# Two datacenters in one source, keyed by the WHMCS server id of each panel's server entry; the passwords
# vaulted (or the whole mapping from extra variables: panels: "{{ dcimanager_panels }}")
plugin: ispsystem.dcimanager.dcimanager
panels:
  "1":
    url: https://dci-ams.example.com:1500/dcimgr
    username: admin
    password: !vault |
      $ANSIBLE_VAULT;1.1;AES256
      ...
    ca_path: /etc/pki/dcimanager-ams-ca.pem
  "2":
    url: https://dci-fra.example.com:1500/dcimgr
    username: admin
    password: "{{ lookup('ansible.builtin.env', 'DCI_FRA_PASSWORD') }}"
    ca_path: /etc/pki/dcimanager-fra-ca.pem
keyed_groups:
  - key: "{'1': 'amsterdam', '2': 'frankfurt'}[dci_panel]"
    prefix: location

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

import os
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, quote_plus

import yaml
from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean

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
_GROUPED = tuple(("dci_" + kind, "dci_%s_" % kind) for kind in ("state", "package", "rack", "panel"))
# What a panel of the panels option has (the collection's dcimanager_panels variable has the same).
PANEL_SETTINGS = ("url", "username", "password", "ca_path", "validate_certs", "use_proxy")
_PANEL_REQUIRED = ("url", "username", "password")
# Panels read at the same time, at most (each read is one login and one list: waiting on the network, not the CPU).
MAX_PARALLEL_PANELS = 8


class InventoryModule(CachedInventory):
    NAME = "ispsystem.dcimanager.dcimanager"
    # Bump when the shape of the cached entry changes, so an old one is not used.
    CACHE_FORMAT = 1
    ERROR_PREFIX = "DCImanager inventory: "

    def __init__(self):
        super().__init__()
        self._secrets = set()
        self._config_data = {}
        self._panels = None

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
        # Unknown states and a wrong panels option fail here, before the cache is looked at.
        self._panels = self._read_panels()
        if self._panels is None:
            connection = [self._option("api_url"), self._option("api_username")]
        else:
            connection = [["panels"] + [[key, panel["url"], panel["username"]] for key, panel in self._panels]]
        return connection + [
            self._filters(),
            self.get_option("hostname"),
            bool(self.get_option("strict")),
            bool(self.get_option("allow_empty")),
        ]

    def _read_panels(self):
        """The panels option as [(key, connection)] in the order of the keys, or None for the one panel of api_url."""
        in_file = self._config_data.get("panels") not in (None, "", {})
        if in_file and self._config_data.get("api_url") not in (None, ""):
            raise AnsibleParserError("DCImanager inventory: the source sets both api_url and panels; set api_url for one panel, or panels for several")
        if not in_file and self._config_data.get("api_url") not in (None, ""):
            return None  # the source's own api_url comes before DCIMANAGER_PANELS from the environment
        value = self.get_option("panels")
        if value in (None, "", {}):
            if not self._option("api_url"):
                raise AnsibleParserError("DCImanager inventory: no panel to read: set api_url (or DCIMANAGER_URL), or panels (or DCIMANAGER_PANELS)")
            return None
        if in_file:
            # From the source file: the whole value, or each value in it, may be a template; what a template gives is data.
            if isinstance(value, str):
                value = self._parse_panels(self.templar.template(value) if ("{{" in value or "{%" in value) else value)
                templated = False
            else:
                templated = True
        else:
            value, templated = self._parse_panels(value), False  # DCIMANAGER_PANELS: JSON or YAML text, never templated
        if not isinstance(value, dict) or not value:
            raise AnsibleParserError("DCImanager inventory: panels must be a mapping of a panel's key (its WHMCS server id) to its connection")
        panels, groups = [], {}
        for key in sorted(value, key=lambda key: _id_order(to_text(key).strip())):
            panel = self._panel(to_text(key).strip(), value[key], templated)
            group = group_name("dci_panel_", panel[0])
            if group in groups:
                raise AnsibleParserError(
                    "DCImanager inventory: the panels %s and %s have the same group name %s; give them other keys" % (groups[group], panel[0], group)
                )
            groups[group] = panel[0]
            panels.append(panel)
        return panels

    @staticmethod
    def _parse_panels(value):
        if not isinstance(value, str):
            return value
        try:
            return yaml.safe_load(value)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # The text holds passwords: say where it failed, never what it holds.
            mark = getattr(exc, "problem_mark", None)
            where = " (line %d, column %d)" % (mark.line + 1, mark.column + 1) if mark is not None else ""
            raise AnsibleParserError("DCImanager inventory: panels is not JSON or YAML text%s" % where) from None

    def _panel(self, key, settings, templated):
        """(key, connection) of one panel, checked; its password joins the secrets kept out of every message."""
        if not key:
            raise AnsibleParserError("DCImanager inventory: a panel of panels has an empty key; key each panel by its WHMCS server id")
        if not isinstance(settings, dict):
            raise AnsibleParserError("DCImanager inventory: panel %s: its connection must be a mapping with url, username and password" % key)
        unknown = sorted(to_text(name) for name in settings if name not in PANEL_SETTINGS)
        if unknown:
            raise AnsibleParserError(
                "DCImanager inventory: panel %s: unknown settings %s; a panel has %s" % (key, ", ".join(unknown), ", ".join(PANEL_SETTINGS))
            )
        values = {}
        for name in PANEL_SETTINGS:
            value = settings.get(name)
            if templated:
                value = self._text(value)
            elif value is not None:
                value = to_text(value)
            values[name] = value.strip() if name != "password" and value is not None else value
        missing = [name for name in _PANEL_REQUIRED if not values[name]]
        if missing:
            raise AnsibleParserError("DCImanager inventory: panel %s has no %s" % (key, " and no ".join(missing)))
        self._secrets.add(values["password"])
        connection = {"url": values["url"], "username": values["username"], "password": values["password"]}
        connection["ca_path"] = os.path.expanduser(values["ca_path"]) if values["ca_path"] else None
        for name, default in (("validate_certs", True), ("use_proxy", self.get_option("use_proxy"))):
            try:
                connection[name] = boolean(values[name], strict=True) if values[name] not in (None, "") else default
            except TypeError:
                raise AnsibleParserError("DCImanager inventory: panel %s: %s must be true or false" % (key, name)) from None
        return key, connection

    # Reading the panel -----------------------------------------------------------------------

    def _client(self, panel=None):
        """A client of the one panel of api_url, or of ``panel`` (a connection of the panels option)."""
        if not (HAS_REQUESTS and HAS_LXML):
            raise AnsibleParserError(
                "DCImanager inventory: the Python libraries requests and lxml are required to talk to DCImanager; "
                "install the collection's requirements.txt into the Python that runs Ansible"
            )
        if panel is None:
            password = self._option("api_password")
            settings = {
                "url": self._option("api_url"),
                "username": self._option("api_username"),
                "validate_certs": self.get_option("validate_certs"),
                "ca_path": self.get_option("ca_path"),
                "use_proxy": self.get_option("use_proxy"),
            }
        else:
            password = panel["password"]
            settings = dict((name, panel[name]) for name in ("url", "username", "validate_certs", "ca_path", "use_proxy"))
        if password:
            self._secrets.add(password)
        # The session id is a credential too: it is kept out of every message, like the password.
        return DCIClient(
            settings["url"],
            settings["username"],
            password,
            validate_certs=settings["validate_certs"],
            ca_path=settings["ca_path"],
            timeout=self.get_option("timeout"),
            on_session=self._secrets.add,
            use_proxy=settings["use_proxy"],
        )

    def _scrub(self, text):
        """``text`` without the password or the session id, in any spelling a form body or URL would give them."""
        text = to_text(text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            for spelling in (secret, quote(secret, safe=""), quote_plus(secret)):
                text = text.replace(spelling, "********")
        return text

    def _read_rows(self, panel=None):
        """The panel's rows; a DCIError as it came (the caller says which panel it was)."""
        client = self._client(panel)
        try:
            return read_fleet(client, allow_empty=bool(self.get_option("allow_empty")))
        finally:
            client.close()

    def _read_all(self):
        """[(panel key or None, rows)]: the one panel of api_url, or every panel of the panels option at the same time."""
        if self._panels is None:
            try:
                return [(None, self._read_rows())]
            except DCIError as exc:
                raise AnsibleParserError("DCImanager inventory: %s" % self._scrub(exc.msg)) from None
        with ThreadPoolExecutor(max_workers=min(len(self._panels), MAX_PARALLEL_PANELS), thread_name_prefix="dci-inventory") as pool:
            futures = [(key, pool.submit(self._read_rows, panel)) for key, panel in self._panels]
            read, failed = [], []
            for key, future in futures:
                try:
                    read.append((key, future.result()))
                except DCIError as exc:
                    failed.append("panel %s: %s" % (key, exc.msg))
        if failed:
            # Every panel that failed, in the order of the keys: one run shows all there is to fix.
            raise AnsibleParserError("DCImanager inventory: %s" % self._scrub("; ".join(failed)))
        return read

    def _build_hosts(self):
        """([[host name, host variables]], warnings) for the servers that pass the filters, by panel and server id."""
        filters = self._filters()
        states, packages, owners = set(filters["states"]), set(filters["packages"]), set(filters["owners"])
        servers = []
        for panel, rows in self._read_all():
            mine = []
            for row in rows:
                server = fleet_server(row)
                if (states and server["state"] not in states) or (packages and server["package"] not in packages) or (owners and server["owner"] not in owners):
                    continue
                # The host variables are the collection's bulk view of a server (the drift plan's too).
                hostvars = dict(("dci_" + key, server[key]) for key in HOST_VARIABLES)
                hostvars["dci_server_id"] = server["id"]
                if panel is not None:
                    hostvars["dci_panel"] = panel
                if server["main_ip"]:
                    hostvars["ansible_host"] = server["main_ip"]
                mine.append(hostvars)
            mine.sort(key=lambda hostvars: _id_order(hostvars["dci_server_id"]))
            servers.extend(mine)
        return self._name_hosts(servers)

    def _name_hosts(self, servers):
        template = self.get_option("hostname")
        strict = self.get_option("strict")
        # Every server's own fallback name is kept for it: no other server may take it.
        reserved = dict((hostname_key(_fallback(hostvars)), _label(hostvars)) for hostvars in servers)
        taken = {}
        hosts, warnings = [], []
        for hostvars in servers:
            label = _label(hostvars)
            fallback = _fallback(hostvars)
            name, problem = self._templated_name(template, hostvars, label, strict) if template else (_default_name(hostvars), "")
            key = hostname_key(name)
            if problem or not name:  # the template failed (the warning says why), or gave nothing
                problem = problem or "the hostname template gives %s an empty name" % label
            elif key in taken:
                problem = "%s has the host name %s, which %s already has" % (label, name, taken[key])
            elif key in reserved and reserved[key] != label:
                problem = "%s has the host name %s, which is %s's fallback name" % (label, name, reserved[key])
            if problem:
                warnings.append(self._fall_back(problem, fallback, strict))
                name, key = fallback, hostname_key(fallback)
            taken[key] = label
            hosts.append([name, hostvars])
        return hosts, warnings

    # Groups ----------------------------------------------------------------------------------

    def _own_groups(self, hostvars):
        for variable, prefix in _GROUPED:
            value = hostvars.get(variable)
            if value:
                yield group_name(prefix, value)


def _id_order(server_id):
    """Servers (and panels) in the order of their ids: numbers by value, any other id after them."""
    return (0, int(server_id), "") if server_id.isdigit() else (1, 0, server_id)


def _label(hostvars):
    """How messages name a server: ``server 12``, or ``server 12 of panel 2`` when the source reads several."""
    if "dci_panel" in hostvars:
        return "server %s of panel %s" % (hostvars["dci_server_id"], hostvars["dci_panel"])
    return "server %s" % hostvars["dci_server_id"]


def _fallback(hostvars):
    """``dci-<server id>``; ``dci-<panel>-<server id>`` when the source reads several panels (every panel has server 1)."""
    if "dci_panel" in hostvars:
        return "dci-%s-%s" % (group_name("", hostvars["dci_panel"]), hostvars["dci_server_id"])
    return "dci-%s" % hostvars["dci_server_id"]


def _default_name(hostvars):
    """The server's hostname; the fallback name for a free (``free.ds``) or unnamed server."""
    hostname = (hostvars["dci_hostname"] or "").strip().rstrip(".")
    if not hostname or hostname_key(hostname) == FREE_HOSTNAME:
        return _fallback(hostvars)
    return hostname
