# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to this collection (no compatibility promise): the arguments of the WHMCS event source
(extensions/eda/plugins/event_source/whmcs.py), checked, with the environment's defaults.

Standard library only: the event source runs in ansible-rulebook's process (a decision
environment), where ansible-core's plugin machinery is not loaded.
"""

from __future__ import annotations

import logging
import os
import re

# One logger for every part of the source: ansible-rulebook shows its lines with -v.
LOG = logging.getLogger("ispsystem.dcimanager.whmcs")

# WHMCS's module actions: hints that a service's status changed, converged by one run at a time.
ACTIONS = ("create", "suspend", "unsuspend", "terminate")
# The provisioning module's buttons (push only): a command for the service's server, a run of its own each.
SERVER_CONTROL = "server_control"
OPERATIONS = ("reboot", "power_off", "power_on", "reinstall")
REQUESTERS = ("client", "admin")
# Event ids as the hook makes them and the eda_ack callback accepts them: safe as a file name.
EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,127}$")


class SourceError(Exception):
    """A configuration or state problem that stops the source, with a message a person can act on."""


def as_bool(value):
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def positive_int(value):
    """An int > 0 from an int or a string of digits, else None (bools are not numbers here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return number if number > 0 else None
    return None


class Settings:
    """The source's arguments."""

    def __init__(self, args):
        env = os.environ
        self.mode = args.get("mode")
        if self.mode not in ("push", "poll"):
            raise SourceError("mode must be push or poll, not %r" % (self.mode,))
        if not args.get("state_file"):
            raise SourceError("state_file is required (a JSON file the source keeps its cursor in)")
        self.state_file = os.path.abspath(str(args["state_file"]))
        if not os.path.isdir(os.path.dirname(self.state_file)):
            raise SourceError("the directory of state_file %s does not exist" % self.state_file)
        self.acknowledge = as_bool(args.get("acknowledge", True))
        self.ack_dir = os.path.join(os.path.dirname(self.state_file), "acks")
        if "duplicate_window" in args:
            # The rulebook's throttle it described is gone: runs are coalesced per service instead.
            LOG.warning("the argument duplicate_window is no longer used (events are coalesced per service); remove it from the rulebook")
        products = args.get("product_ids") or []
        if not isinstance(products, list) or any(positive_int(p) is None for p in products):
            raise SourceError("product_ids must be a list of product ids (positive integers)")
        self.product_ids = frozenset(positive_int(p) for p in products)
        # push
        self.host = str(args.get("host", "127.0.0.1"))
        self.port = int(args.get("port", 5443))
        self.path = "/" + str(args.get("path", "/whmcs")).strip("/")
        self.hmac_secret = str(args.get("hmac_secret") or env.get("ISPSYSTEM_EDA_SECRET") or "")
        self.certfile = args.get("certfile")
        self.keyfile = args.get("keyfile")
        self.max_body = int(args.get("max_body", 16384))
        self.max_age = int(args.get("max_age", 300))
        # poll
        self.whmcs_url = str(args.get("whmcs_url") or env.get("WHMCS_URL") or "")
        self.identifier = str(args.get("whmcs_identifier") or env.get("WHMCS_API_IDENTIFIER") or "")
        self.secret = str(args.get("whmcs_secret") or env.get("WHMCS_API_SECRET") or "")
        self.access_key = str(args.get("whmcs_access_key") or env.get("WHMCS_API_ACCESS_KEY") or "")
        self.ca_path = args.get("ca_path") or env.get("WHMCS_CA_PATH") or None
        self.validate_certs = as_bool(args.get("validate_certs", True))
        self.use_proxy = as_bool(args.get("use_proxy", True))
        self.interval = float(args.get("interval", 30))
        self.timeout = float(args.get("timeout", 30))
        self.page_size = int(args.get("page_size", 100))
        self.start_at = args.get("start_at", "now")
        self.module_queue = as_bool(args.get("module_queue", True))
        self._check()

    def _check(self):
        if self.mode == "push":
            if len(self.hmac_secret) < 32:
                raise SourceError("push mode needs hmac_secret (or ISPSYSTEM_EDA_SECRET) of at least 32 characters")
            if bool(self.certfile) != bool(self.keyfile):
                raise SourceError("give certfile and keyfile together")
            if not 256 <= self.max_body <= 1048576:
                raise SourceError("max_body must be between 256 and 1048576 bytes")
            if not 10 <= self.max_age <= 86400:
                raise SourceError("max_age must be between 10 and 86400 seconds")
        else:
            missing = [
                name for name, value in (("whmcs_url", self.whmcs_url), ("whmcs_identifier", self.identifier), ("whmcs_secret", self.secret)) if not value
            ]
            if missing:
                raise SourceError("poll mode needs %s (or WHMCS_URL, WHMCS_API_IDENTIFIER, WHMCS_API_SECRET)" % ", ".join(missing))
            if not self.whmcs_url.lower().startswith("https://"):
                raise SourceError("whmcs_url must start with https:// (the API credentials travel in each request)")
            if not 0.05 <= self.interval <= 86400 or not 1 <= self.timeout <= 600:
                raise SourceError("interval must be 0.05 to 86400 seconds and timeout 1 to 600 seconds")
            if not 1 <= self.page_size <= 1000:
                raise SourceError("page_size must be between 1 and 1000")
            if self.start_at not in ("now", "beginning"):
                raise SourceError("start_at must be now or beginning")

    def selected(self, product_id):
        return not self.product_ids or product_id in self.product_ids
