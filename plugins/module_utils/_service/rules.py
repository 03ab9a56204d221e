# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the dedicated_server role's rules, in one place.

Where a service's settings come from (precedence, account reuse, configurable option parsing,
product keys, the domain template) and what the role records as its result. The role reaches
these through the ``service_settings`` and ``service_result`` filters; the drift plan
(``drift``) uses the same functions, so the plan and the role never name a service's server
differently.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import boolean

# What dedicated_server_products[product id] may hold (ISPsystem's module settings WHMCS cannot give).
PRODUCT_KEYS = ("package", "os_template", "recipe", "wait_for_install", "domain_template", "ip_group")
# The configurable options ISPsystem's module reads the OS template from, in this order.
OS_OPTIONS = ("os", "OS", "ostemplate")
# A client's other service in one of these statuses has a DCImanager account to reuse.
ACCOUNT_STATUSES = ("Active", "Suspended")
# What each role state needs besides the hostname.
NEEDED = {"active": ("owner", "owner_password", "package", "os_template")}
DEFAULT_TEMPLATE_WITH_DOMAIN = "@DOMAIN@"
DEFAULT_TEMPLATE_WITHOUT_DOMAIN = "@ID@.domain"


def given(value):
    """Whether a setting counts as set: as Jinja's ``default(x, true)`` sees it, a value that is
    false (``""``, ``0``, ``None``, empty) does not, and the next source is used."""
    return bool(value)


def first_given(*values, **kwargs):
    """The first of ``values`` that has a value, else ``default``."""
    for value in values:
        if given(value):
            return value
    return kwargs.get("default", "")


def text(value):
    return "" if value is None else str(value)


def to_count(value):
    """A count as Jinja's ``int`` filter reads it: anything that is not a number is 0."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


def product_settings(products, product_id):
    """``products[product id]``: its keys may be written as numbers or as strings."""
    products = products or {}
    if product_id in (None, ""):
        return {}
    key = text(product_id).strip()
    if key in products:
        return products[key] or {}
    number = to_count(key)
    for candidate in (number, text(number)):
        if candidate in products:
            return products[candidate] or {}
    return {}


def managed_product_ids(products, product_id):
    """The product ids whose services carry a DCImanager account of this panel: every key of
    ``products`` (as text), and the service's own product."""
    ids = set(text(key).strip() for key in (products or {}))
    if product_id not in (None, ""):
        ids.add(text(product_id).strip())
    return ids


def option_value(value):
    """A dropdown option may be written ``value|Friendly name``: the part before ``|``, trimmed."""
    return text(value).split("|", maxsplit=1)[0].strip()


def os_option(options):
    """The OS template the customer chose: the first of the ``os`` / ``OS`` / ``ostemplate`` options that is set."""
    options = options or {}
    return option_value(first_given(*(options.get(name) for name in OS_OPTIONS)))


def domain_template_of(service, template=None, product=None):
    """The template a service's hostname is made from: the role's variable, the product's
    ``domain_template``, else ``@DOMAIN@`` when the order has a domain and ``@ID@.domain`` when not."""
    default = DEFAULT_TEMPLATE_WITH_DOMAIN if (service or {}).get("domain") else DEFAULT_TEMPLATE_WITHOUT_DOMAIN
    return first_given(template, (product or {}).get("domain_template"), default=default)


def hostname_of(service, hostname=None, template=None, product=None):
    """The hostname (the domain on the server's addresses) of a service; ``""`` when it cannot be made.

    ``hostname`` (the role's variable) wins; else the domain template with ``@ID@`` = the service id
    and ``@DOMAIN@`` = the order's domain. A template that needs a value the service does not have
    (no domain, no service id) gives no hostname rather than a name every such service would share.
    """
    if given(hostname):
        return text(hostname).strip()
    service = service or {}
    template = text(domain_template_of(service, template, product))
    service_id = text(service.get("service_id")).strip()
    domain = text(service.get("domain")).strip()
    if ("@ID@" in template and not service_id) or ("@DOMAIN@" in template and not domain):
        return ""
    return template.replace("@ID@", service_id).replace("@DOMAIN@", domain).strip()


def sibling_account(service, client_services, products):
    """The client's other service whose DCImanager account the service reuses (ISPsystem's module does):
    the first other Active or Suspended service, with a username, of a product managed on this panel; or None."""
    managed = managed_product_ids(products, service.get("product_id"))
    for other in client_services or ():
        if other.get("service_id") == service.get("service_id") and service.get("service_id") is not None:
            continue
        if other.get("status") in ACCOUNT_STATUSES and given(other.get("username")) and text(other.get("product_id")).strip() in managed:
            return other
    return None


def client_accounts(client_services):
    """The DCImanager logins a client's services carry: {product id (text): set of usernames} of its
    Active and Suspended services (computed once per client by the drift plan)."""
    accounts = {}
    for other in client_services or ():
        if other.get("status") in ACCOUNT_STATUSES and given(other.get("username")):
            accounts.setdefault(text(other.get("product_id")).strip(), set()).add(text(other.get("username")))
    return accounts


def account_logins(service, owner, products, accounts):
    """The accounts a server of this service may belong to: ``dedicated_server_owner`` when set; else the
    service's own username and the usernames of the client's Active or Suspended services of a managed
    product (any of them may be the reused account). Empty when none is known."""
    if given(owner):
        return [text(owner)]
    logins = set([text(service.get("username"))]) if given(service.get("username")) else set()
    for product_id in managed_product_ids(products, service.get("product_id")):
        logins.update((accounts or {}).get(product_id, ()))
    return sorted(logins)


def settings(
    whmcs=None,
    state=None,
    service_id=None,
    products=None,
    owner=None,
    owner_password=None,
    root_password=None,
    hostname=None,
    domain_template=None,
    package=None,
    os_template=None,
    recipe=None,
    ipv4_count=None,
    ipv6_count=None,
    ip_group="public",
    wait_for_install=True,
    accounts=None,
    new_service=False,
):
    """Everything the role needs to act on one service, by the precedence of ISPsystem's module:
    an explicit ``dedicated_server_*`` variable (the keyword arguments), then the service's
    configurable options, then ``products[product id]``.

    ``whmcs``: what ``whmcs_service_info`` returned (``service`` and ``client_services``), or
    nothing when the role runs without WHMCS. ``accounts``: ``client_accounts()`` of the client's
    services, when the caller has it already (else it is made from ``client_services``).
    ``new_service``: the service was just created in WHMCS (a create event), which shows it Active
    already. Returns the settings, with ``missing``: the settings ``state`` needs that have no value.
    """
    whmcs = whmcs or {}
    service = whmcs.get("service") or {}
    options = service.get("config_options") or {}
    product = product_settings(products, service.get("product_id"))
    client_services = whmcs.get("client_services")
    sibling = sibling_account(service, client_services, products) or {}
    if accounts is None:
        accounts = client_accounts(client_services)
    result = {
        "service_id": service.get("service_id") if "service_id" in service else service_id,
        "whmcs_status": service.get("status"),
        "owner": first_given(owner, sibling.get("username"), service.get("username")),
        "owner_password": first_given(owner_password, sibling.get("password"), service.get("password")),
        # An owner variable that is set, even empty, means the account is not the sibling's.
        "reused_account": owner is None and bool(sibling),
        "accounts": account_logins(service, owner, products, accounts),
        "hostname": hostname_of(service, hostname, domain_template, product),
        "domain_template": "" if given(hostname) else domain_template_of(service, domain_template, product),
        "package": first_given(package, product.get("package")),
        "os_template": first_given(os_template, os_option(options), product.get("os_template")),
        "recipe": first_given(recipe, option_value(options.get("recipe")), product.get("recipe")),
        "ipv4_count": to_count(first_given(ipv4_count, options.get("IP"), default=0)),
        "ipv6_count": to_count(first_given(ipv6_count, options.get("IPv6"), default=0)),
        "ip_group": first_given(product.get("ip_group"), ip_group),
        "wait_for_install": boolean(product["wait_for_install"] if "wait_for_install" in product else wait_for_install, strict=False),
        "dedicated_ip": text(service.get("dedicated_ip")).strip(),
        "assigned_ips": list(service.get("assigned_ips") or ()),
        # WHMCS marks a service Active as soon as its module's create returns, before any server exists
        # (and may suspend it before any run provisioned it).
        "new_service": boolean(new_service, strict=False) and service.get("status") in ACCOUNT_STATUSES,
    }
    if text(result["recipe"]) == "null":  # ISPsystem's "no recipe"
        result["recipe"] = ""
    result["root_password"] = first_given(root_password, result["owner_password"])
    result["has_service"] = result["service_id"] not in (None, "")
    needed = ("hostname",) + NEEDED.get(state, ())
    result["missing"] = [name for name in needed if not result[name]]
    return result


def result_record(settings_, state, server=None, traffic=None):
    """``dedicated_server_result``: what the role leaves for the playbooks' summary.

    ``server``: the service's server as a dci_* module returned it (None when it has none).
    ``traffic``: for ``usage``, the ``traffic`` list of ``dci_traffic_info``.
    """
    record = {"service_id": settings_.get("service_id"), "state": state, "hostname": settings_.get("hostname"), "server_id": "", "main_ip": "", "owner": ""}
    if state == "usage":
        first = (traffic or [{}])[0]
        record.update(server_id=first.get("server_id", ""), main_ip="burst %s" % first.get("burst", 0))
    elif server:
        record["server_id"] = server.get("id", "")
        if state != "terminated":
            record.update(main_ip=server.get("main_ip", ""), owner=server.get("owner", ""))
    return record
