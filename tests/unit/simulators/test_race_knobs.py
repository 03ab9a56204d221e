"""The simulator knobs that the allocation race needs: latency with jitter, a lagging ``server`` list,
writes applied after their answer was lost (``delayed_apply``), held answers and the install record."""

import http.client
import json
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
import requests

from simulators._server import _FaultPlan
from simulators.dcimanager import DCImanagerSimulator, make_state
from simulators.whmcs import WHMCSSimulator
from test_dcimanager_simulator import ADMIN, REPO_ROOT, call, control, error, post, rows

CLAIM = {"func": "iplist.edit", "out": "xml", "authinfo": ADMIN, "plid": "1", "elid": "", "sok": "ok", "domain": "claim.example.net"}


@pytest.fixture
def sim(tmp_path):
    with DCImanagerSimulator(state=make_state(3), tls_dir=str(tmp_path / "tls")) as simulator:
        yield simulator
    assert not simulator.errors, simulator.errors


def main_address_id(sim, server_id="1"):
    return sim.server_state(server_id)["addresses"][0]["id"]


def claim(sim, server_id="1", domain="claim.example.net"):
    """The claim of the allocation race: a domain on the server's main address."""
    return post(sim, dict(CLAIM, plid=server_id, elid=main_address_id(sim, server_id), domain=domain))


def listed(sim):
    """server id -> (hostname, owner) as the ``server`` list shows them."""
    return {sid: (elem.findtext("hostname"), elem.findtext("owner")) for sid, elem in rows(call(sim, "server")).items()}


def new_customer(sim, name="cust1"):
    """Create a customer account; its id."""
    return call(sim, "user.edit", name=name, passwd="Pw-123456789", sok="ok").findtext("id")


def give(sim, server_id, owner_id):
    form = call(sim, "server.edit", elid=server_id)
    assert error(call(sim, "server.edit", elid=server_id, sok="ok", name=form.findtext("name"), mac=form.findtext("mac"), owner=owner_id)) is None


def domain_of(sim, server_id="1"):
    return sim.server_state(server_id)["addresses"][0]["domain"]


# --- latency and jitter ---------------------------------------------------------------------------


def test_latency_with_jitter_spreads_the_answers_and_where_the_request_lands(sim):
    sim.apply_settings({"latency": 0.04, "jitter": 0.02})
    splits = [sim._delays() for dummy in range(400)]  # pylint: disable=protected-access
    totals = [before + after for before, after in splits]
    assert all(before >= 0 and after >= 0 for before, after in splits)
    assert 0.02 - 1e-9 <= min(totals) < 0.025 and 0.055 < max(totals) <= 0.06 + 1e-9
    # The request takes effect anywhere inside its round trip, not always at one end of it.
    shares = [before / total for before, total in zip([b for b, dummy in splits], totals)]
    assert min(shares) < 0.1 and max(shares) > 0.9
    took = []
    for dummy in range(8):
        started = time.monotonic()
        call(sim, "user")
        took.append(time.monotonic() - started)
    assert min(took) >= 0.02 and max(took) - min(took) > 0.003
    sim.apply_settings({"latency": 0, "jitter": 0})
    assert sim._delays() == (0.0, 0.0)  # pylint: disable=protected-access


def test_latency_and_jitter_are_settings_everywhere(tmp_path, sim):
    assert sim.settings()["latency"] == 0.0 and sim.settings()["jitter"] == 0.0
    assert control(sim, "PUT", "settings", json={"latency": 0.01, "jitter": 0.005, "list_lag": 0.5}).json()["jitter"] == 0.005
    assert (sim.latency, sim.jitter, sim.list_lag) == (0.01, 0.005, 0.5)
    assert control(sim, "PUT", "settings", json={"jitter": -1}).status_code == 400
    assert control(sim, "PUT", "settings", json={"latency": 0.5, "jitter": "x"}).status_code == 400
    assert sim.latency == 0.01  # a refused PUT changes nothing
    with WHMCSSimulator(tls_dir=str(tmp_path / "whmcs-tls"), latency=0.02, jitter=0.01) as whmcs:
        assert whmcs.settings()["jitter"] == 0.01 and whmcs.settings()["latency"] == 0.02
    assert DCImanagerSimulator(tls_dir=str(tmp_path / "tls2"), latency=0.03, jitter=0.01, list_lag=2).settings()["list_lag"] == 2.0
    with pytest.raises(ValueError):
        DCImanagerSimulator(tls_dir=str(tmp_path / "tls3"), list_lag=-1)


def test_cli_takes_the_race_knobs(tmp_path):
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(make_state(2)))
    command = [sys.executable, "-m", "tests.simulators.dcimanager", "--state", str(state_file), "--tls-dir", str(tmp_path / "tls")]
    command += ["--latency", "0.03", "--jitter", "0.01", "--list-lag", "1.5"]
    with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            info = json.loads(proc.stdout.readline())
            settings = requests.get(info["control"] + "/settings", verify=info["ca_path"], timeout=5).json()
            assert (settings["latency"], settings["jitter"], settings["list_lag"]) == (0.03, 0.01, 1.5)
        finally:
            proc.terminate()
            proc.wait(10)
    refused = subprocess.run(command[:-2] + ["--jitter", "-1"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 2 and "--jitter" in refused.stderr


# --- the lagging server list ------------------------------------------------------------------------


def test_the_server_list_lags_behind_writes_but_single_server_reads_do_not(sim):
    sim.apply_settings({"list_lag": 3.0})
    customer = new_customer(sim)
    assert listed(sim)["1"] == ("free.ds", None)
    assert error(ET.fromstring(claim(sim).content)) is None
    give(sim, "1", customer)
    # Current everywhere but in the list: the address list, the address form, the server form.
    assert [e.findtext("domain") for e in call(sim, "iplist", elid="1").findall("elem") if e.findtext("family")] == ["claim.example.net"]
    assert call(sim, "iplist.edit", plid="1", elid=main_address_id(sim)).findtext("domain") == "claim.example.net"
    assert call(sim, "server.edit", elid="1").findtext("owner") == customer
    assert listed(sim)["1"] == ("free.ds", None)
    sim.advance(2.0)
    assert listed(sim)["1"] == ("free.ds", None)
    sim.advance(1.5)
    assert listed(sim)["1"] == ("claim.example.net", "cust1")
    assert sim.dump_state()["servers"][0]["owner"] == customer  # the true state was never behind


def test_the_lagging_list_shows_each_moment_in_turn(sim):
    sim.apply_settings({"list_lag": 2.0})
    call(sim, "server")  # the first recorded rows
    for name in ("a", "b", "c"):
        sim.advance(1.0)
        claim(sim, domain="%s.example.net" % name)
    # now = t0+3: the list shows t0+1 (a); each second later one step more.
    assert listed(sim)["1"][0] == "a.example.net"
    sim.advance(1.0)
    assert listed(sim)["1"][0] == "b.example.net"
    sim.advance(1.0)
    assert listed(sim)["1"][0] == "c.example.net"
    assert listed(sim)["2"][0] == "free.ds"  # other servers: their old rows are their current ones
    # The flags lag too: a block shows in the list only after the lag.
    call(sim, "server.disable", elid="2")
    assert "blocked" not in [child.tag for child in rows(call(sim, "server"))["2"]]
    sim.advance(2.5)
    assert "blocked" in [child.tag for child in rows(call(sim, "server"))["2"]]
    # A customer's own list follows the lagging owner too.
    give(sim, "3", new_customer(sim))
    assert list(rows(call(sim, "server", authinfo="cust1:Pw-123456789"))) == []
    sim.advance(2.5)
    assert list(rows(call(sim, "server", authinfo="cust1:Pw-123456789"))) == ["3"]


def test_no_lag_by_default_and_history_stays_small(sim):
    claim(sim)
    assert listed(sim)["1"][0] == "claim.example.net"
    sim.apply_settings({"list_lag": 0.5})
    for number in range(50):
        claim(sim, domain="n%d.example.net" % number)
        sim.advance(0.1)
    history = sim._row_history["1"]  # pylint: disable=protected-access
    assert len(history) <= 7  # what 0.5 s of lag can still show, and the row before it


# --- writes applied after their answer was lost ---------------------------------------------------------


def test_a_delayed_write_fails_at_once_and_takes_effect_later(sim):
    sim.lose_next_answer("iplist.edit", kind="drop", apply_after=2.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        claim(sim)
    assert domain_of(sim) == "free.ds"
    entry = [c for c in sim.calls if c["name"] == "iplist.edit"][-1]
    assert (entry["fault"], entry["fault_after"], entry["applied_at"], entry["status"]) == ("drop", True, None, None)
    # A read in between shows nothing yet: the read-back of a client would say "not made".
    assert [e.findtext("domain") for e in call(sim, "iplist", elid="1").findall("elem") if e.findtext("family")] == ["free.ds"]
    sim.advance(2.1)
    assert domain_of(sim) == "claim.example.net"
    entry = [c for c in sim.calls if c["name"] == "iplist.edit"][-1]
    assert entry["applied_status"] == 200 and entry["applied_at"] >= entry["time"]


def test_a_delayed_write_lands_after_a_later_one(sim):
    """The order a panel behind a proxy may carry them out in: the lost first copy lands last."""
    sim.lose_next_answer("iplist.edit", kind="delayed_apply", apply_after=1.0)
    assert claim(sim, domain="first.example.net").status_code == 504
    assert error(ET.fromstring(claim(sim, domain="second.example.net").content)) is None
    assert domain_of(sim) == "second.example.net"
    sim.advance(1.5)
    call(sim, "server")  # any request: the due write is handled before it
    assert domain_of(sim) == "first.example.net"


def test_a_delayed_write_is_handled_before_a_request_that_comes_after_its_time(tmp_path):
    with DCImanagerSimulator(state=make_state(1), tls_dir=str(tmp_path / "tls")) as sim:
        sim.lose_next_answer("iplist.edit", apply_after=0.3)
        with pytest.raises(requests.exceptions.ConnectionError):
            claim(sim)
        time.sleep(0.4)  # real time, no request, no state read in between
        assert listed(sim)["1"][0] == "claim.example.net"
        assert not sim.errors


def test_delayed_apply_in_the_fault_plan(sim):
    sim.set_faults(rate=1.0, kinds=["delayed_apply"], names=["iplist.edit"], seed=5, apply_after=0.5, writes_only=True)
    assert sim.faults["apply_after"] == 0.5
    seen = []
    for number in range(12):
        try:
            seen.append(claim(sim, domain="d%d.example.net" % number).status_code)
        except requests.exceptions.ConnectionError:
            seen.append("dropped")
    assert set(seen) == {504, "dropped"}  # both ways of losing the answer
    assert domain_of(sim) == "free.ds"
    sim.advance(0.6)
    assert domain_of(sim) == "d11.example.net"  # all handled, in the order they came
    entries = [c for c in sim.calls if c["name"] == "iplist.edit" and c["write"]]
    assert len(entries) == 12 and all(c["fault"] == "delayed_apply" and c["fault_after"] and c["applied_status"] == 200 for c in entries)
    # A read of the same function (the form) is spared with writes_only.
    assert call(sim, "iplist.edit", plid="1", elid=main_address_id(sim)).findtext("domain") == "d11.example.net"


def test_delayed_apply_decisions_are_seeded_and_leave_other_kinds_alone():
    def decisions(kinds, **kwargs):
        plan = _FaultPlan(rate=0.5, kinds=kinds, seed=11, **kwargs)
        return [plan.decide("x") for dummy in range(300)]

    mixed = decisions(("http500", "drop", "delayed_apply"), after=0.3)
    assert mixed == decisions(("http500", "drop", "delayed_apply"), after=0.3)
    delayed = [d for d in mixed if d and d[0] == "delayed_apply"]
    assert delayed and all(d[2] for d in delayed) and {d[1] for d in delayed} == {504, None}
    with pytest.raises(ValueError):
        _FaultPlan(rate=1.0, kinds=["delayed_apply"], apply_after=-1)


def test_lose_next_answer_with_apply_after_is_checked_and_shown(sim):
    with pytest.raises(ValueError):
        sim.lose_next_answer("iplist.edit", apply_after=1.0, after=False)
    with pytest.raises(ValueError):
        sim.lose_next_answer("iplist.edit", apply_after=-1.0)
    shown = control(sim, "PUT", "lose_next_answer", json={"name": "server.disable", "kind": "delayed_apply"}).json()
    assert shown["lost_answers"] == [{"name": "server.disable", "kind": "delayed_apply", "after": True, "stall_seconds": 5.0, "apply_after": 1.0}]
    assert post(sim, {"func": "server.disable", "out": "xml", "authinfo": ADMIN, "elid": "2"}).status_code == 504
    assert sim.server_state(2)["blocked"] is False
    sim.advance(1.0)
    assert sim.server_state(2)["blocked"] is True
    assert control(sim, "PUT", "faults", json={"rate": 0.5, "kinds": ["delayed_apply"], "apply_after": 2.5}).json()["apply_after"] == 2.5


def test_a_delayed_write_that_fails_when_it_lands_is_recorded(sim):
    form = call(sim, "server.edit", elid="1")
    sim.lose_next_answer("server.edit", kind="delayed_apply", apply_after=1.0)
    data = {"func": "server.edit", "out": "xml", "authinfo": ADMIN, "elid": "1", "sok": "ok", "name": "srv0001", "mac": form.findtext("mac"), "owner": "77"}
    assert post(sim, data).status_code == 504
    sim.advance(1.0)
    entry = [c for c in sim.calls if c["name"] == "server.edit" and c["write"]][-1]
    assert entry["applied_status"] == 200 and sim.server_state(1)["owner"] is None  # the panel refused it (no user 77)


# --- held answers, client ports and the install record ----------------------------------------------------


def test_a_held_answer_is_logged_first_and_names_the_client_port(sim):
    sim.delay_next_answer("iplist", 0.4)
    connection = http.client.HTTPSConnection("127.0.0.1", sim.port, context=ssl.create_default_context(cafile=sim.ca_path), timeout=10)
    connection.connect()
    port = connection.sock.getsockname()[1]
    started = time.monotonic()
    result = {}

    def read():
        body = urllib.parse.urlencode({"func": "iplist", "out": "xml", "authinfo": ADMIN, "elid": "1"})
        connection.request("POST", "/dcimgr", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        result["status"] = connection.getresponse().status

    reader = threading.Thread(target=read)
    reader.start()
    try:
        while not [c for c in sim.calls if c["name"] == "iplist"]:
            assert time.monotonic() - started < 0.35, "the held request was not logged before its answer"
            time.sleep(0.01)
        entry = [c for c in sim.calls if c["name"] == "iplist"][0]
        assert entry["held"] == 0.4 and entry["client_port"] == port and "status" not in result
    finally:
        reader.join(5)
        connection.close()
    assert result["status"] == 200 and time.monotonic() - started >= 0.4
    assert call(sim, "iplist", elid="1") is not None  # one-shot: the next one is not held
    assert "held" not in sim.calls[-1]
    assert control(sim, "PUT", "delay_next_answer", json={"name": "osmgr", "seconds": 0.1}).json()["held_answers"] == [{"name": "osmgr", "seconds": 0.1}]


def test_installs_record_the_hostname_and_owner_they_started_on(sim):
    customer = new_customer(sim)
    claim(sim, domain="one.example.net")
    give(sim, "1", customer)
    sim.apply_settings({"install_requires_power": False})
    call(sim, "server.operations", elid="1", sok="ok", operation="ostemplate", ostemplate="ISPsystem__Debian-12-amd64", passwd="Root-pw-1", confirm="Root-pw-1")
    call(sim, "server.operations", elid="2", sok="ok", operation="ostemplate", ostemplate="ISPsystem__Debian-12-amd64", passwd="Root-pw-2", confirm="Root-pw-2")
    assert [(i["server"], i["hostname"], i["owner"], i["root_password"]) for i in sim.installs] == [
        ("1", "one.example.net", "cust1", "Root-pw-1"),
        ("2", "free.ds", None, "Root-pw-2"),
    ]
    sim.load_state(make_state(1))
    assert sim.installs == []


def test_the_knobs_leave_the_base_of_an_unconfigured_simulator_alone(sim):
    """No lag, no latency, no delayed writes: the answers and the log look as they always did."""
    claim(sim)
    entry = sim.calls[-1]
    assert entry["status"] == 200 and entry["fault"] is None and "apply_at" not in entry and "held" not in entry
    assert sim._row_history == {}  # pylint: disable=protected-access
