# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: whmcs
short_description: WHMCS services (dedicated server orders) as inventory hosts
version_added: 0.1.0
description:
  - Reads the services (clients' products) of a WHMCS installation with the API action C(GetClientsProducts)
    and makes one host of each, with the service's fields as host variables prefixed C(whmcs_).
  - Reads the first page, then the remaining pages concurrently.
  - Uses a YAML configuration file whose name ends in C(whmcs.yml) or C(whmcs.yaml).
  - Works the same from the command line and as an AWX / Automation Controller inventory source.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
requirements:
  - requests
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - ispsystem.dcimanager.network
options:
  plugin:
    description: Marks this as an instance of the P(ispsystem.dcimanager.whmcs#inventory) plugin.
    type: str
    required: true
    choices: [ispsystem.dcimanager.whmcs]
  url:
    description:
      - The WHMCS base URL, for example V(https://billing.example.com/) or V(https://example.com/whmcs).
      - The API endpoint C(includes/api.php) is appended; a URL that already ends in C(includes/api.php) is used as it is.
      - May be a template (for example a C(lookup)) or a vaulted value.
    type: str
    required: true
    env:
      - name: WHMCS_URL
  identifier:
    description:
      - The API credential's identifier (Setup > Staff Management > Manage API Credentials).
      - May be a template or a vaulted value.
    type: str
    required: true
    env:
      - name: WHMCS_API_IDENTIFIER
  secret:
    description:
      - The API credential's secret. Sent only in POST bodies, never in URLs.
      - May be a template or a vaulted value.
    type: str
    required: true
    env:
      - name: WHMCS_API_SECRET
  access_key:
    description:
      - The API access key (C($api_access_key) in WHMCS's C(configuration.php)), which lets the
        controller call the API from an address that is not in WHMCS's API IP allow-list.
      - May be a template or a vaulted value.
    type: str
    env:
      - name: WHMCS_API_ACCESS_KEY
  validate_certs:
    description:
      - Verify WHMCS's TLS certificate. Give a private CA in O(ca_path) rather than turning this off.
    type: bool
    default: true
    env:
      - name: WHMCS_VALIDATE_CERTS
  ca_path:
    description:
      - A PEM file with the CA certificate(s) to verify WHMCS's certificate with.
    type: path
    env:
      - name: WHMCS_CA_PATH
  product_ids:
    description:
      - Only services of these WHMCS product ids (C(pid)). Empty means every product.
    type: list
    elements: int
    default: []
  statuses:
    description:
      - Only services in these statuses (compared without regard to case). Empty means every status.
    type: list
    elements: str
    default: [Pending, Active, Suspended]
  page_size:
    description:
      - Services asked for in one API request (positive; the plugin always pages explicitly, because
        WHMCS reads a missing or zero limit as "everything").
    type: int
    default: 250
  concurrency:
    description:
      - API requests sent at the same time, once the first page has told how many there are (at most 32).
    type: int
    default: 4
  include_secrets:
    description:
      - Add the service password as C(whmcs_password).
      - With the inventory cache on, the password is then written to the cache too.
    type: bool
    default: false
  hostname:
    description:
      - A Jinja2 template for the host name, over the host variables (for example
        V({{ whmcs_domain }})).
      - Without it, a host is named C(whmcs-<service_id>), which is unique.
      - A service whose template gives an empty name, or a name an earlier service already has,
        is named C(whmcs-<service_id>) instead, with a warning (an error with O(strict=true)).
    type: str
notes:
  - The API credential's role must allow C(GetClientsProducts).
  - "Host variables: C(whmcs_service_id), C(whmcs_client_id), C(whmcs_order_id), C(whmcs_product_id),
    C(whmcs_product_name), C(whmcs_product_group), C(whmcs_status), C(whmcs_domain), C(whmcs_dedicated_ip),
    C(whmcs_assigned_ips) (list), C(whmcs_username), C(whmcs_password) (only with O(include_secrets)),
    C(whmcs_billing_cycle), C(whmcs_next_due_date), C(whmcs_reg_date), C(whmcs_server_id), C(whmcs_server_name),
    C(whmcs_server_ip), C(whmcs_server_hostname), C(whmcs_config_options) (dict option name -> value),
    C(whmcs_custom_fields) (dict field name -> value); C(ansible_host) is the dedicated IP when there is one."
  - "Two host variables describe the service's neighbours in the whole listing, so that a part of the inventory (an AWX
    job slice, a C(--limit)) plans as the whole would: C(whmcs_client_accounts) (WHMCS product id -> the usernames of
    the client's Active and Suspended services of that product, the DCImanager accounts its servers may belong to; from
    every status listed, before O(statuses) filters) and C(whmcs_domain_services) (the other hosts of this inventory
    whose order has the same domain, without regard to case: their C(service_id), C(status), C(product_id),
    C(server_id), C(domain), C(dedicated_ip), C(assigned_ips); empty for most services)."
  - "Groups: C(whmcs_status_<status>) and C(whmcs_product_<pid>), lower-case, plus those made with
    O(groups) and O(keyed_groups)."
  - The cache holds the built hosts (one entry per inventory source); it is used only if the source's
    URL, identifier, filters, O(include_secrets) and O(hostname) are the ones it was built with.
seealso:
  - module: ispsystem.dcimanager.whmcs_service_info
  - module: ispsystem.dcimanager.whmcs_service
"""

EXAMPLES = r"""
# inventory/billing.whmcs.yml: credentials from WHMCS_URL, WHMCS_API_IDENTIFIER and WHMCS_API_SECRET
plugin: ispsystem.dcimanager.whmcs

---
# Vaulted credentials, one product, every status, cached for an hour
plugin: ispsystem.dcimanager.whmcs
url: https://billing.example.com/
identifier: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  ...
secret: "{{ lookup('ansible.builtin.env', 'BILLING_API_SECRET') }}"
product_ids: [3]
statuses: []
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: /tmp/whmcs-inventory
cache_timeout: 3600

---
# Hosts named after the order's domain, grouped by the OS the customer chose
plugin: ispsystem.dcimanager.whmcs
hostname: "{{ whmcs_domain }}"
keyed_groups:
  - key: whmcs_config_options.OS | default('none')
    prefix: os
compose:
  dcimanager_owner: whmcs_username
groups:
  unpaid: whmcs_status == 'Suspended'
"""

from concurrent.futures import ThreadPoolExecutor

from ansible.errors import AnsibleParserError

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.rules import client_accounts
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.client import WHMCSClient
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.errors import WHMCSError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.services import normalize_service, to_int
from ansible_collections.ispsystem.dcimanager.plugins.plugin_utils._inventory import CachedInventory, group_name

# What whmcs_domain_services tells of each other service with the same domain (the drift plan's HOSTNAME_SHARED check).
DOMAIN_SERVICE_FIELDS = ("service_id", "status", "product_id", "server_id", "domain", "dedicated_ip", "assigned_ips")


def client_accounts_by_client(services):
    """client id -> {product id (text): sorted usernames of its Active and Suspended services}: the DCImanager accounts
    a client's servers may belong to (the role's account reuse), from the whole listing."""
    found = {}
    for client_id, by_product in _group_accounts(services).items():
        found[client_id] = dict((product_id, sorted(logins)) for product_id, logins in sorted(by_product.items()))
    return found


def _group_accounts(services):
    grouped = {}
    for service in services:
        grouped.setdefault(service["client_id"], []).append(service)
    return dict((client_id, client_accounts(group)) for client_id, group in grouped.items())


def add_domain_services(hostvars_list):
    """Give every host ``whmcs_domain_services``: the other hosts whose order has its domain (case aside)."""
    hostvars_list = list(hostvars_list)
    by_domain = {}
    for hostvars in hostvars_list:
        domain = (hostvars.get("whmcs_domain") or "").strip().lower()
        if domain:
            by_domain.setdefault(domain, []).append(hostvars)
    for hostvars in hostvars_list:
        group = by_domain.get((hostvars.get("whmcs_domain") or "").strip().lower(), ())
        hostvars["whmcs_domain_services"] = [dict((key, other["whmcs_" + key]) for key in DOMAIN_SERVICE_FIELDS) for other in group if other is not hostvars]


class InventoryModule(CachedInventory):
    NAME = "ispsystem.dcimanager.whmcs"
    # Bump when the shape of the cached entry changes, so an old one is not used
    # (2: the entry has the shared "warnings" list, always empty here; 3: whmcs_client_accounts, whmcs_domain_services).
    CACHE_FORMAT = 3
    ERROR_PREFIX = "WHMCS inventory: "

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("whmcs.yml", "whmcs.yaml"))

    # Options ---------------------------------------------------------------------------------

    def _statuses(self):
        return sorted(set(str(status).lower() for status in self.get_option("statuses") or []))

    def _product_ids(self):
        return sorted(set(int(pid) for pid in self.get_option("product_ids") or []))

    def _cache_settings(self):
        return [
            self._option("url"),
            self._option("identifier"),
            self._product_ids(),
            self._statuses(),
            bool(self.get_option("include_secrets")),
            self.get_option("hostname"),
        ]

    # Fetching --------------------------------------------------------------------------------

    def _client(self):
        try:
            return WHMCSClient(
                self._option("url"),
                self._option("identifier"),
                self._option("secret"),
                access_key=self._option("access_key"),
                validate_certs=self.get_option("validate_certs"),
                ca_path=self.get_option("ca_path"),
                timeout=self.get_option("timeout"),
                pool_size=self._concurrency(),
                use_proxy=self.get_option("use_proxy"),
            )
        except WHMCSError as exc:
            raise AnsibleParserError("WHMCS inventory: %s" % exc.msg) from None

    def _concurrency(self):
        return max(1, min(int(self.get_option("concurrency")), 32))

    def _fetch_services(self, client):
        """Every service of the chosen products: first pages, then the other pages concurrently."""
        page_size = int(self.get_option("page_size"))
        if page_size <= 0:
            raise AnsibleParserError("WHMCS inventory: page_size must be positive")
        # GetClientsProducts filters by one product id at a time; no product ids = one unfiltered listing.
        sources = [{"pid": pid} for pid in self._product_ids()] or [{}]
        services = []
        with ThreadPoolExecutor(max_workers=self._concurrency(), thread_name_prefix="whmcs") as pool:
            firsts = self._gather(pool, client, [(0, page_size, filters) for filters in sources])
            pending = []
            for filters, (page, total) in zip(sources, firsts):
                services.extend(page)
                # If WHMCS sent fewer than asked (a capped limitnum), page by what it sends.
                step = len(page) if 0 < len(page) < page_size else page_size
                if page:
                    pending.extend((offset, step, filters) for offset in range(len(page), total, step))
            for page, dummy in self._gather(pool, client, pending):
                services.extend(page)
        # Pages overlap when services are added while they are read: keep each service once, by id.
        unique = {}
        for service in services:
            service_id = to_int(service.get("id"))
            if service_id is not None:
                unique[service_id] = service
        return [unique[service_id] for service_id in sorted(unique)]

    @staticmethod
    def _gather(pool, client, pages):
        """Read the pages [(offset, limit, filters)] in the pool; the first error is raised here, in the main thread."""
        futures = [pool.submit(client.get_clients_products_page, offset, limit, **filters) for offset, limit, filters in pages]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    def _build_hosts(self):
        """([[host name, host variables]], no warnings) for the services that pass the filters, by service id.

        The naming warnings are shown when the hosts are built only, not again from the cache.
        """
        client = self._client()
        try:
            raw_services = self._fetch_services(client)
        except WHMCSError as exc:
            raise AnsibleParserError("WHMCS inventory: %s" % exc.msg) from None
        finally:
            client.close()

        statuses = set(self._statuses())
        product_ids = set(self._product_ids())
        include_secrets = bool(self.get_option("include_secrets"))
        template = self.get_option("hostname")
        strict = self.get_option("strict")
        hosts = []
        names = set()
        accounts = client_accounts_by_client(normalize_service(raw) for raw in raw_services)
        for raw in raw_services:
            if statuses and str(raw.get("status", "")).lower() not in statuses:
                continue
            service = normalize_service(raw, include_password=include_secrets)
            if product_ids and service["product_id"] not in product_ids:
                continue
            hostvars = dict(("whmcs_" + key, value) for key, value in service.items())
            hostvars["whmcs_client_accounts"] = accounts.get(service["client_id"], {})
            if service["dedicated_ip"]:
                hostvars["ansible_host"] = service["dedicated_ip"]
            default_name = "whmcs-%s" % service["service_id"]
            name = self._hostname(template, hostvars, default_name, names, strict) if template else default_name
            names.add(name)
            hosts.append([name, hostvars])
        add_domain_services(hostvars for dummy, hostvars in hosts)
        return hosts, []

    def _hostname(self, template, hostvars, default_name, taken, strict):
        name, failed = self._templated_name(template, hostvars, "service %s" % hostvars["whmcs_service_id"], strict)
        if name and name not in taken:
            return name
        problem = "an empty name" if not name else "the name %s, which an earlier service already has" % name
        self._fall_back(failed or "the hostname template gives service %s %s" % (hostvars["whmcs_service_id"], problem), default_name, strict)
        return default_name

    # Groups ----------------------------------------------------------------------------------

    def _own_groups(self, hostvars):
        status = hostvars.get("whmcs_status")
        if status:
            yield group_name("whmcs_status_", status)
        if hostvars.get("whmcs_product_id") is not None:
            yield "whmcs_product_%s" % hostvars["whmcs_product_id"]
