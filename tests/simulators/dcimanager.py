"""Simulator of the DCImanager 5 (COREmanager "mgr5") API, for the collection's tests.

A real HTTPS server on 127.0.0.1 answering at ``/dcimgr`` (and ``/manager/dcimgr``), stateful and
strict: unknown functions, ids and missing parameters are errors, flags change with time, and every
call is logged (see ``_server.SimulatorServer``).

    with DCImanagerSimulator(install_seconds=0.2) as sim:
        requests.post(sim.url, data={"func": "server", "out": "xml", "authinfo": "admin:admin-secret-pw"},
                      verify=sim.ca_path)

    python -m tests.simulators.dcimanager [--state FILE | --servers N --package P] [--install-seconds S] ...

Tests can skip waits with ``sim.advance(seconds)`` (moves the simulator's clock), read one server's
hidden state with ``sim.server_state(id)``, and build states with ``default_state()`` / ``make_state()``.

Facts marked [H]/[M] in the API reference are implemented as described there. Everything below is an
ASSUMPTION of this simulator; check each on a real panel (``mgrctl -m dcimgr -i FUNCTION`` prints a
function's parameters; the panel log shows what the web UI sends) before relying on it. Where no
evidence settles a detail, a VARIANT knob (``V1`` ... ``V18``, listed under the assumption it flips;
the default is the behaviour described) lets the simulator play a panel that differs in it, and
``VARIANTS`` names one settings dict per single difference, so a test can run on each of them:

Transport and documents
  A1  ``out`` missing: a 200 HTML page (the web UI), nothing is done. ``out=json``/``sjson``: a JSON
      error ``{"doc": {"error": {"$type": "xml", "$object": "out", "msg": {"$": ...}}}}`` (the simulator
      speaks XML only). Any other ``out``: ``<error type="value" object="out">``.
  A2  ``<doc lang="en">`` is the root; list cells whose value is empty are absent (``owner`` of a free
      server, ``type`` of a new-style server ...): clients must treat absent as empty.
      V9  ``empty_cells="empty"``: empty cells are empty elements (``<owner />``) instead. With the default
          ``flag_text`` such a cell looks exactly like a flag; V10 tells them apart.
  A3  Flags are empty elements (``<blocked/>``), present when true. Forms show checkboxes as ``on``/``off``.
      V10 ``flag_text="on"``: a flag element has that text (``<blocked>on</blocked>``).
      V17 ``flag_off_text="off"``: every flag a row can carry is shown, set or not, a flag that is not
          set with this text (``<blocked>off</blocked>``), as forms show checkboxes; with V10's
          ``flag_text="on"`` a set one says ``on``.
  A4  ``<slist name="F">`` options are ``<val key="VALUE">Display text</val>``: clients must use ``key``.
  A5  Saves answer ``<ok/>``; creates answer ``<id>`` and ``<ok/>``; ``iplist.edit`` creates ``<ip>``, ``<id>``, ``<ok/>``.
      The reference is sure only that a create answers ``/doc/id`` and that success is "no ``<error>``".
      V18 ``strip_from_writes="FUNC:ELEMENT[,FUNC:ELEMENT...]"``: the answer of every write of FUNC (a
          call that changes something; its form reads are spared) leaves out its ELEMENT children, the
          change still made: a panel whose ``iplist.edit`` create answers a bare ``<ok/>`` is
          ``"iplist.edit:ip,iplist.edit:id"``. ``write_answer_elements`` (not a knob) records, per
          function, every element its writes' answers carried before any was left out, so a test can
          take each away in turn.
  A6  A parameter given twice takes its last value. One ``elid`` per call (no ``elid=1, 2`` group operations).
  A8  The ``server`` list is current: it shows every write the moment the panel answered it.
      ``list_lag=S`` (seconds, default 0; a knob, not one of the VARIANTS): the ``server`` list shows each
      server's row as it was S seconds ago (hostname, owner and flags alike), as a panel that serves
      its lists from a cache or a replica would; single-server reads (``iplist``, the ``iplist.edit`` and
      ``server.edit`` forms) stay current. The row of a moment is the one recorded after the last
      request handled up to then; with nothing recorded that long ago, the oldest row recorded.
  A9  Answers take no time (``latency=0``). ``latency`` and ``jitter`` (seconds; see ``_server``) delay each
      request by ``latency`` +- up to ``jitter``, a random share of it before the request is handled
      and the rest before its answer leaves, so a client cannot tell when in its round trip a
      request took effect. ``delayed_apply`` faults hand the client a 504 or a dropped connection at
      once and carry the request out later (see ``_server``): what a panel behind a proxy that gave
      up on a request may do.
  A7  Lists are never paged (``p_num``/``p_cnt`` are ignored).
      V14 ``list_page_size=N`` (> 0): the ``server``, ``user`` and ``osmgr`` lists answer one page:
          ``p_num`` (1-based, default 1) and ``p_cnt`` (rows per page, default N) are read from the
          request, and the document starts with ``<p_num>``, ``<p_cnt>``, ``<p_elems>`` (rows in all
          pages) before the page's rows. A page past the end has no rows; a ``p_num``/``p_cnt`` that
          is not a positive integer is an error (type ``value``, object the parameter). No ISPsystem
          text about mgr5 paging was found; the names and the placement are assumed.
  A9  Forms (``*.edit`` without ``sok``, ``server.operations``) show every field, an empty one as an
      empty element; a free server's ``server.edit`` ``owner`` is ``no_owner``.
      V16 ``form_empty_fields="omit"``: a form leaves out every field whose value is empty, as lists leave
          out empty cells (A2), and a free server's ``owner`` is empty, so it is left out too (a save
          still takes ``no_owner``). Empty ``notes``, ``type`` or ``chassis_templ`` are then absent.
Errors (``<doc><error type="T" object="O" lang="en"><msg>..</msg></error></doc>``, sent with HTTP 200)
      V15 ``error_status=N``: every error document is sent with HTTP status N instead (``500``: a panel, or a
          proxy in front of it, that marks its refusals as server errors). The document is the same; the
          request changed nothing, as with 200.
  E1  unknown or missing ``func``: type ``missed``, object ``func``.
  E2  missing or empty required parameter: type ``empty``, object = the parameter name.
  E3  unknown id: type ``missed``, object = what it names (``server``, ``user``, ``ip``, ``connection``).
      A level-16 user asking for a server it does not own gets the same error.
  E4  bad value: type ``value``, object = the parameter (``mac``, ``domain``, ``family``, ``iptype``, ``ip``,
      ``owner``, ``ostemplate``, ``recipe``, ``confirm``, ``operation``, ``key``, ``name``, ``level``, ``out``).
  E5  no credentials, or an unknown/expired session: type ``auth``, object ``session``. Wrong user or
      password (``authinfo`` or ``func=auth``), or an unknown/used login key: type ``auth``, object
      ``badpassword``. A suspended user logging in: type ``auth``, object ``disabled``; a session of a
      user suspended or deleted since: type ``auth``, object ``session``.
  E6  a level-16 user calling an admin function: type ``access``, object = the function name.
  E7  pool exhausted: type ``limit``, object ``ip``.
  E8  an install, or a power change during an install, while an install runs: type ``busy``, object ``server``.
  E9  install on a server that is not powered on (knob ``install_requires_power``, default true), or
      while a power change runs: type ``value``, object ``power``.
  E10 ``iplist.delete`` of the main address: type ``value``, object ``mainip``.
  E11 ``server.connection.on``/``.off`` while the server is blocked: type ``access``, object ``blocked``;
      on an IPMI connection: type ``value``, object ``elid``.
  E12 ``user.delete`` of a user who owns servers: type ``value``, object ``server``. The admin (id 1)
      cannot be edited, suspended or deleted through the API: type ``access``, object ``user``.
Functions
  F1  ``user`` lists the admin too (id ``1``, level 28), then customers; columns ``id``, ``name``,
      ``level``; a suspended user has the flag ``disabled``.
  F2  ``user.edit`` create: ``level`` defaults to ``lvUser`` (``lvAdmin`` is accepted); a ``confirm`` that is
      sent must equal ``passwd``; names match ``[A-Za-z0-9][A-Za-z0-9._@-]{0,63}``. With ``elid``+``sok``:
      ``passwd`` (if sent) and ``name`` (if sent) change.
  F3  ``server`` columns: ``id``, ``name``, ``hostname`` (the domain of the main address), ``owner`` (the
      owner's *login*), ``chassis_templ``, ``type``, ``ip``, ``mac``, ``rack``. A level-16 session sees only its
      own servers. While a power change runs neither ``poweron`` nor ``poweroff`` is shown.
      V4  ``owner_column="id"``: the ``owner`` cell holds the owner's account id instead of the login.
  F4  ``server.edit`` form: ``elid``, ``name``, ``mac``, ``notes``, ``type``, ``chassis_templ``, ``disabled``
      (on/off), ``owner`` (user id, ``no_owner`` when free) and ``<slist name="owner">``. Save (``sok``+``elid``):
      ``name`` and ``mac`` are required; ``notes`` and ``type`` are REPLACED by what is sent (missing =
      emptied), like a form save - the reason ISPsystem's module echoes them; ``owner`` (a user id or
      ``no_owner``) and ``disabled`` (on/off) change only when sent. Servers cannot be created. A save
      during an install is accepted.
      V7  ``edit_during_install="refuse"``: a save (``sok``) while an install runs (its flag shown or not,
          see V5) is refused with type ``busy``, object ``server``, and changes nothing.
  F5  ``server.disable`` sets ``blocked`` and ``disabled`` at once; switch ports go off after
      ``enable_seconds``. ``server.enable`` keeps both flags for ``enable_seconds``, then clears them and
      switches ports on. During either, the server's Switch connections show ``func_in_progress``.
      V3  ``disable_sets="disabled"`` (the flag ISPsystem's module waits on) or ``"blocked"``: ``server.disable``
          sets only that flag. ``server.enable`` clears whichever is set; the ``server.edit`` form's
          ``disabled`` field follows ``disabled``; E11 refuses on the flag that ``server.disable`` sets.
  F6  Power changes take ``poweron_seconds`` / ``poweroff_seconds`` (reboot: both); a new one replaces a
      running one; a server with ``fail_power`` ends in ``powererror``. Blocking does not touch power.
  F7  ``server.connection`` rows: ``id``, ``type`` (``Switch``/``IPMI``), ``device``, ``state`` (``on``/``off``,
      Switch only), flag ``func_in_progress``. No column for a port's state is evidenced anywhere:
      V1  ``port_state_column``: the column's name (``"status"``), or ``""`` for no such column at all.
      V2  ``port_state_words``: how on and off are spelled, ``"on,off"`` by default (``"up,down"``, ``"1,0"``,
          ``"enabled,disabled"`` ...).
      ``server.connection.edit`` form: ``type``, ``device``, and
      ``port`` (Switch) or ``ip`` (IPMI); with ``sok`` it saves ``port``/``ip``. ``.on``/``.off`` take
      ``enable_seconds``.
  F8  ``ipmiredirect`` answers ``<ok>URL</ok>`` (a console URL); a server without IPMI: type ``missed``, object ``ipmi``.
  F9  ``iplist`` rows: a heading per address group (``id`` = ``g_GROUP``, ``ip`` = GROUP, ``type`` = ``group``),
      then its addresses (``id``, ``ip``, ``type`` = GROUP, ``family`` = ``ipv4``/``ipv6``, ``domain``); the
      main address first. The ``iplist.edit`` form of one address (``elid``, no ``sok``) shows its ``domain``.
      V6  ``iplist_domain=false``: ``iplist`` rows have no ``domain`` column; ``ipform_domain=false``: the
          form of one address has no ``domain`` field either (then no read shows a domain but ``hostname``).
  F10 ``iplist.edit`` allocate: ``family`` is required (``ipv4``/``ipv6``); ``iptype`` defaults to ``public``;
      ``ip`` empty = the first free pool address, else that address (it must be free in that pool);
      ``domain`` defaults to the server's hostname. A released address goes back to its pool.
      Domains must be host names (letters, digits, hyphens; at least two labels); their case is kept.
      V8  ``hostname_case="lower"``: every domain set through ``iplist.edit`` is stored lower-cased (so the
          ``server`` list's ``hostname`` and the ``iplist`` ``domain`` show it lower-case).
  F11 ``osmgr`` rows: ``id`` (= the template name), ``name`` (= the template name: what ``ostemplate`` takes),
      ``title``. Every template is allowed on every server.
      V13 ``osmgr_name="title"``: ``name`` holds the human title; only ``id`` holds the template key. The
          ``server.operations`` form's ``<slist name="ostemplate">`` keys are always the real keys.
  F12 ``server.operations``: ``operation`` must be ``ostemplate``; ``recipe`` is optional (default ``null``);
      ``checkpasswd`` is accepted and not checked; the install takes ``install_seconds``; it clears
      ``operation_failed`` when it starts and sets it when the server or the template has ``fail_install``.
      The installed template is kept in the state (``installed_template``) but shown in no list.
      For tests, ``installs`` lists every install started: server id, time, the server's hostname and
      owner login at that moment, template and root password (the simulator's own record).
      ``install_in_progress`` shows from the moment ``server.operations`` answers.
      V5  ``install_flag_delay=D`` seconds: the flag shows only from D seconds after ``server.operations``;
          before that the row has neither ``install_in_progress`` nor ``operation_failed`` although the
          install runs (``busy`` errors, V7). The install still ends ``install_seconds`` after it started,
          so with D >= ``install_seconds`` the flag never shows.
  F13 ``server.opercancel`` stops a running install and sets ``operation_failed``; with nothing running it is a no-op.
  F14 ``session.newkey`` (admin only) needs an existing ``username`` and a ``key`` of at least 16
      characters; keys do not expire until used. Sessions are not bound to the client address here.
      It may be called with a session (``auth``) as well as with ``authinfo``.
      V12 ``newkey_with_session="refuse"``: called with a session it answers type ``access``, object
          ``session.newkey`` (only ``authinfo`` works, as ISPsystem's module calls it).
  F15 ``trafficburstable``: ``/doc/reportdata/traffic/elem`` with ``id``, ``name``, ``burst`` (the
      server's ``burst`` from the state); period parameters are ignored.
  F16 Level-16 sessions may call ``server``, ``server.poweron/poweroff/reboot``, ``server.operations``,
      ``server.opercancel``, ``server.connection``, ``iplist``, ``ipmiredirect`` and ``osmgr`` on their own
      servers; everything else is admin-only.
  F17 ``func=auth`` with good credentials (password or login key) answers
      ``<auth id="SID" level="LEVEL">SID</auth>`` (the reference's [H] form); later calls send ``auth=SID``.
      What a client needs beyond ``<auth>`` is not evidenced, and ISPmanager's API guide shows
      ``<auth id="SID"/>``:
      V11 ``auth_answer``: ``"text"`` answers ``<auth>SID</auth>`` (no attributes); ``"id"`` answers
          ``<auth id="SID" />`` (no text); ``"ok"`` answers ``<ok />`` and opens no session (only
          ``authinfo`` works on such a panel). A wrong password is the usual E5 error in every case.
"""

import copy
import ipaddress
import json
import re
import secrets
import sys
import time
import xml.etree.ElementTree as ET

from ._server import SimulatorServer, run_cli

API_PATHS = ("/dcimgr", "/manager/dcimgr")
ADMIN_ID = "1"
ADMIN_LEVEL = 28
USER_LEVEL = 16
LEVELS = {"lvUser": USER_LEVEL, "lvAdmin": ADMIN_LEVEL}
FREE_DOMAIN = "free.ds"
# Where make_state()'s address pool starts (IPv4, IPv6).
POOL_START = ("100.64.0.1", "2001:db8:100::1")
NO_OWNER = "no_owner"
XML_TYPE = "text/xml; charset=UTF-8"

TEMPLATES = [
    {"name": "ISPsystem__Debian-12-amd64", "title": "Debian 12 amd64"},
    {"name": "ISPsystem__Ubuntu-24.04-amd64", "title": "Ubuntu 24.04 amd64"},
    {"name": "ISPsystem__AlmaLinux-9-amd64", "title": "AlmaLinux 9 amd64"},
]
RECIPES = ["#local__hello", "ISPsystem__docker"]

# When a call counts as a write (for the call log): never, always, or when ``sok`` is non-empty.
NEVER, ALWAYS, WITH_SOK = "never", "always", "sok"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")

_WEB_UI = (
    b"<!DOCTYPE html><html><head><title>DCImanager</title></head><body>"
    b'<form method="post"><input name="username"><input name="password" type="password"></form></body></html>'
)


def _bool(value):
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


# --- variant knobs: converters that also validate (constructor, CLI flag and PUT /_sim/settings) ---


def _one_of(*choices):
    def convert(value):
        value = str(value)
        if value not in choices:
            raise ValueError("expected one of %s, got %r" % (", ".join(choices), value))
        return value

    convert.__name__ = "one of " + "/".join(choices)  # argparse names the type in its error message
    return convert


def _column(value):
    """A list column name, or "" for none; never one of the Switch row's other columns."""
    value = str(value)
    if value and (not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*$", value) or value in ("id", "type", "device")):
        raise ValueError("not a free column name: %r" % value)
    return value


def _words(value):
    """Two different non-empty words "ON,OFF"."""
    words = str(value).split(",")
    if len(words) != 2 or not all(words) or words[0] == words[1]:
        raise ValueError("expected two different words ON,OFF, got %r" % value)
    return str(value)


def _function_elements(value):
    """ "FUNC:ELEMENT" pairs, comma-separated ("" for none), as given (V18)."""
    value = str(value).strip()
    for pair in value.split(",") if value else ():
        func, sep, element = pair.partition(":")
        if not sep or not func or not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*$", element):
            raise ValueError("expected FUNC:ELEMENT[,FUNC:ELEMENT...], got %r" % value)
    return value


def stripped_pairs(value):
    """The (function, element) pairs of a ``strip_from_writes`` value."""
    return {tuple(pair.split(":", 1)) for pair in value.split(",") if pair}


def _seconds(value):
    value = float(value)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _status(value):
    value = int(value)
    if not 200 <= value <= 599:
        raise ValueError("not an HTTP status: %r" % value)
    return value


def _count(value):
    value = int(value)
    if value < 0:
        raise ValueError("must not be negative")
    return value


# name -> (converter, default). Each default is the behaviour the module docstring describes; the
# other values play a panel that differs in one unevidenced detail (V1..V18 there).
VARIANT_KNOBS = {
    "port_state_column": (_column, "state"),  # V1  F7
    "port_state_words": (_words, "on,off"),  # V2  F7
    "disable_sets": (_one_of("both", "disabled", "blocked"), "both"),  # V3  F5
    "owner_column": (_one_of("login", "id"), "login"),  # V4  F3
    "install_flag_delay": (_seconds, 0.0),  # V5  F12
    "iplist_domain": (_bool, True),  # V6  F9
    "ipform_domain": (_bool, True),  # V6  F9
    "edit_during_install": (_one_of("allow", "refuse"), "allow"),  # V7  F4
    "hostname_case": (_one_of("keep", "lower"), "keep"),  # V8  F10
    "empty_cells": (_one_of("absent", "empty"), "absent"),  # V9  A2
    "flag_text": (str, ""),  # V10 A3
    "auth_answer": (_one_of("session", "text", "id", "ok"), "session"),  # V11 F17
    "newkey_with_session": (_one_of("allow", "refuse"), "allow"),  # V12 F14
    "osmgr_name": (_one_of("template", "title"), "template"),  # V13 F11
    "list_page_size": (_count, 0),  # V14 A7
    "error_status": (_status, 200),  # V15 E*
    "form_empty_fields": (_one_of("show", "omit"), "show"),  # V16 A9
    "flag_off_text": (str, ""),  # V17 A3
    "strip_from_writes": (_function_elements, ""),  # V18 A5
}

# One panel per single difference from the defaults, for tests parametrized over them.
# install_flag_late: for 0.5 s after server.operations the row shows neither install_in_progress nor
# operation_failed; the flag then shows until install_seconds after the start. Use install_seconds
# > 0.5 to see it at all (the integration tests' 1.5 s shows it for 1 s); with install_seconds <= 0.5
# it never shows. paged_lists: 2 rows a page, so the sample panel's 7 servers take 4 pages, its 3
# templates 2, and its 2 users exactly one full page. flags_on_off: V17 with V10's "on" (every flag
# shown, set or not, as on or off), the form a checkbox has.
VARIANTS = {
    "port_state_status": {"port_state_column": "status"},
    "port_state_hidden": {"port_state_column": ""},
    "port_updown": {"port_state_words": "up,down"},
    "disable_sets_disabled": {"disable_sets": "disabled"},
    "disable_sets_blocked": {"disable_sets": "blocked"},
    "owner_id": {"owner_column": "id"},
    "install_flag_late": {"install_flag_delay": 0.5},
    "iplist_no_domain": {"iplist_domain": False},
    "iplist_no_domain_anywhere": {"iplist_domain": False, "ipform_domain": False},
    "edit_refused_during_install": {"edit_during_install": "refuse"},
    "hostname_lower": {"hostname_case": "lower"},
    "empty_cells": {"empty_cells": "empty"},
    "flag_text_on": {"flag_text": "on"},
    "auth_text": {"auth_answer": "text"},
    "auth_id_only": {"auth_answer": "id"},
    "auth_ok_only": {"auth_answer": "ok"},
    "newkey_authinfo_only": {"newkey_with_session": "refuse"},
    "osmgr_title": {"osmgr_name": "title"},
    "paged_lists": {"list_page_size": 2},
    "errors_http500": {"error_status": 500},
    "form_omits_empty": {"form_empty_fields": "omit"},
    "flags_on_off": {"flag_text": "on", "flag_off_text": "off"},
    "bare_ok_creates": {"strip_from_writes": "iplist.edit:ip,iplist.edit:id,user.edit:id"},
}

# Every flag a row of each list can carry (V17 shows the ones not set too).
SERVER_ROW_FLAGS = (
    "blocked",
    "hwproblem",
    "diag_in_progress",
    "disabled",
    "poweron",
    "poweroff",
    "powererror",
    "install_in_progress",
    "operation_failed",
)
USER_ROW_FLAGS = ("disabled",)
CONNECTION_ROW_FLAGS = ("func_in_progress",)


class ApiError(Exception):
    """An mgr5 error document: ``<error type=... object=...><msg>...</msg></error>``."""

    def __init__(self, type_, obj, msg):
        super().__init__(msg)
        self.type = type_
        self.object = obj
        self.msg = msg


# --- the function table -----------------------------------------------------------------------
# func name -> (handler, write rule, level-16 users allowed). Add a function with @api_function.
FUNCTIONS = {}


def api_function(name, write=NEVER, users=False):
    def register(handler):
        FUNCTIONS[name] = (handler, write, users)
        return handler

    return register


# --- XML helpers ------------------------------------------------------------------------------


def _doc():
    return ET.Element("doc", {"lang": "en"})


def _add(parent, tag, text=None, **attrs):
    element = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = str(text)
    return element


def _escape(text):
    """Escape element text exactly as ElementTree does (``&``, ``<``, ``>``)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


class _ListDoc:
    """A list answer, written straight to text: the very bytes ``ET.tostring`` gives for the same tree.

    Building 10,000 ``server`` rows as ElementTree elements and serializing them took ~0.3 s a
    call; rows rendered as strings take a fraction of it, and fleet-sized tests list often.
    ``path`` nests the rows (``trafficburstable``: reportdata/traffic). ``head`` cells come before
    the rows (the paging counters, V14).
    """

    def __init__(self, empty_cells=False, flag_text="", path=(), head=(), flag_off_text=""):
        self.empty_cells = empty_cells
        self.flag_text = _escape(flag_text)
        self.flag_off_text = _escape(flag_off_text)
        self.path = path
        self.parts = [self._cell(key, value) for key, value in head]

    def _cell(self, key, value):
        if value is None or value == "":
            return "<%s />" % key
        return "<%s>%s</%s>" % (key, _escape(str(value)), key)

    def row(self, columns, flags=(), all_flags=()):
        """A list row: ``columns`` is a list of (name, value); empty values are left out (A2, V9).
        ``flags``: the flags set; ``all_flags``: every flag the row can carry, shown unset with V17."""
        cells = [self._cell(key, value) for key, value in columns if self.empty_cells or (value is not None and value != "")]
        cells += [("<%s>%s</%s>" % (flag, self.flag_text, flag)) if self.flag_text else "<%s />" % flag for flag in flags]
        if self.flag_off_text:  # V17
            cells += ["<%s>%s</%s>" % (flag, self.flag_off_text, flag) for flag in all_flags if flag not in flags]
        self.parts.append("<elem>%s</elem>" % "".join(cells))

    def to_bytes(self):
        body = "".join(self.parts)
        for tag in reversed(self.path):
            body = "<%s>%s</%s>" % (tag, body, tag) if body else "<%s />" % tag
        doc = '<doc lang="en">%s</doc>' % body if body else '<doc lang="en" />'
        return ("<?xml version='1.0' encoding='UTF-8'?>\n" + doc).encode("utf-8")


def _form(values, slists=None, omit_empty=False):
    """A form answer; ``omit_empty`` leaves out the fields whose value is empty (V15)."""
    doc = _doc()
    for key, value in values:
        if omit_empty and (value is None or value == ""):
            continue
        _add(doc, key, "" if value is None else value)
    for name, options in (slists or {}).items():
        slist = _add(doc, "slist", name=name)
        for key, text in options:
            _add(slist, "val", text, key=key)
    return doc


def _ok(**children):
    doc = _doc()
    for key, value in children.items():
        _add(doc, key, value)
    ET.SubElement(doc, "ok")
    return doc


def _error_doc(err):
    doc = _doc()
    error = _add(doc, "error", type=err.type, object=err.object, lang="en")
    _add(error, "msg", err.msg)
    return doc


def _serialize(doc):
    if isinstance(doc, _ListDoc):
        return doc.to_bytes()
    return ET.tostring(doc, encoding="UTF-8", xml_declaration=True)


# --- parameter helpers ------------------------------------------------------------------------


def _get(params, key, default=""):
    value = params.get(key, default)
    return value[-1] if isinstance(value, list) else value  # A6: the last one wins


def _need(params, key):
    value = _get(params, key)
    if value == "":
        raise ApiError("empty", key, "The '%s' field is empty" % key)
    return value


def _valid_domain(name):
    labels = name.rstrip(".").split(".")
    return len(name) <= 253 and len(labels) >= 2 and all(_LABEL_RE.match(label) for label in labels)


# --- state ------------------------------------------------------------------------------------


def _empty_state():
    return {
        "next_id": 2,
        "users": [],
        "servers": [],
        "ip_pools": {},
        "os_templates": copy.deepcopy(TEMPLATES),
        "recipes": list(RECIPES),
        "sessions": {},
        "login_keys": {},
    }


def _take_id(state):
    new_id = state["next_id"]
    state["next_id"] += 1
    return str(new_id)


def _server_defaults():
    return {
        "name": "",
        "chassis_templ": "",
        "type": "",
        "mac": "",
        "notes": "",
        "rack": "",
        "owner": None,
        "blocked": False,
        "disabled": False,
        "hwproblem": False,
        "diag_in_progress": False,
        "power": "off",
        "fail_power": False,
        "fail_install": False,
        "operation_failed": False,
        "installed_template": None,
        "installed_recipe": None,
        "root_password": None,
        "burst": 0,
        "main_ip": None,
        "addresses": [],
        "connections": [],
        # running timed operations: {"target", "until"}; install: {"template", "recipe", "fail", "until"}
        "power_op": None,
        "install": None,
        "enable_op": None,
    }


def new_server(state, server_id, name, package, main_ip, style="chassis_templ", rack="R1", domain=FREE_DOMAIN, **fields):
    """Append a server with its main address, one Switch port and one IPMI connection to ``state``."""
    index = len(state["servers"]) + 1
    server = _server_defaults()
    server.update(
        id=str(server_id), name=name, rack=rack, main_ip=main_ip, mac="52:54:00:%02x:%02x:%02x" % ((index >> 16) & 255, (index >> 8) & 255, index & 255)
    )
    server[style] = package
    family = "ipv6" if ":" in main_ip else "ipv4"
    server["addresses"].append({"id": _take_id(state), "ip": main_ip, "family": family, "group": "public", "domain": domain})
    server["connections"] = [
        {"id": _take_id(state), "type": "Switch", "device": "switch-%s" % rack.lower(), "port": "Gi1/0/%d" % index, "state": "on", "op": None},
        {"id": _take_id(state), "type": "IPMI", "device": "ipmi", "ip": str(ipaddress.ip_address("10.255.0.0") + index), "op": None},
    ]
    server.update(fields)
    state["servers"].append(server)
    return server


def add_address(state, server, ip, domain, group="public"):
    """Attach ``ip`` (a pool address, so a later release returns it) to ``server`` of ``state``."""
    address = {"id": _take_id(state), "ip": ip, "family": "ipv6" if ":" in ip else "ipv4", "group": group, "domain": domain}
    server["addresses"].append(address)
    return address


def make_state(n_servers=10, package="DL360-G9", ipv4=32, ipv6=32, group="public", style="chassis_templ", first_ip="10.0.0.1", pool_start=POOL_START):
    """A state with ``n_servers`` free, powered-off servers of ``package`` and a pool of ``ipv4``/``ipv6`` addresses.

    ``style`` is ``chassis_templ`` (new-style server type) or ``type`` (old style). The servers' main
    addresses count up from ``first_ip``, the pool's from ``pool_start`` (IPv4, IPv6): a second panel
    (another datacenter) gets other ones.
    """
    state = _empty_state()
    for i in range(n_servers):
        new_server(state, i + 1, "srv%04d" % (i + 1), package, str(ipaddress.ip_address(first_ip) + i), style=style, rack="R%d" % (i // 40 + 1))
    state["ip_pools"][group] = {
        "ipv4": [str(ipaddress.ip_address(pool_start[0]) + i) for i in range(ipv4)],
        "ipv6": [str(ipaddress.ip_address(pool_start[1]) + i) for i in range(ipv6)],
    }
    return state


def default_state():
    """The sample panel: seven servers in various conditions, one customer, a small public pool.

    1 srv01 DL360-G9 (chassis_templ) free, off      5 srv05 DL360-G9 diag_in_progress
    2 srv02 DL360-G9 free, on                        6 srv06 DL360-G9 owned by alice, alice1.example.com, on,
    3 srv03 X11-old (old-style type) free, off         Debian installed, burst 12.5
    4 srv04 X11-old hwproblem                        7 srv07 R640 free, off
    """
    state = _empty_state()
    state["users"].append({"id": _take_id(state), "name": "alice", "password": "alice-pw-123", "level": USER_LEVEL, "suspended": False})
    new_server(state, 1, "srv01", "DL360-G9", "192.0.2.11")
    new_server(state, 2, "srv02", "DL360-G9", "192.0.2.12", power="on")
    new_server(state, 3, "srv03", "X11-old", "192.0.2.13", style="type")
    new_server(state, 4, "srv04", "X11-old", "192.0.2.14", style="type", hwproblem=True)
    new_server(state, 5, "srv05", "DL360-G9", "192.0.2.15", diag_in_progress=True)
    new_server(
        state,
        6,
        "srv06",
        "DL360-G9",
        "192.0.2.16",
        rack="R2",
        domain="alice1.example.com",
        owner="2",
        power="on",
        installed_template="ISPsystem__Debian-12-amd64",
        installed_recipe="null",
        burst=12.5,
    )
    new_server(state, 7, "srv07", "R640", "192.0.2.17", rack="R2")
    state["ip_pools"]["public"] = {
        "ipv4": ["203.0.113.%d" % i for i in range(10, 16)],
        "ipv6": ["2001:db8:100::%x" % i for i in range(0x10, 0x16)],
    }
    return state


class DCImanagerSimulator(SimulatorServer):
    """DCImanager 5 API simulator at /dcimgr (and /manager/dcimgr)."""

    SETTINGS = dict(
        {
            "admin_user": str,
            "admin_password": str,
            "poweron_seconds": float,
            "poweroff_seconds": float,
            "install_seconds": float,
            "enable_seconds": float,
            "session_ttl": float,
            "install_requires_power": _bool,
            "list_lag": _seconds,  # A8
        },
        **{name: convert for name, (convert, dummy) in VARIANT_KNOBS.items()},
    )
    FUNCTIONS = FUNCTIONS

    def __init__(
        self,
        state=None,
        tls_dir=None,
        port=0,
        latency=0.0,
        jitter=0.0,
        list_lag=0.0,
        admin_user="admin",
        admin_password="admin-secret-pw",
        poweron_seconds=1.0,
        poweroff_seconds=0.5,
        install_seconds=3.0,
        enable_seconds=0.3,
        session_ttl=3600.0,
        install_requires_power=True,
        **variants,
    ):
        """``variants``: any of ``VARIANT_KNOBS`` (e.g. ``**VARIANTS["owner_id"]``); the others keep their defaults."""
        unknown = sorted(set(variants) - set(VARIANT_KNOBS))
        if unknown:
            raise TypeError("unknown settings %s; variant knobs: %s" % (unknown, sorted(VARIANT_KNOBS)))
        super().__init__(tls_dir=tls_dir, port=port, latency=latency, jitter=jitter)
        self.list_lag = _seconds(list_lag)
        # server id -> [(time, owner id, columns, flags)] of its server-list row, oldest first (A8).
        self._row_history = {}
        self.installs = []
        # function -> every element its writes' answers carried (V18), before any was left out.
        self.write_answer_elements = {}
        for name, (convert, default) in VARIANT_KNOBS.items():
            setattr(self, name, convert(variants.get(name, default)))
        self.admin_user = admin_user
        self.admin_password = admin_password
        self.poweron_seconds = float(poweron_seconds)
        self.poweroff_seconds = float(poweroff_seconds)
        self.install_seconds = float(install_seconds)
        self.enable_seconds = float(enable_seconds)
        self.session_ttl = float(session_ttl)
        self.install_requires_power = _bool(install_requires_power)
        self.clock_offset = 0.0
        self.state = None
        self._servers = {}
        self.load_state(default_state() if state is None else state)

    @property
    def url(self):
        return self.base_url + API_PATHS[0]

    def env(self):
        """The environment variables that point the collection's dci_* modules and plugins at this simulator."""
        return {
            "DCIMANAGER_URL": self.url,
            "DCIMANAGER_USERNAME": self.admin_user,
            "DCIMANAGER_PASSWORD": self.admin_password,
            "DCIMANAGER_CA_PATH": self.ca_path,
        }

    # --- time: every timed flag is computed from absolute deadlines, so no background thread ---

    def now(self):
        return time.time() + self.clock_offset

    def advance(self, seconds):
        """Move the simulator's clock forward (finish timed operations, expire sessions) without sleeping."""
        with self.lock:
            self.clock_offset += float(seconds)

    # --- state ---------------------------------------------------------------------------------

    def load_state(self, state):
        state = json.loads(json.dumps(state))  # a private, JSON-clean copy
        base = _empty_state()
        base.update(state)
        defaults = _server_defaults()
        for server in base["servers"]:
            # Only missing keys get a default (a fresh copy when mutable): 10,000 servers load in ~0.1 s.
            for key, value in defaults.items():
                if key not in server:
                    server[key] = copy.deepcopy(value) if isinstance(value, (list, dict)) else value
            for conn in server["connections"]:
                conn.setdefault("op", None)
                if conn["type"] == "Switch":
                    conn.setdefault("state", "on")
        for user in base["users"]:
            user.setdefault("level", USER_LEVEL)
            user.setdefault("suspended", False)
        with self.lock:
            self.state = base
            self._servers = {s["id"]: s for s in base["servers"]}
            self._row_history = {}
            self.installs = []

    def dump_state(self):
        self.apply_due_writes()
        with self.lock:
            for server in self.state["servers"]:
                self._settle(server)
            return json.loads(json.dumps(self.state))

    def server_state(self, server_id):
        """The settled state of one server (a copy), for tests."""
        self.apply_due_writes()
        with self.lock:
            return copy.deepcopy(self._settle(self._servers[str(server_id)]))

    def fail_installs(self, server_id):
        """Make every later install on the server fail (``fail_install``), for tests."""
        with self.lock:
            self._servers[str(server_id)]["fail_install"] = True

    def _settle(self, server):
        """Apply every timed operation of ``server`` whose deadline has passed."""
        now = self.now()
        op = server["power_op"]
        if op and op["until"] <= now:
            server["power"] = "error" if server["fail_power"] else op["target"]
            server["power_op"] = None
        op = server["install"]
        if op and op["until"] <= now:
            server["operation_failed"] = op["fail"]
            server["installed_template"] = None if op["fail"] else op["template"]
            server["installed_recipe"] = None if op["fail"] else op["recipe"]
            server["install"] = None
        op = server["enable_op"]
        if op and op["until"] <= now:
            if op["target"] == "on":
                server["blocked"] = server["disabled"] = False
            for conn in server["connections"]:
                if conn["type"] == "Switch":
                    conn["state"] = op["target"]
            server["enable_op"] = None
        for conn in server["connections"]:
            if conn["op"] and conn["op"]["until"] <= now:
                conn["state"] = conn["op"]["target"]
                conn["op"] = None
        return server

    def _users(self):
        """Every account, the admin (from the settings, not the state) first."""
        admin = {"id": ADMIN_ID, "name": self.admin_user, "password": self.admin_password, "level": ADMIN_LEVEL, "suspended": False}
        return [admin] + self.state["users"]

    def _user_by(self, key, value):
        for user in self._users():
            if user[key] == value:
                return user
        return None

    # --- request entry ---------------------------------------------------------------------------

    def classify(self, method, path, query, params):
        name = _get(params, "func")
        spec = self.FUNCTIONS.get(name)
        if spec is None:
            return name, False
        rule = spec[1]
        return name, rule == ALWAYS or (rule == WITH_SOK and _get(params, "sok") != "")

    def handle_api(self, method, path, query, params):
        name, write = self.classify(method, path, query, params)
        if path.rstrip("/") not in API_PATHS:
            return 404, "text/html; charset=utf-8", b"<html><body><h1>404 Not Found</h1></body></html>", name, write
        out = _get(params, "out")
        if out == "":
            return 200, "text/html; charset=utf-8", _WEB_UI, name, write  # A1: the browser UI
        if out in ("json", "sjson"):
            body = {"doc": {"error": {"$type": "xml", "$object": "out", "msg": {"$": "out=%s is not supported by the simulator; use out=xml" % out}}}}
            return 200, "application/json", json.dumps(body).encode(), name, write
        status = 200
        try:
            if out != "xml":
                raise ApiError("value", "out", "Unknown output format '%s'" % out)
            doc = self._call(name, params)
            if write and isinstance(doc, ET.Element):
                self._strip_answer(name, doc)
        except ApiError as err:
            doc = _error_doc(err)
            status = self.error_status  # V15
        if self.list_lag > 0:
            self._record_rows()
        return status, XML_TYPE, _serialize(doc), name, write

    def _strip_answer(self, name, doc):
        """Record the elements of a write's answer, then leave out the ones ``strip_from_writes`` names (V18)."""
        self.write_answer_elements.setdefault(name, set()).update(child.tag for child in doc)
        stripped = stripped_pairs(self.strip_from_writes)
        for child in list(doc):
            if (name, child.tag) in stripped:
                doc.remove(child)

    def _call(self, name, params):
        if name == "auth":
            return self._login(params)
        who = self._authenticate(params)
        spec = self.FUNCTIONS.get(name)
        if spec is None:
            raise ApiError("missed", "func", "Unknown function '%s'" % name)
        handler, _rule, users_allowed = spec
        if who["level"] < ADMIN_LEVEL and not users_allowed:
            raise ApiError("access", name, "Access denied")
        if name == "session.newkey" and self.newkey_with_session == "refuse" and not _get(params, "authinfo"):  # V12
            raise ApiError("access", name, "session.newkey needs authinfo")
        return handler(self, params, who)

    def _authenticate(self, params):
        authinfo = _get(params, "authinfo")
        if authinfo:
            login, _sep, password = authinfo.partition(":")
            return self._check_login(login, password)
        sid = _get(params, "auth")
        if not sid:
            raise ApiError("auth", "session", "Authorization required")
        session = self.state["sessions"].get(sid)
        if session is None or self.now() - session["last"] > self.session_ttl:
            self.state["sessions"].pop(sid, None)
            raise ApiError("auth", "session", "The session has expired or does not exist")
        user = self._user_by("name", session["user"])
        if user is None or user["suspended"]:
            raise ApiError("auth", "session", "The session has expired or does not exist")
        session["last"] = self.now()
        return user

    def _check_login(self, login, password):
        user = self._user_by("name", login)
        if user is None or not password or not secrets.compare_digest(user["password"].encode(), password.encode()):
            raise ApiError("auth", "badpassword", "Invalid username or password")
        if user["suspended"]:
            raise ApiError("auth", "disabled", "The account is suspended")
        return user

    def _login(self, params):
        login = _need(params, "username")
        key = _get(params, "key")
        if key:
            entry = self.state["login_keys"].get(key)
            if entry is None or entry["user"] != login:
                raise ApiError("auth", "badpassword", "Invalid username or key")
            del self.state["login_keys"][key]  # one time only
            user = self._user_by("name", login)
            if user is None:
                raise ApiError("auth", "badpassword", "Invalid username or key")
            if user["suspended"]:
                raise ApiError("auth", "disabled", "The account is suspended")
        else:
            user = self._check_login(login, _need(params, "password"))
        if self.auth_answer == "ok":  # V11: a panel that opens no session
            return _ok()
        sid = secrets.token_hex(12)
        self.state["sessions"][sid] = {"user": user["name"], "last": self.now()}
        doc = _doc()
        if self.auth_answer == "session":
            _add(doc, "auth", sid, id=sid, level=user["level"])
        elif self.auth_answer == "text":
            _add(doc, "auth", sid)
        else:  # "id"
            _add(doc, "auth", id=sid)
        return doc

    # --- lookups -----------------------------------------------------------------------------------

    def _server(self, params, who, key="elid"):
        server = self._servers.get(_need(params, key))
        if server is None or (who["level"] < ADMIN_LEVEL and server["owner"] != who["id"]):
            raise ApiError("missed", "server", "Server '%s' not found" % _get(params, key))
        return self._settle(server)

    def _customer(self, params, key="elid"):
        user_id = _need(params, key)
        if user_id == ADMIN_ID:
            raise ApiError("access", "user", "The administrator cannot be changed here")
        for user in self.state["users"]:
            if user["id"] == user_id:
                return user
        raise ApiError("missed", "user", "User '%s' not found" % user_id)

    @staticmethod
    def _member(items, params, what):
        """The item of ``items`` whose id is ``elid``, or the panel's "missed" error naming ``what``."""
        item_id = _need(params, "elid")
        for item in items:
            if item["id"] == item_id:
                return item
        raise ApiError("missed", what, "%s '%s' not found" % ("Address" if what == "ip" else what.capitalize(), item_id))

    def _address(self, server, params):
        return self._member(server["addresses"], params, "ip")

    def _connection(self, server, params):
        return self._member(server["connections"], params, "connection")

    @staticmethod
    def _main_address(server):
        for address in server["addresses"]:
            if address["ip"] == server["main_ip"]:
                return address
        return None

    def _hostname(self, server):
        main = self._main_address(server)
        return main["domain"] if main else ""

    def _list(self, path=(), head=()):
        return _ListDoc(empty_cells=self.empty_cells == "empty", flag_text=self.flag_text, path=path, head=head, flag_off_text=self.flag_off_text)

    def _form(self, values, slists=None):
        return _form(values, slists, omit_empty=self.form_empty_fields == "omit")

    def _page(self, params, items):
        """(the items of the page asked for, the head cells): everything and no head unless V14 pages lists."""
        if self.list_page_size <= 0:
            return items, ()
        numbers = []
        for key, default in (("p_num", 1), ("p_cnt", self.list_page_size)):
            value = _get(params, key) or str(default)
            if not (value.isascii() and value.isdigit()) or int(value) < 1:
                raise ApiError("value", key, "%s must be a positive integer" % key)
            numbers.append(int(value))
        p_num, p_cnt = numbers
        return items[(p_num - 1) * p_cnt : p_num * p_cnt], (("p_num", p_num), ("p_cnt", p_cnt), ("p_elems", len(items)))

    def _suspend_flag(self):
        """The flag that server.disable sets and E11 refuses on (V3): ``blocked`` unless only ``disabled`` is set."""
        return "disabled" if self.disable_sets == "disabled" else "blocked"

    def _flags(self, server):
        flags = [flag for flag in ("blocked", "hwproblem", "diag_in_progress", "disabled") if server[flag]]
        if not server["power_op"]:  # F3: no power flag while a change runs
            flags.append({"on": "poweron", "off": "poweroff", "error": "powererror"}[server["power"]])
        install = server["install"]
        # V5: the flag shows from "shown" on (the key exists only with install_flag_delay > 0).
        if install and install.get("shown", 0.0) <= self.now():
            flags.append("install_in_progress")
        if server["operation_failed"]:
            flags.append("operation_failed")
        return flags

    # --- users -----------------------------------------------------------------------------------

    @api_function("user")
    def _f_user(self, params, who):
        users, head = self._page(params, self._users())
        doc = self._list(head=head)
        for user in users:
            doc.row([("id", user["id"]), ("name", user["name"]), ("level", user["level"])], ["disabled"] if user["suspended"] else [], USER_ROW_FLAGS)
        return doc

    @api_function("user.edit", write=WITH_SOK)
    def _f_user_edit(self, params, who):
        sok = _get(params, "sok") != ""
        if _get(params, "elid"):
            user = self._customer(params)
            if not sok:
                return self._form(
                    [("elid", user["id"]), ("name", user["name"]), ("level", "lvUser" if user["level"] == USER_LEVEL else "lvAdmin")],
                    {"level": [("lvUser", "User"), ("lvAdmin", "Administrator")]},
                )
            name = _get(params, "name", user["name"])
            self._check_user_name(name, user)
            password = _get(params, "passwd")
            if password:
                self._check_confirm(params, password)
                user["password"] = password
            user["name"] = name
            return _ok()
        if not sok:
            return self._form([("name", ""), ("level", "lvUser")], {"level": [("lvUser", "User"), ("lvAdmin", "Administrator")]})
        name = _need(params, "name")
        self._check_user_name(name, None)
        password = _need(params, "passwd")
        self._check_confirm(params, password)
        level = _get(params, "level", "lvUser") or "lvUser"
        if level not in LEVELS:
            raise ApiError("value", "level", "Unknown level '%s'" % level)
        user = {"id": _take_id(self.state), "name": name, "password": password, "level": LEVELS[level], "suspended": False}
        self.state["users"].append(user)
        return _ok(id=user["id"])

    def _check_user_name(self, name, user):
        if not _NAME_RE.match(name):
            raise ApiError("value", "name", "Invalid login '%s'" % name)
        other = self._user_by("name", name)
        if other is not None and other is not user:
            raise ApiError("exists", "user", "A user with the name '%s' already exists" % name)

    @staticmethod
    def _check_confirm(params, password):
        if "confirm" in params and _get(params, "confirm") != password:
            raise ApiError("value", "confirm", "The passwords do not match")

    @api_function("user.delete", write=ALWAYS)
    def _f_user_delete(self, params, who):
        user = self._customer(params)
        owned = [s["id"] for s in self.state["servers"] if s["owner"] == user["id"]]
        if owned:
            raise ApiError("value", "server", "The user owns servers %s" % ", ".join(owned))
        self.state["users"].remove(user)
        return _ok()

    @api_function("user.suspend", write=ALWAYS)
    def _f_user_suspend(self, params, who):
        self._customer(params)["suspended"] = True
        return _ok()

    @api_function("user.resume", write=ALWAYS)
    def _f_user_resume(self, params, who):
        self._customer(params)["suspended"] = False
        return _ok()

    @api_function("session.newkey", write=ALWAYS)
    def _f_session_newkey(self, params, who):
        login = _need(params, "username")
        key = _need(params, "key")
        if len(key) < 16:
            raise ApiError("value", "key", "The key must be at least 16 characters long")
        if self._user_by("name", login) is None:
            raise ApiError("missed", "user", "User '%s' not found" % login)
        self.state["login_keys"][key] = {"user": login, "created": self.now()}
        return _ok()

    # --- servers ---------------------------------------------------------------------------------

    def _owner_cells(self):
        """Owner id -> what the ``owner`` cell shows (V4): one look-up table per list, not a scan per row."""
        return {user["id"]: user["id"] if self.owner_column == "id" else user["name"] for user in self._users()}

    def _server_row(self, server, owners):
        """(owner id, columns, flags) of the server's row in the ``server`` list, as it is now."""
        self._settle(server)
        columns = [
            ("id", server["id"]),
            ("name", server["name"]),
            ("hostname", self._hostname(server)),
            ("owner", owners.get(server["owner"], "")),
            ("chassis_templ", server["chassis_templ"]),
            ("type", server["type"]),
            ("ip", server["main_ip"]),
            ("mac", server["mac"]),
            ("rack", server["rack"]),
        ]
        return server["owner"], columns, self._flags(server)

    def _record_rows(self):
        """A8: note every server's row as it is now (when it changed), and forget what no lagging list can show."""
        now, owners = self.now(), self._owner_cells()
        for server in self.state["servers"]:
            row = self._server_row(server, owners)
            history = self._row_history.setdefault(server["id"], [])
            if not history or history[-1][1:] != row:
                history.append((now,) + row)
            # Keep the newest row older than the lag (what a list shows now) and everything after it.
            while len(history) > 1 and history[1][0] <= now - self.list_lag:
                history.pop(0)

    def _lagging_row(self, server, owners):
        """The server's row as it was ``list_lag`` seconds ago (A8)."""
        if server["id"] not in self._row_history:
            self._record_rows()
        history = self._row_history[server["id"]]
        then = self.now() - self.list_lag
        shown = history[0]
        for entry in history:
            if entry[0] <= then:
                shown = entry
        return shown[1:]

    @api_function("server", users=True)
    def _f_server(self, params, who):
        owners = self._owner_cells()
        servers = self.state["servers"]
        if self.list_lag > 0:  # A8: who owns a server is what the lagging rows say
            rows = [self._lagging_row(server, owners) for server in servers]
            if who["level"] < ADMIN_LEVEL:
                rows = [row for row in rows if row[0] == who["id"]]
            rows, head = self._page(params, rows)
        else:
            if who["level"] < ADMIN_LEVEL:
                servers = [server for server in servers if server["owner"] == who["id"]]
            servers, head = self._page(params, servers)
            rows = [self._server_row(server, owners) for server in servers]
        doc = self._list(head=head)
        for dummy_owner, columns, flags in rows:
            doc.row(columns, flags, SERVER_ROW_FLAGS)
        return doc

    @api_function("server.edit", write=WITH_SOK)
    def _f_server_edit(self, params, who):
        if not _get(params, "elid"):
            raise ApiError("empty", "elid", "The simulator does not create servers: elid is required")
        server = self._server(params, who)
        if _get(params, "sok") == "":
            owners = [(NO_OWNER, "-- none --")] + [(u["id"], u["name"]) for u in self._users()]
            return self._form(
                [
                    ("elid", server["id"]),
                    ("name", server["name"]),
                    ("mac", server["mac"]),
                    ("notes", server["notes"]),
                    ("type", server["type"]),
                    ("chassis_templ", server["chassis_templ"]),
                    ("disabled", "on" if server["disabled"] else "off"),
                    ("owner", server["owner"] or ("" if self.form_empty_fields == "omit" else NO_OWNER)),  # V15
                ],
                {"owner": owners},
            )
        if server["install"] and self.edit_during_install == "refuse":  # V7
            raise ApiError("busy", "server", "An operation is running on the server")
        name = _need(params, "name")
        mac = _need(params, "mac")
        if not _MAC_RE.match(mac):
            raise ApiError("value", "mac", "Invalid MAC address '%s'" % mac)
        owner = server["owner"]
        if "owner" in params:
            value = _get(params, "owner")
            if value == NO_OWNER:
                owner = None
            elif self._user_by("id", value) is not None:
                owner = value
            else:
                raise ApiError("value", "owner", "Unknown owner '%s'" % value)
        disabled = server["disabled"]
        if "disabled" in params:
            value = _get(params, "disabled")
            if value not in ("on", "off"):
                raise ApiError("value", "disabled", "disabled must be on or off")
            disabled = value == "on"
        # F4: a form save replaces notes and type with what was sent.
        server.update(name=name, mac=mac, notes=_get(params, "notes"), type=_get(params, "type"), owner=owner, disabled=disabled)
        return _ok()

    @api_function("server.disable", write=ALWAYS)
    def _f_server_disable(self, params, who):
        server = self._server(params, who)
        if self.disable_sets != "disabled":  # V3: "both" sets both flags, the others one
            server["blocked"] = True
        if self.disable_sets != "blocked":
            server["disabled"] = True
        server["enable_op"] = {"target": "off", "until": self.now() + self.enable_seconds}
        return _ok()

    @api_function("server.enable", write=ALWAYS)
    def _f_server_enable(self, params, who):
        server = self._server(params, who)
        server["enable_op"] = {"target": "on", "until": self.now() + self.enable_seconds}
        return _ok()

    def _power(self, params, who, target, seconds):
        server = self._server(params, who)
        if server["install"]:
            raise ApiError("busy", "server", "An operation is running on the server")
        server["power_op"] = {"target": target, "until": self.now() + seconds}
        return _ok()

    @api_function("server.poweron", write=ALWAYS, users=True)
    def _f_server_poweron(self, params, who):
        return self._power(params, who, "on", self.poweron_seconds)

    @api_function("server.poweroff", write=ALWAYS, users=True)
    def _f_server_poweroff(self, params, who):
        return self._power(params, who, "off", self.poweroff_seconds)

    @api_function("server.reboot", write=ALWAYS, users=True)
    def _f_server_reboot(self, params, who):
        return self._power(params, who, "on", self.poweroff_seconds + self.poweron_seconds)

    # --- connections -----------------------------------------------------------------------------

    @api_function("server.connection", users=True)
    def _f_server_connection(self, params, who):
        server = self._server(params, who)
        on_word, off_word = self.port_state_words.split(",")
        words = {"on": on_word, "off": off_word}
        doc = self._list()
        for conn in server["connections"]:
            busy = conn["op"] is not None or (conn["type"] == "Switch" and server["enable_op"] is not None)
            columns = [("id", conn["id"]), ("type", conn["type"]), ("device", conn.get("device"))]
            if self.port_state_column:  # V1, V2
                state = conn.get("state")
                columns.append((self.port_state_column, words.get(state, state)))
            doc.row(columns, ["func_in_progress"] if busy else [], CONNECTION_ROW_FLAGS)
        return doc

    @api_function("server.connection.edit", write=WITH_SOK)
    def _f_server_connection_edit(self, params, who):
        server = self._server(params, who, key="plid")
        conn = self._connection(server, params)
        field = "port" if conn["type"] == "Switch" else "ip"
        if _get(params, "sok") != "":
            if field in params:
                conn[field] = _get(params, field)
            return _ok()
        return self._form([("elid", conn["id"]), ("plid", server["id"]), ("type", conn["type"]), ("device", conn.get("device")), (field, conn.get(field))])

    def _switch_port(self, params, who, target):
        server = self._server(params, who, key="plid")
        conn = self._connection(server, params)
        if conn["type"] != "Switch":
            raise ApiError("value", "elid", "Only a switch port can be switched on or off")
        if server[self._suspend_flag()]:
            raise ApiError("access", "blocked", "The server is blocked")
        conn["op"] = {"target": target, "until": self.now() + self.enable_seconds}
        return _ok()

    @api_function("server.connection.on", write=ALWAYS)
    def _f_server_connection_on(self, params, who):
        return self._switch_port(params, who, "on")

    @api_function("server.connection.off", write=ALWAYS)
    def _f_server_connection_off(self, params, who):
        return self._switch_port(params, who, "off")

    @api_function("ipmiredirect", users=True)
    def _f_ipmiredirect(self, params, who):
        server = self._server(params, who)
        if not any(conn["type"] == "IPMI" for conn in server["connections"]):
            raise ApiError("missed", "ipmi", "The server has no IPMI connection")
        doc = _doc()
        _add(doc, "ok", "%s/ipmi-console/%s?token=%s" % (self.base_url, server["id"], secrets.token_hex(8)))
        return doc

    # --- addresses -------------------------------------------------------------------------------

    @api_function("iplist", users=True)
    def _f_iplist(self, params, who):
        server = self._server(params, who)
        main = self._main_address(server)
        ordered = ([main] if main else []) + [a for a in server["addresses"] if a is not main]
        groups = []
        for address in ordered:
            if address["group"] not in groups:
                groups.append(address["group"])
        doc = self._list()
        for group in groups:
            doc.row([("id", "g_" + group), ("ip", group), ("type", "group")])
            for address in ordered:
                if address["group"] == group:
                    columns = [("id", address["id"]), ("ip", address["ip"]), ("type", group), ("family", address["family"])]
                    if self.iplist_domain:  # V6
                        columns.append(("domain", address["domain"]))
                    doc.row(columns)
        return doc

    @api_function("iplist.edit", write=WITH_SOK)
    def _f_iplist_edit(self, params, who):
        server = self._server(params, who, key="plid")
        sok = _get(params, "sok") != ""
        if _get(params, "elid"):
            address = self._address(server, params)
            if not sok:
                fields = [("elid", address["id"]), ("plid", server["id"]), ("ip", address["ip"]), ("family", address["family"]), ("iptype", address["group"])]
                return self._form(fields + ([("domain", address["domain"])] if self.ipform_domain else []))  # V6
            domain = _need(params, "domain")
            self._check_domain(domain)
            address["domain"] = self._stored_domain(domain)
            return _ok()
        pools = self.state["ip_pools"]
        if not sok:
            return self._form(
                [("plid", server["id"]), ("family", "ipv4"), ("iptype", "public"), ("ip", ""), ("domain", self._hostname(server))],
                {"family": [("ipv4", "IPv4"), ("ipv6", "IPv6")], "iptype": [(g, g) for g in pools]},
            )
        family = _need(params, "family")
        if family not in ("ipv4", "ipv6"):
            raise ApiError("value", "family", "family must be ipv4 or ipv6")
        group = _get(params, "iptype") or "public"
        if group not in pools:
            raise ApiError("value", "iptype", "Unknown address group '%s'" % group)
        domain = _get(params, "domain") or self._hostname(server)
        self._check_domain(domain)
        domain = self._stored_domain(domain)
        taken = {a["ip"] for s in self.state["servers"] for a in s["addresses"]}
        free = [ip for ip in pools[group].get(family, []) if ip not in taken]
        wanted = _get(params, "ip")
        if wanted:
            if wanted not in free:
                raise ApiError("value", "ip", "The address %s is not free in the group '%s'" % (wanted, group))
            ip = wanted
        elif free:
            ip = free[0]
        else:
            raise ApiError("limit", "ip", "No free %s address left in the group '%s'" % (family, group))
        address = {"id": _take_id(self.state), "ip": ip, "family": family, "group": group, "domain": domain}
        server["addresses"].append(address)
        return _ok(ip=ip, id=address["id"])

    def _stored_domain(self, domain):
        return domain.lower() if self.hostname_case == "lower" else domain  # V8

    @staticmethod
    def _check_domain(domain):
        if not _valid_domain(domain):
            raise ApiError("value", "domain", "Invalid domain name '%s'" % domain)

    @api_function("iplist.delete", write=ALWAYS)
    def _f_iplist_delete(self, params, who):
        server = self._server(params, who, key="plid")
        address = self._address(server, params)
        if address["ip"] == server["main_ip"]:
            raise ApiError("value", "mainip", "The main address of a server cannot be deleted")
        server["addresses"].remove(address)  # back to the pool: free = in a pool and on no server
        return _ok()

    # --- OS installation ---------------------------------------------------------------------------

    @api_function("osmgr", users=True)
    def _f_osmgr(self, params, who):
        templates, head = self._page(params, self.state["os_templates"])
        doc = self._list(head=head)
        for template in templates:
            # V13: the name column may hold the human title; the id is always the key ostemplate takes.
            name = (template.get("title") or template["name"]) if self.osmgr_name == "title" else template["name"]
            doc.row([("id", template["name"]), ("name", name), ("title", template.get("title", ""))])
        return doc

    @api_function("server.operations", write=WITH_SOK, users=True)
    def _f_server_operations(self, params, who):
        server = self._server(params, who)
        templates = {t["name"]: t for t in self.state["os_templates"]}
        if _get(params, "sok") == "":
            return self._form(
                [("elid", server["id"]), ("operation", "ostemplate"), ("ostemplate", ""), ("recipe", "null")],
                {
                    "operation": [("ostemplate", "Install OS")],
                    "ostemplate": [(t["name"], t.get("title", t["name"])) for t in self.state["os_templates"]],
                    "recipe": [("null", "-- none --")] + [(r, r) for r in self.state["recipes"]],
                },
            )
        operation = _need(params, "operation")
        if operation != "ostemplate":
            raise ApiError("value", "operation", "Unknown operation '%s'" % operation)
        name = _need(params, "ostemplate")
        if name not in templates:
            raise ApiError("value", "ostemplate", "Unknown OS template '%s'" % name)
        password = _need(params, "passwd")
        if _get(params, "confirm") != password:
            raise ApiError("value", "confirm", "The passwords do not match")
        recipe = _get(params, "recipe") or "null"
        if recipe != "null" and recipe not in self.state["recipes"]:
            raise ApiError("value", "recipe", "Unknown recipe '%s'" % recipe)
        if server["install"]:
            raise ApiError("busy", "server", "An operation is running on the server")
        if server["power_op"] or (self.install_requires_power and server["power"] != "on"):
            raise ApiError("value", "power", "The server must be powered on")
        fail = bool(server["fail_install"] or templates[name].get("fail_install"))
        server["install"] = {"template": name, "recipe": recipe, "fail": fail, "until": self.now() + self.install_seconds}
        if self.install_flag_delay > 0:  # V5: the flag shows late (the key is absent by default: today's state)
            server["install"]["shown"] = self.now() + self.install_flag_delay
        server["operation_failed"] = False
        server["root_password"] = password
        owner = self._user_by("id", server["owner"]) if server["owner"] else None
        self.installs.append(
            {
                "server": server["id"],
                "time": self.now(),
                "hostname": self._hostname(server),
                "owner": owner["name"] if owner else None,
                "template": name,
                "root_password": password,
            }
        )
        return _ok()

    @api_function("server.opercancel", write=ALWAYS, users=True)
    def _f_server_opercancel(self, params, who):
        server = self._server(params, who)
        if server["install"]:
            server["install"] = None
            server["operation_failed"] = True
        return _ok()

    # --- usage -------------------------------------------------------------------------------------

    @api_function("trafficburstable")
    def _f_trafficburstable(self, params, who):
        doc = self._list(path=("reportdata", "traffic"))
        for server in self.state["servers"]:
            doc.row([("id", server["id"]), ("name", server["name"]), ("burst", server["burst"])])
        return doc

    # --- CLI -----------------------------------------------------------------------------------------

    @classmethod
    def add_cli_arguments(cls, parser):
        parser.add_argument("--servers", type=int, help="start with make_state(N) instead of the sample state")
        parser.add_argument("--package", default="DL360-G9", help="package of the --servers servers")
        parser.add_argument("--ipv4", type=int, default=32, help="free IPv4 addresses in the pool (with --servers)")
        parser.add_argument("--ipv6", type=int, default=32, help="free IPv6 addresses in the pool (with --servers)")

    def apply_cli_arguments(self, args):
        if args.servers is not None:
            self.load_state(make_state(args.servers, package=args.package, ipv4=args.ipv4, ipv6=args.ipv6))


if __name__ == "__main__":
    sys.exit(run_cli(DCImanagerSimulator))
