"""Generic base of the API simulators: a threaded HTTPS server on 127.0.0.1.

It gives every simulator the same machinery:

* TLS with a throwaway CA (``ca_path``), a random port by default, a background daemon thread;
* a call log (``calls``, ``writes()``): dicts with ``time``, ``method``, ``path``, ``query`` (the raw
  query string, so tests can assert that secrets never travel in URLs), ``params`` (query + form
  body), ``name``, ``write``, ``fault``, ``fault_after`` and ``status`` (as sent; None when the
  connection was dropped);
* fault injection decided when a request arrives. By default a faulted request is never handled,
  so it changes nothing. A share ``after`` of the faults is applied *after* the request was handled:
  its state change is made, then its answer is lost (replaced by the fault) - what a client sees
  when a write took effect but the answer did not reach it. ``lose_next_answer()`` does that once;
* a fault that applies a write AFTER its answer was lost (kind ``delayed_apply``, or
  ``lose_next_answer(name, apply_after=D)``): the client gets the fault at once (a 504 or a dropped
  connection) and the request is handled ``D`` seconds later, as a panel behind a proxy that gave up
  on it may still carry it out. It is handled, at the latest, when the simulator is next looked at
  after those ``D`` seconds (the next API request, a state dump, the call log): no client can tell
  the difference. Its log entry has ``fault_after`` true, ``apply_at`` (when it is due, on the
  simulator's clock) and ``applied_at`` / ``applied_status`` once it was handled;
* transport knobs in every simulator (constructor keyword, CLI flag, ``PUT /_sim/settings``):
  ``latency`` seconds added to every API request and ``jitter``: each request gets a delay drawn
  uniformly from ``latency - jitter`` to ``latency + jitter`` (never below 0), and a random share
  of it passes before the request is handled (its way to the panel), the rest before the answer is
  sent (its way back), so where a request takes effect inside its round trip is not known to the
  client - as on a real network;
* ``delay_next_answer(name, seconds)``: the next request named ``name`` is handled at once and its
  answer held ``seconds`` (a window in which a test can, say, pause the client between a read and
  its next step). Log entries carry the client's TCP port (``client_port``), so a test can find the
  process that sent a request (``/proc/net/tcp``);
* one lock (``self.lock``) held around every API request, so each request is atomic;
* control endpoints under ``/_sim/`` (JSON, never faulted, never logged): ``calls`` (GET, DELETE),
  ``state``, ``faults``, ``settings`` (GET, PUT), ``lose_next_answer`` (PUT), ``delay_next_answer``
  (PUT), ``errors`` (GET);
* ``run_cli()`` to run a simulator as a process (``python -m tests.simulators.NAME``).

A subclass implements ``handle_api()``, ``dump_state()`` and ``load_state()``, and may override
``classify()`` (name and write flag of a request, needed before it is handled), ``url`` and
``SETTINGS`` (knobs settable by constructor, CLI flag and ``PUT /_sim/settings``).
"""

import argparse
import json
import random
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from ._tls import TLSHTTPServer, server_context

FAULT_KINDS = ("http500", "stall", "badbody", "drop", "truncate", "delayed_apply")
DEFAULT_FAULT_KINDS = ("http500", "stall", "badbody", "drop")
CONTROL_PREFIX = "/_sim/"

_ERROR_PAGE = "<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1><p>nginx</p></body></html>"


def non_negative(value):
    """A number of seconds, 0 or more (a settings converter)."""
    value = float(value)
    if value < 0:
        raise ValueError("must not be negative, got %r" % value)
    return value


def parse_params(pairs):
    """Turn (key, value) pairs into a dict; repeated keys and keys ending in ``[]`` become lists."""
    params = {}
    for key, value in pairs:
        if key in params:
            if not isinstance(params[key], list):
                params[key] = [params[key]]
            params[key].append(value)
        elif key.endswith("[]"):
            params[key] = [value]
        else:
            params[key] = value
    return params


class _FaultPlan:
    """What to break, how often; decisions come from one seeded RNG so a test can replay them."""

    def __init__(
        self, rate=0.0, kinds=DEFAULT_FAULT_KINDS, seed=None, stall_seconds=5.0, names=None, count=None, after=0.0, writes_only=False, apply_after=1.0
    ):
        kinds = tuple(kinds)
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError("fault kinds must be a non-empty subset of %s, got %s" % (FAULT_KINDS, list(kinds)))
        if not 0.0 <= float(rate) <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if not 0.0 <= float(after) <= 1.0:
            raise ValueError("after must be between 0 and 1")
        if float(apply_after) < 0.0:
            raise ValueError("apply_after must not be negative")
        self.rate = float(rate)
        self.after = float(after)
        self.kinds = kinds
        self.seed = seed
        self.stall_seconds = float(stall_seconds)
        # delayed_apply: seconds between the request and the moment it takes effect.
        self.apply_after = float(apply_after)
        self.names = None if names is None else frozenset(names)
        # count: inject at most this many faults, then behave (None = no limit).
        self.count = None if count is None else int(count)
        # writes_only: fault only writing requests (a form read of the same function is spared).
        self.writes_only = bool(writes_only)
        self._rng = random.Random(seed)

    def decide(self, name, write=True):
        """Return (kind, HTTP status for http500/stall, after) for the next request named ``name``, or None."""
        if self.rate <= 0.0 or self.count == 0:
            return None
        if self.names is not None and name not in self.names:
            return None
        if self.writes_only and not write:
            return None
        if self._rng.random() >= self.rate:
            return None
        if self.count is not None:
            self.count -= 1
        kind = self._rng.choice(self.kinds)
        if kind == "delayed_apply":
            # Always handled (later); the client sees a gateway time-out or a dropped connection (None).
            return kind, self._rng.choice((504, None)), True
        status = self._rng.choice((500, 502, 503)) if kind == "http500" else 504
        # No extra draw unless 0 < after < 1: a seed gives the same faults as before ``after`` existed.
        after = self.after >= 1.0 or (self.after > 0.0 and self._rng.random() < self.after)
        return kind, status, after

    def describe(self):
        return {
            "rate": self.rate,
            "kinds": list(self.kinds),
            "seed": self.seed,
            "stall_seconds": self.stall_seconds,
            "names": None if self.names is None else sorted(self.names),
            "count": self.count,
            "after": self.after,
            "writes_only": self.writes_only,
            "apply_after": self.apply_after,
        }


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive (clients use sessions); every answer sets Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "ispsystem-simulator"
    sys_version = ""
    # An idle keep-alive connection is dropped after this many seconds.
    timeout = 60
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle and delayed ACKs
    # add ~40 ms to every answer.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Stay quiet: the call log is the record."""

    def do_GET(self):  # pylint: disable=invalid-name
        self.server.simulator.dispatch(self)

    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status, content_type, body, declared_length=None):
        """Send a complete answer; ``declared_length`` lets the ``truncate`` fault lie about the size."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if declared_length is None else declared_length))
        if declared_length is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def drop(self):
        """Close the connection without a byte of answer."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _TLSHTTPServer(TLSHTTPServer):
    allow_reuse_address = True

    def __init__(self, address, simulator, context):
        self.simulator = simulator
        super().__init__(address, _Handler, context)


class SimulatorServer:
    """Base class; see the module docstring. Subclasses implement ``handle_api``, ``dump_state``, ``load_state``."""

    # The start of an answer cut off in the middle (the ``badbody`` and ``truncate`` faults), in the
    # simulated API's own format: (content type, bytes).
    BROKEN_ANSWER = ("text/xml; charset=UTF-8", b'<?xml version="1.0" encoding="UTF-8"?>\n<doc><elem><id>1</id><na')

    # name -> type of each knob: a constructor keyword, a ``--name-with-dashes`` CLI flag and a
    # key of ``PUT /_sim/settings``. The subclass stores each as an attribute of the same name.
    SETTINGS = {}
    # The same, for the knobs every simulator has (see the module docstring).
    TRANSPORT_SETTINGS = {"latency": non_negative, "jitter": non_negative}

    def __init__(self, tls_dir=None, port=0, latency=0.0, jitter=0.0):
        self.lock = threading.RLock()
        self.latency = non_negative(latency)
        self.jitter = non_negative(jitter)
        self._delay_rng = random.Random()
        self.errors = []  # tracebacks of simulator bugs (answered with HTTP 500)
        self._calls = []
        self._calls_lock = threading.Lock()
        self._faults = _FaultPlan()
        self._lost_answers = []  # one-shot faults from lose_next_answer(), used before the plan
        self._held_answers = []  # one-shot holds from delay_next_answer()
        self._faults_lock = threading.Lock()
        # Requests answered with a delayed_apply fault, not handled yet: dicts with "due" (now()), the
        # request and its log entry, in the order they came.
        self._delayed = []
        self._stopping = threading.Event()
        self._tmpdir = None
        if tls_dir is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="dci-sim-tls-")  # pylint: disable=consider-using-with
            tls_dir = self._tmpdir.name
        self._ca_path, self._context = server_context(tls_dir)
        self._port = int(port)
        self._httpd = None
        self._thread = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self):
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _TLSHTTPServer(("127.0.0.1", self._port), self, self._context)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="%s:%d" % (type(self).__name__, self._port), daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        if self._httpd is None:
            return
        self._stopping.set()  # wakes requests sleeping in a stall fault
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        self._thread.join(5)
        self._httpd = None
        self._thread = None

    def close(self):
        """Stop and remove the temporary TLS directory (if this object made it)."""
        self.stop()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    @property
    def port(self):
        return self._port

    @property
    def base_url(self):
        return "https://127.0.0.1:%d" % self._port

    @property
    def url(self):
        """The API URL clients are given; subclasses append their path."""
        return self.base_url

    @property
    def control_url(self):
        return self.base_url + CONTROL_PREFIX.rstrip("/")

    @property
    def ca_path(self):
        return self._ca_path

    # --- call log --------------------------------------------------------------------------

    def now(self):
        """The simulator's clock (a subclass may move it, see DCImanagerSimulator.advance)."""
        return time.time()

    @property
    def calls(self):
        self.apply_due_writes()
        with self._calls_lock:
            return [dict(c) for c in self._calls]

    def clear_calls(self):
        with self._calls_lock:
            self._calls.clear()

    def writes(self):
        return [c for c in self.calls if c["write"]]

    def _log(self, entry):
        with self._calls_lock:
            self._calls.append(entry)

    # --- faults and settings -----------------------------------------------------------------

    def set_faults(
        self, rate=0.0, kinds=DEFAULT_FAULT_KINDS, seed=None, stall_seconds=5.0, names=None, count=None, after=0.0, writes_only=False, apply_after=1.0
    ):
        """Fault a share ``rate`` of API requests (optionally only those named in ``names``, at most ``count``).

        ``http500``: 500/502/503 with an HTML page. ``stall``: sleep ``stall_seconds``, then 504.
        ``badbody``: 200 with a broken document. ``drop``: close without an answer.
        ``truncate`` (not in the defaults): 200 whose Content-Length promises more than is sent.
        ``delayed_apply`` (not in the defaults): a 504 or a dropped connection at once, and the
        request handled ``apply_after`` seconds later (whatever ``after`` says).
        ``after``: the share of those faults applied after the request was handled (its change is
        made, its answer lost); the others come before it (nothing changes). ``writes_only``: fault
        only writing requests. The whole plan is replaced, pending ``lose_next_answer()`` faults included.
        """
        plan = _FaultPlan(rate, kinds, seed, stall_seconds, names, count, after, writes_only, apply_after)
        with self._faults_lock:
            self._faults = plan
            self._lost_answers.clear()

    def lose_next_answer(self, name, kind="drop", after=True, stall_seconds=5.0, apply_after=None, writes_only=False):
        """Fault the next request named ``name`` once, by default after handling it (the write is made,
        the connection dropped). Independent of ``set_faults``' rate, count and seed; several queue up.
        ``writes_only``: the next writing request of that name (its form reads pass).

        ``apply_after=D``: the answer is lost at once (as ``kind`` says; ``delayed_apply`` is a 504)
        and the request is handled D seconds later. ``kind="delayed_apply"`` alone means D = 1.
        """
        _FaultPlan(1.0, [kind])  # validates kind
        if kind == "delayed_apply" and apply_after is None:
            apply_after = 1.0
        if apply_after is not None:
            apply_after = non_negative(apply_after)
            if not after:
                raise ValueError("apply_after: the request is handled later, so the fault cannot come before it (after=False)")
        lost = {"name": name, "kind": kind, "after": bool(after), "stall_seconds": float(stall_seconds), "apply_after": apply_after}
        if writes_only:
            lost["writes_only"] = True
        with self._faults_lock:
            self._lost_answers.append(lost)

    def delay_next_answer(self, name, seconds):
        """Handle the next request named ``name`` at once and hold its answer ``seconds`` (logged first)."""
        with self._faults_lock:
            self._held_answers.append({"name": name, "seconds": non_negative(seconds)})

    @property
    def faults(self):
        with self._faults_lock:
            return dict(
                self._faults.describe(), lost_answers=[dict(lost) for lost in self._lost_answers], held_answers=[dict(held) for held in self._held_answers]
            )

    def _decide_fault(self, name, write=True):
        """What to do with this request: a dict (kind, status, after, stall_seconds, apply_after) or None.

        ``status`` None with kind ``delayed_apply`` is a dropped connection; ``apply_after`` is None
        unless the request is to be handled later.
        """
        with self._faults_lock:
            for lost in self._lost_answers:
                if lost["name"] == name and (write or not lost.get("writes_only")):
                    self._lost_answers.remove(lost)
                    status = {"http500": 500, "drop": None}.get(lost["kind"], 504)
                    return dict(lost, status=status)
            fault = self._faults.decide(name, write)
            if fault is None:
                return None
            kind, status, after = fault
            return {
                "kind": kind,
                "status": status,
                "after": after,
                "stall_seconds": self._faults.stall_seconds,
                "apply_after": self._faults.apply_after if kind == "delayed_apply" else None,
            }

    def _take_hold(self, name):
        with self._faults_lock:
            for held in self._held_answers:
                if held["name"] == name:
                    self._held_answers.remove(held)
                    return held["seconds"]
        return 0.0

    def _all_settings(self):
        return dict(self.TRANSPORT_SETTINGS, **self.SETTINGS)

    def settings(self):
        return {name: getattr(self, name) for name in self._all_settings()}

    def apply_settings(self, values):
        known = self._all_settings()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError("unknown settings %s; known: %s" % (unknown, sorted(known)))
        converted = {name: known[name](value) for name, value in values.items()}  # all or nothing
        with self.lock:
            for name, value in converted.items():
                setattr(self, name, value)
        return self.settings()

    def _delays(self):
        """(seconds before handling, seconds before answering) of one request: see ``latency``, ``jitter``."""
        if not self.latency and not self.jitter:
            return 0.0, 0.0
        with self._faults_lock:
            total = max(0.0, self.latency + self._delay_rng.uniform(-self.jitter, self.jitter))
            share = self._delay_rng.random()
        return total * share, total * (1.0 - share)

    # --- subclass interface --------------------------------------------------------------------

    @classmethod
    def add_cli_arguments(cls, parser):
        """Add subclass-specific CLI options (besides the SETTINGS flags) to ``parser``."""

    def apply_cli_arguments(self, args):
        """Use the options added by ``add_cli_arguments`` (called before ``--state`` is loaded)."""

    def classify(self, method, path, query, params):  # pylint: disable=unused-argument
        """Return (name, write) of a request before it is handled (used to log faulted requests)."""
        return params.get("func") or params.get("action") or path, False

    def handle_api(self, method, path, query, params):
        """Return (status, content_type, body_bytes, name, write). Called with ``self.lock`` held."""
        raise NotImplementedError

    def dump_state(self):
        raise NotImplementedError

    def load_state(self, state):
        raise NotImplementedError

    # --- request handling ----------------------------------------------------------------------

    def dispatch(self, handler):
        split = urlsplit(handler.path)
        if split.path.startswith(CONTROL_PREFIX):
            self._control(handler, split.path[len(CONTROL_PREFIX) :].strip("/"))
            return
        body = handler.read_body()
        pairs = parse_qsl(split.query, keep_blank_values=True)
        if body and "x-www-form-urlencoded" in handler.headers.get("Content-Type", "application/x-www-form-urlencoded"):
            pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        params = parse_params(pairs)
        method = handler.command
        name, write = self.classify(method, split.path, split.query, params)
        entry = {
            "time": time.time(),
            "method": method,
            "path": split.path,
            "query": split.query,
            "params": params,
            "name": name,
            "write": write,
            "fault": None,
            "fault_after": False,
            "status": None,
            "client_port": handler.client_address[1] if handler.client_address else None,
        }

        fault = self._decide_fault(name, write)
        on_the_way, on_the_way_back = self._delays()
        if on_the_way:
            time.sleep(on_the_way)
        if fault and not fault["after"]:  # before: the request is never handled
            entry["fault"] = fault["kind"]
            self._log(entry)
            self._answer_fault(handler, entry, fault, on_the_way_back)
            return
        if fault and fault["apply_after"] is not None:  # handled later; the answer is lost now
            entry.update(fault=fault["kind"], fault_after=True, apply_at=None, applied_at=None, applied_status=None)
            with self._faults_lock:
                due = self.now() + fault["apply_after"]
                entry["apply_at"] = due
                self._delayed.append({"due": due, "request": (method, split.path, split.query, params), "entry": entry})
            self._log(entry)
            self._answer_fault(handler, entry, fault, on_the_way_back)
            return

        status, content_type, payload, name, write = self._handle(method, split.path, split.query, params)
        entry.update(name=name, write=write, status=status)
        if fault:  # after: handled (its change is made), then the answer is lost
            entry.update(fault=fault["kind"], fault_after=True, status=None)
            self._log(entry)
            self._answer_fault(handler, entry, fault, on_the_way_back)
            return
        hold = self._take_hold(name)
        if hold:
            entry["held"] = hold
        self._log(entry)
        if hold:
            self._stopping.wait(hold)
        if on_the_way_back:
            time.sleep(on_the_way_back)
        handler.send(status, content_type, payload)

    def _handle(self, method, path, query, params):
        """``handle_api`` under the lock, after the delayed requests that are due; a simulator bug is a 500."""
        try:
            with self.lock:
                self.apply_due_writes()
                return self.handle_api(method, path, query, params)
        except Exception:  # pylint: disable=broad-exception-caught
            # A simulator bug: answer 500 with the traceback and keep it for the test to see.
            text = traceback.format_exc()
            self.errors.append(text)
            sys.stderr.write(text)
            name, write = self.classify(method, path, query, params)
            return 500, "text/plain; charset=utf-8", text.encode("utf-8"), name, write

    def apply_due_writes(self):
        """Handle the ``delayed_apply`` requests whose time has come, in the order they came.

        Called before every API request is handled and whenever the state or the call log is read,
        so a delayed request takes effect before anything can see the simulator after its due time.
        """
        with self.lock:
            with self._faults_lock:
                now = self.now()
                due = [item for item in self._delayed if item["due"] <= now]
                self._delayed = [item for item in self._delayed if item["due"] > now]
            for item in due:
                try:
                    status = self.handle_api(*item["request"])[0]
                except Exception:  # pylint: disable=broad-exception-caught
                    text = traceback.format_exc()
                    self.errors.append(text)
                    sys.stderr.write(text)
                    status = 500
                with self._calls_lock:
                    item["entry"].update(applied_at=time.time(), applied_status=status)

    def _answer_fault(self, handler, entry, fault, delay=0.0):
        kind, bad_status = fault["kind"], fault["status"]
        if kind == "stall":
            self._stopping.wait(fault["stall_seconds"])
        elif delay:
            time.sleep(delay)
        if kind == "drop" or (kind == "delayed_apply" and bad_status is None):
            handler.drop()
            return
        if kind in ("http500", "stall", "delayed_apply"):
            reason = handler.responses.get(bad_status, ("Error",))[0]
            entry["status"] = bad_status
            page = _ERROR_PAGE.format(status=bad_status, reason=reason).encode()
            handler.send(bad_status, "text/html; charset=utf-8", page)
            return
        entry["status"] = 200
        content_type, broken = self.BROKEN_ANSWER
        if kind == "badbody":
            handler.send(200, content_type, broken)
        else:  # truncate: promise 4096 bytes, send a few, close.
            handler.send(200, content_type, broken[: len(broken) // 2], declared_length=4096)

    def _control(self, handler, what):
        method = handler.command
        body = handler.read_body()
        try:
            data = json.loads(body.decode("utf-8")) if body else {}
            if what == "calls" and method == "GET":
                result = self.calls
            elif what == "calls" and method == "DELETE":
                self.clear_calls()
                result = {"ok": True}
            elif what == "state" and method == "GET":
                self.apply_due_writes()
                with self.lock:
                    result = self.dump_state()
            elif what == "state" and method == "PUT":
                with self.lock:
                    self.load_state(data)
                result = {"ok": True}
            elif what == "faults" and method == "GET":
                result = self.faults
            elif what == "faults" and method == "PUT":
                self.set_faults(**data)
                result = self.faults
            elif what == "lose_next_answer" and method == "PUT":
                self.lose_next_answer(**data)
                result = self.faults
            elif what == "delay_next_answer" and method == "PUT":
                self.delay_next_answer(**data)
                result = self.faults
            elif what == "settings" and method == "GET":
                result = self.settings()
            elif what == "settings" and method == "PUT":
                result = self.apply_settings(data)
            elif what == "errors" and method == "GET":
                result = list(self.errors)
            else:
                handler.send(404, "application/json", json.dumps({"error": "no control endpoint %s %s" % (method, what)}).encode())
                return
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # Bad control input (unknown setting, malformed state ...) is the caller's error: say why.
            handler.send(400, "application/json", json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}).encode())
            return
        handler.send(200, "application/json", json.dumps(result).encode())


def run_cli(cls, argv=None):
    """Run ``cls`` as a process: print one JSON line (url, ca_path, control), serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m %s" % cls.__module__, description=(cls.__doc__ or "").split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--state", help="JSON file with the initial state (default: the simulator's sample state)")
    parser.add_argument("--tls-dir", help="directory for ca.pem/server.pem (reused when present; default: a temporary one)")
    helps = {"latency": "seconds added to every API request", "jitter": "each request's delay is latency +- up to this many seconds"}
    knobs = cls.TRANSPORT_SETTINGS.copy()
    knobs.update(cls.SETTINGS)
    for name, kind in knobs.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None, help=helps.get(name))
    cls.add_cli_arguments(parser)
    args = parser.parse_args(argv)

    values = {name: getattr(args, name) for name in knobs if getattr(args, name) is not None}
    sim = cls(tls_dir=args.tls_dir, port=args.port, **values)
    sim.apply_cli_arguments(args)
    if args.state:
        with open(args.state, encoding="utf-8") as handle:
            sim.load_state(json.load(handle))

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    sim.start()
    sys.stdout.write(json.dumps({"url": sim.url, "ca_path": sim.ca_path, "control": sim.control_url}) + "\n")
    sys.stdout.flush()
    try:
        while not done.wait(0.5):
            pass
    finally:
        sim.close()
    return 0
