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
  - "Safe under concurrency: allocations run from one controller (any number of forks) take a lock
    around the claim, so they never hand one server to two hostnames. Across controllers, each hostname
    tries the free servers in its own order (rendezvous hashing), which makes collisions rare, and every
    claim is re-read and verified before it counts; a lost claim moves on to the next server. The panel
    has no compare-and-set, so two controllers that claim the same server within the same instant can
    still both see their claim verified; run allocations for one panel from one controller (or one AWX
    instance group) to rule that out."
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
"""

import hashlib
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.errors import DCIError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.panel import (
    CUSTOMER_LEVEL,
    FREE_HOSTNAME,
    is_free,
    is_ipv6,
    package_of,
    same_hostname,
    why_busy,
)
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci_module import DCIResource, dci_argument_spec
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._lock import controller_lock
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._resource import run
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._writes import NOT_SHOWN, WriteNotMade

ROLLBACK_PASSES = 3
# Free servers tried, at most, when other allocations take the ones tried first.
CANDIDATES = 10
# Seconds to let the server list catch up with a claim before it counts as not shown.
CLAIM_SETTLE = 1.0


def rendezvous_order(hostname, rows):
    """Free servers in this hostname's own order, so parallel allocations start on different servers."""
    return sorted(rows, key=lambda row: hashlib.sha256(("%s/%s" % (hostname, row["id"])).encode()).hexdigest())


class DCIServerAllocate(DCIResource):
    represent = "server"

    def __init__(self, module):
        super().__init__(module)
        self.surplus = []

    def get_result(self):
        result = super().get_result()
        result["surplus_addresses"] = self.surplus
        return result

    def _owner_id(self, form):
        """The owner's account id: from the server form's owner list when it has one, else the user list."""
        name = self.module.params["owner"]
        for key, text in form.selects.get("owner", {}).items():
            if text == name and key != "no_owner":
                return key
        return self._owner_account()["id"]

    def _owner_account(self):
        name = self.module.params["owner"]
        user = self.find_user(name)
        if user is None and self.module.check_mode:
            # In check mode an earlier task (dci_user) would have created the account.
            return {"id": None, "name": name}
        if user is None:
            self.module.fail_json(msg="DCImanager has no account %s; create it first (ispsystem.dcimanager.dci_user)" % name)
        if user.get("level") != CUSTOMER_LEVEL:
            self.module.fail_json(msg="account %s is not a customer account (level %s)" % (name, user.get("level")))
        return user

    def _get_existing(self, rows):
        """The server this (owner, hostname) already has, or None; refuses a hostname used by someone else."""
        params = self.module.params
        mine = [row for row in rows if same_hostname(row.get("hostname"), params["hostname"])]
        others = [row for row in mine if row.get("owner") and not self.owned_by(row, params["owner"])]
        if others:
            self.module.fail_json(
                msg="hostname %s is already set on server %s, owned by %s; choose another hostname"
                % (params["hostname"], others[0]["id"], self.owner_login(others[0]))
            )
        if len(mine) > 1:
            self.module.fail_json(
                msg="hostname %s is set on %d servers (ids %s); release the extra ones" % (params["hostname"], len(mine), ", ".join(row["id"] for row in mine))
            )
        if mine and params["server_id"] is not None and mine[0]["id"] != params["server_id"]:
            self.module.fail_json(
                msg="hostname %s is already given to server %s, not to the requested server %s" % (params["hostname"], mine[0]["id"], params["server_id"])
            )
        # A server with our hostname and no owner is our own claim, left half-done by an interrupted run.
        return mine[0] if mine else None

    def _candidates(self, rows):
        params = self.module.params
        if params["server_id"] is not None:
            row = self.find_server(server_id=params["server_id"], rows=rows)
            if not is_free(row):
                self._owner_account()  # an unknown owner is the error to report first
                self.module.fail_json(msg="server %s is not free: %s" % (row["id"], why_busy(row)))
            return [row]
        package = params["package"]
        of_package = [row for row in rows if package_of(row) == package]
        free = [row for row in of_package if is_free(row)]
        if not free:
            self._owner_account()  # an unknown owner is the error to report first
            busy = [why_busy(row) for row in of_package]
            self.module.fail_json(
                msg="no free server of package %s (%d servers of that package, %d busy%s)"
                % (package, len(of_package), len(busy), (": " + "; ".join(busy[:20])) if busy else "")
            )
        return rendezvous_order(params["hostname"], free)

    def _claim_free_server(self, rows):
        """Claim a free server and verify the claim; returns (row, form, addresses).

        The claim is our hostname on the server's main address; the server list's ``hostname``
        (which ISPsystem's module relies on) then shows whether the claim held or another
        allocation overwrote it. In check mode nothing is claimed and addresses is None.
        """
        hostname = self.module.params["hostname"]
        lost = None
        for row in self._candidates(rows)[:CANDIDATES]:
            form = self.client.form("server.edit", elid=row["id"])
            self._owner_id(form)  # an unknown owner fails here, before anything is written
            if self.module.check_mode:
                return row, form, None
            main = [address for address in self.addresses(row["id"], with_domains=True) if address["ip"] == row.get("ip")]
            if not main:
                self.module.fail_json(
                    msg="server %s's main address %s is not in its address list (iplist); it cannot be claimed" % (row["id"], row.get("ip") or "(none)")
                )
            try:
                # The claim is never sent twice: after a lost answer its first copy may still arrive.
                self.set_domain(row["id"], hostname, main, main_ip=row.get("ip"), repeat=False)
            except WriteNotMade as exc:
                lost = exc
                continue
            if self._claim_held(row, main):
                return row, form, self.addresses(row["id"], with_domains=True)
        if lost is not None:
            self.fail_json_api(lost, msg="%s. No other free server could be claimed; run the task again" % lost.msg)
        self.module.fail_json(msg="every free server tried was taken by another allocation at the same time; run the task again")
        return None  # not reached: fail_json exits

    def _claim_held(self, row, main):
        """Whether the server list shows our claim on ``row``: True, False when another hostname won.

        A claim the list does not show (the panel's hostname did not follow the main address's
        domain) or that shows on a second server too is undone before the task fails, so no
        hostname is ever left on two servers and no free server is drained by unverifiable claims.
        """
        hostname = self.module.params["hostname"]
        for attempt in range(2):
            if attempt:
                time.sleep(CLAIM_SETTLE)
            rows = self.list_servers()
            now = [r for r in rows if r["id"] == row["id"]]
            shown = now[0].get("hostname") if now else None
            if shown is not None and not same_hostname(shown, FREE_HOSTNAME):
                break
        twins = [r["id"] for r in rows if r["id"] != row["id"] and same_hostname(r.get("hostname"), hostname)]
        if same_hostname(shown, hostname) and not twins:
            return True
        if shown is not None and not same_hostname(shown, hostname) and not same_hostname(shown, FREE_HOSTNAME):
            return False  # another allocation's hostname: its claim, not ours to undo
        self.set_domain(row["id"], FREE_HOSTNAME, main, main_ip=row.get("ip"))
        if twins:
            self.module.fail_json(
                msg="hostname %s appeared on server %s while this task claimed server %s: another run "
                "allocates the same hostname; this claim was undone" % (hostname, ", ".join(twins), row["id"])
            )
        self.module.fail_json(
            msg="the server list does not show hostname %s on server %s after it was set on the server's "
            "main address %s, so the claim cannot be verified; it was undone. Run the check_panel "
            "playbook to see what this panel shows" % (hostname, row["id"], row.get("ip"))
        )
        return False  # not reached

    def _add_address(self, server_id, family, known):
        """Allocate one extra address of ``family``; returns it. ``known``: the server's addresses before."""
        params = self.module.params

        def read_back():
            new = [a["ip"] for a in self.addresses(server_id) if a["ip"] not in known and is_ipv6(a["ip"]) == (family == "ipv6")]
            return {"ip": new[0]} if new else NOT_SHOWN

        # Never sent twice (repeat=False): after a lost answer its first copy may still arrive, and a
        # second copy would take a second address from the pool.
        answer = self.write(
            "iplist.edit",
            read_back,
            "a new %s address on server %s" % (family, server_id),
            False,
            plid=server_id,
            family=family,
            iptype=params["ip_group"],
            ip="",
            domain=params["hostname"],
        )
        return answer.get("ip")

    def _finish(self, row, form, addresses, added):
        """Owner, domain on every address, extra addresses. Records what it added, for a rollback."""
        params = self.module.params
        server_id = row["id"]
        if not self.owned_by(row, params["owner"]):
            form = self.client.form("server.edit", elid=server_id) if form is None else form
            self.edit_server(server_id, form=form, owner=self._owner_id(form))
        self.set_domain(server_id, params["hostname"], addresses, main_ip=row.get("ip"))
        for family, wanted in (("ipv4", params["ipv4_count"]), ("ipv6", params["ipv6_count"])):
            have = [a["ip"] for a in addresses if is_ipv6(a["ip"]) == (family == "ipv6") and a["ip"] != row.get("ip")]
            self.surplus.extend(have[wanted:])
            for dummy in range(max(wanted - len(have), 0)):
                added.append(self._add_address(server_id, family, [a["ip"] for a in addresses] + added))

    def _roll_back(self, server_id, added, took, main_ip):
        """Put back what this run did, so no server is left half-allocated; None, or why it could not.

        Undoing is idempotent (a deleted address is gone, no owner stays no owner) and each pass
        reads the server again before it writes, so a pass cut short by an error is repeated,
        a bounded number of times, without writing anything blindly.
        """
        problem = None
        for attempt in range(ROLLBACK_PASSES):
            if attempt:
                time.sleep(attempt)
            try:
                for address in self.addresses(server_id):
                    if address["ip"] in added:
                        self.delete_address(server_id, address)
                if took:
                    # Owner first: while the hostname is still on the server, a rerun finds it and
                    # finishes the job, so a rollback cut short leaves nothing unnamed behind.
                    form = self.client.form("server.edit", elid=server_id)
                    if form.get("owner") not in ("", "no_owner"):
                        self.edit_server(server_id, form=form, owner="no_owner")
                    self.set_domain(server_id, FREE_HOSTNAME, main_ip=main_ip)
                return None
            except DCIError as exc:
                problem = exc.msg
        return problem

    def present_server(self):
        params = self.module.params
        # The lock serialises pick-claim-verify between the forks of this controller.
        with controller_lock("claim " + self.client.url):
            rows = self.list_servers()
            row = self._get_existing(rows)
            if row is None:
                row, form, addresses = self._claim_free_server(rows)
                self._mark_as_changed()
            else:
                form, addresses = None, self.addresses(row["id"], with_domains=True)
        if self.module.check_mode:
            self._plan_in_check_mode(row, addresses)
            return
        server_id = row["id"]
        took = not row.get("owner")  # a free server, or our own half-done claim
        self.before = {
            "server_id": server_id,
            "owner": self.owner_login(row),
            "hostname": FREE_HOSTNAME if self.changed else row["hostname"],
            "ipv4": [a["ip"] for a in addresses if not is_ipv6(a["ip"])],
            "ipv6": [a["ip"] for a in addresses if is_ipv6(a["ip"])],
        }
        added = []
        try:
            self._finish(row, form, addresses, added)
        except DCIError as exc:
            problem = self._roll_back(server_id, added, took, row.get("ip"))
            where = "server %s was put back free" % server_id if took else "the addresses added by this run were removed"
            if problem:
                where = "putting server %s back failed too (%s): check it in the panel" % (server_id, problem)
            self.fail_json_api(exc, msg="allocating server %s to %s failed: %s; %s" % (server_id, params["owner"], exc.msg, where))
        row = dict(row, owner=params["owner"], hostname=params["hostname"])
        self.result = self.describe_server(row, addresses=addresses + [{"ip": ip} for ip in added])
        self.after = {
            "server_id": server_id,
            "owner": params["owner"],
            "hostname": params["hostname"],
            "ipv4": self.result["ipv4"],
            "ipv6": self.result["ipv6"],
        }

    def _plan_in_check_mode(self, row, addresses):
        params = self.module.params
        server = self.describe_server(row, addresses=addresses)
        missing = {}
        for family, wanted in (("ipv4", params["ipv4_count"]), ("ipv6", params["ipv6_count"])):
            have = [ip for ip in server[family] if ip != server["main_ip"]]
            self.surplus.extend(have[wanted:])
            missing[family] = max(wanted - len(have), 0)
        unnamed = addresses is not None and any("domain" not in a or not same_hostname(a["domain"], params["hostname"]) for a in addresses)
        if (
            not self.owned_by(row, params["owner"])
            or not same_hostname(row.get("hostname"), params["hostname"])
            or unnamed
            or missing["ipv4"]
            or missing["ipv6"]
        ):
            self._mark_as_changed()
        self.before = {"server_id": row["id"], "owner": self.owner_login(row), "hostname": row.get("hostname", "")}
        server.update(owner=params["owner"], hostname=params["hostname"])
        self.result = server
        self.after = {
            "server_id": row["id"],
            "owner": params["owner"],
            "hostname": params["hostname"],
            "new_ipv4_addresses": missing["ipv4"],
            "new_ipv6_addresses": missing["ipv6"],
        }


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
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, required_one_of=[("package", "server_id")])
    if module.params["ipv4_count"] < 0 or module.params["ipv6_count"] < 0:
        module.fail_json(msg="ipv4_count and ipv6_count must not be negative")
    run(module, DCIServerAllocate, DCIServerAllocate.present_server)


if __name__ == "__main__":
    main()
