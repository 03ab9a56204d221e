# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the transport each API client holds one of.

``Transport`` sends one call as a form-encoded POST and reads its answer: proxies from the
environment, a bounded body, the HTTP status, retries of reading calls bounded by time, and for a writing
call the difference between "never sent" and "answer lost". The error classes every client
extends are here too. Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import random
import time
from collections import namedtuple

# Both clients need requests; each module reports it missing with missing_required_lib().
REQUESTS_IMPORT_ERROR = None
try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import NewConnectionError

    HAS_REQUESTS = True
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    requests = HTTPAdapter = NewConnectionError = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

# HTTP answers that say "try again later" rather than "no".
RETRYABLE_STATUS = (429, 500, 502, 503, 504)

# A reading call (or a write that never left) is sent again after a failure that may pass: up to this
# many more times whatever the time, and, after a bad answer (not a refused connection), more while less
# than READ_RETRY_SECONDS have passed since its first send. A count alone gives up too soon on a flaky
# network: at a 30 % fault rate six sends of one read all fail once in 1,400 reads, and a reconcile of
# 20 services makes about a thousand.
READ_RETRIES = 5
READ_RETRY_SECONDS = 60.0

# The longest pause between two sends of a reading call, in seconds (before jitter).
MAX_BACKOFF = 5.0


class ClientError(Exception):
    """A failure talking to an API: ``msg`` to show a person, the HTTP ``status`` when there was one, the
    ``call`` (function or action) it happened in, and ``api_error`` (``type``, ``object``, ``msg``) when the
    API itself refused; each client's error extends it."""

    api_error = None

    def __init__(self, msg, status=None, call=None):
        super().__init__(msg)
        self.msg = msg
        self.status = status
        self.call = call


class Retryable(Exception):
    """Mixed into a client's error: repeating the same request is safe for a reading call."""


class NotSent(Retryable):
    """Mixed into a client's error: the request never reached the server, so even a write may be repeated."""


class AnswerLost(Exception):
    """Mixed into a client's error: a write was sent and its answer lost, so it may or may not have taken effect.

    Nothing repeats such a write blindly: the write path reads back what it was meant to produce
    and decides (``_writes.Writes.change``). Each client's class names, in ``not_made``, its error
    for a write that a read-back then proved not made.
    """

    not_made = None


class WriteNotMade(Exception):
    """Mixed into a client's error: a write whose answer was lost, and that a read-back proved not made.

    Raised by the write path for a write that is never sent twice, and for one whose repeats ran out
    of time. The caller may catch it and move on (another candidate server, a rollback).
    """


# A client's error classes, given to its Transport once: its base error and the three kinds of
# transport failure (a reading call may repeat the first two; a write only the second).
ErrorClasses = namedtuple("ErrorClasses", ("error", "retryable", "not_sent", "answer_lost"))


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


def _same(text):
    return text


class Transport:
    """How one client reaches its API: one ``requests`` session (one connection pool) and the rules of
    sending, reading and retrying a call.

    ``errors`` are the client's ErrorClasses; ``service`` names the API in messages, ``shown_url``
    its address (without secrets); ``limit`` is the largest answer in bytes; ``scrub`` makes an
    exception's text safe to show, ``shown_location`` a redirect's Location. ``sleep`` is for
    tests; by default ``time.sleep`` is looked up at each pause (the in-process tests move a virtual
    clock instead of sleeping).

    The session takes nothing from the environment but, with ``use_proxy``, the proxies: requests'
    own ``trust_env`` would also read ~/.netrc (credentials) and REQUESTS_CA_BUNDLE (whom to trust),
    and trust is decided by validate_certs / ca_path alone. The proxy variables (HTTPS_PROXY,
    HTTP_PROXY, ALL_PROXY, NO_PROXY, as ansible.builtin.uri honours them) are read per request.
    """

    def __init__(
        self,
        url,
        errors,
        service,
        limit,
        verify=True,
        timeout=60,
        use_proxy=True,
        retries=READ_RETRIES,
        backoff=0.5,
        sleep=None,
        shown_url=None,
        retry_for=READ_RETRY_SECONDS,
        hint_403="",
        too_large_hint="",
        scrub=_same,
        shown_location=_same,
        pool_size=None,
    ):
        self.url = url
        self.errors = errors
        self.service = service
        self.limit = limit
        self.verify = verify
        self.timeout = timeout
        self.use_proxy = bool(use_proxy)
        self.retries = retries
        self.retry_for = float(retry_for)
        self.backoff = backoff
        self._sleep = sleep
        self.shown_url = shown_url or url
        self.hint_403 = hint_403
        self.too_large_hint = too_large_hint
        self.scrub = scrub
        self.shown_location = shown_location
        self.session = requests.Session()
        self.session.trust_env = False
        if pool_size:
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, int(pool_size)))
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)

    def close(self):
        self.session.close()

    def proxies(self):
        """The proxies the environment gives for the URL (honouring NO_PROXY), or none without use_proxy."""
        if not self.use_proxy:
            return {}
        return requests.utils.get_environ_proxies(self.url)

    def post(self, name, data, read, write=False, timeout=None):
        """POST ``data`` (the call ``name``) and return ``read(body, status)``, the client's reading of the answer.

        ``read`` raises the client's errors; an answer that is the API's own refusal raises an error
        whose ``api_error`` is set. A reading call is sent again with growing, jittered pauses after
        a failure that may pass: ``retries`` more times, and, after a failure of the server's answer
        (a 5xx without an API error, a time-out, a broken connection, a garbled answer), more while
        less than ``retry_for`` seconds have passed since its first send. A write is sent again only
        when the request provably never reached the server (``retries`` times: the server refused the
        connection, or a proxy did). A write whose answer was lost raises the client's ``answer_lost``
        error, for the write path to read back. ``timeout``: this request's own (default: the client's).
        """
        attempt = 0
        started = time.monotonic()
        paused = 0.0
        while True:
            try:
                return self._post_once(name, data, read, timeout)
            except Retryable as exc:
                if isinstance(exc, NotSent) or not write:
                    wait = self.pause_before(attempt + 1)
                    # The pauses count even where sleeping does not move the clock (a test's sleep).
                    spent = max(time.monotonic() - started, paused)
                    # A server that refuses connections is down: a few tries do. One that answers badly now and
                    # then is flaky: it is worth going on for a while.
                    flaky = not isinstance(exc, NotSent) and spent + wait < self.retry_for
                    if attempt < self.retries or flaky:
                        attempt += 1
                        paused += wait
                        (self._sleep or time.sleep)(wait)
                        continue
                if write and not isinstance(exc, NotSent):
                    raise self.errors.answer_lost(exc.msg, status=exc.status, call=name) from None
                raise

    def pause_before(self, attempt):
        """The pause before send number ``attempt + 1``: doubling from ``backoff``, capped, with jitter so that
        parallel readers do not retry in lockstep."""
        return min(self.backoff * (2 ** (attempt - 1)), MAX_BACKOFF) * (1 + random.random() / 2)

    def _post_once(self, name, data, read, timeout=None):
        response, body = self._send(name, data, timeout or self.timeout)
        status = response.status_code
        if status == 200:
            return read(body, status)
        error = self._status_error(response, name)
        if not response.is_redirect:
            # A well-formed refusal of the API is an answer whatever status came with it (some
            # panels send their error documents with HTTP 500): it is not retried, and a write it
            # refused was not made. A body that is no such document leaves the status to decide.
            try:
                read(body, status)
            except ClientError as exc:
                if exc.api_error is not None:
                    raise
        raise error

    def _send(self, name, data, timeout):
        """The response and its body, or one of the client's errors."""
        errors, service, shown_url, reason = self.errors, self.service, self.shown_url, self._reason
        try:
            response = self.session.post(self.url, data=data, timeout=timeout, verify=self.verify, allow_redirects=False, stream=True, proxies=self.proxies())
            try:
                body = read_limited(response, self.limit)
            finally:
                response.close()
        except requests.exceptions.SSLError as exc:
            raise errors.error(
                "TLS verification of %s failed (%s). Give the CA certificate in ca_path, or set validate_certs: false "
                "only if you accept an unauthenticated connection" % (shown_url, reason(exc)),
                call=name,
            ) from None
        except requests.exceptions.ProxyError as exc:
            # The proxy refused or could not reach the server: nothing reached it.
            raise errors.not_sent(
                "cannot reach %s at %s through the proxy from the environment (%s); check HTTPS_PROXY / "
                "NO_PROXY, or set use_proxy: false" % (service, shown_url, reason(exc)),
                call=name,
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise errors.not_sent("cannot connect to %s at %s: timed out after %ss" % (service, shown_url, timeout), call=name) from None
        except requests.exceptions.ConnectionError as exc:
            if isinstance(getattr(exc.args[0], "reason", None) if exc.args else None, NewConnectionError):
                raise errors.not_sent("cannot connect to %s at %s: %s" % (service, shown_url, reason(exc)), call=name) from None
            raise errors.retryable("the connection to %s at %s broke during %s: %s" % (service, shown_url, name, reason(exc)), call=name) from None
        except requests.exceptions.Timeout:
            raise errors.retryable("%s at %s did not answer %s within %ss" % (service, shown_url, name, timeout), call=name) from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            raise errors.retryable("the answer of %s at %s to %s was cut off: %s" % (service, shown_url, name, reason(exc)), call=name) from None
        except requests.exceptions.RequestException as exc:
            raise errors.error("request %s to %s at %s failed: %s" % (name, service, shown_url, reason(exc)), call=name) from None
        if body is None:
            raise errors.error("%s's answer to %s is larger than %d bytes; refused%s" % (service, name, self.limit, self.too_large_hint), call=name)
        return response, body

    def _status_error(self, response, name):
        """The client's error for an HTTP status other than 200 (a redirect, 5xx, 403 ...)."""
        errors, service, shown_url = self.errors, self.service, self.shown_url
        status = response.status_code
        if response.is_redirect:
            location = self.shown_location(response.headers.get("Location", "?"))
            return errors.error(
                "%s at %s answered %s with a redirect to %s, which is not followed (it would turn the POST into a GET); "
                "set the URL to the final address" % (service, shown_url, name, location),
                status=status,
                call=name,
            )
        if status in RETRYABLE_STATUS:
            return errors.retryable("%s at %s answered %s with HTTP %d" % (service, shown_url, name, status), status=status, call=name)
        if status == 403:
            return errors.error("%s at %s refused %s with HTTP 403: %s" % (service, shown_url, name, self.hint_403), status=status, call=name)
        return errors.error("%s at %s answered %s with HTTP %d" % (service, shown_url, name, status), status=status, call=name)

    def _reason(self, exc):
        """A short reason for a requests exception, safe to show."""
        return self.scrub(short_reason(exc))
