#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The documentation of the fleet_apply action; the action plugin (plugins/action/fleet_apply.py) does the work.

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_apply
short_description: Converge many WHMCS services to their WHMCS status in one run
version_added: 0.3.0
description:
  - Applies a drift plan (the P(ispsystem.dcimanager.drift_plan#filter) filter's output, or a list of services) in
    one process on the controller, with O(parallelism) services in flight. The reconcile and converge playbooks and
    the P(ispsystem.dcimanager.dedicated_server#role) role use it; it does for each service what the role's
    modules do, with the same code.
  - "For each service: reads it from WHMCS now (the plan may be minutes old), works out its settings (the role's
    rules: O(products), the service's configurable options, the entry's own C(settings)), finds its panel (its WHMCS
    server entry in O(panels), else the one panel of the connection options), decides with the drift function
    (provision, block, unblock, release, clear the addresses, or nothing), acts, and writes back to WHMCS what it
    did. After its last write it reads WHMCS once more and converges again when the status changed meanwhile."
  - "WHMCS decides: with O(whmcs_status=follow) (events, the reconcile) the only status written is Pending -> Active
    after a provisioning, and only while WHMCS still shows Pending; none at all for products on the collection's WHMCS
    provisioning module (C(ispsystem_dcimanager)). O(whmcs_status=set) is for a person running a manual playbook: the
    status of the entry's C(state) is written, while WHMCS still shows the status the run started from."
  - "One login per panel, and one shared view of each panel's server list: every wait of every service (installs,
    power, blocking) is served by one list read per poll, and what the plan read (a service's servers) is not read
    again. A free server is claimed with the timed claim of M(ispsystem.dcimanager.dci_server_allocate), safe with
    other controllers at the same time; a failed activation gives back the server it took."
  - Each service's result shows in the job output as it finishes (C(fleet_apply [done/total, seconds]) lines); the
    task fails when a service failed, listing them and the C(--limit) that relaunches just those.
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
    details: Check mode reads WHMCS and the panels and returns the plan (each service's action and why); it writes nothing.
  diff_mode:
    support: full
    details: The diff shows, per service acted on, its WHMCS status before and what was done.
  action:
    support: full
    details: Runs in the controller's process (an action plugin), so that results show as they come.
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
options:
  api_url:
    required: false
    description:
      - The DCImanager panel's URL, for services when O(panels) is not set (see the ispsystem.dcimanager.dcimanager fragment).
  api_username:
    required: false
    description:
      - The panel's API user, when O(panels) is not set.
  api_password:
    required: false
    description:
      - The panel's API password, when O(panels) is not set.
  plan:
    description:
      - The services to converge. The P(ispsystem.dcimanager.drift_plan#filter) filter's output (its C(changes) are
        applied), or a list of entries, or one entry.
      - "An entry: C(service_id) (a WHMCS service) and optionally C(host) (its inventory name, for results),
        C(new_service) (WHMCS has just created it: an Active service without a server is provisioned), C(state)
        (V(active), V(suspended), V(terminated): only with O(whmcs_status=set), else the WHMCS status decides),
        C(panel_id) (its WHMCS server id), C(settings) (the role's non-secret C(dedicated_server_*) settings:
        C(owner), C(hostname), C(domain_template), C(package), C(os_template), C(recipe), C(ipv4_count),
        C(ipv6_count), C(ip_group), C(wait_for_install)), and what a plan read: C(status), C(servers)."
      - A plan holds no secret (AWX logs module arguments); passwords come from WHMCS, or from O(secrets).
    type: raw
    required: true
  parallelism:
    description:
      - Services in flight at the same time. Each makes one request at a time, so this is also the most requests a panel
        gets at once from this run. Waits (installs) do not hold the panel; a larger value mostly helps many short jobs.
      - Most of a new allocation's time in flight is waiting (its claim's O(claim_settle), then the power-on and the
        install), while the claims themselves go one at a time per controller (a free read and a write each). At 50,
        100 new orders take about two rounds of one activation's time (docs/performance.md, "Order day").
    type: int
    default: 50
  panels:
    description:
      - "C(dcimanager_panels): WHMCS server id (the C(whmcs_server_id) of a service) -> C({url, username, password, ca_path,
        validate_certs, use_proxy}). A service is handled on the panel of its WHMCS server entry; one whose server id has
        none fails (conflict V(no_panel)) and is never sent to another panel."
      - Without it, the environment variable E(DCIMANAGER_PANELS) (the same mapping as JSON, what the AWX credential type
        injects) when it is set.
      - Without it every service is handled on the one panel of O(api_url).
    type: dict
  products:
    description: C(dedicated_server_products), keyed by WHMCS product id.
    type: dict
    default: {}
  secrets:
    description:
      - "Passwords for services given without WHMCS (or to override it), by entry C(host) or C(service_id):
        C({owner_password, root_password})."
    type: dict
    default: {}
  whmcs_status:
    description:
      - V(follow) (events, reconcile) writes no status but Pending -> Active after a provisioning; V(set) (a person's
        manual run) writes the status of each entry's C(state). See the description.
    type: str
    choices: [follow, set]
    default: follow
  wait_for_install:
    description: Wait for each OS install to finish before writing the service back to WHMCS (a product may say otherwise).
    type: bool
    default: true
  install_timeout:
    description: Seconds an install may take.
    type: int
    default: 720
  settle_time:
    description: As in M(ispsystem.dcimanager.dci_os_install).
    type: int
    default: 60
  poll_interval:
    description: The longest pause, in seconds, between two reads of a panel's server list while services wait.
    type: int
    default: 15
  wait_timeout:
    description: Seconds to wait for power, blocking and release steps.
    type: int
    default: 600
  claim_bound:
    description: As in M(ispsystem.dcimanager.dci_server_allocate).
    type: float
    default: 2.0
  claim_settle:
    description: As in M(ispsystem.dcimanager.dci_server_allocate).
    type: float
    default: 4.0
  whmcs_url:
    description: WHMCS's URL (see M(ispsystem.dcimanager.whmcs_service)); needed for entries with a C(service_id).
    type: str
  whmcs_identifier:
    description: The WHMCS API credential's identifier.
    type: str
  whmcs_secret:
    description: The WHMCS API credential's secret.
    type: str
  whmcs_access_key:
    description: WHMCS's API access key, if it has one.
    type: str
  whmcs_validate_certs:
    description:
      - Verify WHMCS's TLS certificate. C(validate_certs) from C(group/ispsystem.dcimanager.whmcs) in C(module_defaults)
        lands here (this module's own O(validate_certs) is the panel's).
    type: bool
    default: true
  whmcs_ca_path:
    description: The CA of WHMCS's certificate (C(ca_path) of the whmcs module_defaults group lands here).
    type: path
  whmcs_timeout:
    description: Seconds to wait for each WHMCS request.
    type: int
    default: 60
  whmcs_use_proxy:
    description: Whether WHMCS is reached through the environment's proxy.
    type: bool
    default: true
notes:
  - C(group/ispsystem.dcimanager.whmcs) in C(module_defaults) applies as well; its C(validate_certs), C(ca_path),
    C(timeout) and C(use_proxy) become O(whmcs_validate_certs), O(whmcs_ca_path), O(whmcs_timeout), O(whmcs_use_proxy).
  - The environment variables of both APIs apply (E(DCIMANAGER_URL) ... , E(WHMCS_URL) ...).
"""

EXAMPLES = r"""
- name: Plan from one read of the panel
  ansible.builtin.set_fact:
    plan: "{{ ansible_play_hosts_all | ispsystem.dcimanager.drift_plan(fleet.servers, hostvars=hostvars, products=dedicated_server_products) }}"
  run_once: true

- name: Apply it, 20 services at a time
  ispsystem.dcimanager.fleet_apply:
    plan: "{{ plan }}"
    parallelism: 20
    products: "{{ dedicated_server_products }}"
  run_once: true
  register: applied

- name: Converge one service to what WHMCS says now (what an event does)
  ispsystem.dcimanager.fleet_apply:
    plan:
      service_id: 42
    panels: "{{ dcimanager_panels | default(omit) }}"
    products: "{{ dedicated_server_products }}"
"""

RETURN = r"""
services:
  description: One entry per service of the plan, in its order.
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: The service's inventory host (or C(whmcs-ID)).
      type: str
    service_id:
      description: The WHMCS service id.
      type: int
    panel_id:
      description: The WHMCS server id of its panel (V(default) for the one panel of the connection options).
      type: str
    status:
      description: Its WHMCS status, as read by the run.
      type: str
    state:
      description: V(active), V(suspended) or V(terminated).
      type: str
    action:
      description: What was done (V(provision), V(block), V(unblock), V(release), V(clear_ip), V(conflict)), or null (in sync).
      type: str
    reason:
      description: Why.
      type: str
    changed:
      description: Whether anything was written.
      type: bool
    failed:
      description: Whether the service failed.
      type: bool
    msg:
      description: Why it failed.
      type: str
    server:
      description: Its server after the run (keys as in M(ispsystem.dcimanager.dci_server_info)), when it has one.
      type: dict
    claim:
      description: For a new allocation, the claim's timings (see M(ispsystem.dcimanager.dci_server_allocate)).
      type: dict
    rounds:
      description: How many times it was converged (more than one when WHMCS changed its status meanwhile).
      type: int
    line:
      description: The progress line shown for it.
      type: str
failed_hosts:
  description: The hosts of the services that failed (for C(--limit) on a relaunch).
  returned: always
  type: list
  elements: str
list_reads:
  description: Full server list reads per panel made by the run.
  returned: always
  type: dict
list_polls:
  description:
    - Of RV(list_reads), the reads made by waits (for installs, power-on, blocking ...), per panel.
      Every waiting service of a panel shares them, one read per pause however many services wait.
  returned: always
  type: dict
seconds:
  description: How long the run took.
  returned: always
  type: float
"""
