# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""WHMCS API simulator: ``POST /includes/api.php`` over HTTPS on 127.0.0.1.

It answers the actions the collection uses the way the WHMCS API reference
(``whmcs-api.md``) describes them, quirks included:

* every call needs ``identifier`` + ``secret``; wrong or missing ones give ``result: error``
  "Invalid or missing credentials" with HTTP 200 (legacy ``username`` + ``password`` is not
  accepted: "Authentication Failed");
* IP refusal (``refuse_ip``): ``"403"`` answers HTTP 403, ``"error"`` answers ``result: error``
  "Invalid IP 127.0.0.1" with HTTP 200, unless the request carries the right ``accesskey``;
  a wrong ``accesskey`` gives "Invalid Access Key";
* numbers travel as JSON strings (``"totalresults": "2"``, ids, amounts, config option values);
* ``GetClientsProducts``: filters ``clientid``, ``serviceid``, ``pid``, ``domain``, ``username2``;
  ordered by service id; ``limitstart`` offset; a missing or ``0`` ``limitnum`` means everything;
  ``products`` is the empty string ``""`` when nothing matches; passwords come back decrypted;
  ``customfields`` lists every custom field of the product (value ``""`` when unset),
  ``configoptions`` every config option the service has a value for;
* ``UpdateClientProduct``: empty values (PHP ``empty()``: ``""`` and ``"0"``) are ignored, so a
  number field such as ``bwusage`` cannot be set to ``0``; ``unset[]=FIELD`` blanks the fields the
  documentation lists (domain, serviceusername, servicepassword, subscriptionid, ns1, ns2,
  dedicatedip, assignedips, notes, suspendreason) and ignores others; ``customfields`` is base64 of a PHP-serialized array
  {field id: value}; "Service ID Not Found" for an unknown service;
* errors are ``{"result": "error", "message": ...}`` with HTTP 200; an unknown action is
  "Command Not Found"; without ``responsetype=json`` the answer is XML.

Assumptions beyond the reference (behaviour the reference does not settle):

* the check order is IP / access key, then credentials, then the action's name, then its fields;
* ``startnumber`` and ``numreturned`` are JSON numbers, ``totalresults`` and every field of a
  service (ids, amounts, config option values) JSON strings;
* in ``UpdateClientProduct`` a custom field value is written even when empty (``unset[]`` is
  for the service's own fields), and ids of fields the product does not have are ignored;
  ``status`` must be one of WHMCS's statuses ("Invalid Status" otherwise); ``configoptions``
  is not supported;
* ``GetProducts`` answers ``products: ""`` when nothing matches, like GetClientsProducts;
* ``DecryptPassword`` decrypts the simulator's own toy cipher (``encrypt_password()``:
  base64 of ``"enc:" + text``), not WHMCS's;
* ``ModuleCreate`` / ``ModuleSuspend`` / ``ModuleUnsuspend`` / ``ModuleTerminate`` only change
  the status and write the activity log (there is no provisioning module behind them; W-EDA-4);
* the API role allows every action (no "Access Denied");
* ``UpdateClientProduct`` answers ``{"result": "success", "serviceid": N}`` as the reference shows; the
  ``Module*`` actions answer ``{"result": "success"}``. Knob ``strip_from_writes="Action:key[,Action:key...]"``
  leaves the named keys out of every successful answer of that writing action, the change still made
  (``"UpdateClientProduct:serviceid"``: a WHMCS that answers without the id; ``"ModuleCreate:result"``: one
  whose answer says neither success nor error). ``write_answer_keys`` (not a knob) records, per action,
  every key its successful answers carried before any was left out, so a test can take each away in turn.

Module events, the activity log and the module queue (used by the EDA event source; the reference
gives the fields of GetActivityLog and GetModuleQueue but not the rest):

* W-EDA-1: a successful module action writes one activity log entry
  ``Module Create Successful - Service ID: N`` (``Suspend``, ``Unsuspend``, ``Terminate`` likewise),
  attached to the service's client; a failed one ``Module Create Failed - Service ID: N - Error: ...``;
* W-EDA-2: ``GetActivityLog`` lists entries newest first (ids descending, as the documented
  example does); ``description`` is a case-insensitive substring match; ``limitnum`` defaults to
  25; ``totalresults`` and ``startnumber`` are JSON numbers and entry fields are JSON numbers and
  strings as in the WHMCS 8 example; with no match ``activity`` is ``{"entry": []}``;
* W-EDA-3: ``GetModuleQueue`` answers ``queue`` as a JSON list of objects with the documented
  example's keys (``id``, ``serviceType``, ``serviceId``, ``moduleName``, ``moduleAction``,
  ``lastAttempt``, ``lastAttemptError``, ``numRetries``, ``completed``, ``createdAt``,
  ``updatedAt``; values as strings, like the example) and lists only incomplete entries; a failed
  automatic module action adds an entry (``CreateAccount``, ``SuspendAccount``,
  ``UnsuspendAccount``, ``TerminateAccount``), a failed retry of the same action bumps its
  ``numRetries``, and a later success of that action completes it;
* W-EDA-4: the ``Module*`` API actions run the same path as WHMCS's automation: they write the
  activity log (W-EDA-1) and resolve a queue entry of the same action; ``module_event()`` (for
  tests) does the same, and with ``error=`` records a failure instead.

The WHMCS stand-in of the provisioning module's tests (``tests/integration/whmcs_standin.php``) saves what
WHMCS itself saves after a module function (the simulator has no module behind its API):

* W-MOD-1: ``PUT /_sim/module_event`` with ``{"service_id", "action", "error", "reason", "queue"}`` is
  ``module_event()``: the status a successful module action sets (and its activity log line), or a failed
  action's log line and module queue entry. ``queue: false`` (default true) leaves the module queue alone,
  as WHMCS does for an action an admin started by hand (WHMCS shows the error to the admin instead);
* W-MOD-2: the service's admin notes are its ``notes`` field (GetClientsProducts shows it,
  UpdateClientProduct's ``notes`` replaces it): the module writes its ``ispsystem-dcimanager: ...`` lines there.

State (``dump_state()`` / ``load_state()``, JSON): ``clients``, ``servers``, ``products`` (with
``configoptions`` and ``customfields`` definitions) and ``services`` (with ``configoptions``
{option id: value} and ``customfields`` {field id: value}); optional ``activitylog`` and
``modulequeue`` (lists, default empty). ``make_state()`` generates one.

Run as a process: ``python -m tests.simulators.whmcs [--state state.json] [--latency 0.02]``.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import sys
import time
from xml.sax.saxutils import escape

from ._server import SimulatorServer, run_cli

API_PATH = "/includes/api.php"
STATUSES = ("Pending", "Active", "Suspended", "Terminated", "Cancelled", "Fraud", "Completed")
READ_ACTIONS = frozenset(("GetClientsProducts", "GetProducts", "GetClientsDetails", "DecryptPassword", "GetServers", "GetActivityLog", "GetModuleQueue"))
WRITE_ACTIONS = frozenset(("UpdateClientProduct", "ModuleCreate", "ModuleSuspend", "ModuleUnsuspend", "ModuleTerminate"))

# UpdateClientProduct field -> the service's own key.
UPDATABLE = {
    "pid": "pid",
    "serverid": "serverid",
    "regdate": "regdate",
    "nextduedate": "nextduedate",
    "domain": "domain",
    "status": "status",
    "notes": "notes",
    "serviceusername": "username",
    "servicepassword": "password",
    "dedicatedip": "dedicatedip",
    "assignedips": "assignedips",
    "diskusage": "diskusage",
    "disklimit": "disklimit",
    "bwusage": "bwusage",
    "bwlimit": "bwlimit",
    "suspendreason": "suspensionreason",
    "overideautosuspend": "overideautosuspend",
    "overidesuspenduntil": "overidesuspenduntil",
    "firstpaymentamount": "firstpaymentamount",
    "recurringamount": "recurringamount",
    "billingcycle": "billingcycle",
    "paymentmethod": "paymentmethod",
    "ns1": "ns1",
    "ns2": "ns2",
    "subscriptionid": "subscriptionid",
    "promoid": "promoid",
}
# The fields UpdateClientProduct's unset[] blanks, as WHMCS's documentation lists them.
UNSETTABLE = ("domain", "serviceusername", "servicepassword", "subscriptionid", "ns1", "ns2", "dedicatedip", "assignedips", "notes", "suspendreason")
# Fields a service has beyond its ids, with the value a new one starts with.
SERVICE_DEFAULTS = {
    "orderid": 0,
    "ordernumber": "",
    "regdate": "2024-01-01",
    "domain": "",
    "dedicatedip": "",
    "assignedips": "",
    "serverid": 0,
    "suspensionreason": "",
    "firstpaymentamount": "0.00",
    "recurringamount": "0.00",
    "paymentmethod": "banktransfer",
    "paymentmethodname": "Bank Transfer",
    "billingcycle": "Monthly",
    "nextduedate": "0000-00-00",
    "status": "Pending",
    "username": "",
    "password": "",
    "subscriptionid": "",
    "promoid": 0,
    "overideautosuspend": 0,
    "overidesuspenduntil": "0000-00-00",
    "ns1": "",
    "ns2": "",
    "notes": "",
    "diskusage": 0,
    "disklimit": 0,
    "bwusage": 0,
    "bwlimit": 0,
    "lastupdate": "0000-00-00 00:00:00",
    "configoptions": {},
    "customfields": {},
}


# Module action -> (the word in the activity log, the module queue's moduleAction, the status it sets).
MODULE_ACTIONS = {
    "create": ("Create", "CreateAccount", "Active"),
    "suspend": ("Suspend", "SuspendAccount", "Suspended"),
    "unsuspend": ("Unsuspend", "UnsuspendAccount", "Active"),
    "terminate": ("Terminate", "TerminateAccount", "Terminated"),
}


class WHMCSApiError(Exception):
    """An answer ``{"result": "error", "message": ...}``."""


# PHP (un)serialize: the simulator's own, independent of the collection's serializer ------------


def php_unserialize(text):
    """Parse PHP's ``serialize()`` output (arrays, strings, ints, floats, bools, null).

    String lengths are byte counts, so the text is handled as UTF-8 bytes.
    """
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    value, end = _php_value(data, 0)
    if end != len(data):
        raise ValueError("trailing data after position %d" % end)
    return value


def _php_value(data, pos):
    kind = data[pos : pos + 2]
    if kind == b"N;":
        return None, pos + 2
    if kind in (b"i:", b"b:", b"d:"):
        end = data.index(b";", pos)
        raw = data[pos + 2 : end].decode("ascii")
        value = int(raw) if kind == b"i:" else (raw == "1" if kind == b"b:" else float(raw))
        return value, end + 1
    if kind == b"s:":
        colon = data.index(b":", pos + 2)
        length = int(data[pos + 2 : colon])
        if data[colon + 1 : colon + 2] != b'"' or data[colon + 2 + length : colon + 4 + length] != b'";':
            raise ValueError("bad string at position %d" % pos)
        return data[colon + 2 : colon + 2 + length].decode("utf-8"), colon + 4 + length
    if kind == b"a:":
        colon = data.index(b":", pos + 2)
        count = int(data[pos + 2 : colon])
        if data[colon + 1 : colon + 2] != b"{":
            raise ValueError("bad array at position %d" % pos)
        pos = colon + 2
        array = {}
        for dummy in range(count):
            key, pos = _php_value(data, pos)
            if not isinstance(key, (int, str)):
                raise ValueError("bad array key at position %d" % pos)
            array[key], pos = _php_value(data, pos)
        if data[pos : pos + 1] != b"}":
            raise ValueError("array not closed at position %d" % pos)
        return array, pos + 1
    raise ValueError("unknown PHP value %r at position %d" % (kind, pos))


def encrypt_password(text):
    """The simulator's toy stand-in for WHMCS's encrypt(): what DecryptPassword accepts."""
    return base64.b64encode(("enc:" + text).encode("utf-8")).decode("ascii")


def _empty(value):
    """PHP's empty() for a form value."""
    return value in (None, "", "0")


def _to_xml(value, tag):
    if isinstance(value, dict):
        inner = "".join(_to_xml(item, key) for key, item in value.items())
    elif isinstance(value, list):
        return "".join(_to_xml(item, tag) for item in value)
    else:
        inner = escape("" if value is None else str(value))
    return "<%s>%s</%s>" % (tag, inner, tag)


class WHMCSSimulator(SimulatorServer):
    """A WHMCS installation's API, in memory (see the module docstring)."""

    BROKEN_ANSWER = ("application/json", b'{"result":"success","totalresults":"2","startnumber":0,"products":{"product":[{"id":"1","na')

    SETTINGS = {
        "refuse_ip": str,  # "" (allowed), "403" (HTTP 403) or "error" ("Invalid IP", HTTP 200)
        "access_key": str,  # $api_access_key of configuration.php; "" = none configured
        "identifier": str,  # the one API credential that is accepted
        "secret": str,
        "strip_from_writes": str,  # "Action:key[,Action:key...]": keys left out of a writing action's answer
    }

    def __init__(
        self,
        tls_dir=None,
        port=0,
        latency=0.0,
        identifier="sim-identifier",
        secret="sim-secret",
        refuse_ip="",
        access_key="",
        state=None,
        jitter=0.0,
        strip_from_writes="",
    ):
        super().__init__(tls_dir=tls_dir, port=port, latency=latency, jitter=jitter)
        self.strip_from_writes = strip_from_writes
        # action -> every key its successful answers carried, before any was left out (strip_from_writes).
        self.write_answer_keys = {}
        self.identifier = identifier
        self.secret = secret
        self.refuse_ip = refuse_ip
        self.access_key = access_key
        self.clients = {}
        self.servers = {}
        self.products = {}
        self.services = {}
        self._service_ids = []
        self.activitylog = []
        self.modulequeue = []
        self.load_state(state if state is not None else make_state(12, seed=1))

    @property
    def url(self):
        """The WHMCS base URL (what users give the collection)."""
        return self.base_url + "/"

    def env(self):
        """The environment variables that point the collection's whmcs_* modules and plugins at this simulator."""
        return {
            "WHMCS_URL": self.url,
            "WHMCS_API_IDENTIFIER": self.identifier,
            "WHMCS_API_SECRET": self.secret,
            "WHMCS_CA_PATH": self.ca_path,
        }

    @property
    def api_url(self):
        return self.base_url + API_PATH

    # --- state -------------------------------------------------------------------------------

    def load_state(self, state):
        state = copy.deepcopy(state)
        self.clients = dict((int(c["id"]), c) for c in state.get("clients", []))
        self.servers = dict((int(s["id"]), s) for s in state.get("servers", []))
        self.products = dict((int(p["pid"]), p) for p in state.get("products", []))
        self.services = {}
        for service in state.get("services", []):
            full = copy.deepcopy(SERVICE_DEFAULTS)
            full.update(service)
            full["configoptions"] = dict((str(k), v) for k, v in full["configoptions"].items())
            full["customfields"] = dict((str(k), v) for k, v in full["customfields"].items())
            self.services[int(service["id"])] = full
        self._service_ids = sorted(self.services)
        self.activitylog = list(state.get("activitylog", []))
        self.modulequeue = list(state.get("modulequeue", []))

    def dump_state(self):
        self.apply_due_writes()
        return copy.deepcopy(
            {
                "clients": [self.clients[k] for k in sorted(self.clients)],
                "servers": [self.servers[k] for k in sorted(self.servers)],
                "products": [self.products[k] for k in sorted(self.products)],
                "services": [self.services[k] for k in self._service_ids],
                "activitylog": self.activitylog,
                "modulequeue": self.modulequeue,
            }
        )

    def service(self, service_id):
        """A copy of one service's stored record (for tests)."""
        self.apply_due_writes()
        with self.lock:
            return copy.deepcopy(self.services[int(service_id)])

    # --- requests ----------------------------------------------------------------------------

    def classify(self, method, path, query, params):
        action = params.get("action") if isinstance(params.get("action"), str) else str(params.get("action"))
        return action, action in WRITE_ACTIONS

    def handle_api(self, method, path, query, params):
        action, write = self.classify(method, path, query, params)
        if path.rstrip("/") != API_PATH or method != "POST":
            return 404, "text/html", b"<html><body><h1>404 Not Found</h1></body></html>", action, False
        refused = self._check_ip(params)
        if refused is not None:
            return refused + (action, write)
        try:
            self._check_credentials(params)
            handler = getattr(self, "_action_" + str(action), None)
            if handler is None:
                raise WHMCSApiError("Command Not Found")
            answer = handler(params)
            answer = dict({"result": "success"}, **answer)
            if write:
                self.write_answer_keys.setdefault(action, set()).update(answer)
                stripped = {tuple(pair.split(":", 1)) for pair in self.strip_from_writes.split(",") if pair}
                answer = dict((key, value) for key, value in answer.items() if (action, key) not in stripped)
        except WHMCSApiError as exc:
            answer = {"result": "error", "message": str(exc)}
        return (200,) + self._render(answer, params) + (action, write)

    def _check_ip(self, params):
        key = params.get("accesskey")
        if key is not None:
            if not self.access_key or key != self.access_key:
                return 200, "application/json", json.dumps({"result": "error", "message": "Invalid Access Key"}).encode()
            return None  # the right access key skips the IP allow-list
        if self.refuse_ip == "403":
            return 403, "application/json", json.dumps({"result": "error", "message": "Invalid IP 127.0.0.1"}).encode()
        if self.refuse_ip == "error":
            return 200, "application/json", json.dumps({"result": "error", "message": "Invalid IP 127.0.0.1"}).encode()
        return None

    def _check_credentials(self, params):
        if "identifier" not in params and "username" in params:
            raise WHMCSApiError("Authentication Failed")
        if params.get("identifier") != self.identifier or params.get("secret") != self.secret:
            raise WHMCSApiError("Invalid or missing credentials")

    @staticmethod
    def _render(answer, params):
        if params.get("responsetype") == "json":
            return "application/json", json.dumps(answer).encode("utf-8")
        xml = '<?xml version="1.0" encoding="utf-8"?>\n' + _to_xml(answer, "whmcsapi")
        return "text/xml", xml.encode("utf-8")

    # --- actions -----------------------------------------------------------------------------

    def _service_or_error(self, params):
        try:
            return self.services[int(params.get("serviceid"))]
        except (TypeError, ValueError, KeyError):
            raise WHMCSApiError("Service ID Not Found") from None

    def _action_GetClientsProducts(self, params):  # pylint: disable=invalid-name
        wanted = []
        for name, key in (("clientid", "clientid"), ("serviceid", "id"), ("pid", "pid"), ("domain", "domain"), ("username2", "username")):
            if not _empty(params.get(name)):
                wanted.append((key, str(params[name])))
        services = self.services
        if not wanted:
            matches = self._service_ids
        elif wanted[0][0] == "id" and len(wanted) == 1:
            matches = [sid for sid in (_int(wanted[0][1], None),) if sid in services]
        else:
            matches = [sid for sid in self._service_ids if all(str(services[sid][key]) == value for key, value in wanted)]
        start = max(0, _int(params.get("limitstart"), 0))
        limit = _int(params.get("limitnum"), 0)
        chosen = matches[start : start + limit] if limit > 0 else matches[start:]
        answer = {
            "clientid": params.get("clientid") or "",
            "serviceid": params.get("serviceid") or "",
            "pid": params.get("pid") or "",
            "domain": params.get("domain") or "",
            "totalresults": str(len(matches)),
            "startnumber": start,
            "numreturned": len(chosen),
        }
        answer["products"] = {"product": [self._render_service(services[sid]) for sid in chosen]} if chosen else ""
        return answer

    def _render_service(self, service):
        product = self.products.get(int(service["pid"]), {})
        server = self.servers.get(int(service["serverid"] or 0), {})
        group = product.get("groupname", "")
        out = {
            "id": str(service["id"]),
            "clientid": str(service["clientid"]),
            "orderid": str(service["orderid"]),
            "ordernumber": str(service["ordernumber"]),
            "pid": str(service["pid"]),
            "regdate": service["regdate"],
            "name": product.get("name", ""),
            "translated_name": product.get("name", ""),
            "groupname": group,
            "translated_groupname": group,
            "domain": service["domain"],
            "dedicatedip": service["dedicatedip"],
            "serverid": str(service["serverid"]),
            "servername": server.get("name", ""),
            "serverip": server.get("ipaddress", ""),
            "serverhostname": server.get("hostname", ""),
            "suspensionreason": service["suspensionreason"],
            "firstpaymentamount": service["firstpaymentamount"],
            "recurringamount": service["recurringamount"],
            "paymentmethod": service["paymentmethod"],
            "paymentmethodname": service["paymentmethodname"],
            "billingcycle": service["billingcycle"],
            "nextduedate": service["nextduedate"],
            "status": service["status"],
            "username": service["username"],
            "password": service["password"],
            "subscriptionid": service["subscriptionid"],
            "promoid": str(service["promoid"]),
            "overideautosuspend": str(service["overideautosuspend"]),
            "overidesuspenduntil": service["overidesuspenduntil"],
            "ns1": service["ns1"],
            "ns2": service["ns2"],
            "assignedips": service["assignedips"],
            "notes": service["notes"],
            "diskusage": str(service["diskusage"]),
            "disklimit": str(service["disklimit"]),
            "bwusage": str(service["bwusage"]),
            "bwlimit": str(service["bwlimit"]),
            "lastupdate": service["lastupdate"],
        }
        values = service["customfields"]
        out["customfields"] = {
            "customfield": [
                {"id": str(field["id"]), "name": field["name"], "translated_name": field["name"], "value": values.get(str(field["id"]), "")}
                for field in product.get("customfields", [])
            ]
        }
        chosen = service["configoptions"]
        options = []
        for option in product.get("configoptions", []):
            if str(option["id"]) not in chosen:
                continue
            value = chosen[str(option["id"])]
            options.append({"id": str(option["id"]), "option": option["name"], "type": option["type"], "value": str(value)})
        out["configoptions"] = {"configoption": options}
        return out

    def _action_GetProducts(self, params):  # pylint: disable=invalid-name
        pids = None
        if not _empty(params.get("pid")):
            pids = set(_int(p, -1) for p in str(params["pid"]).split(","))
        chosen = []
        for pid in sorted(self.products):
            product = self.products[pid]
            if pids is not None and pid not in pids:
                continue
            if not _empty(params.get("gid")) and str(product.get("gid")) != str(params["gid"]):
                continue
            if not _empty(params.get("module")) and product.get("module") != params["module"]:
                continue
            chosen.append(
                {
                    "pid": str(pid),
                    "gid": str(product.get("gid", 1)),
                    "type": product.get("type", "server"),
                    "name": product["name"],
                    "description": product.get("description", ""),
                    "module": product.get("module", "dcimanager"),
                    "paytype": product.get("paytype", "recurring"),
                    "pricing": product.get("pricing", {"USD": {"prefix": "$", "suffix": " USD", "monthly": "100.00"}}),
                    "customfields": {
                        "customfield": [
                            {"id": str(f["id"]), "name": f["name"], "description": f.get("description", ""), "required": f.get("required", "")}
                            for f in product.get("customfields", [])
                        ]
                    },
                    "configoptions": {
                        "configoption": [
                            {
                                "id": str(o["id"]),
                                "name": o["name"],
                                "type": o["type"],
                                "options": {"option": [{"id": str(i), "name": str(n)} for i, n in enumerate(o.get("options", []), 1)]},
                            }
                            for o in product.get("configoptions", [])
                        ]
                    },
                }
            )
        return {"totalresults": str(len(chosen)), "products": {"product": chosen} if chosen else ""}

    def _action_UpdateClientProduct(self, params):  # pylint: disable=invalid-name
        service = self._service_or_error(params)
        changes = {}
        for field, key in UPDATABLE.items():
            value = params.get(field)
            if isinstance(value, list):
                value = value[-1]
            if _empty(value):
                continue  # PHP empty(): "" and "0" are ignored, blank a field with unset[]
            if field == "status" and value not in STATUSES:
                raise WHMCSApiError("Invalid Status")
            changes[key] = value
        unset = params.get("unset[]", [])
        for field in unset if isinstance(unset, list) else [unset]:
            # WHMCS's documentation lists the fields unset[] blanks; a number field is not among them.
            if field in UNSETTABLE:
                changes[UPDATABLE[field]] = ""
        custom = {}
        if not _empty(params.get("customfields")):
            try:
                decoded = php_unserialize(base64.b64decode(params["customfields"], validate=True).decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise WHMCSApiError("Invalid customfields: expected base64 of a PHP-serialized array") from None
            if not isinstance(decoded, dict):
                raise WHMCSApiError("Invalid customfields: expected base64 of a PHP-serialized array")
            product = self.products.get(int(service["pid"]), {})
            known = set(str(f["id"]) for f in product.get("customfields", []))
            custom = dict((str(k), "" if v is None else str(v)) for k, v in decoded.items() if str(k) in known)
        for key, value in changes.items():
            service[key] = int(value) if key in ("pid", "serverid") else value
        service["customfields"].update(custom)
        return {"serviceid": service["id"]}

    def _action_GetClientsDetails(self, params):  # pylint: disable=invalid-name
        client = None
        if not _empty(params.get("clientid")):
            client = self.clients.get(_int(params["clientid"], -1))
        elif not _empty(params.get("email")):
            client = next((c for c in self.clients.values() if c.get("email") == params["email"]), None)
        if client is None:
            raise WHMCSApiError("Client Not Found")
        details = dict((key, str(value)) for key, value in client.items())
        details.update(userid=str(client["id"]), client_id=str(client["id"]))
        answer = dict(details)
        answer["client"] = details
        return answer

    def _action_DecryptPassword(self, params):  # pylint: disable=invalid-name
        try:
            text = base64.b64decode(params.get("password2") or "", validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            text = ""
        return {"password": text[4:] if text.startswith("enc:") else ""}

    def _action_GetServers(self, params):  # pylint: disable=invalid-name,unused-argument
        servers = [
            {
                "id": str(s["id"]),
                "name": s.get("name", ""),
                "hostname": s.get("hostname", ""),
                "ipaddress": s.get("ipaddress", ""),
                "active": s.get("active", True),
                "module": s.get("module", "dcimanager"),
            }
            for s in (self.servers[k] for k in sorted(self.servers))
        ]
        return {"servers": servers}

    def _module_command(self, params, action):
        service = self._service_or_error(params)
        self._module_event(service, action, reason=params.get("suspendreason") or "")
        return {}

    def _action_ModuleCreate(self, params):  # pylint: disable=invalid-name
        return self._module_command(params, "create")

    def _action_ModuleSuspend(self, params):  # pylint: disable=invalid-name
        return self._module_command(params, "suspend")

    def _action_ModuleUnsuspend(self, params):  # pylint: disable=invalid-name
        return self._module_command(params, "unsuspend")

    def _action_ModuleTerminate(self, params):  # pylint: disable=invalid-name
        return self._module_command(params, "terminate")

    # --- module events, the activity log, the module queue (assumptions W-EDA-1..4) ----------------

    def module_event(self, service_id, action, error=None, reason="", queue=True):
        """What WHMCS's automation does for one module action on a service (for tests).

        ``action``: create, suspend, unsuspend or terminate. Without ``error`` the action succeeds:
        the status changes and the activity log gets "Module X Successful - Service ID: N". With
        ``error`` it fails: the status stays, the log gets "Module X Failed ...", and (unless
        ``queue`` is false: an admin's own action) the module queue gets (or bumps) an entry.
        Returns the id of the activity log entry written.
        """
        with self.lock:
            return self._module_event(self.services[int(service_id)], action, error=error, reason=reason, queue=queue)

    def _control(self, handler, what):
        """The base's control endpoints, and ``PUT /_sim/module_event`` (W-MOD-1)."""
        if what != "module_event" or handler.command != "PUT":
            super()._control(handler, what)
            return
        try:
            data = json.loads(handler.read_body().decode("utf-8") or "{}")
            if data.get("action") not in MODULE_ACTIONS:
                raise ValueError("action must be one of %s" % sorted(MODULE_ACTIONS))
            entry = self.module_event(data["service_id"], data["action"], error=data.get("error"), reason=data.get("reason", ""), queue=data.get("queue", True))
        except (ValueError, KeyError, TypeError) as exc:
            handler.send(400, "application/json", json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}).encode())
            return
        handler.send(200, "application/json", json.dumps({"activity_id": entry}).encode())

    def log_activity(self, description, client_id=0):
        """Append one activity log entry (WHMCS's logActivity()); returns its id."""
        with self.lock:
            return self._log_activity(description, client_id)

    def _log_activity(self, description, client_id=0):
        entry_id = (self.activitylog[-1]["id"] + 1) if self.activitylog else 1
        self.activitylog.append(
            {
                "id": entry_id,
                "clientId": int(client_id),
                "userId": 0,
                "adminId": 0,
                "date": _now(),
                "description": description,
                "username": "System",
                "ipaddress": "127.0.0.1",
                "userid": int(client_id),
            }
        )
        return entry_id

    def _module_event(self, service, action, error=None, reason="", queue=True):
        word, queue_action, status = MODULE_ACTIONS[action]
        sid = int(service["id"])
        queued = next(
            (
                item
                for item in self.modulequeue
                if item["serviceType"] == "service" and int(item["serviceId"]) == sid and item["moduleAction"] == queue_action and item["completed"] == "0"
            ),
            None,
        )
        if error:
            if not queue:
                pass
            elif queued is None:
                product = self.products.get(int(service["pid"]), {})
                queue_id = (int(self.modulequeue[-1]["id"]) + 1) if self.modulequeue else 1
                self.modulequeue.append(
                    {
                        "id": str(queue_id),
                        "serviceType": "service",
                        "serviceId": str(sid),
                        "moduleName": product.get("module", ""),
                        "moduleAction": queue_action,
                        "lastAttempt": _now(),
                        "lastAttemptError": str(error),
                        "numRetries": "0",
                        "completed": "0",
                        "createdAt": _now(),
                        "updatedAt": _now(),
                    }
                )
            else:
                queued.update(lastAttempt=_now(), lastAttemptError=str(error), updatedAt=_now(), numRetries=str(int(queued["numRetries"]) + 1))
            return self._log_activity("Module %s Failed - Service ID: %d - Error: %s" % (word, sid, error), service["clientid"])
        service["status"] = status
        if action == "suspend":
            service["suspensionreason"] = reason
        if queued is not None:
            queued.update(completed="1", updatedAt=_now())
        return self._log_activity("Module %s Successful - Service ID: %d" % (word, sid), service["clientid"])

    def _action_GetActivityLog(self, params):  # pylint: disable=invalid-name
        entries = list(reversed(self.activitylog))  # newest first
        client = params.get("clientid") if not _empty(params.get("clientid")) else params.get("userid")
        if not _empty(client):
            entries = [e for e in entries if str(e["clientId"]) == str(client)]
        if not _empty(params.get("description")):
            needle = str(params["description"]).lower()
            entries = [e for e in entries if needle in e["description"].lower()]
        if not _empty(params.get("user")):
            entries = [e for e in entries if e["username"] == params["user"]]
        if not _empty(params.get("ipaddress")):
            entries = [e for e in entries if e["ipaddress"] == params["ipaddress"]]
        if not _empty(params.get("date")):
            # localised format; the simulator's locale is dd/mm/yyyy
            day = str(params["date"]).split("/")
            if len(day) == 3:
                wanted = "%s-%s-%s" % (day[2], day[1], day[0])
                entries = [e for e in entries if e["date"].startswith(wanted)]
        start = max(0, _int(params.get("limitstart"), 0))
        limit = _int(params.get("limitnum"), 25)
        limit = 25 if limit <= 0 else limit
        chosen = entries[start : start + limit]
        return {"totalresults": len(entries), "startnumber": start, "activity": {"entry": copy.deepcopy(chosen)}}

    def _action_GetModuleQueue(self, params):  # pylint: disable=invalid-name
        items = [item for item in self.modulequeue if item["completed"] == "0"]
        if not _empty(params.get("serviceType")):
            items = [item for item in items if item["serviceType"] == params["serviceType"]]
        if not _empty(params.get("relatedId")):
            items = [item for item in items if item["serviceId"] == str(params["relatedId"])]
        if not _empty(params.get("moduleName")):
            items = [item for item in items if item["moduleName"] == params["moduleName"]]
        if not _empty(params.get("moduleAction")):
            items = [item for item in items if item["moduleAction"] == params["moduleAction"]]
        if not _empty(params.get("since")):
            items = [item for item in items if item["updatedAt"] >= str(params["since"])]
        return {"count": str(len(items)), "queue": copy.deepcopy(items)}


def _now():
    return time.strftime("%Y-%m-%d %H:%M:%S")


def _int(value, default):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


# --- state generator -------------------------------------------------------------------------

DEFAULT_PRODUCTS = (
    {
        "pid": 1,
        "gid": 1,
        "groupname": "Dedicated Servers",
        "name": "Dedicated E3-1230",
        "type": "server",
        "module": "dcimanager",
        "configoptions": [
            {"id": 1, "name": "OS", "type": "dropdown", "options": ["Debian 12", "Ubuntu 24.04", "AlmaLinux 9"]},
            {"id": 2, "name": "IP", "type": "quantity"},
            {"id": 3, "name": "IPv6", "type": "quantity"},
        ],
        "customfields": [{"id": 1, "name": "Rack", "type": "text"}, {"id": 2, "name": "Serial", "type": "text"}],
    },
    {
        "pid": 2,
        "gid": 1,
        "groupname": "Dedicated Servers",
        "name": "Dedicated EPYC 7302",
        "type": "server",
        "module": "dcimanager",
        "configoptions": [
            {"id": 4, "name": "os", "type": "radio", "options": ["Debian 12", "Windows Server 2022"]},
            {"id": 5, "name": "recipe", "type": "dropdown", "options": ["null", "#local__docker"]},
            {"id": 6, "name": "Backup", "type": "yesno"},
        ],
        "customfields": [{"id": 3, "name": "Rack", "type": "text"}],
    },
    {
        "pid": 3,
        "gid": 2,
        "groupname": "Storage Servers",
        "name": "Storage 4x8TB",
        "type": "server",
        "module": "dcimanager",
        "configoptions": [],
        "customfields": [],
    },
)
DEFAULT_STATUS_WEIGHTS = (("Active", 70), ("Pending", 8), ("Suspended", 8), ("Terminated", 6), ("Cancelled", 4), ("Fraud", 2), ("Completed", 2))


def make_state(n_services, products=None, statuses=None, seed=0, clients=None):
    """A WHMCS state with ``n_services`` services, the same for the same arguments.

    ``products``: product definitions (default: three dedicated-server products with dropdown,
    radio, yes/no and quantity options and text custom fields, and one without any).
    ``statuses``: a list of statuses to draw from, or (status, weight) pairs (default: mostly
    Active, every status present). ``clients``: how many clients (default: one per three services).
    """
    rng = random.Random(seed)
    products = copy.deepcopy(list(products or DEFAULT_PRODUCTS))
    weights = statuses or DEFAULT_STATUS_WEIGHTS
    if weights and not isinstance(weights[0], (list, tuple)):
        weights = [(status, 1) for status in weights]
    names = [status for status, dummy in weights]
    cum = [weight for dummy, weight in weights]
    n_clients = clients or max(1, n_services // 3)
    state = {
        "clients": [
            {"id": cid, "firstname": "Client", "lastname": str(cid), "email": "client%d@example.com" % cid, "companyname": "", "status": "Active"}
            for cid in range(1, n_clients + 1)
        ],
        "servers": [{"id": 1, "name": "DCImanager", "hostname": "dci.example.com", "ipaddress": "198.51.100.10", "active": True, "module": "dcimanager"}],
        "products": products,
        "services": [],
    }
    for sid in range(1, n_services + 1):
        product = products[rng.randrange(len(products))]
        status = rng.choices(names, cum)[0]
        client = rng.randrange(1, n_clients + 1)
        provisioned = status not in ("Pending", "Fraud", "Cancelled")
        ip = "10.%d.%d.%d" % ((sid >> 16) & 255, (sid >> 8) & 255, sid & 255)
        options = {}
        for option in product.get("configoptions", []):
            if option["type"] in ("dropdown", "radio"):
                options[str(option["id"])] = rng.choice(option["options"])
            elif option["type"] == "yesno":
                options[str(option["id"])] = str(rng.randrange(2))
            else:
                options[str(option["id"])] = str(rng.randrange(4))
        custom = {}
        for field in product.get("customfields", []):
            if rng.random() < 0.7:
                custom[str(field["id"])] = "%s-%d" % (field["name"][:1].upper(), rng.randrange(1, 100))
        state["services"].append(
            {
                "id": sid,
                "clientid": client,
                "orderid": 1000 + sid,
                "ordernumber": str(7000000000 + sid),
                "pid": product["pid"],
                "regdate": "2024-%02d-%02d" % (1 + sid % 12, 1 + sid % 28),
                "domain": ("srv%d.example.com" % sid) if rng.random() < 0.8 else "",
                "dedicatedip": ip if provisioned else "",
                "assignedips": "\n".join("10.200.%d.%d" % (sid % 256, n) for n in range(rng.randrange(3))) if provisioned else "",
                "serverid": 1 if provisioned else 0,
                "billingcycle": rng.choice(("Monthly", "Quarterly", "Annually")),
                "nextduedate": "2025-%02d-%02d" % (1 + sid % 12, 1 + sid % 28),
                "status": status,
                "username": "client%d" % client,
                "password": "pw-%08x" % rng.getrandbits(32),
                "firstpaymentamount": "100.00",
                "recurringamount": "100.00",
                "configoptions": options,
                "customfields": custom,
            }
        )
    return state


def main(argv=None):
    return run_cli(WHMCSSimulator, argv)


if __name__ == "__main__":
    sys.exit(main())
