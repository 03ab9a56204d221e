# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the DCImanager 5 (mgr5) API client.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import threading
from urllib.parse import quote, urlsplit

from .._transport import READ_RETRIES, READ_RETRY_SECONDS, Transport
from .answers import element_to_dict, form_of, parse_document, rows_of, session_of, whole_number
from .errors import DCI_ERRORS, DCIError
from .functions import FORM, LIST, READS, WRITE, checked

DEFAULT_PORT = 1500
DEFAULT_PATH = "/dcimgr"

# A panel answer bigger than this is refused: even 10,000 servers list in a few MiB,
# and a hostile or broken endpoint must not make the controller eat memory.
MAX_BODY_BYTES = 64 * 1024 * 1024

# A paged list is read page by page up to this many pages (mgr5's p_num / p_cnt / p_elems).
MAX_PAGES = 1000


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
        retry_for=READ_RETRY_SECONDS,
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
            retry_for=retry_for,
            backoff=backoff,
            sleep=sleep,
            hint_403="the controller's address may be blocked in the panel's or a proxy's access list",
        )
        self.call_count = 0
        self.write_count = 0
        # fleet_apply's services share one client (one login): its session and counters are guarded.
        self._lock = threading.Lock()

    def close(self):
        self.transport.close()

    # Public calls -------------------------------------------------------------------------

    def list(self, func, flags=(), **params):
        """Read a list function, whole; each ``<elem>`` becomes a dict with ``flags`` as booleans.

        A panel that pages its lists says so with ``p_elems`` (the total) beside ``p_num`` /
        ``p_cnt``; such a list is read page by page, and one that still comes out short is an
        error, never a silently shorter list.
        """
        root = self._call(func, params, LIST)
        rows = rows_of(root, flags)
        total = whole_number(root.findtext("p_elems"))
        if total is None or len(rows) >= total:
            return rows
        per_page = whole_number(root.findtext("p_cnt")) or len(rows)
        seen = set(row.get("id") for row in rows)
        page = whole_number(root.findtext("p_num")) or 1
        while len(rows) < total and per_page and page < min(MAX_PAGES, total // per_page + 2):
            page += 1
            more = rows_of(self._call(func, dict(params, p_num=page, p_cnt=per_page), LIST), flags)
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
        """Read a list or form function's whole answer (``<doc>``), for callers that look at more than the rows."""
        return self._call(func, params, READS)

    def form(self, func, **params):
        """Read an ``*.edit`` form (never with ``sok``): its values and its select lists."""
        return form_of(self._call(func, params, FORM))

    def write(self, func, request_timeout=None, **params):
        """Make a change; returns the answer's direct values (``id``, ``ip``, ``ok``...).

        ``func`` must be a write in the catalogue (_dci/functions.py), which adds ``sok=ok`` to a
        form's save; callers never pass ``sok``. ``request_timeout``: this request's own time-out, in
        seconds (the allocation's claim must be answered within what is left of its bound).
        """
        return element_to_dict(self._call(func, params, WRITE, timeout=request_timeout))

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
        checked(func, READS, {})
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
        return element_to_dict(self._call("session.newkey", dict(username=login, key=key), WRITE, authinfo=True))

    def _call(self, func, params, kind, authinfo=False, timeout=None):
        """POST one function, used as ``kind`` (see _dci/functions.py), and return the parsed ``<doc>``.

        Reading calls are repeated (a bounded number of times, with backoff) after transport
        failures; writing calls only when the request provably never reached the panel. With
        ``authinfo`` the call carries the credentials instead of the session.
        """
        entry = checked(func, kind, params)
        write = kind == WRITE
        params = {key: str(value) for key, value in params.items() if value is not None}
        if write and entry.sok:
            params["sok"] = "ok"
        if authinfo:
            root = self._send(func, dict(params, authinfo=self._authinfo()), write, timeout=timeout)
        else:
            self._ensure_auth()
            try:
                root = self._send(func, self._with_auth(params), write, timeout=timeout)
            except DCIError as exc:
                if exc.error_type != "auth" or not self._session_id:
                    raise
                # The panel rejected the session (expired, or bound to another address), not the
                # request: logging in again once and repeating it is safe for any call.
                self._renew_session(self._session_id)
                root = self._send(func, self._with_auth(params), write, timeout=timeout)
        with self._lock:
            self.call_count += 1
            if write:
                self.write_count += 1
        return root

    # Authentication ------------------------------------------------------------------------

    def _renew_session(self, rejected):
        """Log in again, once for every caller that saw the session ``rejected`` (threads share a client)."""
        with self._lock:
            if self._session_id == rejected:
                self._session_id = None
        self._ensure_auth()

    def _ensure_auth(self):
        if self._session_id or self._use_authinfo:
            return
        with self._lock:
            if not (self._session_id or self._use_authinfo):
                self._log_in()

    def _log_in(self):
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

    def _send(self, func, params, write, login=False, timeout=None):
        """POST ``func`` with ``params`` (authentication included) through the transport; the parsed ``<doc>``."""
        data = dict(params)
        data["func"] = func
        data["out"] = "xml"
        return self.transport.post(func, data, lambda body, status: self._read(func, body, status, login), write=write, timeout=timeout)

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
