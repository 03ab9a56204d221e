# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A stand-in for ``requests.Session`` for the clients' unit tests: canned answers, recorded posts.

The behaviour users see is proven against the simulators; these fakes are for what a simulator
cannot easily produce (a connection refused at one exact call, a body cut in the middle).
"""

from __future__ import annotations

import copy
import json
import types

import requests
from urllib3.exceptions import NewConnectionError


class FakeResponse:
    """An HTTP answer: ``body`` is bytes, or anything JSON can encode."""

    def __init__(self, body=b"", status=200, headers=None):
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.status_code = status
        self.headers = headers or {}
        self.is_redirect = status in (301, 302, 303, 307, 308) and "Location" in self.headers

    def iter_content(self, chunk_size=1):
        for start in range(0, len(self.body), chunk_size):
            yield self.body[start : start + chunk_size]

    def close(self):
        pass


class FakeSession:
    """Answers posts in order and records each one (``url``, a copy of ``data``, the other arguments).

    An answer is a FakeResponse, bytes (a 200 answer with that body), an exception to raise, or a
    callable that gets the posted fields as a dict and returns one of those.
    """

    def __init__(self, answers):
        self.answers = list(answers)
        self.posts = []
        self.trust_env = True

    def post(self, url, data=None, **kwargs):
        self.posts.append({"url": url, "data": copy.copy(data), **kwargs})
        answer = self.answers.pop(0)
        if callable(answer) and not isinstance(answer, (FakeResponse, BaseException)):
            answer = answer(dict(data))
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, bytes):
            return FakeResponse(answer)
        return answer

    def close(self):
        pass


def connection_refused():
    """The exception requests raises when nothing listens on the panel's port."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(types.SimpleNamespace(reason=reason))
