#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dci_server_allocate
short_description: Give a free dedicated server to a customer in DCImanager 5
version_added: 0.1.0
description:
  - Picks a free server of a package (or the one named by O(server_id)), makes O(owner) its owner,
    sets O(hostname) as the domain of all its addresses, and adds extra addresses from an address group.
  - "A server is free when it has no owner, its hostname is C(free.ds), it is not blocked, has no hardware
    problem and no diagnostics running; it is of a package when its configuration (C(chassis_templ)) or,
    on older panels, its type (C(type)) equals O(package)."
  - "Idempotent: the pair (O(owner), O(hostname)) names the allocation. A server already owned by O(owner)
    with O(hostname) is returned unchanged, except that missing extra addresses are added; surplus ones
    are reported in RV(surplus_addresses), never removed."
  - "All or nothing: when a step fails (for example the address group runs dry), the server is put back
    free: domain C(free.ds), no owner, the addresses added by this run deleted."
  - "Safe under concurrency, across controllers that share nothing (AWX jobs in their own pods, several
    execution nodes, EDA beside AWX): a free server is taken with a timed claim. The module reads the server
    alone, writes O(hostname) on its main address within O(claim_bound) seconds of that read, waits
    O(claim_settle) seconds, and goes on only when a new read still shows its claim; a claim whose answer
    was lost or came too late is never trusted, never sent twice, and undone only when, read back after the
    wait, it shows on a server nobody owns. The argument and its assumptions are in the collection's
    docs/lifecycle.md. Allocations from one controller also take a lock around the read and the claim
    (E(DCIMANAGER_LOCK_DIR), else the temporary directory), so they never even meet: an optimisation, not
    needed for safety."
author:
  - ispsystem.dcimanager contributors (@ispsystem-community)
extends_documentation_fragment:
  - ispsystem.dcimanager.dcimanager
  - ispsystem.dcimanager.network
  - ispsystem.dcimanager.attributes
  - ispsystem.dcimanager.attributes.actiongroup_dcimanager
attributes:
  check_mode:
    support: full
    details:
      - Check mode picks the server that would be given, and changes nothing.
      - In check mode an O(owner) account that does not exist yet is taken as created by an earlier task
        (such as M(ispsystem.dcimanager.dci_user) in check mode), so a check run of a whole activation goes through.
  diff_mode:
    support: full
options:
  owner:
    description:
      - Login of the customer account (see M(ispsystem.dcimanager.dci_user)) that will own the server.
    type: str
    required: true
  hostname:
    description:
      - The domain set on all the server's addresses; unique per service.
    type: str
    required: true
  package:
    description:
      - The server configuration to pick from, matched against C(chassis_templ) or C(type).
      - Required unless O(server_id) is given.
    type: str
  server_id:
    description:
      - Take this server. It must be free, or already owned by O(owner) with O(hostname).
    type: str
  ipv4_count:
    description:
      - Extra IPv4 addresses from O(ip_group), beyond the main address.
    type: int
    default: 0
  ipv6_count:
    description:
      - Extra IPv6 addresses from O(ip_group).
    type: int
    default: 0
  ip_group:
    description:
      - The panel's address group the extra addresses come from.
    type: str
    default: public
  claim_bound:
    description:
      - The longest time, in seconds, from sending the read of a free server to receiving the answer of its claim
        for the claim to be trusted. A slower claim is not trusted (see the description), and a warning says so
        when a claim takes over half of it.
      - Above the panel's usual answer time for two requests; C(check_panel) shows the panel's answer times.
    type: float
    default: 2.0
  claim_settle:
    description:
      - Seconds to wait after a claim before reading it again. Must exceed O(claim_bound); the difference is the
        time a request held by a proxy, or a server list that lags behind writes, may take.
      - Every new allocation pays this once.
    type: float
    default: 4.0
"""

EXAMPLES = r"""
- name: Give a server of package DL360-G9 to the customer, with two extra IPv4 and one IPv6
  ispsystem.dcimanager.dci_server_allocate:
    owner: client1042
    hostname: 1042.example.net
    package: DL360-G9
    ipv4_count: 2
    ipv6_count: 1
  delegate_to: localhost
  register: allocation

- name: Give exactly server 17
  ispsystem.dcimanager.dci_server_allocate:
    owner: client1042
    hostname: 1043.example.net
    server_id: "17"
  delegate_to: localhost
"""

RETURN = r"""
server:
  description:
    - The server as it is after the task, with the keys described in M(ispsystem.dcimanager.dci_server_info).
    - In check mode, the server that would be given, with the owner and hostname it would get.
  returned: success
  type: dict
  sample:
    id: "12"
    hostname: 1042.example.net
    owner: client1042
    main_ip: 192.0.2.10
    ipv4: [192.0.2.10, 198.51.100.7]
    ipv6: ["2001:db8::10"]
surplus_addresses:
  description: Addresses beyond O(ipv4_count) / O(ipv6_count) that the server already had; reported, not removed.
  returned: success
  type: list
  elements: str
  sample: ["198.51.100.9"]
claim:
  description:
    - The timed claim of a new allocation (absent when the server already belonged to O(owner) with O(hostname), and in check mode).
  returned: when a server was claimed
  type: dict
  contains:
    server_id:
      description: The server claimed.
      type: str
    read_to_answer:
      description: Seconds from sending the read of the server to receiving the claim's answer (null when the claim was this hostname's already).
      type: float
    settle:
      description: Seconds waited before the claim was read again (O(claim_settle)).
      type: float
    bound:
      description: O(claim_bound).
      type: float
    attempts:
      description: Servers tried.
      type: int
    untrusted:
      description: Claims not trusted (lost or late answers) on the way.
      type: int
  sample: {server_id: "12", read_to_answer: 0.084, settle: 4.0, bound: 2.0, attempts: 1, untrusted: 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import DCIResource, dci_argument_spec
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._service.allocation import Allocation


class DCIServerAllocate(DCIResource):
    represent = "server"

    def __init__(self, module):
        super().__init__(module)
        self.surplus = []
        self.claim = None

    def get_result(self):
        result = super().get_result()
        result["surplus_addresses"] = self.surplus
        if self.claim is not None:
            result["claim"] = self.claim
        return result

    def present_server(self):
        params = self.module.params
        allocation = Allocation(
            self.panel(),
            params["owner"],
            params["hostname"],
            package=params["package"],
            server_id=params["server_id"],
            ipv4_count=params["ipv4_count"],
            ipv6_count=params["ipv6_count"],
            ip_group=params["ip_group"],
            claim_bound=params["claim_bound"],
            claim_settle=params["claim_settle"],
        ).present()
        self.take(allocation)
        self.surplus = allocation.surplus
        self.claim = allocation.claim


def main():
    argument_spec = dci_argument_spec()
    argument_spec.update(
        owner=dict(type="str", required=True),
        hostname=dict(type="str", required=True),
        package=dict(type="str"),
        server_id=dict(type="str"),
        ipv4_count=dict(type="int", default=0),
        ipv6_count=dict(type="int", default=0),
        ip_group=dict(type="str", default="public"),
        claim_bound=dict(type="float", default=2.0),
        claim_settle=dict(type="float", default=4.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, required_one_of=[("package", "server_id")])
    if module.params["ipv4_count"] < 0 or module.params["ipv6_count"] < 0:
        module.fail_json(msg="ipv4_count and ipv6_count must not be negative")
    if module.params["claim_bound"] <= 0 or module.params["claim_settle"] <= module.params["claim_bound"]:
        module.fail_json(msg="claim_settle must be longer than claim_bound, and claim_bound above 0 (seconds)")
    run(module, DCIServerAllocate, DCIServerAllocate.present_server)


if __name__ == "__main__":
    main()
