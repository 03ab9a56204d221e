# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: panel_connection
short_description: The connection options of the DCImanager panel of a WHMCS server entry
version_added: 0.3.0
description:
  - Looks a WHMCS server id (a service's C(whmcs_server_id)) up in C(dcimanager_panels) and returns the panel's
    connection as the C(dci_*) modules take it (C(api_url), C(api_username), C(api_password), C(ca_path),
    C(validate_certs), C(use_proxy)), so a task acts on the panel of the service's own datacenter.
  - Fails, naming the server id, when the mapping has no entry for it (a service is never sent to another panel).
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
options:
  _input:
    description:
      - C(dcimanager_panels), WHMCS server id (as text or number) -> C({url, username, password, ca_path, validate_certs, use_proxy}).
    type: dict
    required: true
  server_id:
    description: The WHMCS server id.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Read the usage on the service's own panel
  ispsystem.dcimanager.dci_traffic_info:
    hostname: "{{ whmcs_domain }}"
    api_url: "{{ panel.api_url }}"
    api_username: "{{ panel.api_username }}"
    api_password: "{{ panel.api_password }}"
    ca_path: "{{ panel.ca_path | default(omit) }}"
  vars:
    panel: "{{ dcimanager_panels | ispsystem.dcimanager.panel_connection(whmcs_server_id) }}"
"""

RETURN = r"""
_value:
  description: The options, without the ones the entry does not set.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.drift import panel_of

# dcimanager_panels' keys -> the dci_* modules' options.
OPTION_OF = {
    "url": "api_url",
    "username": "api_username",
    "password": "api_password",
    "ca_path": "ca_path",
    "validate_certs": "validate_certs",
    "use_proxy": "use_proxy",
}


def panel_connection(panels, server_id):
    entries = dict((panel_of(key), value) for key, value in (panels or {}).items())
    key = panel_of(server_id)
    if key not in entries or not isinstance(entries[key], dict):
        raise AnsibleFilterError(
            "no panel for WHMCS server %s: add its connection to dcimanager_panels (keyed by the WHMCS server id; it has %s)"
            % (key or "(none)", ", ".join(sorted(entries)) or "no entry")
        )
    unknown = sorted(set(entries[key]) - set(OPTION_OF))
    if unknown:
        raise AnsibleFilterError("dcimanager_panels[%s] has unknown keys %s; it takes %s" % (key, ", ".join(unknown), ", ".join(OPTION_OF)))
    return dict((OPTION_OF[name], value) for name, value in entries[key].items() if value is not None)


class FilterModule:
    # pylint: disable=too-few-public-methods
    def filters(self):
        return {"panel_connection": panel_connection}
