# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the DCImanager 5 (mgr5) API client.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from ._transport import (
    READ_RETRIES,
    AnswerLost,
    ClientError,
    ErrorClasses,
    NotSent,
    Retryable,
    Transport,
    WriteNotMade,
)

LXML_IMPORT_ERROR = None
try:
    from lxml import etree

    HAS_LXML = True
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_LXML = False
    LXML_IMPORT_ERROR = exc

DEFAULT_PORT = 1500
DEFAULT_PATH = "/dcimgr"

# A panel answer bigger than this is refused: even 10,000 servers list in a few MiB,
# and a hostile or broken endpoint must not make the controller eat memory.
MAX_BODY_BYTES = 64 * 1024 * 1024

# Flags are elements that are present when true and absent when false [H]. A flag element whose text
# says "no" (``<blocked>off</blocked>``) is read as false: no panel is known to send one, but a
# form-style checkbox in a list must not read as set.
FALSE_WORDS = ("off", "no", "false", "0")
SERVER_FLAGS = (
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
CONNECTION_FLAGS = ("func_in_progress",)

# A paged list is read page by page up to this many pages (mgr5's p_num / p_cnt / p_elems).
MAX_PAGES = 1000


class DCIError(ClientError):
    """Any failure talking to DCImanager, with the panel's own error where it gave one; ``call`` is the function."""

    def __init__(self, msg, error_type=None, error_object=None, panel_msg=None, call=None, status=None):
        super().__init__(msg, status=status, call=call)
        self.error_type = error_type
        self.error_object = error_object
        self.panel_msg = panel_msg

    @property
    def api_error(self):
        """The panel's error as the modules return it, or None for transport failures."""
        if self.error_type is None:
            return None
        return {"type": self.error_type, "object": self.error_object, "msg": self.panel_msg}


class DCIRetryableError(DCIError, Retryable):
    """A failure that may pass (a 5xx, a time-out, a broken connection, a garbled answer): a reading call may be sent again."""


class DCINotSentError(DCIRetryableError, NotSent):
    """The request never reached the panel (connection refused, a proxy's refusal): even a write may be sent again."""


class DCIWriteNotMadeError(DCIError, WriteNotMade):
    """A write whose answer was lost and that a read-back proved not made (see _writes)."""


class DCIAnswerLostError(DCIError, AnswerLost):
    """A write reached the panel (or may have) and its answer was lost: the write path reads back."""

    not_made = DCIWriteNotMadeError


# What the client's Transport raises.
DCI_ERRORS = ErrorClasses(error=DCIError, retryable=DCIRetryableError, not_sent=DCINotSentError, answer_lost=DCIAnswerLostError)


def normalize_api_url(url):
    """Return the full API endpoint for what a user wrote in api_url.

    ``https://host``, ``https://host:1500`` and ``https://host:1500/dcimgr`` all name
    ``https://host:1500/dcimgr``: a missing port means 1500, a missing path ``/dcimgr``.
    """
    text = (url or "").strip()
    if not text:
        raise DCIError("api_url is empty; set it to the panel, for example https://dci.example.com:1500/dcimgr")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http"):
        raise DCIError("api_url %r must start with https:// (or http://)" % url)
    if parts.username or parts.password:
        raise DCIError("api_url must not carry credentials; use api_username and api_password")
    if parts.query or parts.fragment:
        raise DCIError("api_url must not have a query string or fragment; give only https://host[:port][/path]")
    if not parts.hostname:
        raise DCIError("api_url %r has no host name" % url)
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise DCIError("api_url %r has an invalid port" % url) from None
    host = parts.hostname
    if ":" in host:
        host = "[%s]" % host
    path = parts.path.rstrip("/") or DEFAULT_PATH
    return "%s://%s:%d%s" % (parts.scheme, host, port, path)


def _hardened_parser():
    # The panel never sends a DTD. Refuse entity expansion, network access and huge trees so a
    # hostile or broken endpoint cannot make the controller read files or exhaust memory.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_document(body, func=None, status=200):
    """Parse a panel answer into the ``<doc>`` element, or raise DCIError (the panel's own error when it is one).

    ``status`` is the HTTP status the answer came with; an error document is the panel's refusal
    whatever the status (the message names a status other than 200).
    """
    stripped = body.lstrip()[:512].lower()
    if stripped.startswith(b"<!doctype html") or stripped.startswith(b"<html"):
        raise DCIError(
            "DCImanager answered %s with a web page instead of API XML; check that api_url points to the "
            "API endpoint (https://HOST:1500/dcimgr)" % (func or "the request"),
            call=func,
        )
    if b"<!doctype" in stripped or b"<!entity" in stripped:
        raise DCIError("DCImanager's answer to %s carries a DTD, which the API never sends; refused" % func, call=func)
    try:
        root = etree.fromstring(body, parser=_hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise DCIRetryableError("DCImanager's answer to %s is not valid XML (%s)" % (func, exc), call=func) from None
    # The quick look above only sees the first bytes; a DTD later on (after a long comment, or in a
    # UTF-16 document) shows in the parsed tree and is refused just the same.
    if root.getroottree().docinfo.internalDTD is not None:
        raise DCIError("DCImanager's answer to %s carries a DTD, which the API never sends; refused" % func, call=func)
    if root.tag != "doc":
        raise DCIError("DCImanager's answer to %s has root <%s>, expected <doc>" % (func, root.tag), call=func)
    error = root.find("error")
    if error is not None:
        panel_msg = (error.findtext("msg") or "").strip()
        error_type = error.get("type", "")
        error_object = error.get("object", "")
        raise DCIError(
            "DCImanager refused %s%s: %s (type %s, object %s)"
            % (func, "" if status == 200 else " with HTTP %d" % status, panel_msg or "no message", error_type, error_object),
            error_type=error_type,
            error_object=error_object,
            panel_msg=panel_msg,
            call=func,
            status=None if status == 200 else status,
        )
    return root


def element_to_dict(element, flags=()):
    """Turn a list row or a form into a dict of str, with the named flags as booleans."""
    result = {}
    for child in element:
        if not isinstance(child.tag, str) or child.tag in ("slist", "elem"):
            continue
        result[child.tag] = (child.text or "").strip()
    for flag in flags:
        result[flag] = flag in result and result[flag].lower() not in FALSE_WORDS
    return result


class Form(dict):
    """The values of an ``*.edit`` form; ``selects`` maps each select list to its options (value -> text)."""

    def __init__(self, values, selects):
        super().__init__(values)
        self.selects = selects


class DCIClient:
    """One authenticated conversation with a DCImanager 5 panel.

    Every call is a form-encoded POST with ``out=xml``; credentials travel only in POST bodies.
    The client logs in once with ``func=auth`` and reuses the session; if the panel rejects the
    session it logs in again once, and if the panel offers no session it falls back to sending
    ``authinfo`` with every call.
    """

    def __init__(
        self,
        url,
        username,
        password,
        validate_certs=True,
        ca_path=None,
        timeout=60,
        retries=READ_RETRIES,
        backoff=0.5,
        sleep=None,
        on_session=None,
        use_proxy=True,
    ):
        self.url = normalize_api_url(url)
        self.username = username
        self._password = password
        self._session_id = None
        self._on_session = on_session
        self._use_authinfo = False
        self.transport = Transport(
            self.url,
            DCI_ERRORS,
            "DCImanager",
            MAX_BODY_BYTES,
            verify=ca_path if (validate_certs and ca_path) else bool(validate_certs),
            timeout=timeout,
            use_proxy=use_proxy,
            retries=retries,
            backoff=backoff,
            sleep=sleep,
            hint_403="the controller's address may be blocked in the panel's or a proxy's access list",
        )
        self.call_count = 0
        self.write_count = 0

    def close(self):
        self.transport.close()

    # Public calls -------------------------------------------------------------------------

    def list(self, func, flags=(), **params):
        """Read a list function, whole; each ``<elem>`` becomes a dict with ``flags`` as booleans.

        A panel that pages its lists says so with ``p_elems`` (the total) beside ``p_num`` /
        ``p_cnt``; such a list is read page by page, and one that still comes out short is an
        error, never a silently shorter list.
        """
        root = self.call(func, params)
        rows = [element_to_dict(elem, flags) for elem in root.iter("elem")]
        total = _count(root.findtext("p_elems"))
        if total is None or len(rows) >= total:
            return rows
        per_page = _count(root.findtext("p_cnt")) or len(rows)
        seen = set(row.get("id") for row in rows)
        page = _count(root.findtext("p_num")) or 1
        while len(rows) < total and per_page and page < min(MAX_PAGES, total // per_page + 2):
            page += 1
            more = [element_to_dict(elem, flags) for elem in self.call(func, dict(params, p_num=page, p_cnt=per_page)).iter("elem")]
            new = [row for row in more if row.get("id") not in seen]
            if not new:
                break
            seen.update(row.get("id") for row in new)
            rows.extend(new)
        if len(rows) != total:
            raise DCIError(
                "DCImanager's %s list says it has %d rows, but %d could be read page by page (p_num/p_cnt); "
                "the collection needs the whole list to decide anything" % (func, total, len(rows)),
                call=func,
            )
        return rows

    def document(self, func, **params):
        """Read a function's whole answer (``<doc>``), for callers that look at more than the rows."""
        return self.call(func, params)

    def form(self, func, **params):
        """Read an ``*.edit`` form (no ``sok``): its values and its select lists."""
        root = self.call(func, params)
        selects = {}
        for slist in root.findall("slist"):
            options = selects.setdefault(slist.get("name", ""), {})
            for val in slist.findall("val"):
                text = (val.text or "").strip()
                options[(val.get("key") or text).strip()] = text
        return Form(element_to_dict(root), selects)

    def write(self, func, **params):
        """Make a change; returns the answer's direct values (``id``, ``ip``, ``ok``...)."""
        root = self.call(func, params, write=True)
        return element_to_dict(root)

    def call(self, func, params=None, write=False):
        """POST one function and return the parsed ``<doc>``.

        Reading calls are repeated (a bounded number of times, with backoff) after transport
        failures; writing calls only when the request provably never reached the panel.
        """
        params = {key: str(value) for key, value in (params or {}).items() if value is not None}
        self._ensure_auth()
        try:
            root = self._send(func, self._with_auth(params), write)
        except DCIError as exc:
            if exc.error_type != "auth" or not self._session_id:
                raise
            # The panel rejected the session (expired, or bound to another address), not the
            # request: logging in again once and repeating it is safe for any call.
            self._session_id = None
            self._ensure_auth()
            root = self._send(func, self._with_auth(params), write)
        self.call_count += 1
        if write:
            self.write_count += 1
        return root

    def check_login(self, login, password):
        """Whether ``login`` can log in with ``password`` (a reading call: it only opens a session).

        Only an answer that carries a session (``<auth>SESSION</auth>``) counts as a good login,
        and only an error of type ``auth`` as a bad one: anything else says nothing either way.
        """
        try:
            root = self._send("auth", {"username": login, "password": password}, write=False)
        except DCIError as exc:
            if exc.error_type == "auth":
                return False
            raise
        self.call_count += 1
        if session_of(root):
            return True
        raise DCIError(
            "cannot tell whether %s's password is right: DCImanager answered func=auth with neither a session "
            "nor an error (this panel gives no sessions; run the check_panel playbook)" % login,
            call="auth",
        )

    @property
    def uses_sessions(self):
        """Whether the panel gave a session at login (else every call carries ``authinfo``)."""
        self._ensure_auth()
        return bool(self._session_id)

    def try_foreign_session(self, func, session_id):
        """Call the reading function ``func`` with a session id the panel never gave; returns its error, or None."""
        try:
            self._send(func, {"auth": session_id}, write=False)
        except DCIError as exc:
            return exc
        return None

    def login_url(self, login, key):
        """The browser URL that consumes the one-time ``key`` of ``login``."""
        return "%s?checkcookie=no&func=auth&username=%s&key=%s" % (self.url, quote(login, safe=""), key)

    def new_login_key(self, login, key):
        """Create a one-time key for ``login``; returns the write's answer.

        Whether the panel takes ``session.newkey`` from a session (rather than ``authinfo``) is not
        evidenced: a refusal with an ``access`` error, which changed nothing, is answered by the
        same call once more with ``authinfo``.
        """
        try:
            return self.write("session.newkey", username=login, key=key)
        except DCIError as exc:
            if exc.error_type != "access" or not self._session_id:
                raise
        root = self._send("session.newkey", dict(username=login, key=key, authinfo=self._authinfo()), write=True)
        self.call_count += 1
        self.write_count += 1
        return element_to_dict(root)

    # Authentication ------------------------------------------------------------------------

    def _ensure_auth(self):
        if self._session_id or self._use_authinfo:
            return
        root = self._send("auth", {"username": self.username, "password": self._password}, write=False, login=True)
        session_id = session_of(root)
        if session_id:
            self._session_id = session_id
            if self._on_session is not None:
                self._on_session(session_id)
        else:
            # Some panels (or a proxy in front of them) give no session: send authinfo instead.
            self._use_authinfo = True

    def _with_auth(self, params):
        merged = dict(params)
        if self._session_id:
            merged["auth"] = self._session_id
        else:
            merged["authinfo"] = self._authinfo()
        return merged

    def _authinfo(self):
        return "%s:%s" % (self.username, self._password)

    # Sending ---------------------------------------------------------------------------------

    def _send(self, func, params, write, login=False):
        """POST ``func`` with ``params`` (authentication included) through the transport; the parsed ``<doc>``."""
        data = dict(params)
        data["func"] = func
        data["out"] = "xml"
        return self.transport.post(func, data, lambda body, status: self._read(func, body, status, login), write=write)

    def _read(self, func, body, status, login):
        try:
            return parse_document(body, func, status)
        except DCIError as exc:
            if login and exc.error_type is not None:
                raise DCIError(
                    "DCImanager at %s rejected the login of api_username %r: %s" % (self.url, self.username, exc.panel_msg),
                    error_type=exc.error_type,
                    error_object=exc.error_object,
                    panel_msg=exc.panel_msg,
                    call=func,
                    status=exc.status,
                ) from None
            raise


def session_of(root):
    """The session id in an ``auth`` answer (``<auth id="S">S</auth>``, either form), or ""."""
    auth = root.find("auth")
    return (auth.get("id") or auth.text or "").strip() if auth is not None else ""


def _count(text):
    """A whole number from a paging element, or None."""
    text = (text or "").strip()
    return int(text) if text.isdigit() else None
