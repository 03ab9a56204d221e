# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the WHMCS side of a service.

Reading a service (with its client's other services, for the account they share) and bringing its
fields to what is wanted with UpdateClientProduct, read back after a lost answer. A status is written
only when WHMCS still shows, right before the write, the status the caller decided from
(``status_if``): the collection never overwrites a decision WHMCS made meanwhile.
Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

import copy

from .._whmcs.services import SERVICE_FIELDS, custom_field_ids, normalize_service
from .._writes import NOT_SHOWN
from .errors import OperationFailed

# Shown in --diff instead of a password.
MASKED = "********"
# Plain text fields: option name -> the key of the raw GetClientsProducts entry.
TEXT_FIELDS = (("status", "status"), ("domain", "domain"), ("dedicated_ip", "dedicatedip"), ("username", "username"), ("notes", "notes"))
# The WHMCS provisioning module of this collection: its products' statuses are WHMCS's own, never written by a run.
PROVISIONING_MODULE = "ispsystem_dcimanager"


def whole_mb(value):
    """A bandwidth figure as WHMCS keeps it: a whole number of MB."""
    try:
        return int(round(float(value or 0)))
    except (TypeError, ValueError):
        return 0


def read_service(client, service_id, include_password=False, client_services=False):
    """(service, the client's other services or None) normalised; OperationFailed when WHMCS has no such service."""
    raw = client.get_service(service_id)
    if raw is None:
        raise OperationFailed("WHMCS has no service with id %s" % service_id)
    service = normalize_service(raw, include_password=include_password)
    others = None
    if client_services:
        others = [
            normalize_service(other, include_password=include_password)
            for other in client.get_clients_products(clientid=service["client_id"])
            if str(other.get("id")) != str(service_id)
        ]
    return service, others


class ServiceUpdate:
    """Bring service ``service_id``'s fields to the values given (None = leave it; "" or [] = blank it).

    ``status_if``: write ``status`` only while WHMCS shows this status right before the write (else the
    status is left as WHMCS has it and ``status_kept`` says so). ``apply()`` fills ``service`` (normalised, as
    it is after), ``before``, ``after`` and ``changed``; ``writes`` is the run's write path.
    """

    def __init__(self, client, writes, service_id, status_if=None, **wanted):
        self.client = client
        self.writes = writes
        self.service_id = service_id
        self.status_if = status_if
        self.options = wanted
        self.fields = {}  # UpdateClientProduct field -> new value
        self.unset = []  # UpdateClientProduct fields to blank
        self.custom_values = {}  # custom field id -> new value
        self.wanted = {}  # option -> the value WHMCS should show after the update
        self.before = {}
        self.after = {}
        self.changed = False
        self.status_kept = None
        self.service = None
        self.latest = None  # the newest raw read of the service (after the write when one was made), for the caller

    def _get(self):
        raw = self.client.get_service(self.service_id)
        if raw is None:
            raise OperationFailed("WHMCS has no service with id %s" % self.service_id)
        return raw

    def _want(self, option, current, desired, shown_before=None, shown_after=None):
        """Record a change of ``option`` when ``desired`` differs from ``current``."""
        if desired is None or desired == current:
            return
        field = SERVICE_FIELDS[option]
        if desired in ("", []):
            self.unset.append(field)
        elif isinstance(desired, list):
            self.fields[field] = "\n".join(desired)
        else:
            self.fields[field] = desired
        self.before[option] = current if shown_before is None else shown_before
        self.after[option] = desired if shown_after is None else shown_after
        self.wanted[option] = desired

    def _custom_field_ids(self, raw, names):
        """{name: id} for the custom fields named; the service's own list first, then its product's."""
        ids = custom_field_ids(raw)
        if any(name not in ids for name in names):
            for product in self.client.get_products(pid=raw.get("pid")):
                for name, field_id in custom_field_ids(product).items():
                    ids.setdefault(name, field_id)
        unknown = sorted(name for name in names if ids.get(name) is None)
        if unknown:
            raise OperationFailed(
                "product %s of service %s has no custom field named %s; its custom fields are: %s"
                % (raw.get("pid"), raw.get("id"), ", ".join(unknown), ", ".join(sorted(ids)) or "none")
            )
        return ids

    def _plan(self, raw, current):
        options = self.options
        status = options.get("status")
        if status is not None and self.status_if is not None and (raw.get("status") or "") != self.status_if:
            # WHMCS decided otherwise meanwhile: its status stands.
            self.status_kept = raw.get("status") or ""
            status = None
        for option, key in TEXT_FIELDS:
            self._want(option, raw.get(key) or "", status if option == "status" else options.get(option))
        if options.get("assigned_ips") is not None:
            desired = [address.strip() for address in options["assigned_ips"] if address.strip()]
            self._want("assigned_ips", current["assigned_ips"], desired)
        if options.get("password") is not None:
            current_password = raw.get("password") or ""
            self._want(
                "password",
                current_password,
                options["password"],
                shown_before=MASKED if current_password else "",
                shown_after=MASKED if options["password"] else "",
            )
        if options.get("bandwidth_usage") is not None:
            now, desired = whole_mb(raw.get("bwusage")), whole_mb(options["bandwidth_usage"])
            if desired != now:
                self.fields["bwusage"] = str(desired)
                self.before["bandwidth_usage"] = now
                self.after["bandwidth_usage"] = self.wanted["bandwidth_usage"] = desired
        wanted = options.get("custom_fields")
        if wanted:
            # WHMCS keeps custom field values as text: compare and write them as text.
            wanted = dict((str(name), "" if value is None else str(value)) for name, value in wanted.items())
            ids = self._custom_field_ids(raw, list(wanted))
            changed = dict((name, value) for name, value in wanted.items() if current["custom_fields"].get(name) != value)
            if changed:
                self.custom_values = dict((ids[name], value) for name, value in changed.items())
                self.before["custom_fields"] = dict((name, current["custom_fields"].get(name)) for name in changed)
                self.after["custom_fields"] = self.wanted["custom_fields"] = changed

    def not_shown(self, raw):
        """The options a read of the service does not show as this run wants them."""
        current = normalize_service(raw)
        text_keys = dict(TEXT_FIELDS)
        missing = []
        for option, desired in self.wanted.items():
            if option in text_keys:
                now = raw.get(text_keys[option]) or ""
            elif option == "password":
                now = raw.get("password") or ""
            elif option == "bandwidth_usage":
                now = whole_mb(raw.get("bwusage"))
            elif option == "custom_fields":
                now = dict((name, current["custom_fields"].get(name)) for name in desired)
            else:
                now = current[option]
            if now != desired:
                missing.append(option)
        return missing

    @staticmethod
    def _simulate(current, after):
        """The normalised service as it will be once the planned change is written (for check mode)."""
        service = copy.deepcopy(current)
        for option, value in after.items():
            if option == "custom_fields":
                service["custom_fields"].update(value)
            elif option in service:
                service[option] = value
        return service

    def apply(self):
        raw = self.latest = self._get()
        current = normalize_service(raw)
        self._plan(raw, current)
        if not (self.fields or self.unset or self.custom_values):
            self.service = self._simulate(current, self.after)
            return self

        def read_back():
            # WHMCS writes one row at once: the update took effect when anything planned shows.
            return NOT_SHOWN if len(self.not_shown(self._get())) == len(self.wanted) else {}

        self.changed = True
        self.writes.change(
            lambda: self.client.update_client_product(raw.get("id"), fields=self.fields, unset=self.unset, custom_fields=self.custom_values),
            read_back,
            "the update of service %s" % raw.get("id"),
        )
        if self.writes.check_mode:
            self.service = self._simulate(current, self.after)
            return self
        after = self.latest = self._get()
        self.service = normalize_service(after)
        missing = self.not_shown(after)
        if missing:
            hint = (
                " (WHMCS ignores 0 as an empty value, and unset[] does not cover bwusage: the figure can only be reset in WHMCS itself)"
                if "bandwidth_usage" in missing and self.wanted["bandwidth_usage"] == 0
                else ""
            )
            raise OperationFailed(
                "WHMCS accepted the update of service %s but does not show %s as written%s" % (raw.get("id"), ", ".join(sorted(missing)), hint),
                service=self.service,
            )
        return self
