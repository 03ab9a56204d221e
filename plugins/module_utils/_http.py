# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: what the DCImanager and WHMCS clients share.

Bounded retries, bounded reads, proxies from the environment, and one reading of the ways an
HTTPS request can fail. Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import random

# Both clients need requests; each module reports it missing with missing_required_lib().
REQUESTS_IMPORT_ERROR = None
try:
    import requests
    from requests.adapters import HTTPAdapter  # noqa: F401  pylint: disable=unused-import
    from urllib3.exceptions import NewConnectionError

    HAS_REQUESTS = True
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    requests = HTTPAdapter = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

# HTTP answers that say "try again later" rather than "no".
RETRYABLE_STATUS = (429, 500, 502, 503, 504)

# Reading calls are sent up to this many more times after a failure that may pass.
READ_RETRIES = 5


class ClientError(Exception):
    """A failure talking to an API: ``msg`` to show a person, the HTTP ``status`` when there was one, and
    ``api_error`` (``type``, ``object``, ``msg``) when the API itself refused; each client's error extends it."""

    api_error = None

    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.msg = msg
        self.status = status


class Retryable(Exception):
    """Mixed into a client's error: repeating the same request is safe for a reading call."""


class NotSent(Retryable):
    """Mixed into a client's error: the request never reached the server, so even a write may be repeated."""


class AnswerLost(Exception):
    """Mixed into a client's error: a write was sent and its answer lost, so it may or may not have taken effect.

    Nothing repeats such a write blindly: the resource layer reads back what it was meant to
    produce and decides (``_resource.APIResource.change``).
    """


def error_family(base):
    """A client's error classes besides its ``base`` error: (retryable, not sent, answer lost).

    Retryable: repeating the same request is safe for a reading call. Not sent: the request never
    reached the server, so even a write may be repeated. Answer lost: a write reached the server (or
    may have) and its answer was lost, so the resource layer reads back before deciding.
    """
    retryable = type("Retryable" + base.__name__, (base, Retryable), {})
    not_sent = type("NotSent" + base.__name__, (retryable, NotSent), {})
    lost = type("LostAnswer" + base.__name__, (base, AnswerLost), {})
    return retryable, not_sent, lost


def with_retries(send, write, retries, backoff, sleep, lost):
    """``send()``, repeated after Retryable failures: reads up to ``retries`` times, writes only when NotSent.

    A write whose answer is lost raises ``lost(msg)`` (the client's AnswerLost error). Backoff
    doubles from ``backoff`` seconds, is capped at 10 s and has jitter, so parallel readers do not
    retry in lockstep.
    """
    attempt = 0
    while True:
        try:
            return send()
        except Retryable as exc:
            if (isinstance(exc, NotSent) or not write) and attempt < retries:
                attempt += 1
                sleep(min(backoff * (2 ** (attempt - 1)), 10) * (1 + random.random() / 2))
                continue
            if write and not isinstance(exc, NotSent):
                raise lost(exc.msg) from None
            raise


def read_limited(response, limit, chunk_size=65536):
    """The response body, or None when it is larger than ``limit`` bytes (counted after decompression)."""
    chunks = []
    size = 0
    for chunk in response.iter_content(chunk_size=chunk_size):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def short_reason(exc, limit=300):
    """A short reason for a requests exception: urllib3's reason when there is one."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    text = str(reason if reason is not None else (exc.args[0] if exc.args else exc))
    return text if len(text) <= limit else text[:limit] + "..."


def new_session(use_proxy):
    """A requests session that takes nothing from the environment but, with ``use_proxy``, the proxies.

    requests' own ``trust_env`` would also read ~/.netrc (credentials) and REQUESTS_CA_BUNDLE
    (whom to trust); trust is decided by validate_certs / ca_path alone, so only the proxy
    variables (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY, as ansible.builtin.uri honours them)
    are read, per request in ``proxies_for``.
    """
    session = requests.Session()
    session.trust_env = False
    session.use_proxy = bool(use_proxy)
    return session


def proxies_for(session, url):
    """The proxies the environment gives for ``url`` (honouring NO_PROXY), or none without use_proxy."""
    if not getattr(session, "use_proxy", False):
        return {}
    return requests.utils.get_environ_proxies(url)


def post(session, url, data, timeout, verify, what, errors, limit, service, shown_url=None, hint="", reason=short_reason):
    """POST ``data`` to ``url``; returns (response, body) or raises one of the client's ``errors``.

    ``errors`` are the client's (fatal, retryable, not_sent) error factories; ``limit`` its largest
    answer in bytes; ``service`` and ``shown_url`` name the server in messages; ``reason`` makes an
    exception's text safe to show (the WHMCS client scrubs its secrets from it).
    """
    fatal, retryable, not_sent = errors
    shown_url = shown_url or url
    try:
        response = session.post(url, data=data, timeout=timeout, verify=verify, allow_redirects=False, stream=True, proxies=proxies_for(session, url))
        try:
            body = read_limited(response, limit)
        finally:
            response.close()
    except requests.exceptions.SSLError as exc:
        raise fatal(
            "TLS verification of %s failed (%s). Give the CA certificate in ca_path, or set validate_certs: false "
            "only if you accept an unauthenticated connection" % (shown_url, reason(exc))
        ) from None
    except requests.exceptions.ProxyError as exc:
        # The proxy refused or could not reach the server: nothing reached it.
        raise not_sent(
            "cannot reach %s at %s through the proxy from the environment (%s); check HTTPS_PROXY / "
            "NO_PROXY, or set use_proxy: false" % (service, shown_url, reason(exc))
        ) from None
    except requests.exceptions.ConnectTimeout:
        raise not_sent("cannot connect to %s at %s: timed out after %ss" % (service, shown_url, timeout)) from None
    except requests.exceptions.ConnectionError as exc:
        if isinstance(getattr(exc.args[0], "reason", None) if exc.args else None, NewConnectionError):
            raise not_sent("cannot connect to %s at %s: %s" % (service, shown_url, reason(exc))) from None
        raise retryable("the connection to %s at %s broke during %s: %s" % (service, shown_url, what, reason(exc))) from None
    except requests.exceptions.Timeout:
        raise retryable("%s at %s did not answer %s within %ss" % (service, shown_url, what, timeout)) from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
        raise retryable("the answer of %s at %s to %s was cut off: %s" % (service, shown_url, what, reason(exc))) from None
    except requests.exceptions.RequestException as exc:
        raise fatal("request %s to %s at %s failed: %s" % (what, service, shown_url, reason(exc))) from None
    if body is None:
        raise fatal("%s's answer to %s is larger than %d bytes; refused%s" % (service, what, limit, hint))
    return response, body


def check_status(response, what, shown_url, service, errors, hint_403, shown_location=str):
    """Raise the client's error for an HTTP status other than 200 (a redirect, 5xx, 403 ...).

    ``errors`` are the client's (fatal, retryable) factories; each takes the message and ``status``.
    ``shown_location`` makes a redirect's Location safe to show.
    """
    fatal, retryable = errors
    status = response.status_code
    if response.is_redirect:
        raise fatal(
            "%s at %s answered %s with a redirect to %s, which is not followed (it would turn the POST into a GET); "
            "set the URL to the final address" % (service, shown_url, what, shown_location(response.headers.get("Location", "?"))),
            status=status,
        )
    if status in RETRYABLE_STATUS:
        raise retryable("%s at %s answered %s with HTTP %d" % (service, shown_url, what, status), status=status)
    if status == 403:
        raise fatal("%s at %s refused %s with HTTP 403: %s" % (service, shown_url, what, hint_403), status=status)
    if status != 200:
        raise fatal("%s at %s answered %s with HTTP %d" % (service, shown_url, what, status), status=status)
