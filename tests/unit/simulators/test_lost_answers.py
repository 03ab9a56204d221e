"""Faults before and after a request is handled (``set_faults(after=...)``, ``lose_next_answer``)."""

import xml.etree.ElementTree as ET

import pytest
import requests

from simulators._server import _FaultPlan
from simulators.dcimanager import DCImanagerSimulator
from simulators.whmcs import WHMCSSimulator
from test_dcimanager_simulator import ADMIN, HTTP, call, control, error, post

ALLOCATE = {"func": "iplist.edit", "out": "xml", "authinfo": ADMIN, "plid": "1", "sok": "ok", "family": "ipv4", "iptype": "public"}
# What the client sees of each fault: an HTTP status, or the exception requests raises.
SEEN = {"http500": (500, 502, 503), "stall": (504,), "badbody": (200,), "drop": ("ConnectionError",), "truncate": ("ChunkedEncodingError",)}
SENT = {"http500": (500, 502, 503), "stall": (504,), "badbody": (200,), "drop": (None,), "truncate": (200,)}


@pytest.fixture
def sim(tmp_path):
    with DCImanagerSimulator(tls_dir=str(tmp_path / "tls")) as simulator:
        yield simulator
    assert not simulator.errors, simulator.errors


def outcome(sim, data):
    try:
        response = post(sim, data)
    except requests.exceptions.RequestException as exc:
        return type(exc).__name__, None
    return response.status_code, response.content


def addresses(sim, server_id="1"):
    return [a["ip"] for a in sim.server_state(server_id)["addresses"]]


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("kind", sorted(SEEN))
def test_a_fault_before_changes_nothing_and_after_changes_the_state(sim, kind, after):
    before = addresses(sim)
    sim.set_faults(rate=1.0, kinds=[kind], names=["iplist.edit"], stall_seconds=0.2, seed=1, after=1.0 if after else 0.0)
    seen, body = outcome(sim, ALLOCATE)
    assert seen in SEEN[kind]
    if kind == "badbody":
        with pytest.raises(ET.ParseError):
            ET.fromstring(body)
    # After: the address was allocated although the client never got the answer; before: nothing.
    assert addresses(sim) == (before + ["203.0.113.10"] if after else before)
    faulted = [c for c in sim.calls if c["fault"]]
    assert len(faulted) == 1
    assert (faulted[0]["fault"], faulted[0]["fault_after"]) == (kind, after) and faulted[0]["status"] in SENT[kind]
    if isinstance(seen, int):
        assert faulted[0]["status"] == seen  # the log has the status sent
    assert faulted[0]["write"] is True and faulted[0]["name"] == "iplist.edit"
    sim.set_faults()
    # The read-back a client must do: the allocation is there (after) or not (before).
    listed = [e.findtext("ip") for e in call(sim, "iplist", elid="1").findall("elem")]
    assert ("203.0.113.10" in listed) is after


def test_the_next_named_write_is_handled_then_dropped(sim):
    sim.set_faults(rate=1.0, names=["iplist.edit"], count=1, after=1.0, kinds=["drop"])
    assert outcome(sim, dict(ALLOCATE, func="server", sok=""))[0] == 200  # other names pass
    assert outcome(sim, ALLOCATE)[0] == "ConnectionError"
    second = ET.fromstring(outcome(sim, ALLOCATE)[1])
    assert second.findtext("ip") == "203.0.113.11"  # the first allocation took 203.0.113.10
    assert [(c["name"], c["fault"], c["fault_after"]) for c in sim.calls] == [
        ("server", None, False),
        ("iplist.edit", "drop", True),
        ("iplist.edit", None, False),
    ]
    assert sim.faults["count"] == 0 and sim.faults["after"] == 1.0


def test_lose_next_answer_is_a_one_shot_beside_the_plan(sim):
    sim.lose_next_answer("iplist.edit")
    sim.lose_next_answer("server.poweron", kind="http500", after=False)
    assert [lost["name"] for lost in sim.faults["lost_answers"]] == ["iplist.edit", "server.poweron"]
    assert outcome(sim, dict(ALLOCATE, func="server.poweron", elid="1"))[0] == 500
    assert sim.server_state(1)["power_op"] is None  # before: not handled
    assert outcome(sim, ALLOCATE)[0] == "ConnectionError"
    assert len(addresses(sim)) == 2  # after: handled
    assert outcome(sim, ALLOCATE)[0] == 200 and sim.faults["lost_answers"] == []
    with pytest.raises(ValueError):
        sim.lose_next_answer("iplist.edit", kind="meteor")
    sim.lose_next_answer("iplist.edit")
    sim.set_faults()  # a new plan drops pending one-shots
    assert sim.faults["lost_answers"] == [] and outcome(sim, ALLOCATE)[0] == 200


def test_control_endpoints_take_after_and_lost_answers(sim):
    plan = control(sim, "PUT", "faults", json={"rate": 1.0, "kinds": ["http500"], "names": ["osmgr"], "after": 0.5, "seed": 3}).json()
    assert plan["after"] == 0.5
    assert control(sim, "PUT", "faults", json={"rate": 1.0, "after": 2}).status_code == 400
    control(sim, "PUT", "faults", json={})
    lost = control(sim, "PUT", "lose_next_answer", json={"name": "server.enable", "kind": "badbody"}).json()
    assert lost["lost_answers"] == [{"name": "server.enable", "kind": "badbody", "after": True, "stall_seconds": 5.0, "apply_after": None}]
    call_ok = post(sim, {"func": "server.disable", "out": "xml", "authinfo": ADMIN, "elid": "6"})
    assert error(ET.fromstring(call_ok.content)) is None
    with pytest.raises(ET.ParseError):
        ET.fromstring(post(sim, {"func": "server.enable", "out": "xml", "authinfo": ADMIN, "elid": "6"}).content)
    assert sim.server_state(6)["enable_op"]["target"] == "on"


def test_after_decisions_are_reproducible_and_keep_old_seeds():
    def decisions(**kwargs):
        plan = _FaultPlan(rate=0.5, kinds=("http500", "drop", "stall"), seed=11, **kwargs)
        return [plan.decide("x") for dummy in range(200)]

    mixed = decisions(after=0.3)
    assert mixed == decisions(after=0.3)
    assert 10 < sum(1 for d in mixed if d and d[2]) < sum(1 for d in mixed if d and not d[2])
    # after=0 and after=1 draw nothing more: the same faults as a plan without after, at the same requests.
    never, always = decisions(), decisions(after=1.0)
    assert [d and d[:2] for d in never] == [d and d[:2] for d in always]
    assert not any(d and d[2] for d in never) and all(d[2] for d in always if d)


def test_whmcs_lost_answer_after_the_update(tmp_path):
    with WHMCSSimulator(tls_dir=str(tmp_path / "tls")) as whmcs:
        whmcs.lose_next_answer("UpdateClientProduct", kind="http500")
        data = {
            "action": "UpdateClientProduct",
            "identifier": whmcs.identifier,
            "secret": whmcs.secret,
            "responsetype": "json",
            "serviceid": "1",
            "dedicatedip": "192.0.2.99",
        }
        assert HTTP.post(whmcs.api_url, data=data, verify=whmcs.ca_path, timeout=10).status_code == 500
        assert whmcs.service(1)["dedicatedip"] == "192.0.2.99"
        assert whmcs.calls[-1]["fault_after"] is True
