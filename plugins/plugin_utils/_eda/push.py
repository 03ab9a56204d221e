# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to this collection (no compatibility promise): the WHMCS event source's push mode, the
HTTP(S) endpoint for the signed posts of the WHMCS hook (aiohttp, which ansible-rulebook brings).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import ssl
import time

from ansible_collections.ispsystem.dcimanager.plugins.plugin_utils._eda.delivery import make_hint
from ansible_collections.ispsystem.dcimanager.plugins.plugin_utils._eda.settings import (
    ACTIONS,
    EVENT_ID,
    LOG,
    OPERATIONS,
    REQUESTERS,
    SERVER_CONTROL,
    positive_int,
)

SIGNATURE_HEADER = "X-Ispsystem-Signature"


def _optional_id(post, key):
    """(ok, value) of an optional id field: absent, null, "" and 0 are None; else a positive integer."""
    value = post.get(key)
    if value in (None, "", 0, "0"):
        return True, None
    number = positive_int(value)
    return number is not None, number


class PushReceiver:
    """Checks each post (size, signature, fields, age, replay) and hands its event to the delivery."""

    def __init__(self, settings, delivery):
        self.settings = settings
        self.delivery = delivery
        self.secret = settings.hmac_secret.encode("utf-8")

    def refuse(self, request, status, reason):
        from aiohttp import web  # pylint: disable=import-outside-toplevel

        LOG.warning("refused a post from %s: %s (HTTP %d)", request.remote, reason, status)
        return web.json_response({"status": "refused", "reason": reason}, status=status)

    async def handle(self, request):
        from aiohttp import web  # pylint: disable=import-outside-toplevel

        if request.method != "POST":
            return self.refuse(request, 405, "only POST is accepted")
        length = request.content_length
        if length is None:
            return self.refuse(request, 411, "no Content-Length")
        if length > self.settings.max_body:
            return self.refuse(request, 413, "body of %d bytes is over the %d byte limit" % (length, self.settings.max_body))
        try:
            body = await asyncio.wait_for(request.content.read(self.settings.max_body + 1), timeout=10)
        except asyncio.TimeoutError:
            return self.refuse(request, 408, "the body did not arrive within 10 seconds")
        if len(body) > self.settings.max_body:
            return self.refuse(request, 413, "body over the %d byte limit" % self.settings.max_body)
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            return self.refuse(request, 401, "unsigned (no %s header)" % SIGNATURE_HEADER)
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.strip().lower().encode("ascii", "replace"), expected.encode("ascii")):
            return self.refuse(request, 401, "wrong signature")
        try:
            post = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self.refuse(request, 400, "the body is not JSON")
        problem, hint = self.parse(post)
        if problem:
            return self.refuse(request, 422 if hint is None else 409, problem)
        if not self.settings.selected(hint["product_id"]):
            LOG.info("ignoring %s of service %s: product %s is not in product_ids", hint["action"], hint["service_id"], hint["product_id"])
            return web.json_response({"status": "ignored", "event_id": hint["event_id"]}, status=200)
        try:
            self.delivery.receive(hint)
        except OSError as exc:
            LOG.error("could not write the state file %s: %s", self.settings.state_file, exc)
            return web.json_response({"status": "error", "reason": "state file not writable"}, status=503)
        return web.json_response({"status": "accepted", "event_id": hint["event_id"]}, status=202)

    def parse(self, post):
        """(problem, hint): problem is None for a good post; hint is None unless only a replay is wrong."""
        if not isinstance(post, dict):
            return "the body is not a JSON object", None
        event_id = post.get("event_id")
        if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
            return "event_id missing or not 8 to 128 letters, digits, '_.:-'", None
        timestamp = post.get("timestamp")
        if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
            return "timestamp missing or not a number", None
        if abs(time.time() - timestamp) > self.settings.max_age:
            return "timestamp is more than %d seconds away from now (a replay, or a wrong clock)" % self.settings.max_age, None
        action = post.get("action")
        if action not in ACTIONS + (SERVER_CONTROL,):
            return "unknown action %r (expected one of %s)" % (str(action)[:40], ", ".join(ACTIONS + (SERVER_CONTROL,))), None
        service_id = positive_int(post.get("service_id"))
        if service_id is None:
            return "service_id missing or not a positive integer", None
        ok, product_id = _optional_id(post, "product_id")
        if not ok:
            return "product_id is not a positive integer", None
        # The WHMCS server entry of the service (several panels); a hook of an older release sends none.
        ok, server_id = _optional_id(post, "server_id")
        if not ok:
            return "server_id is not a positive integer", None
        hint = make_hint(service_id, action, product_id, event_id, server_id)
        if action == SERVER_CONTROL:
            if post.get("operation") not in OPERATIONS or post.get("requested_by") not in REQUESTERS:
                return "server_control needs operation (%s) and requested_by (%s)" % (", ".join(OPERATIONS), ", ".join(REQUESTERS)), None
            hint.update(operation=post["operation"], requested_by=post["requested_by"])
        if self.delivery.state.known(event_id):
            return "event %s was received before (a replay)" % event_id, hint
        return None, hint


async def run_push(settings, delivery):
    from aiohttp import web  # pylint: disable=import-outside-toplevel

    receiver = PushReceiver(settings, delivery)
    # client_max_size bounds what aiohttp itself would buffer; the handler reads with its own bound.
    app = web.Application(client_max_size=settings.max_body)
    app.router.add_route("*", settings.path, receiver.handle)
    context = None
    if settings.certfile:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(settings.certfile, settings.keyfile)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, ssl_context=context)
    await site.start()
    LOG.info("listening on %s://%s:%d%s", "https" if context else "http", settings.host, settings.port, settings.path)
    try:
        await asyncio.Event().wait()  # until the source is cancelled
    finally:
        await runner.cleanup()
