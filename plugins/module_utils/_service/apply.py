# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: applying a plan to many services in one process.

``Panels``: the panels of one run (``dcimanager_panels`` or the one default connection), one client
(one login) and one shared server list per panel. ``apply()``: every service of a plan converged
(``converge.ServiceConvergence``), ``parallelism`` of them at a time, each result handed to
``progress`` as it finishes. Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

from .converge import ServiceConvergence
from .drift import panel_of
from .install import Templates
from .view import ServerList

DEFAULT_PANEL = "default"
# The keys of a panel's connection in dcimanager_panels.
PANEL_KEYS = ("url", "username", "password", "ca_path", "validate_certs", "use_proxy")


class Panels:
    """The panels of one run. ``make_client(connection)`` makes a DCIClient of a connection dict (``url``,
    ``username``, ``password``, ``ca_path``, ``validate_certs``, ``use_proxy``); ``default`` is the one panel of the
    module options (None without them), ``mapping`` the ``dcimanager_panels`` variable (None without it)."""

    def __init__(self, make_client, default=None, mapping=None, poll_interval=15):
        self.make_client = make_client
        self.several = mapping is not None
        self.connections = dict((panel_of(key), value) for key, value in (mapping or {}).items()) if self.several else {}
        if not self.several and default is not None:
            self.connections[DEFAULT_PANEL] = default
        self.poll_interval = poll_interval
        self._clients = {}
        self._views = {}
        self._users = {}
        self._templates = {}
        self._claimed = {}
        self._users_lock = threading.Lock()  # held while the list is read: the services that ask meanwhile wait for it
        self._lock = threading.Lock()

    def key_of(self, whmcs_server_id):
        """The panel of a service whose WHMCS server entry is ``whmcs_server_id`` (None when it has none)."""
        if not self.several:
            return DEFAULT_PANEL
        key = panel_of(whmcs_server_id)
        return key if key and key != "0" else None

    def has(self, key):
        return key in self.connections

    def client(self, key):
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self.make_client(self.connections[key])
            return self._clients[key]

    def view(self, key):
        client = self.client(key)
        with self._lock:
            if key not in self._views:
                self._views[key] = ServerList(client, max_pause=self.poll_interval)
            return self._views[key]

    def users(self, key):
        """The panel's ``user`` list, read once per run (on first use) for every service's first look at its account."""
        client = self.client(key)
        with self._users_lock:
            if key not in self._users:
                self._users[key] = client.list("user")
            return self._users[key]

    def templates(self, key):
        """The OS templates the panel's install forms offered in this run (see install.Install's ``templates``)."""
        with self._lock:
            return self._templates.setdefault(key, Templates())

    def claimed(self, key):
        """The ids of the servers this run's allocations claimed on the panel (see panel.Panel's ``claimed``)."""
        with self._lock:
            return self._claimed.setdefault(key, set())

    def list_reads(self):
        """Full server list reads per panel so far."""
        return dict((key, view.reads) for key, view in self._views.items())

    def list_polls(self):
        """Of those, the reads made for the later looks of waits, per panel."""
        return dict((key, view.polls) for key, view in self._views.items())

    def close(self):
        for client in self._clients.values():
            client.close()


def apply(run, entries, secrets=None, parallelism=10, progress=None):
    """Converge every service of ``entries`` (plan entries: see converge.ServiceConvergence); returns their results
    in the order given. ``secrets``: passwords by host, for services given without WHMCS."""
    secrets = secrets or {}
    results = [None] * len(entries)
    if not entries:
        return results
    workers = max(1, min(int(parallelism or 1), len(entries)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {}
        for index, entry in enumerate(entries):
            convergence = ServiceConvergence(run, entry, secrets.get(entry.get("host")) or secrets.get(str(entry.get("service_id"))))
            futures[pool.submit(convergence.converge)] = index
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if progress is not None:
                progress(results[futures[future]])
    return results
