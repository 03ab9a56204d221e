# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the WHMCS API client.

Not a public API: it may change in any release without notice. Used by the whmcs_* modules and
by the ispsystem.dcimanager.whmcs inventory plugin.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

from .._transport import HAS_REQUESTS, READ_RETRIES, READ_RETRY_SECONDS, REQUESTS_IMPORT_ERROR, Transport
from .actions import READ, WRITE, checked
from .errors import WHMCS_ERRORS, WHMCSError, WHMCSRetryableError
from .services import encode_custom_fields, products_list, to_int

API_PATH = "includes/api.php"

# A WHMCS answer bigger than this is refused: a page of 1,000 services is a few MiB, and a
# broken endpoint must not make the controller eat memory.
MAX_BODY_BYTES = 128 * 1024 * 1024

# UpdateClientProduct's number fields: "0" is a value there, not "blank it" (WHMCS's unset[] does not
# cover them); WHMCS may still ignore it as PHP-empty, which the caller sees when it reads back.
NUMBER_FIELDS = ("bwusage", "bwlimit", "diskusage", "disklimit")

# What to do about an HTTP 403 (without a WHMCS error in it).
HINT_403 = (
    "the controller's IP address is probably not in WHMCS's API IP allow-list. Add the controller's "
    "address under Setup > General Settings > Security > API IP Access Restriction, or set an API access "
    "key ($api_access_key in configuration.php) and give it as the access key"
)


def api_endpoint(url):
    """The full ``includes/api.php`` URL for what a user wrote as the WHMCS base URL."""
    if not url or not isinstance(url, str):
        raise WHMCSError("the WHMCS URL is empty; set it to the WHMCS base URL, e.g. https://billing.example.com/")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise WHMCSError(
            "the WHMCS URL %r is not an http(s) URL; set it to the WHMCS base URL, "
            "e.g. https://billing.example.com/ or https://example.com/whmcs" % _display_url(url)
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/" + API_PATH) and path != API_PATH:
        path = path + "/" + API_PATH
    # A query or fragment would be sent along with every call; WHMCS never needs one.
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _display_url(url):
    """``url`` without user:password@, for messages."""
    parts = urlsplit(str(url))
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(parts)


class WHMCSClient:
    """One conversation with the WHMCS API: a form-encoded POST per call, JSON answers.

    Credentials travel only in POST bodies. One ``requests.Session`` (one connection pool) is
    shared by all calls, including concurrent ones from the inventory plugin's threads.
    """

    def __init__(
        self,
        url,
        identifier,
        secret,
        access_key=None,
        validate_certs=True,
        ca_path=None,
        timeout=60,
        retries=READ_RETRIES,
        retry_for=READ_RETRY_SECONDS,
        backoff=0.5,
        pool_size=10,
        sleep=None,
        use_proxy=True,
    ):
        if not HAS_REQUESTS:
            raise WHMCSError("the Python library requests is required to talk to WHMCS: %s" % REQUESTS_IMPORT_ERROR)
        if not identifier or not secret:
            raise WHMCSError("WHMCS API credentials are missing: give the API identifier and secret (Setup > Staff Management > Manage API Credentials)")
        self.url = api_endpoint(url)
        self.display_url = _display_url(self.url)
        self._identifier = str(identifier)
        self._secret = str(secret)
        self._access_key = str(access_key) if access_key else None
        # One session (one connection pool) for every call, the inventory plugin's threads too.
        self.transport = Transport(
            self.url,
            WHMCS_ERRORS,
            "WHMCS",
            MAX_BODY_BYTES,
            verify=ca_path if (validate_certs and ca_path) else bool(validate_certs),
            timeout=timeout,
            use_proxy=use_proxy,
            retries=retries,
            retry_for=retry_for,
            backoff=backoff,
            sleep=sleep,
            shown_url=self.display_url,
            hint_403=HINT_403,
            too_large_hint=" (use a smaller page size)",
            scrub=self._scrub,
            shown_location=lambda location: self._scrub(_display_url(location)),
            pool_size=pool_size,
        )
        self.call_count = 0
        self.write_count = 0

    def close(self):
        self.transport.close()

    # Public calls -------------------------------------------------------------------------

    def read(self, action, params=None):
        """Send the reading ``action`` (see _whmcs/actions.py) and return WHMCS's JSON answer (a dict with
        ``result: success``). It is repeated (a bounded number of times, with backoff) after transport
        failures and HTTP 5xx."""
        return self._call(action, params, READ)

    def write(self, action, params=None):
        """Send the writing ``action`` (see _whmcs/actions.py) and return WHMCS's answer. It is sent again only
        when the request provably never reached WHMCS; a lost answer raises WHMCSAnswerLostError."""
        return self._call(action, params, WRITE)

    def _call(self, action, params, kind):
        checked(action, kind)
        write = kind == WRITE
        data = []
        for key, value in (params or {}).items():
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                data.extend((key, str(item)) for item in value)
            else:
                data.append((key, str(value)))
        answer = self._send(action, data, write)
        self.call_count += 1
        if write:
            self.write_count += 1
        return answer

    def get_clients_products_page(self, offset, limit, **filters):
        """One page of GetClientsProducts: ``(raw services, totalresults)``.

        ``limit`` must be positive: WHMCS reads a missing or zero ``limitnum`` as "everything".
        """
        if int(limit) <= 0:
            raise ValueError("limit must be positive")
        params = dict(filters)
        params.update(limitstart=int(offset), limitnum=int(limit))
        answer = self.read("GetClientsProducts", params)
        return products_list(answer), to_int(answer.get("totalresults"), 0)

    def get_clients_products(self, page_size=250, **filters):
        """Every service matching ``filters`` (clientid, serviceid, pid, domain, username2), paged.

        Offset paging over a list that changes meanwhile can repeat a service: duplicates are
        dropped. The number of pages is bounded by the first answer's total.
        """
        services, total = self.get_clients_products_page(0, page_size, **filters)
        seen = set(to_int(s.get("id")) for s in services)
        offset = len(services)
        # The bound on pages: WHMCS may send fewer than asked (a capped limit), so count by what it sent.
        max_pages = total // max(1, min(page_size, len(services) or page_size)) + 2
        pages = 1
        while services and offset < total and pages < max_pages:
            page, total = self.get_clients_products_page(offset, page_size, **filters)
            pages += 1
            if not page:
                break
            offset += len(page)
            for service in page:
                service_id = to_int(service.get("id"))
                if service_id not in seen:
                    seen.add(service_id)
                    services.append(service)
        return services

    def get_service(self, service_id):
        """The raw GetClientsProducts entry of one service, or None when WHMCS has none."""
        services, dummy = self.get_clients_products_page(0, 1, serviceid=int(service_id))
        for service in services:
            if to_int(service.get("id")) == int(service_id):
                return service
        return None

    def get_products(self, pid=None):
        """GetProducts (optionally one product id or a list of them): the raw product list."""
        if isinstance(pid, (list, tuple)):
            pid = ",".join(str(p) for p in pid)
        answer = self.read("GetProducts", {"pid": pid})
        return products_list(answer)

    def module_create(self, service_id):
        """ModuleCreate: WHMCS runs the product's provisioning module's CreateAccount for the service (and sets it
        Active when that succeeds)."""
        return self.write("ModuleCreate", {"serviceid": int(service_id)})

    def update_client_product(self, service_id, fields=None, unset=(), custom_fields=None):
        """UpdateClientProduct: set ``fields`` (WHMCS names), blank the fields in ``unset``,
        and set ``custom_fields`` ({field id: value}).

        WHMCS ignores empty values (PHP ``empty()``: ``""`` and ``"0"``), so a field is blanked
        only through ``unset[]``; asking to set one to an empty value is refused here rather
        than silently doing nothing.
        """
        params = {"serviceid": int(service_id)}
        for key, value in (fields or {}).items():
            text = "" if value is None else str(value)
            if text == "" or (text == "0" and key not in NUMBER_FIELDS):
                raise WHMCSError(
                    "UpdateClientProduct ignores the empty value %r for %s; blank it with unset[] instead" % (text, key), call="UpdateClientProduct"
                )
            params[key] = text
        if unset:
            params["unset[]"] = list(unset)
        if custom_fields:
            params["customfields"] = encode_custom_fields(custom_fields)
        return self.write("UpdateClientProduct", params)

    # Sending ---------------------------------------------------------------------------------

    def _send(self, action, data, write):
        body = [("action", action)] + self._auth() + [("responsetype", "json")] + list(data)
        return self.transport.post(action, body, lambda content, status: self._parse(action, content, status), write=write)

    def _auth(self):
        auth = [("identifier", self._identifier), ("secret", self._secret)]
        if self._access_key:
            auth.append(("accesskey", self._access_key))
        return auth

    def _parse(self, action, content, status=200):
        """WHMCS's answer as a dict with ``result: success``, or its refusal (``result: error``) as a WHMCSError.

        ``status`` is the HTTP status the answer came with: a refusal counts whatever the status, and
        says which (WHMCS answers some refusals, an address not in its allow-list, with HTTP 403).
        """
        try:
            # A UTF-8 byte order mark before the JSON is a known WHMCS hosting quirk (an edited PHP file).
            answer = json.loads(content.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep
            snippet = self._scrub(content[:120].decode("utf-8", "replace")).strip()
            # A web page is a wrong URL and a JSON bomb is hostile (no use asking again); anything
            # else is a garbled or cut-off answer, which a reading action may ask for again.
            error = WHMCSError if content.lstrip()[:1] == b"<" or isinstance(exc, RecursionError) else WHMCSRetryableError
            raise error(
                "WHMCS at %s answered %s with something that is not JSON (%r...); check that the URL is "
                "the WHMCS base URL" % (self.display_url, action, snippet),
                call=action,
            ) from None
        if not isinstance(answer, dict):
            raise WHMCSError("WHMCS at %s answered %s with unexpected JSON (not an object)" % (self.display_url, action), call=action)
        if answer.get("result") == "success" or (status != 200 and answer.get("result") != "error"):
            return answer  # with a status other than 200, only a refusal counts: the transport decides by the status
        if answer.get("result") != "error":
            # Neither success nor a refusal: nothing says what WHMCS did. A reading action may ask again; for a
            # writing one this is a lost answer, which the write path reads back.
            raise WHMCSRetryableError(
                "WHMCS at %s answered %s with neither success nor an error (result %r)" % (self.display_url, action, answer.get("result")),
                call=action,
            )
        message = self._scrub(str(answer.get("message") or "no message"))
        raise WHMCSError(
            "WHMCS refused %s%s: %s%s" % (action, "" if status == 200 else " with HTTP %d" % status, message, _hint(message)),
            call=action,
            api_message=message,
            status=None if status == 200 else status,
        )

    def _scrub(self, text):
        """Remove the credentials from text that came from elsewhere (an answer, an exception)."""
        for secret in (self._secret, self._access_key):
            if secret:
                text = text.replace(secret, "********")
        return text


def _hint(message):
    """What a person should do about a WHMCS error message."""
    lower = message.lower()
    if lower.startswith("invalid ip"):
        return " (add the controller's address to WHMCS's API IP allow-list, Setup > General Settings > Security, or set an API access key)"
    if "authentication failed" in lower or "invalid or missing credentials" in lower:
        return " (check the API identifier and secret, and that the admin has API access)"
    if lower.startswith("invalid access key"):
        return " (the access key must equal $api_access_key in WHMCS's configuration.php)"
    if lower == "access denied":
        return " (the API credential's role does not allow this action)"
    return ""
