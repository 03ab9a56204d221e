# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The dedicated_server role's rules (module_utils/_service/rules.py, the service_settings and
service_result filters): precedence, account reuse, option parsing, product keys, the domain
template, the result record. Table-driven: each row is one case a reader can check against
docs/role.md."""

from __future__ import annotations

import pytest

from ansible_collections.ispsystem.dcimanager.plugins.filter.service_result import service_result
from ansible_collections.ispsystem.dcimanager.plugins.filter.service_settings import service_settings
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.rules import (
    hostname_of,
    os_option,
    product_settings,
    result_record,
    settings,
)

pytestmark = pytest.mark.quick

PRODUCTS = {
    7: {"package": "DL360", "os_template": "Debian-12", "recipe": "#local__base", "wait_for_install": False, "ip_group": "private"},
    "8": {"package": "R640", "os_template": "Alma-9", "domain_template": "@ID@.srv.example.net"},
}


def service(**fields):
    base = {
        "service_id": 42,
        "client_id": 3,
        "product_id": 7,
        "status": "Pending",
        "domain": "shop.example.com",
        "username": "ada",
        "password": "ada-pw",
        "config_options": {},
        "dedicated_ip": "",
        "assigned_ips": [],
    }
    base.update(fields)
    return base


def whmcs(client_services=(), **fields):
    return {"service": service(**fields), "client_services": list(client_services)}


# --- precedence: variable > configurable option > product setting --------------------------------


@pytest.mark.parametrize(
    "kwargs, options, key, expected",
    [
        # OS template: variable, else the os / OS / ostemplate option (first that is set), else the product's
        ({}, {}, "os_template", "Debian-12"),
        ({}, {"os": "Ubuntu-24|Ubuntu 24.04"}, "os_template", "Ubuntu-24"),
        ({}, {"OS": " Rocky-9 | Rocky "}, "os_template", "Rocky-9"),
        ({}, {"ostemplate": "Alma-9"}, "os_template", "Alma-9"),
        ({}, {"os": "", "OS": "FreeBSD-14"}, "os_template", "FreeBSD-14"),
        ({"os_template": "Arch"}, {"os": "Ubuntu-24"}, "os_template", "Arch"),
        ({"os_template": ""}, {"os": "Ubuntu-24"}, "os_template", "Ubuntu-24"),  # empty = not given
        # recipe: the same order; "null" means none, wherever it comes from
        ({}, {}, "recipe", "#local__base"),
        ({}, {"recipe": "#local__hello|Hello"}, "recipe", "#local__hello"),
        ({}, {"recipe": "null"}, "recipe", ""),
        ({"recipe": "null"}, {"recipe": "#local__hello"}, "recipe", ""),
        ({"recipe": "REPO__x"}, {"recipe": "#local__hello"}, "recipe", "REPO__x"),
        # extra addresses: variable, else the IP / IPv6 option, else 0; not a number = 0
        ({}, {}, "ipv4_count", 0),
        ({}, {"IP": 2, "IPv6": "1"}, "ipv4_count", 2),
        ({}, {"IP": 2, "IPv6": "1"}, "ipv6_count", 1),
        ({"ipv4_count": 3}, {"IP": 2}, "ipv4_count", 3),
        ({"ipv4_count": 0}, {"IP": 2}, "ipv4_count", 2),  # 0 counts as not given (Jinja's default(x, true))
        ({}, {"IP": "lots"}, "ipv4_count", 0),
        # package: variable, else product (no option)
        ({}, {"package": "X"}, "package", "DL360"),
        ({"package": "R740"}, {}, "package", "R740"),
        # the product's ip_group and wait_for_install win over the role's defaults
        ({"ip_group": "public"}, {}, "ip_group", "private"),
        ({"wait_for_install": True}, {}, "wait_for_install", False),
    ],
)
def test_precedence(kwargs, options, key, expected):
    assert settings(whmcs(config_options=options), products=PRODUCTS, **kwargs)[key] == expected


@pytest.mark.parametrize(
    "product, role_default, expected",
    [
        ({}, "public", "public"),
        ({"ip_group": ""}, "public", "public"),
        ({"ip_group": "dmz"}, "public", "dmz"),
    ],
)
def test_ip_group(product, role_default, expected):
    assert settings(whmcs(product_id=9), products={9: product}, ip_group=role_default)["ip_group"] == expected


@pytest.mark.parametrize(
    "product, role_default, expected",
    [
        ({}, True, True),
        ({}, "no", False),
        ({"wait_for_install": "yes"}, False, True),
        ({"wait_for_install": False}, True, False),
        ({"wait_for_install": None}, True, False),  # given, even empty: the product's
    ],
)
def test_wait_for_install(product, role_default, expected):
    assert settings(whmcs(product_id=9), products={9: product}, wait_for_install=role_default)["wait_for_install"] is expected


# --- product keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "products, product_id, expected",
    [
        ({7: {"package": "a"}}, 7, "a"),
        ({"7": {"package": "a"}}, 7, "a"),
        ({7: {"package": "a"}}, "7", "a"),
        ({"7": {"package": "s"}, 7: {"package": "i"}}, 7, "s"),  # the string key first, as the role always did
        ({8: {"package": "a"}}, 7, None),
        ({7: None}, 7, None),
        ({7: {"package": "a"}}, None, None),
        ({}, 7, None),
        (None, 7, None),
    ],
)
def test_product_keys(products, product_id, expected):
    assert product_settings(products, product_id).get("package") == expected


# --- account reuse -------------------------------------------------------------------------------

SIBLING = {"service_id": 40, "status": "Active", "username": "ada-old", "password": "old-pw", "product_id": 7}


@pytest.mark.parametrize(
    "siblings, kwargs, owner, password, reused, accounts",
    [
        ([], {}, "ada", "ada-pw", False, ["ada"]),
        ([SIBLING], {}, "ada-old", "old-pw", True, ["ada", "ada-old"]),
        ([dict(SIBLING, status="Suspended")], {}, "ada-old", "old-pw", True, ["ada", "ada-old"]),
        ([dict(SIBLING, status="Pending")], {}, "ada", "ada-pw", False, ["ada"]),
        ([dict(SIBLING, status="Terminated")], {}, "ada", "ada-pw", False, ["ada"]),
        ([dict(SIBLING, username="")], {}, "ada", "ada-pw", False, ["ada"]),
        ([dict(SIBLING, product_id=99)], {}, "ada", "ada-pw", False, ["ada"]),  # not a product of this panel
        ([dict(SIBLING, product_id=8)], {}, "ada-old", "old-pw", True, ["ada", "ada-old"]),  # another managed product
        ([dict(SIBLING, password="")], {}, "ada-old", "ada-pw", True, ["ada", "ada-old"]),
        ([dict(SIBLING, service_id=42, username="ada")], {}, "ada", "ada-pw", False, ["ada"]),  # the service itself
        ([SIBLING], {"owner": "bob", "owner_password": "bob-pw"}, "bob", "bob-pw", False, ["bob"]),
        # An owner variable set but empty: not reused (as before), the login still falls back
        ([SIBLING], {"owner": ""}, "ada-old", "old-pw", False, ["ada", "ada-old"]),
    ],
)
def test_account_reuse(siblings, kwargs, owner, password, reused, accounts):
    found = settings(whmcs(siblings), products=PRODUCTS, **kwargs)
    assert (found["owner"], found["owner_password"], found["reused_account"], found["accounts"]) == (owner, password, reused, accounts)


def test_the_first_sibling_is_reused():
    second = dict(SIBLING, service_id=41, username="ada-2")
    assert settings(whmcs([SIBLING, second]), products=PRODUCTS)["owner"] == "ada-old"
    assert settings(whmcs([SIBLING, second]), products=PRODUCTS)["accounts"] == ["ada", "ada-2", "ada-old"]


# --- the domain template -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, hostname, template, product, expected",
    [
        ({"domain": "shop.example.com"}, None, None, {}, "shop.example.com"),  # @DOMAIN@ by default
        ({"domain": ""}, None, None, {}, "42.domain"),  # @ID@.domain without one
        ({"domain": ""}, None, None, {"domain_template": "@ID@.srv.example.net"}, "42.srv.example.net"),
        ({"domain": "a.example"}, None, None, {"domain_template": "@ID@-@DOMAIN@"}, "42-a.example"),
        ({"domain": "a.example"}, None, "@ID@.x.net", {"domain_template": "@ID@.y.net"}, "42.x.net"),  # variable wins
        ({"domain": "a.example"}, "given.example", "@ID@.x.net", {}, "given.example"),  # explicit hostname wins
        ({"domain": "a.example"}, "  Given.Example ", None, {}, "Given.Example"),  # trimmed, case kept
        ({"domain": " b.example "}, None, None, {}, "b.example"),
        ({"domain": ""}, None, "@DOMAIN@", {}, ""),  # no domain for a template that needs one
        ({"domain": ""}, None, "srv.@DOMAIN@", {}, ""),
        ({"domain": "", "service_id": None}, None, None, {}, ""),  # no WHMCS service: no @ID@
        ({"domain": "a.example"}, "", None, {}, "a.example"),  # empty variable = not given
    ],
)
def test_domain_template(fields, hostname, template, product, expected):
    assert hostname_of(service(**fields), hostname, template, product) == expected


def test_no_whmcs_service():
    found = settings({}, state="active", service_id=None, hostname="h.example", owner="o", owner_password="p", package="P", os_template="T")
    assert found["service_id"] is None and found["has_service"] is False and found["whmcs_status"] is None
    assert found["hostname"] == "h.example" and found["missing"] == [] and found["root_password"] == "p"


@pytest.mark.parametrize(
    "state, kwargs, missing",
    [
        ("active", {}, []),
        ("active", {"products": {}}, ["package", "os_template"]),
        ("suspended", {"products": {}}, []),
        ("terminated", {"products": {}, "domain_template": "@DOMAIN@"}, []),
        ("usage", {"products": {}}, []),
    ],
)
def test_missing(state, kwargs, missing):
    kwargs.setdefault("products", PRODUCTS)
    assert settings(whmcs(), state=state, **kwargs)["missing"] == missing


def test_missing_owner_and_hostname():
    found = settings(whmcs(username="", password="", domain=""), state="active", products=PRODUCTS, domain_template="@DOMAIN@")
    assert found["missing"] == ["hostname", "owner", "owner_password"]


def test_os_option_order():
    assert os_option({"ostemplate": "c", "OS": "b", "os": "a"}) == "a"
    assert os_option({}) == ""
    assert os_option({"os": 7}) == "7"


def test_filter_is_the_same_function():
    assert service_settings(whmcs(), state="active", products=PRODUCTS) == settings(whmcs(), state="active", products=PRODUCTS)


def test_root_password():
    assert settings(whmcs(), products=PRODUCTS)["root_password"] == "ada-pw"
    assert settings(whmcs(), products=PRODUCTS, root_password="r00t")["root_password"] == "r00t"


# --- the result record ---------------------------------------------------------------------------

SERVER = {"id": "5", "main_ip": "10.0.0.5", "owner": "ada", "hostname": "shop.example.com"}
LOOKED = {"id": "4", "main_ip": "10.0.0.4", "owner": "ada", "hostname": "shop.example.com"}


@pytest.mark.parametrize(
    "state, server, traffic, expected",
    [
        ("active", SERVER, None, {"server_id": "5", "main_ip": "10.0.0.5", "owner": "ada"}),
        ("suspended", SERVER, None, {"server_id": "5", "main_ip": "10.0.0.5", "owner": "ada"}),
        ("terminated", SERVER, None, {"server_id": "5", "main_ip": "", "owner": ""}),
        ("terminated", None, None, {"server_id": "", "main_ip": "", "owner": ""}),
        ("usage", None, [{"server_id": "5", "burst": 17}], {"server_id": "5", "main_ip": "burst 17", "owner": ""}),
        ("usage", None, [], {"server_id": "", "main_ip": "burst 0", "owner": ""}),
    ],
)
def test_result_record(state, server, traffic, expected):
    record = result_record({"service_id": 42, "hostname": "shop.example.com"}, state, server, traffic)
    assert record == dict(expected, service_id=42, state=state, hostname="shop.example.com")


def test_service_result_filter():
    """The role's record of one fleet_apply result; a failure keeps its message, a terminated service no address."""
    applied = {
        "host": "h",
        "service_id": 42,
        "hostname": "shop.example.com",
        "state": "active",
        "action": "unblock",
        "server": SERVER,
        "failed": False,
        "msg": "",
    }
    record = service_result(applied)
    assert record == dict(
        service_id=42, state="active", hostname="shop.example.com", server_id="5", main_ip="10.0.0.5", owner="ada", action="unblock", failed=False, msg=""
    )
    failed = service_result(dict(applied, server=None, failed=True, msg="no free server"))
    assert failed["failed"] and failed["msg"] == "no free server" and failed["server_id"] == ""
    assert service_result(dict(applied, state="terminated", action="release"))["main_ip"] == ""
    found = settings(whmcs(), products=PRODUCTS)
    assert service_result(found, "usage", traffic=[{"server_id": "9", "burst": 3}])["main_ip"] == "burst 3"
