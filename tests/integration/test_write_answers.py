# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""An answer without the element the collection expects is read back, never a crash.

Each case runs the module or fleet_apply step that makes some writes, once as it is (the elements of
every write's answer are recorded by the simulators: ``write_answer_elements`` / ``write_answer_keys``),
then once per element of each write's answer with that element left out (the simulators'
``strip_from_writes`` knob; the change itself is still made). Each such run must end with the panel
and WHMCS as asked and report the value it read back, sending the same writes as the run as it is
(nothing repeated, nothing half-done), or fail with a message that says what could not be told.
The list of elements comes from the simulators, and the cases together make every write of the two
catalogues (_dci/functions.py, _whmcs/actions.py). In-process, on a virtual clock.
"""

from __future__ import annotations

from collections import Counter

import pytest

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.functions import FUNCTIONS
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.actions import ACTIONS, WRITE
from inprocess import ModuleRunner, VirtualClock, connection_args, start_panel
from simulators.whmcs import WHMCSSimulator, make_state as whmcs_state
from test_fleet_apply_inprocess import MODULE, Shop
from write_cases import CASES, WAIT, alice_server, user

pytestmark = pytest.mark.quick

# What a crash leaves in a module's message: no such text may reach a person.
CRASH_WORDS = ("Traceback", "NoneType", "not iterable", "object has no attribute", "KeyError", "TypeError", "MODULE FAILURE", "unexpected")


class PanelEnv:
    """A module run against the sample panel."""

    def __init__(self, tmp_path, monkeypatch):
        self.sim, self.runner, dummy = start_panel(tmp_path, monkeypatch)
        self.sims = {"dcimanager": self.sim}

    def close(self):
        self.sim.close()


class WHMCSEnv:
    """A whmcs_* module run against the WHMCS simulator (no timed state: the clock only spares the pauses)."""

    def __init__(self, tmp_path, monkeypatch):
        self.sim = WHMCSSimulator(state=whmcs_state(3), tls_dir=str(tmp_path / "tls")).start()
        self.runner = ModuleRunner(connection_args(whmcs=self.sim), clock=VirtualClock(), monkeypatch=monkeypatch)
        self.sims = {"whmcs": self.sim}

    def close(self):
        self.sim.close()


class ShopEnv:
    """fleet_apply's engine against the sample shop (simulators/shop.py)."""

    def __init__(self, tmp_path, monkeypatch):
        self.shop = Shop(tmp_path, monkeypatch)
        self.sims = {"dcimanager": self.shop.dci, "whmcs": self.shop.whmcs}

    def close(self):
        self.shop.close()


def module_case(name):
    """One of write_cases.CASES as a step (see STEPS)."""
    setup, module, args, write, truth = CASES[name]
    return (
        PanelEnv,
        (lambda env: setup(env.sim, env.runner)) if setup else None,
        lambda env: env.runner.run(module, args),
        lambda env, result: None if truth(env.sim) else "the panel is not as asked",
        (write,),
    )


def user_created(env, result):
    bob = user(env.sim, "bob")
    if bob is None:
        return "bob's account is not there"
    return None if result["user"]["id"] == bob["id"] else "the result names account id %r, the panel %r" % (result["user"]["id"], bob["id"])


def address_added(env, result):
    addresses = [a["ip"] for a in alice_server(env.sim)["addresses"]]
    if len(addresses) != 2:
        return "the server has addresses %s" % addresses
    return None if result["server"]["ipv4"] == addresses else "the result shows addresses %s, the panel %s" % (result["server"]["ipv4"], addresses)


def key_made(env, result):
    keys = env.sim.dump_state()["login_keys"]
    return None if len(keys) == 1 and result["url"].endswith("key=" + next(iter(keys))) else "the link %s names no key the panel holds" % result["url"]


def rebooted(env, result):
    reboots = [call for call in env.sim.writes() if call["name"] == "server.reboot"]
    return None if reboots and alice_server(env.sim)["power"] == "on" else "server 6 was not restarted"


def service_updated(env, result):
    service = env.sim.service(1)
    return None if (service["notes"], service["dedicatedip"]) == ("found", "192.0.2.99") else "service 1 is not as asked"


def provisioned(env, result):
    """Service 12 (bob, Ubuntu, one extra IPv4 and IPv6 address): server, addresses and WHMCS agree with the result."""
    shop = env.shop
    [service] = result["services"]
    if service["failed"]:
        return "fleet_apply failed: %s" % service["msg"]
    servers = [s for s in shop.dci.dump_state()["servers"] if s["addresses"][0]["domain"] == "bob.example.net"]
    if len(servers) != 1 or not servers[0]["installed_template"]:
        return "bob.example.net is on %d servers, or not installed" % len(servers)
    ips = [a["ip"] for a in servers[0]["addresses"]]
    whmcs = shop.whmcs.service(12)
    shown = [service["server"]["main_ip"]] + service["server"]["ipv4"][1:] + service["server"]["ipv6"]
    if len(ips) != 3 or sorted(shown) != sorted(ips):
        return "the panel holds addresses %s, the result shows %s" % (ips, shown)
    if whmcs["status"] != "Active" or whmcs["dedicatedip"] != ips[0] or sorted(whmcs["assignedips"].split()) != sorted(ips[1:]):
        return "WHMCS shows %s, %s, %s" % (whmcs["status"], whmcs["dedicatedip"], whmcs["assignedips"])
    return None


def module_product(env):
    env.shop.whmcs.products[1]["module"] = MODULE
    env.shop.whmcs.services[10]["notes"] = "VIP customer\nispsystem-dcimanager: create gave up 2026-12-03T10:00:00Z"


def module_created(env, result):
    [service] = result["services"]
    if service["failed"]:
        return "fleet_apply failed: %s" % service["msg"]
    whmcs = env.shop.whmcs.service(10)
    return None if (whmcs["status"], whmcs["notes"]) == ("Active", "VIP customer") else "WHMCS shows %s with notes %r" % (whmcs["status"], whmcs["notes"])


# name -> (env class, what sets the scene, the step, what must hold after it: None or the problem, the writes it
# is here for: its run as it is must make them, and it is run again without each element of their answers)
# The lost-answer tests' cases, but for the ones below that run the same step and check more of its result
# (the claim and the owner are one allocation: one step for both).
STEPS = dict((name, module_case(name)) for name in CASES if name not in ("user.edit create", "iplist.edit (a new address)", "server.edit (the owner)"))
STEPS["iplist.edit (the claim)"] = STEPS["iplist.edit (the claim)"][:4] + (("iplist.edit", "server.edit"),)
STEPS.update(
    {
        "user.edit create (the new id)": (
            PanelEnv,
            None,
            lambda env: env.runner.run("dci_user", {"name": "bob", "password": "bob-pw-123456"}),
            user_created,
            ("user.edit",),
        ),
        "iplist.edit (a new address, its ip)": (
            PanelEnv,
            None,
            lambda env: env.runner.run("dci_server_allocate", {"owner": "alice", "hostname": "alice1.example.com", "server_id": "6", "ipv4_count": 1}),
            address_added,
            ("iplist.edit",),
        ),
        "session.newkey": (PanelEnv, None, lambda env: env.runner.run("dci_login_key", {"login": "alice"}), key_made, ("session.newkey",)),
        "server.reboot": (
            PanelEnv,
            None,
            lambda env: env.runner.run("dci_server", dict(WAIT, server_id="6", power="restarted")),
            rebooted,
            ("server.reboot",),
        ),
        "whmcs_service": (
            WHMCSEnv,
            None,
            lambda env: env.runner.run("whmcs_service", {"service_id": 1, "notes": "found", "dedicated_ip": "192.0.2.99"}),
            service_updated,
            ("UpdateClientProduct",),
        ),
        "fleet_apply provision": (
            ShopEnv,
            None,
            lambda env: env.shop.apply({"service_id": 12}),
            provisioned,
            ("UpdateClientProduct",),
        ),
        "fleet_apply ModuleCreate": (ShopEnv, module_product, lambda env: env.shop.apply({"service_id": 10}), module_created, ("ModuleCreate",)),
    }
)

# (step, simulator, write, element) -> the words of the message that says what could not be told, where a step
# may fail instead of reading the value back. None so far: every value taken from an answer is read back.
CANNOT_TELL = {}


def answer_elements(sim):
    """{write: elements} its writes' answers carried in this simulator."""
    return sim.write_answer_keys if isinstance(sim, WHMCSSimulator) else sim.write_answer_elements


def written(env):
    """The writes each simulator handled, as (simulator, name) counts."""
    return Counter((key, call["name"]) for key, sim in env.sims.items() for call in sim.writes())


def run_step(step, tmp_path, monkeypatch, strip=None):
    """Run ``step`` on fresh simulators, with ``strip`` (simulator, write, element) left out of that write's answers.

    Returns (result, problem after it, the writes it sent, {simulator: {write: answer elements}})."""
    env_class, setup, act, truth, dummy = STEPS[step]
    env = env_class(tmp_path, monkeypatch)
    try:
        if setup is not None:
            setup(env)
        for sim in env.sims.values():
            answer_elements(sim).clear()  # the scene's own writes are not the step's
            sim.clear_calls()
        if strip is not None:
            key, write, element = strip
            env.sims[key].apply_settings({"strip_from_writes": "%s:%s" % (write, element)})
        result = act(env)
        problem = None if result.get("failed") else truth(env, result)
        elements = dict((key, dict((name, set(tags)) for name, tags in answer_elements(sim).items())) for key, sim in env.sims.items())
        sent = written(env)
        errors = [error for sim in env.sims.values() for error in sim.errors]
    finally:
        env.close()
    assert errors == [], errors
    return result, problem, sent, elements


def message(result):
    if result.get("failed") and result.get("services"):
        return " ".join(s["msg"] for s in result["services"] if s.get("failed")) or result.get("msg", "")
    return result.get("msg", "") if result.get("failed") else ""


@pytest.mark.parametrize("step", sorted(STEPS))
def test_each_element_of_each_write_answer_left_out(step, tmp_path, monkeypatch):
    result, problem, sent, elements = run_step(step, tmp_path / "as-is", monkeypatch)
    assert not result.get("failed") and problem is None, "%s fails without any change to the answers: %s %s" % (step, message(result), problem)
    made = set(write for writes in elements.values() for write in writes)
    assert set(STEPS[step][4]) <= made, "%s made %s, not %s" % (step, sorted(made), STEPS[step][4])
    pairs = [
        (key, write, element)
        for key, writes in sorted(elements.items())
        for write, tags in sorted(writes.items())
        if write in STEPS[step][4]
        for element in sorted(tags)
    ]
    problems = []
    for number, strip in enumerate(pairs):
        stripped, after, sent_now, dummy = run_step(step, tmp_path / str(number), monkeypatch, strip)
        what = "%s, %s's %s answered without <%s>" % (step, strip[0], strip[1], strip[2])
        text = message(stripped) + " " + " ".join(stripped.get("warnings", []))
        if any(word in text for word in CRASH_WORDS):
            problems.append("%s: crashed: %s" % (what, text))
        elif stripped.get("failed"):
            words = CANNOT_TELL.get((step,) + strip)
            if not words or words not in message(stripped):
                problems.append("%s: failed: %s" % (what, message(stripped)))
        elif after is not None:
            problems.append("%s: reported success, but %s" % (what, after))
        elif sent_now != sent:
            problems.append("%s: sent %s, without the change %s" % (what, dict(sent_now), dict(sent)))
    assert problems == [], "\n".join(problems)


def test_the_steps_make_every_write_of_both_catalogues():
    """The steps are there for every writing function and action of the catalogues (each step's run checks it makes its writes)."""
    dci_writes = set(name for name, entry in FUNCTIONS.items() if entry.writes)
    whmcs_writes = set(name for name, kind in ACTIONS.items() if kind == WRITE)
    covered = set(write for step in STEPS.values() for write in step[4])
    assert dci_writes | whmcs_writes <= covered, sorted((dci_writes | whmcs_writes) - covered)
