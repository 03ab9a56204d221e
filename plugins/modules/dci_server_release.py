#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dci_server_release
short_description: Give a server back to the free pool of DCImanager 5
version_added: 0.1.0
description:
  - The termination sequence of ISPsystem's WHMCS module, made idempotent.
  - Unblocks the server and waits until it is enabled, waits until no switch or IPMI connection has an
    operation in progress, powers it off and waits for it, deletes every address but the main one,
    clears the owner, sets the domain of its addresses back to C(free.ds), and removes the install
    record that M(ispsystem.dcimanager.dci_os_install) keeps in the server's notes.
  - Releasing a free server changes nothing. A run that was interrupted half-way finishes the job.
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
extends_documentation_fragment:
  - ispsystem.dcimanager.dcimanager
  - ispsystem.dcimanager.network
  - ispsystem.dcimanager.dcimanager.poll
  - ispsystem.dcimanager.attributes
  - ispsystem.dcimanager.attributes.actiongroup_dcimanager
attributes:
  check_mode:
    support: full
    details: Check mode reports whether the server would be released, and changes nothing.
  diff_mode:
    support: full
options:
  server_id:
    description:
      - The panel's id of the server. Exactly one of O(server_id) and O(hostname) is required.
    type: str
  hostname:
    description:
      - The domain set on the server's addresses (compared case-insensitively).
      - A hostname that no server carries any more counts as released already (nothing to do), so a rerun
        after a release succeeds. Not so while O(main_ip) is still the main address of a server that is not
        free; the task then fails and names that server.
    type: str
  main_ip:
    description:
      - The address the service is known by elsewhere (WHMCS's dedicated IP), to cross-check a O(hostname) that
        no server carries. If it is the main address of a server that is not free, that server may still be the
        service's under another hostname (or another service's), and the release fails rather than report success.
    type: str
  wait_timeout:
    description:
      - Seconds to wait for each step (unblocking, connections, power off).
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Terminate the service's server
  ispsystem.dcimanager.dci_server_release:
    hostname: 1042.example.net
  delegate_to: localhost
"""

RETURN = r"""
server:
  description:
    - The server as it is after the release, with the keys described in M(ispsystem.dcimanager.dci_server_info).
    - V(null) when O(hostname) names no server (already released).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import (
    DCIResource,
    dci_argument_spec,
    server_selector_spec,
    wait_spec,
)
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.release import Release


class DCIServerRelease(DCIResource):
    represent = "server"

    def release(self):
        params = self.module.params
        self.take(Release(self.panel(), params["server_id"], params["hostname"], params["main_ip"], wait_timeout=params["wait_timeout"]).run())


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(server_selector_spec())
    argument_spec.update(wait_spec(600, wait=False))
    argument_spec.update(main_ip=dict(type="str"))
    module = AnsibleModule(
        argument_spec=argument_spec, supports_check_mode=True, required_one_of=[("server_id", "hostname")], mutually_exclusive=[("server_id", "hostname")]
    )
    run(module, DCIServerRelease, DCIServerRelease.release)


if __name__ == "__main__":
    main()
