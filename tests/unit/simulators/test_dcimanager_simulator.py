"""The DCImanager simulator's own contract, exercised over real HTTPS with plain ``requests``."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

import pytest
import requests

from simulators.dcimanager import DCImanagerSimulator, default_state, make_state

ADMIN = "admin:admin-secret-pw"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# Long enough to see every transition from the test; tests finish them with sim.advance() instead of sleeping.
TIMINGS = {"poweron_seconds": 2.0, "poweroff_seconds": 2.0, "install_seconds": 2.0, "enable_seconds": 2.0}
# One keep-alive session for the tests. ``verify`` is passed on every request: a session-level
# ``verify`` loses to REQUESTS_CA_BUNDLE from the environment (requests' merge_environment_settings).
HTTP = requests.Session()


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def sim(tls_dir):
    with DCImanagerSimulator(tls_dir=tls_dir, **TIMINGS) as simulator:
        yield simulator
    assert not simulator.errors, simulator.errors


def post(sim, data, url=None):
    return HTTP.post(url or sim.url, data=data, verify=sim.ca_path, timeout=10)


def control(sim, method, what, **kwargs):
    return HTTP.request(method, "%s/%s" % (sim.control_url, what), verify=sim.ca_path, timeout=10, **kwargs)


def call(sim, func, authinfo=ADMIN, **params):
    data = {"func": func, "out": "xml"}
    if authinfo:
        data["authinfo"] = authinfo
    data.update(params)
    response = post(sim, data)
    assert response.status_code == 200
    return ET.fromstring(response.content)


def error(doc):
    err = doc.find("error")
    return None if err is None else (err.get("type"), err.get("object"))


def rows(doc):
    return {e.findtext("id"): e for e in doc.findall("elem")}


def server_row(sim, server_id):
    return rows(call(sim, "server"))[str(server_id)]


def flags(elem):
    known = (
        "blocked",
        "hwproblem",
        "diag_in_progress",
        "disabled",
        "poweron",
        "poweroff",
        "powererror",
        "install_in_progress",
        "operation_failed",
        "func_in_progress",
    )
    return {flag for flag in known if elem.find(flag) is not None}


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in %s s" % timeout)


# --- transport and authentication ------------------------------------------------------------------


def test_tls_needs_the_ca(sim):
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(sim.url, data={"func": "server", "out": "xml", "authinfo": ADMIN}, verify=True, timeout=5)


def test_paths_and_output_formats(sim):
    legacy = post(sim, {"func": "user", "out": "xml", "authinfo": ADMIN}, url=sim.base_url + "/manager/dcimgr")
    assert ET.fromstring(legacy.content).find("elem") is not None
    assert post(sim, {}, url=sim.base_url + "/other").status_code == 404
    page = post(sim, {"func": "server", "authinfo": ADMIN})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    as_json = post(sim, {"func": "server", "out": "json", "authinfo": ADMIN})
    assert as_json.json()["doc"]["error"]["$object"] == "out"


def test_authinfo_and_errors(sim):
    assert error(call(sim, "server", authinfo="admin:wrong")) == ("auth", "badpassword")
    assert error(call(sim, "server", authinfo="nobody:x")) == ("auth", "badpassword")
    assert error(call(sim, "server", authinfo=None)) == ("auth", "session")
    assert error(call(sim, "no.such.func")) == ("missed", "func")
    assert error(call(sim, "server.enable")) == ("empty", "elid")
    assert error(call(sim, "server.enable", elid="999")) == ("missed", "server")


def test_session_login_and_expiry(sim):
    doc = call(sim, "auth", authinfo=None, username="admin", password="admin-secret-pw")
    auth = doc.find("auth")
    assert auth.get("level") == "28" and auth.text == auth.get("id")
    assert error(call(sim, "server", authinfo=None, auth=auth.text)) is None
    assert error(call(sim, "auth", authinfo=None, username="admin", password="bad")) == ("auth", "badpassword")
    sim.advance(sim.session_ttl + 1)
    assert error(call(sim, "server", authinfo=None, auth=auth.text)) == ("auth", "session")
    assert error(call(sim, "server", authinfo=None, auth="0123456789abcdef")) == ("auth", "session")


def test_login_key_is_single_use_and_user_scoped(sim):
    assert error(call(sim, "session.newkey", username="alice", key="short")) == ("value", "key")
    assert error(call(sim, "session.newkey", username="ghost", key="k" * 32)) == ("missed", "user")
    assert error(call(sim, "session.newkey", username="alice", key="k" * 32)) is None
    auth = call(sim, "auth", authinfo=None, username="alice", key="k" * 32).find("auth")
    assert auth.get("level") == "16"
    assert error(call(sim, "auth", authinfo=None, username="alice", key="k" * 32)) == ("auth", "badpassword")
    # A customer sees only its own servers and cannot call admin functions.
    assert list(rows(call(sim, "server", authinfo=None, auth=auth.text))) == ["6"]
    assert error(call(sim, "user", authinfo=None, auth=auth.text)) == ("access", "user")
    assert error(call(sim, "iplist", authinfo=None, auth=auth.text, elid="1")) == ("missed", "server")


# --- lists and forms -------------------------------------------------------------------------------


def test_server_list_columns_and_flags(sim):
    servers = rows(call(sim, "server"))
    assert len(servers) == 7
    free = servers["1"]
    assert free.findtext("hostname") == "free.ds" and free.find("owner") is None
    assert free.findtext("chassis_templ") == "DL360-G9" and free.find("type") is None
    assert servers["3"].findtext("type") == "X11-old" and servers["3"].find("chassis_templ") is None
    assert flags(servers["1"]) == {"poweroff"}
    assert flags(servers["4"]) == {"hwproblem", "poweroff"}
    assert "diag_in_progress" in flags(servers["5"])
    owned = servers["6"]
    assert owned.findtext("owner") == "alice" and owned.findtext("hostname") == "alice1.example.com"
    assert owned.findtext("ip") == "192.0.2.16" and flags(owned) == {"poweron"}
    assert owned.find("poweron").text is None  # a flag is an empty element


def test_user_create_exists_password_and_delete(sim):
    form = call(sim, "user.edit")
    assert form.find("slist[@name='level']") is not None
    created = call(sim, "user.edit", sok="ok", level="lvUser", name="bob", passwd="bob-pw-1")
    bob_id = created.findtext("id")
    assert bob_id and created.find("ok") is not None
    users = rows(call(sim, "user"))
    assert users[bob_id].findtext("level") == "16" and users["1"].findtext("level") == "28"
    assert error(call(sim, "user.edit", sok="ok", level="lvUser", name="bob", passwd="x")) == ("exists", "user")
    assert error(call(sim, "user.edit", sok="ok", name="bad name", passwd="x")) == ("value", "name")
    assert error(call(sim, "user.edit", sok="ok", name="carol")) == ("empty", "passwd")
    assert error(call(sim, "user.edit", elid=bob_id, sok="ok", passwd="new-pw-2")) is None
    assert error(call(sim, "server", authinfo="bob:new-pw-2")) is None
    assert error(call(sim, "user.suspend", elid=bob_id)) is None
    assert error(call(sim, "server", authinfo="bob:new-pw-2")) == ("auth", "disabled")
    assert "disabled" in flags(rows(call(sim, "user"))[bob_id])
    assert error(call(sim, "user.resume", elid=bob_id)) is None
    assert error(call(sim, "user.delete", elid="2")) == ("value", "server")  # alice owns server 6
    assert error(call(sim, "user.delete", elid="1")) == ("access", "user")
    assert error(call(sim, "user.delete", elid=bob_id)) is None
    assert bob_id not in rows(call(sim, "user"))
    # Refused writes are still writes: the log records what was attempted.
    assert [c["name"] for c in sim.writes()] == ["user.edit"] * 5 + ["user.suspend", "user.resume"] + ["user.delete"] * 3


def test_server_edit_form_and_save(sim):
    form = call(sim, "server.edit", elid="3")
    assert form.findtext("owner") == "no_owner" and form.findtext("type") == "X11-old"
    assert form.findtext("disabled") == "off"
    assert {v.get("key") for v in form.findall("slist[@name='owner']/val")} >= {"no_owner", "1", "2"}
    assert not sim.writes()
    assert error(call(sim, "server.edit", elid="3", sok="ok", name="srv03")) == ("empty", "mac")
    assert error(call(sim, "server.edit", elid="3", sok="ok", name="srv03", mac="zz", owner="2")) == ("value", "mac")
    mac = form.findtext("mac")
    assert error(call(sim, "server.edit", elid="3", sok="ok", name="srv03", mac=mac, owner="99")) == ("value", "owner")
    # Echo everything: the owner changes, nothing else.
    call(sim, "server.edit", elid="3", sok="ok", name="srv03", mac=mac, notes="", type="X11-old", owner="1")
    row = server_row(sim, 3)
    assert row.findtext("owner") == "admin" and row.findtext("type") == "X11-old"
    # A save that leaves out type empties it: the reason clients must echo the form.
    call(sim, "server.edit", elid="3", sok="ok", name="srv03", mac=mac, owner="no_owner")
    row = server_row(sim, 3)
    assert row.find("owner") is None and row.find("type") is None


# --- addresses -------------------------------------------------------------------------------------


def test_address_allocation_domains_release_and_exhaustion(sim):
    iplist = call(sim, "iplist", elid="1").findall("elem")
    assert [(e.findtext("type"), e.findtext("ip")) for e in iplist] == [("group", "public"), ("public", "192.0.2.11")]
    main_id = iplist[1].findtext("id")
    assert iplist[1].findtext("family") == "ipv4" and iplist[1].findtext("domain") == "free.ds"

    assert error(call(sim, "iplist.edit", plid="1", sok="ok", elid=main_id, domain="web1.example.com")) is None
    assert server_row(sim, 1).findtext("hostname") == "web1.example.com"
    assert error(call(sim, "iplist.edit", plid="1", sok="ok", elid=main_id, domain="not a domain")) == ("value", "domain")

    v6 = call(sim, "iplist.edit", plid="1", sok="ok", family="ipv6", iptype="public", ip="", domain="web1.example.com")
    assert v6.findtext("ip") == "2001:db8:100::10" and v6.findtext("id")
    got = [call(sim, "iplist.edit", plid="1", sok="ok", family="ipv4", iptype="public", ip="", domain="web1.example.com").findtext("ip") for dummy in range(6)]
    assert got == ["203.0.113.%d" % i for i in range(10, 16)]
    full = call(sim, "iplist.edit", plid="2", sok="ok", family="ipv4", iptype="public", ip="", domain="x.example.com")
    assert error(full) == ("limit", "ip")
    assert error(call(sim, "iplist.edit", plid="2", sok="ok", family="ipv5")) == ("value", "family")
    assert error(call(sim, "iplist.edit", plid="2", sok="ok", family="ipv4", iptype="private")) == ("value", "iptype")

    addresses = {e.findtext("ip"): e for e in call(sim, "iplist", elid="1").findall("elem")}
    assert addresses["2001:db8:100::10"].findtext("family") == "ipv6"
    assert error(call(sim, "iplist.delete", plid="1", elid=main_id)) == ("value", "mainip")
    assert error(call(sim, "iplist.delete", plid="1", elid=addresses["203.0.113.12"].findtext("id"))) is None
    again = call(sim, "iplist.edit", plid="2", sok="ok", family="ipv4", iptype="public", ip="", domain="x.example.com")
    assert again.findtext("ip") == "203.0.113.12"


def test_concurrent_claims_never_share_an_address(tls_dir):
    with DCImanagerSimulator(state=make_state(4, ipv4=20, ipv6=0), tls_dir=tls_dir) as sim:
        results = []

        def claim(i):
            doc = call(sim, "iplist.edit", plid=str(i % 4 + 1), sok="ok", family="ipv4", iptype="public", ip="", domain="h%d.example.com" % i)
            results.append(doc.findtext("ip"))

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 20 and len(set(results)) == 20 and None not in results
        assert error(call(sim, "iplist.edit", plid="1", sok="ok", family="ipv4", iptype="public")) == ("limit", "ip")


# --- timed operations ----------------------------------------------------------------------------


def test_power_flags_follow_time(sim):
    call(sim, "server.poweron", elid="1")
    assert not flags(server_row(sim, 1)) & {"poweron", "poweroff"}  # in transition
    sim.advance(2.0)
    assert "poweron" in flags(server_row(sim, 1))
    call(sim, "server.reboot", elid="1")
    sim.advance(2.0)
    assert not flags(server_row(sim, 1)) & {"poweron", "poweroff"}  # a reboot is off + on
    sim.advance(2.0)
    assert "poweron" in flags(server_row(sim, 1))
    sim.load_state(dict(sim.dump_state(), servers=[dict(s, fail_power=(s["id"] == "1")) for s in sim.dump_state()["servers"]]))
    call(sim, "server.poweroff", elid="1")
    sim.advance(2.0)
    assert "powererror" in flags(server_row(sim, 1))


def test_flags_change_in_real_time(tls_dir):
    with DCImanagerSimulator(tls_dir=tls_dir, poweron_seconds=0.2, install_seconds=0.2, install_requires_power=False) as sim:
        call(sim, "server.poweron", elid="1")
        install(sim, 3)
        wait_for(lambda: "poweron" in flags(server_row(sim, 1)))
        wait_for(lambda: "install_in_progress" not in flags(server_row(sim, 3)))


def test_block_and_enable_with_ports(sim):
    call(sim, "server.disable", elid="6")
    assert {"blocked", "disabled"} <= flags(server_row(sim, 6))
    conns = call(sim, "server.connection", elid="6").findall("elem")
    switch = [c for c in conns if c.findtext("type") == "Switch"][0]
    ipmi = [c for c in conns if c.findtext("type") == "IPMI"][0]
    assert "func_in_progress" in flags(switch) and "func_in_progress" not in flags(ipmi)
    assert error(call(sim, "server.connection.on", plid="6", elid=switch.findtext("id"))) == ("access", "blocked")
    assert error(call(sim, "server.connection.on", plid="6", elid=ipmi.findtext("id"))) == ("value", "elid")
    sim.advance(2.0)
    assert call(sim, "server.connection", elid="6").find("elem/state").text == "off"
    assert "poweron" in flags(server_row(sim, 6))  # blocking does not power off

    call(sim, "server.enable", elid="6")
    assert "blocked" in flags(server_row(sim, 6))  # cleared only after enable_seconds
    sim.advance(2.0)
    assert not flags(server_row(sim, 6)) & {"blocked", "disabled"}
    assert "func_in_progress" not in flags(call(sim, "server.connection", elid="6").find("elem"))
    port_form = call(sim, "server.connection.edit", plid="6", elid=switch.findtext("id"))
    assert port_form.findtext("port").startswith("Gi")
    assert call(sim, "server.connection.edit", plid="6", elid=ipmi.findtext("id")).findtext("ip")
    call(sim, "server.connection.off", plid="6", elid=switch.findtext("id"))
    assert "func_in_progress" in flags(call(sim, "server.connection", elid="6").find("elem"))
    sim.advance(2.0)
    assert call(sim, "server.connection", elid="6").find("elem/state").text == "off"
    assert call(sim, "ipmiredirect", elid="6", newwindow="yes").findtext("ok").startswith("https://")


def install(sim, server_id, template="ISPsystem__Debian-12-amd64", password="root-pw-1", **extra):
    params = dict(
        sok="ok", elid=str(server_id), operation="ostemplate", ostemplate=template, passwd=password, confirm=password, checkpasswd=password, recipe="null"
    )
    params.update(extra)
    return call(sim, "server.operations", **params)


def test_install_validation_timing_and_hidden_template(sim):
    form = call(sim, "server.operations", elid="1")
    assert "ISPsystem__Ubuntu-24.04-amd64" in [v.get("key") for v in form.findall("slist[@name='ostemplate']/val")]
    assert error(install(sim, 1)) == ("value", "power")  # powered off
    call(sim, "server.poweron", elid="1")
    assert error(install(sim, 1)) == ("value", "power")  # still powering on
    sim.advance(2.0)
    assert error(install(sim, 1, template="ISPsystem__Nope")) == ("value", "ostemplate")
    assert error(install(sim, 1, confirm="other")) == ("value", "confirm")
    assert error(install(sim, 1, recipe="#local__missing")) == ("value", "recipe")
    assert error(install(sim, 1, operation="reinstall")) == ("value", "operation")
    assert error(install(sim, 1, recipe="#local__hello")) is None
    assert "install_in_progress" in flags(server_row(sim, 1))
    assert error(install(sim, 1)) == ("busy", "server")
    assert error(call(sim, "server.poweroff", elid="1")) == ("busy", "server")
    sim.advance(2.0)
    assert not flags(server_row(sim, 1)) & {"install_in_progress", "operation_failed"}
    assert sim.server_state(1)["installed_template"] == "ISPsystem__Debian-12-amd64"
    listing = post(sim, {"func": "server", "out": "xml", "authinfo": ADMIN})
    assert "Debian" not in listing.text  # the real list does not show the installed template


def test_install_failure_and_cancel(sim):
    state = default_state()
    state["os_templates"][1]["fail_install"] = True
    sim.load_state(state)
    assert error(install(sim, 2, template="ISPsystem__Ubuntu-24.04-amd64")) is None
    sim.advance(2.0)
    assert "operation_failed" in flags(server_row(sim, 2))
    assert "install_in_progress" not in flags(server_row(sim, 2))
    assert error(install(sim, 2)) is None  # a new install clears operation_failed
    assert flags(server_row(sim, 2)) >= {"install_in_progress"} and "operation_failed" not in flags(server_row(sim, 2))
    call(sim, "server.opercancel", elid="2")
    assert flags(server_row(sim, 2)) & {"install_in_progress", "operation_failed"} == {"operation_failed"}


def test_settings_skip_the_power_requirement(sim):
    sim.apply_settings({"install_requires_power": False, "install_seconds": 60})
    assert error(install(sim, 1)) is None
    sim.advance(61)
    assert sim.server_state(1)["install"] is None


def test_osmgr_and_traffic(sim):
    templates = call(sim, "osmgr").findall("elem")
    assert [t.findtext("name") for t in templates] == ["ISPsystem__Debian-12-amd64", "ISPsystem__Ubuntu-24.04-amd64", "ISPsystem__AlmaLinux-9-amd64"]
    burst = {e.findtext("id"): e.findtext("burst") for e in call(sim, "trafficburstable").findall("reportdata//elem")}
    assert burst["6"] == "12.5"


# --- call log, faults, control -----------------------------------------------------------------------


def test_call_log_marks_writes_and_records_the_query(sim):
    call(sim, "server.edit", elid="1")
    call(sim, "iplist.edit", plid="1")
    call(sim, "server.poweron", elid="1")
    HTTP.get(sim.url, params={"func": "server", "out": "xml", "authinfo": ADMIN}, verify=sim.ca_path, timeout=5)
    log = sim.calls
    expected = [("server.edit", False), ("iplist.edit", False), ("server.poweron", True), ("server", False)]
    assert [(c["name"], c["write"]) for c in log] == expected
    assert log[0]["method"] == "POST" and log[0]["query"] == "" and log[0]["params"]["authinfo"] == ADMIN
    assert "authinfo=admin" in log[3]["query"] and log[3]["method"] == "GET"
    assert all(c["status"] == 200 and c["fault"] is None for c in log)
    sim.clear_calls()
    assert sim.calls == []


@pytest.mark.parametrize("kind", ["http500", "stall", "badbody", "drop", "truncate"])
def test_a_faulted_write_changes_nothing(sim, kind):
    before = sim.dump_state()
    sim.set_faults(rate=1.0, kinds=[kind], names=["iplist.edit"], stall_seconds=0.2, seed=1)
    try:
        response = post(sim, {"func": "iplist.edit", "out": "xml", "authinfo": ADMIN, "plid": "1", "sok": "ok", "family": "ipv4", "iptype": "public"})
        outcome = response.status_code
        if kind == "badbody":
            with pytest.raises(ET.ParseError):
                ET.fromstring(response.content)
    except requests.exceptions.RequestException as exc:
        outcome = type(exc).__name__
    expected = {"http500": (500, 502, 503), "stall": (504,), "badbody": (200,), "drop": ("ConnectionError",), "truncate": ("ChunkedEncodingError",)}[kind]
    assert outcome in expected
    assert sim.dump_state() == before
    assert error(call(sim, "server")) is None  # other functions are not faulted
    faulted = [c for c in sim.calls if c["fault"]]
    assert len(faulted) == 1 and faulted[0]["fault"] == kind and faulted[0]["write"] is True


def test_fault_rate_and_count(sim):
    sim.set_faults(rate=0.5, seed=42, kinds=["http500"])
    user_list = {"func": "user", "out": "xml", "authinfo": ADMIN}
    statuses = [post(sim, user_list).status_code for dummy in range(40)]
    assert 5 < statuses.count(200) < 35
    sim.set_faults(rate=1.0, kinds=["http500"], count=2)
    statuses = [post(sim, user_list).status_code for dummy in range(4)]
    assert statuses[2:] == [200, 200] and all(s >= 500 for s in statuses[:2])
    with pytest.raises(ValueError):
        sim.set_faults(rate=1.0, kinds=["meteor"])


def test_control_endpoints(sim):
    call(sim, "server")
    assert [c["name"] for c in control(sim, "GET", "calls").json()] == ["server"]
    assert control(sim, "DELETE", "calls").json() == {"ok": True}
    state = control(sim, "GET", "state").json()
    assert len(state["servers"]) == 7
    assert control(sim, "PUT", "state", json=make_state(2)).status_code == 200
    assert len(rows(call(sim, "server"))) == 2
    settings = control(sim, "PUT", "settings", json={"install_seconds": 0.5, "admin_password": "pw2"}).json()
    assert settings["install_seconds"] == 0.5 and sim.admin_password == "pw2"
    assert error(call(sim, "server", authinfo="admin:pw2")) is None
    assert control(sim, "PUT", "settings", json={"bogus": 1}).status_code == 400
    faults = control(sim, "PUT", "faults", json={"rate": 1.0, "kinds": ["drop"], "names": ["osmgr"]}).json()
    assert faults["names"] == ["osmgr"]
    with pytest.raises(requests.exceptions.ConnectionError):
        post(sim, {"func": "osmgr", "out": "xml", "authinfo": "admin:pw2"})
    assert control(sim, "GET", "calls").json()[-1]["fault"] == "drop"
    # Control calls are never logged and never faulted.
    assert {c["name"] for c in sim.calls} == {"server", "osmgr"}


def test_make_state_shape():
    state = make_state(100, package="R640", ipv4=300, ipv6=5, style="type")
    assert len(state["servers"]) == 100 and {s["type"] for s in state["servers"]} == {"R640"}
    assert len(state["ip_pools"]["public"]["ipv4"]) == 300 and len(set(state["ip_pools"]["public"]["ipv4"])) == 300
    json.dumps(state)


def test_cli_serves_until_sigterm(tmp_path):
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(make_state(3)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.simulators.dcimanager", "--state", str(state_file), "--tls-dir", str(tmp_path / "tls"), "--install-seconds", "0.1"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert info["url"].endswith("/dcimgr") and os.path.exists(info["ca_path"])
        response = requests.post(info["url"], data={"func": "server", "out": "xml", "authinfo": ADMIN}, verify=info["ca_path"], timeout=5)
        assert len(ET.fromstring(response.content).findall("elem")) == 3
        settings = requests.get(info["control"] + "/settings", verify=info["ca_path"], timeout=5).json()
        assert settings["install_seconds"] == 0.1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
