# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to this collection (no compatibility promise): what the whmcs and dcimanager inventory plugins share."""

from __future__ import annotations

import functools
import hashlib
import json
import re

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.release import __version__ as ansible_version
from ansible.utils.unsafe_proxy import wrap_var  # in every ansible-core the collection supports (2.16+)

# Before ansible-core 2.19 inventory values are templated unless marked unsafe, and what both APIs return
# is typed by people (WHMCS notes, domains and custom fields by customers; DCImanager labels and hostnames
# by staff): mark it. From 2.19 on, data that did not come from a trusted file is never templated, and
# wrapping would only cost time.
MARK_UNSAFE = tuple(int(part) for part in re.findall(r"\d+", ansible_version)[:2]) < (2, 19)

_GROUP_CHARS_RE = re.compile(r"[^a-z0-9_]")


@functools.lru_cache(maxsize=4096)
def group_name(prefix, value):
    """``prefix`` and ``value`` lower-cased, every character but a-z, 0-9 and _ made _.

    Memoised: thousands of hosts share a handful of groups, and the regular expression is the costly part.
    """
    return prefix + _GROUP_CHARS_RE.sub("_", str(value).lower())


class CachedInventory(BaseInventoryPlugin, Constructable, Cacheable):
    """An inventory plugin that builds ``[[host name, host variables]]`` from an API, caches them, and adds them.

    A plugin sets ``CACHE_FORMAT`` (bumped when the shape of its cached hosts changes) and ``ERROR_PREFIX``,
    and gives ``_cache_settings()``, ``_build_hosts()`` and ``_own_groups()``.
    """

    CACHE_FORMAT = None
    ERROR_PREFIX = None

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        # Extra variables may be used in the templated options (credentials from a lookup).
        self.templar.available_variables = self._vars
        # What the source file itself sets (not the environment, not a default): a plugin may weigh them differently.
        self._config_data = self._read_config_data(path) or {}

        fingerprint = self._fingerprint()
        cache_key = self.get_cache_key(path)
        entry = None
        if cache and self.get_option("cache"):
            entry = self._cached_entry(cache_key, fingerprint)
        if entry is None:
            hosts, warnings = self._build_hosts()
            entry = {"format": self.CACHE_FORMAT, "fingerprint": fingerprint, "hosts": hosts, "warnings": warnings}
            if self.get_option("cache"):
                # Written only after a read of the API: an entry just read is never rewritten (its age stays true).
                self._cache[cache_key] = entry
        else:
            # The warnings the hosts were built with (those a plugin keeps) still hold for them.
            for warning in entry.get("warnings") or ():
                self.display.warning(warning)
        self._populate(entry["hosts"])

    # For each plugin -------------------------------------------------------------------------

    def _cache_settings(self):
        """The settings the hosts are built from (filters, names; no password), as JSON-able values."""
        raise NotImplementedError

    def _build_hosts(self):
        """([[host name, host variables]], the warnings to show again whenever the cached hosts are used)."""
        raise NotImplementedError

    def _own_groups(self, hostvars):
        """The names of the plugin's own groups of a host."""
        raise NotImplementedError

    # Options ---------------------------------------------------------------------------------

    def _option(self, name):
        """An option that may be a template or a vaulted value, as text (or None)."""
        return self._text(self.get_option(name))

    def _text(self, value):
        """A value written in the source file that may be a template or a vaulted value, as text (or None)."""
        if value is None:
            return None
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            value = self.templar.template(value)
        return to_text(value) if value is not None else None

    # Cache -----------------------------------------------------------------------------------

    def _fingerprint(self):
        """What the cached hosts depend on, hashed: a user name or API identifier in it is not stored as it is."""
        settings = [self.CACHE_FORMAT] + list(self._cache_settings())
        return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode("utf-8")).hexdigest()

    def _cached_entry(self, cache_key, fingerprint):
        try:
            entry = self._cache[cache_key]
        except KeyError:  # no entry, or it expired
            return None
        if (
            not isinstance(entry, dict)
            or entry.get("format") != self.CACHE_FORMAT
            or entry.get("fingerprint") != fingerprint
            or not isinstance(entry.get("hosts"), list)
        ):
            # Built for other settings (another URL, user, filters or names): read the API again.
            return None
        return entry

    # Host names ------------------------------------------------------------------------------

    def _templated_name(self, template, hostvars, what, strict):
        """The ``hostname`` template over ``hostvars``, stripped, and why it failed: ``(name, "")``, or
        ``("", "the hostname template failed for WHAT: ERROR")`` (raised instead with ``strict``), so the
        warning about the host's fallback name can say why.

        ``what`` names the host in the error, for example ``server 12``.
        """
        # Marked unsafe like the host variables themselves: a field typed by a person is data, never a template.
        self.templar.available_variables = wrap_var(hostvars) if MARK_UNSAFE else hostvars
        try:
            return to_text(self.templar.template(template)).strip(), ""
        except Exception as exc:  # pylint: disable=broad-exception-caught
            why = "the hostname template failed for %s: %s" % (what, to_text(exc))
            if strict:
                raise AnsibleParserError(self.ERROR_PREFIX + why) from None
            return "", why

    def _fall_back(self, problem, fallback, strict):
        """A host whose name has ``problem`` gets ``fallback``: an error with ``strict``, else a warning (returned)."""
        if strict:
            raise AnsibleParserError(self.ERROR_PREFIX + problem)
        warning = "%s%s; naming it %s" % (self.ERROR_PREFIX, problem, fallback)
        self.display.warning(warning)
        return warning

    # Populating ------------------------------------------------------------------------------

    def _populate(self, hosts):
        """Add the hosts; the list (possibly the cache's own) is only read, never changed."""
        inventory = self.inventory
        compose = self.get_option("compose")
        groups = self.get_option("groups")
        keyed_groups = self.get_option("keyed_groups")
        strict = self.get_option("strict")
        made = set()
        for name, hostvars in hosts:
            inventory.add_host(name)
            for key, value in hostvars.items():
                inventory.set_variable(name, key, wrap_var(value) if MARK_UNSAFE else value)
            for group in self._own_groups(hostvars):
                if group not in made:
                    inventory.add_group(group)
                    made.add(group)
                inventory.add_child(group, name)
            # Constructed features only when asked for: get_vars() copies every variable of the host.
            if compose:
                self._set_composite_vars(compose, inventory.get_host(name).get_vars(), name, strict=strict)
            if groups or keyed_groups:
                host_vars = inventory.get_host(name).get_vars()
                self._add_host_to_composed_groups(groups, host_vars, name, strict=strict)
                self._add_host_to_keyed_groups(keyed_groups, host_vars, name, strict=strict)
