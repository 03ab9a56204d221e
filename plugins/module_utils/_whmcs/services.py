# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: how the collection reads WHMCS's services and products.

``normalize_service`` is the one mapping of a GetClientsProducts entry to what the modules and the
``whmcs`` inventory plugin show; the readers of config options and custom fields, the address list,
and ``php_serialize`` for UpdateClientProduct's custom fields. Not a public API: it may change in any
release without notice.
"""

from __future__ import annotations

import base64
import re

STATUSES = ("Pending", "Active", "Suspended", "Terminated", "Cancelled", "Fraud", "Completed")

# UpdateClientProduct's field names, by the names the collection uses.
SERVICE_FIELDS = {
    "status": "status",
    "domain": "domain",
    "dedicated_ip": "dedicatedip",
    "assigned_ips": "assignedips",
    "username": "serviceusername",
    "password": "servicepassword",
    "notes": "notes",
}

# WHMCS writes "0000-00-00" where a date is not set (free and one-time services).
_NO_DATE = ("", "0000-00-00")
_INT_RE = re.compile(r"^-?\d+$")
_ADDRESS_SPLIT_RE = re.compile(r"[\s,;]+")


def to_int(value, default=None):
    """WHMCS sends numbers as strings (or numbers); anything else gives ``default``."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    return default


def products_list(answer):
    """The ``products.product`` list of GetClientsProducts / GetProducts.

    With no results WHMCS sends ``"products": ""``; a single entry may arrive as a dict.
    """
    products = answer.get("products")
    if not isinstance(products, dict):
        return []
    items = products.get("product")
    if isinstance(items, dict):
        return [items]
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _entries(container, key):
    """``container[key]`` as a list of dicts, whatever WHMCS sent (``""``, a dict or a list)."""
    if not isinstance(container, dict):
        return []
    items = container.get(key)
    if isinstance(items, dict):
        return [items]
    if isinstance(items, list):
        return [item for item in items if isinstance(item, dict)]
    return []


def split_addresses(text):
    """``assignedips`` is free text, one address a line: a list of the non-empty entries."""
    if not text:
        return []
    if isinstance(text, list):
        return [str(item).strip() for item in text if str(item).strip()]
    return [item for item in _ADDRESS_SPLIT_RE.split(str(text)) if item]


def _date(value):
    value = (value or "").strip() if isinstance(value, str) else value
    return None if value in _NO_DATE or value is None else value


def config_options(raw):
    """``configoptions`` as {option name: value}; yesno and quantity values as numbers."""
    options = {}
    for option in _entries(raw.get("configoptions"), "configoption"):
        name = option.get("option")
        if name is None:
            continue
        value = option.get("value")
        if option.get("type") in ("yesno", "quantity"):
            value = to_int(value, value)
        options[str(name)] = value
    return options


def custom_fields(raw):
    """``customfields`` as {field name: value}."""
    return _by_field_name(raw, lambda field: "" if field.get("value") is None else field.get("value"))


def custom_field_ids(raw):
    """``customfields`` of a service or product as {field name: field id}."""
    return _by_field_name(raw, lambda field: to_int(field.get("id")))


def _by_field_name(raw, value_of):
    return dict((str(field.get("name")), value_of(field)) for field in _entries(raw.get("customfields"), "customfield") if field.get("name") is not None)


def normalize_service(raw, include_password=False):
    """A GetClientsProducts entry as the collection shows it (the inventory's host variables
    without the ``whmcs_`` prefix): numbers as numbers, ``assigned_ips`` as a list,
    ``config_options`` and ``custom_fields`` as dicts keyed by name, unset dates as None.
    """
    service = {
        "service_id": to_int(raw.get("id")),
        "client_id": to_int(raw.get("clientid")),
        "order_id": to_int(raw.get("orderid")),
        "product_id": to_int(raw.get("pid")),
        "product_name": raw.get("name") or "",
        "product_group": raw.get("groupname") or "",
        "status": raw.get("status") or "",
        "domain": raw.get("domain") or "",
        "dedicated_ip": (raw.get("dedicatedip") or "").strip(),
        "assigned_ips": split_addresses(raw.get("assignedips")),
        "username": raw.get("username") or "",
        "billing_cycle": raw.get("billingcycle") or "",
        "next_due_date": _date(raw.get("nextduedate")),
        "reg_date": _date(raw.get("regdate")),
        "server_id": to_int(raw.get("serverid")),
        "server_name": raw.get("servername") or "",
        "server_ip": raw.get("serverip") or "",
        "server_hostname": raw.get("serverhostname") or "",
        "config_options": config_options(raw),
        "custom_fields": custom_fields(raw),
    }
    if include_password:
        service["password"] = raw.get("password") or ""
    return service


# PHP serialize, for UpdateClientProduct's customfields ------------------------------------


def php_serialize(value):
    """PHP's ``serialize()`` for what WHMCS needs: arrays (dicts/lists) of strings, ints, bools and None.

    PHP string lengths count bytes, so text is measured in UTF-8.
    """
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return "b:%d;" % int(value)
    if isinstance(value, int):
        return "i:%d;" % value
    if isinstance(value, float):
        return "d:%r;" % value
    if isinstance(value, str):
        return 's:%d:"%s";' % (len(value.encode("utf-8")), value)
    if isinstance(value, (list, tuple)):
        value = dict(enumerate(value))
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            # PHP turns decimal-integer string keys into integer keys; do the same.
            if isinstance(key, str) and _INT_RE.match(key) and str(int(key)) == key:
                key = int(key)
            if not isinstance(key, (int, str)) or isinstance(key, bool):
                raise TypeError("PHP array keys must be int or str, not %s" % type(key).__name__)
            items.append(php_serialize(key) + php_serialize(item))
        return "a:%d:{%s}" % (len(items), "".join(items))
    raise TypeError("cannot PHP-serialize %s" % type(value).__name__)


def encode_custom_fields(values):
    """UpdateClientProduct's ``customfields``: base64 of a PHP-serialized array {field id: value}."""
    array = dict((int(field_id), "" if value is None else str(value)) for field_id, value in values.items())
    return base64.b64encode(php_serialize(array).encode("utf-8")).decode("ascii")
