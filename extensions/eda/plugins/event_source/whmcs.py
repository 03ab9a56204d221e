# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""ispsystem.dcimanager.whmcs: WHMCS module events as ansible-rulebook events, coalesced per service.

The entry point ansible-rulebook loads; the source itself is plugins/plugin_utils/_eda/ of the
collection (settings, durable state and delivery, push, poll), imported by its absolute
collection path.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import sys
from typing import Any

DOCUMENTATION = r"""
---
short_description: WHMCS module events (create, suspend, unsuspend, terminate) of dedicated server services, as runs per service.
description:
  - Emits one event per run, under the key C(whmcs) - C(service_id), C(server_id), C(product_id), C(action),
    C(actions), C(events), C(event_id) and C(dedicated_server_new_service) - for the module actions WHMCS
    performed on a service, I(action) being one of C(create), C(suspend), C(unsuspend), C(terminate).
    An event is a hint that the service changed; the run it starts (the C(ispsystem.dcimanager.converge)
    playbook) reads the service's status in WHMCS itself.
  - C(mode=push) listens for the signed POSTs of the WHMCS hook
    C(extras/whmcs/hooks/ispsystem_dcimanager_awx.php) (its C(eda_url) setting). C(mode=poll) reads
    WHMCS's activity log (C(GetActivityLog)) and module queue (C(GetModuleQueue)) every I(interval)
    seconds, from a cursor kept in I(state_file), and each service's product and server (C(GetClientsProducts)).
  - Coalesced per service (with I(acknowledge)) - at most one run in flight (emitted, its playbook
    run not ended yet); WHMCS events that arrive meanwhile mark the service for exactly one more
    run, emitted when the one in flight ends. Events with an id received before (duplicates,
    replays) are dropped. No time window drops anything.
  - A C(create) marks the service new (C(dedicated_server_new_service=true) in its runs) until a run
    that carried the mark ended with a server for the service, or was for a terminate.
  - (push) The buttons of the WHMCS provisioning module post C(action=server_control) with C(operation)
    (C(reboot), C(power_off), C(power_on), C(reinstall)) and C(requested_by) (C(client), C(admin)); each is
    a run of its own with those two fields, never merged, emitted once (not again after a restart).
  - The state file (written atomically, before anything is emitted) keeps the cursor, the ids
    recently received, the runs in flight and the services marked; the runs in flight are emitted
    again after a restart.
  - No secret ever appears in an event or a log line. See docs/eda.md of the collection.
requirements:
  - The collection installed where ansible-rulebook finds it (C(ansible-galaxy collection list)).
  - aiohttp (push mode; ansible-rulebook depends on it).
  - requests (poll mode; the collection's requirements.txt, which ansible-builder installs into a decision environment).
options:
  mode:
    description: C(push) (listen for the WHMCS hook) or C(poll) (read the WHMCS API).
    type: str
    required: true
    choices: [push, poll]
  state_file:
    description:
      - A file of the source's own (JSON): the poll cursor, recent event ids, the runs in flight and the services marked for one more.
      - Its directory must exist and be writable; an C(acks) directory is made next to the file.
    type: str
    required: true
  acknowledge:
    description:
      - Keep each run in flight until its playbook run has ended (the C(ispsystem.dcimanager.eda_ack)
        callback, which the source enables for the playbooks that ansible-rulebook runs), coalesce
        the events of its service meanwhile, and emit the runs in flight again after a restart.
      - Set C(false) with C(run_job_template) (AAP), where the playbook runs elsewhere; every event
        then is a run of its own, counted as delivered once it is handed to ansible-rulebook, and
        only a C(create) carries C(dedicated_server_new_service=true).
    type: bool
    default: true
  product_ids:
    description: Only services of these WHMCS product ids (default, and with an empty list, every product).
    type: list
    elements: int
  host:
    description: (push) The address to listen on.
    type: str
    default: 127.0.0.1
  port:
    description: (push) The TCP port to listen on.
    type: int
    default: 5443
  path:
    description: (push) The URL path the hook posts to.
    type: str
    default: /whmcs
  hmac_secret:
    description:
      - (push) The secret shared with the hook (its C(eda_secret)), at least 32 characters.
      - Default from the environment variable C(ISPSYSTEM_EDA_SECRET).
    type: str
  certfile:
    description: (push) A PEM certificate (chain) to serve HTTPS; without it the source serves plain HTTP.
    type: str
  keyfile:
    description: (push) The PEM private key of I(certfile).
    type: str
  max_body:
    description: (push) The largest body accepted, in bytes; a bigger post is refused with 413.
    type: int
    default: 16384
  max_age:
    description: (push) Seconds a signed post stays valid (its timestamp, either way); older or later ones are refused.
    type: int
    default: 300
  whmcs_url:
    description: (poll) The WHMCS base URL; default from C(WHMCS_URL).
    type: str
  whmcs_identifier:
    description: (poll) API credential identifier; default from C(WHMCS_API_IDENTIFIER).
    type: str
  whmcs_secret:
    description: (poll) API credential secret; default from C(WHMCS_API_SECRET).
    type: str
  whmcs_access_key:
    description: (poll) The API access key, if WHMCS's IP allow-list needs it; default from C(WHMCS_API_ACCESS_KEY).
    type: str
  ca_path:
    description: (poll) A PEM CA file for a WHMCS with a private CA; default from C(WHMCS_CA_PATH).
    type: str
  validate_certs:
    description: (poll) Verify WHMCS's TLS certificate.
    type: bool
    default: true
  use_proxy:
    description:
      - (poll) Reach WHMCS through the proxy of the environment (C(HTTPS_PROXY), C(NO_PROXY)), as the
        collection's modules do.
    type: bool
    default: true
  interval:
    description: (poll) Seconds between two reads of WHMCS.
    type: float
    default: 30
  timeout:
    description: (poll) Seconds one API request may take (a read is repeated twice after a failure that may pass).
    type: float
    default: 30
  page_size:
    description: (poll) Activity log entries read per request.
    type: int
    default: 100
  start_at:
    description:
      - (poll) Where a source without a cursor starts; C(now) skips the activity log's history,
        C(beginning) emits every module action still in it. Incomplete module queue entries are
        emitted in both cases.
    type: str
    default: now
    choices: [now, beginning]
  module_queue:
    description: (poll) Also emit WHMCS's failed module actions (its module queue), so that they are retried.
    type: bool
    default: true
"""

EXAMPLES = r"""
# One source per rulebook: runs are coalesced per source (docs/eda.md, push or poll).
- name: Dedicated servers from WHMCS (push)
  hosts: localhost
  sources:
    - ispsystem.dcimanager.whmcs:
        mode: push
        port: 5443
        certfile: /etc/eda/tls/cert.pem
        keyfile: /etc/eda/tls/key.pem
        state_file: /var/lib/eda/whmcs-push.json
        product_ids: [3, 4]
  rules:
    - name: Converge the service to its WHMCS status
      condition: event.whmcs.service_id is defined
      action:
        run_playbook:
          name: ispsystem.dcimanager.converge
          lock: "{{ event.whmcs.service_id }}"
          extra_vars:
            service_id: "{{ event.whmcs.service_id }}"
            whmcs_server_id: "{{ event.whmcs.server_id }}"
            dedicated_server_new_service: "{{ event.whmcs.dedicated_server_new_service }}"

- name: Dedicated servers from WHMCS (poll)
  hosts: localhost
  sources:
    - ispsystem.dcimanager.whmcs:
        mode: poll
        interval: 30
        state_file: /var/lib/eda/whmcs-poll.json
  rules:
    - name: Converge the service to its WHMCS status
      condition: event.whmcs.service_id is defined
      action:
        run_playbook:
          name: ispsystem.dcimanager.converge
          lock: "{{ event.whmcs.service_id }}"
          extra_vars:
            service_id: "{{ event.whmcs.service_id }}"
            whmcs_server_id: "{{ event.whmcs.server_id }}"
            dedicated_server_new_service: "{{ event.whmcs.dedicated_server_new_service }}"
"""

_PACKAGE = "ansible_collections.ispsystem.dcimanager.plugins.plugin_utils._eda"
# How often the acknowledgements of ended runs are looked for.
ACK_TICK = 0.25


def _load(name):
    """A module of the source's package.

    ansible-rulebook runs this file with runpy, outside any package, and puts no collection path
    on sys.path: when the collection is not importable yet, the directory that holds this file's
    ansible_collections/ (its install root) is added, as ansible-core's own loader would find it.
    """
    try:
        return importlib.import_module("%s.%s" % (_PACKAGE, name))
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("ansible_collections"):
            raise
    here = os.path.dirname(os.path.abspath(__file__))  # abspath, not realpath: the install path, symlinks kept
    # here = <root>/ansible_collections/ispsystem/dcimanager/extensions/eda/plugins/event_source
    root = os.path.normpath(os.path.join(here, *[os.pardir] * 7))
    if os.path.basename(os.path.normpath(os.path.join(here, *[os.pardir] * 6))) != "ansible_collections":
        raise ImportError("the WHMCS event source runs from an installed collection (ansible_collections/ispsystem/dcimanager/); this file is at %s" % here)
    if root not in sys.path:
        sys.path.append(root)
    return importlib.import_module("%s.%s" % (_PACKAGE, name))


async def _watch_acks(delivery):
    while True:
        delivery.read_acks()
        await asyncio.sleep(ACK_TICK)


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    """ansible-rulebook's entry point."""
    settings_module, delivery_module = _load("settings"), _load("delivery")
    settings = settings_module.Settings(args)
    state = delivery_module.State(settings.state_file)
    if not state.load():
        settings_module.LOG.info("no state file %s yet; starting a new one", settings.state_file)
        state.save()
    if settings.acknowledge:
        delivery_module.enable_acknowledgements(settings)
    delivery = delivery_module.Delivery(queue, settings, state)
    delivery.resume()
    helpers = [asyncio.create_task(delivery.forward()), asyncio.create_task(_watch_acks(delivery))]
    try:
        if settings.mode == "push":
            await _load("push").run_push(settings, delivery)
        else:
            await _load("poll").run_poll(settings, delivery)
    finally:
        for task in helpers:
            task.cancel()


if __name__ == "__main__":
    # Try it without ansible-rulebook: print what would be emitted.
    class _PrintQueue:
        async def put(self, event):
            print(json.dumps(event))

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintQueue(), json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}))
