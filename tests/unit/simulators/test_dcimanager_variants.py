"""The DCImanager simulator's variant knobs (V1..V18 of its docstring) and its fast list documents."""

import xml.etree.ElementTree as ET

import pytest

from simulators.dcimanager import SERVER_ROW_FLAGS, VARIANT_KNOBS, VARIANTS, DCImanagerSimulator, _ListDoc, default_state
from test_dcimanager_simulator import ADMIN, TIMINGS, call, control, error, flags, install, post, rows, server_row

DEBIAN = "ISPsystem__Debian-12-amd64"


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def make_sim(tls_dir):
    """make_sim(**knobs): a started simulator with the test timings; all are checked for bugs at the end."""
    made = []

    def make(**knobs):
        sim = DCImanagerSimulator(tls_dir=tls_dir, **dict(TIMINGS, **knobs)).start()
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.close()
        assert not sim.errors, sim.errors


def switch_and_ipmi(sim, server_id="6"):
    conns = call(sim, "server.connection", elid=server_id).findall("elem")
    return [c for c in conns if c.findtext("type") == "Switch"][0], [c for c in conns if c.findtext("type") == "IPMI"][0]


# --- the knobs themselves ------------------------------------------------------------------------


def test_defaults_are_todays_panel_and_every_variant_is_one_difference(make_sim):
    sim = make_sim()
    defaults = {name: default for name, (dummy, default) in VARIANT_KNOBS.items()}
    assert {name: sim.settings()[name] for name in VARIANT_KNOBS} == defaults
    for name, knobs in VARIANTS.items():
        assert knobs and set(knobs) <= set(VARIANT_KNOBS), name
        assert all(knobs[k] != defaults[k] for k in knobs), name
    assert len({tuple(sorted(k.items())) for k in VARIANTS.values()}) == len(VARIANTS)


def test_knob_values_are_checked(make_sim, tls_dir):
    sim = make_sim()
    for bad in (
        {"disable_sets": "neither"},
        {"port_state_words": "on"},
        {"port_state_words": "x,x"},
        {"port_state_column": "type"},
        {"port_state_column": "two words"},
        {"list_page_size": -1},
        {"install_flag_delay": -1},
        {"auth_answer": "cookie"},
    ):
        with pytest.raises(ValueError):
            sim.apply_settings(bad)
        assert control(sim, "PUT", "settings", json=bad).status_code == 400
    with pytest.raises(TypeError):
        DCImanagerSimulator(tls_dir=tls_dir, port_state="up")
    assert sim.settings()["disable_sets"] == "both"
    assert control(sim, "PUT", "settings", json={"iplist_domain": "false", "list_page_size": "3"}).json()["list_page_size"] == 3
    assert sim.iplist_domain is False


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_serves_a_short_life(make_sim, variant):
    """Each variant answers a service's calls without a simulator error (the details are tested below)."""
    sim = make_sim(install_requires_power=False, **VARIANTS[variant])
    assert error(call(sim, "user")) is None and error(call(sim, "osmgr")) is None
    assert error(call(sim, "server.edit", elid="1", sok="ok", name="srv01", mac="52:54:00:00:00:01", owner="2")) is None
    main = [e for e in call(sim, "iplist", elid="1").findall("elem") if e.findtext("type") != "group"][0]
    assert error(call(sim, "iplist.edit", plid="1", elid=main.findtext("id"), sok="ok", domain="Life.Example.com")) is None
    assert error(install(sim, 1)) is None
    sim.advance(2.0)
    assert error(call(sim, "server.disable", elid="1")) is None
    sim.advance(2.0)
    assert error(call(sim, "server.enable", elid="1")) is None
    sim.advance(2.0)
    assert error(call(sim, "server.connection", elid="1")) is None
    assert post(sim, {"func": "server", "out": "xml", "authinfo": ADMIN}).status_code == 200


def test_v1_v2_port_state_column_and_words(make_sim):
    sim = make_sim()
    switch, ipmi = switch_and_ipmi(sim)
    assert switch.findtext("state") == "on" and ipmi.find("state") is None
    sim.apply_settings({"port_state_column": "status", "port_state_words": "up,down"})
    call(sim, "server.disable", elid="6")
    sim.advance(2.0)
    switch, ipmi = switch_and_ipmi(sim)
    assert switch.find("state") is None and switch.findtext("status") == "down" and ipmi.find("status") is None
    sim.apply_settings({"port_state_words": "1,0"})
    assert switch_and_ipmi(sim)[0].findtext("status") == "0"
    sim.apply_settings({"port_state_column": ""})
    switch, dummy = switch_and_ipmi(sim)
    assert [child.tag for child in switch] == ["id", "type", "device"]  # no state anywhere (the reference)


@pytest.mark.parametrize("sets, shown", [("both", {"blocked", "disabled"}), ("disabled", {"disabled"}), ("blocked", {"blocked"})])
def test_v3_which_flags_server_disable_sets(make_sim, sets, shown):
    sim = make_sim(disable_sets=sets)
    call(sim, "server.disable", elid="6")
    assert flags(server_row(sim, 6)) & {"blocked", "disabled"} == shown
    assert call(sim, "server.edit", elid="6").findtext("disabled") == ("on" if "disabled" in shown else "off")
    switch, dummy = switch_and_ipmi(sim)
    assert error(call(sim, "server.connection.on", plid="6", elid=switch.findtext("id"))) == ("access", "blocked")
    sim.advance(2.0)
    call(sim, "server.enable", elid="6")
    sim.advance(2.0)
    assert not flags(server_row(sim, 6)) & {"blocked", "disabled"}
    assert call(sim, "server.edit", elid="6").findtext("disabled") == "off"
    assert error(call(sim, "server.connection.on", plid="6", elid=switch.findtext("id"))) is None


def test_v4_owner_column_holds_the_account_id(make_sim):
    sim = make_sim(owner_column="id")
    servers = rows(call(sim, "server"))
    assert servers["6"].findtext("owner") == "2" and servers["1"].find("owner") is None


def test_v5_install_flag_shows_late(make_sim):
    sim = make_sim(install_flag_delay=1.0, install_requires_power=False)
    assert error(install(sim, 1)) is None
    assert not flags(server_row(sim, 1)) & {"install_in_progress", "operation_failed"}  # running, not shown
    assert error(install(sim, 1)) == ("busy", "server")
    sim.advance(1.0)
    assert "install_in_progress" in flags(server_row(sim, 1))
    sim.advance(1.0)  # install_seconds after the start, not after the flag showed
    assert not flags(server_row(sim, 1)) & {"install_in_progress", "operation_failed"}
    assert sim.server_state(1)["installed_template"] == DEBIAN

    # A delay of install_seconds or more: the flag never shows; a failure still shows at the end.
    sim.apply_settings({"install_flag_delay": 2.0})
    sim.fail_installs(1)
    assert error(install(sim, 1)) is None
    for dummy in range(4):  # 0 .. 1.8 s: the install runs, nothing shows
        assert not flags(server_row(sim, 1)) & {"install_in_progress", "operation_failed"}
        sim.advance(0.6)
    assert flags(server_row(sim, 1)) & {"install_in_progress", "operation_failed"} == {"operation_failed"}


def test_v5_default_state_has_no_new_key(make_sim):
    sim = make_sim(install_requires_power=False)
    install(sim, 1)
    assert set(sim.server_state(1)["install"]) == {"template", "recipe", "fail", "until"}


def test_v6_iplist_and_form_without_domain(make_sim):
    sim = make_sim(iplist_domain=False)
    addresses = [e for e in call(sim, "iplist", elid="6").findall("elem") if e.findtext("type") != "group"]
    assert addresses and all(e.find("domain") is None for e in addresses)
    form = call(sim, "iplist.edit", plid="6", elid=addresses[0].findtext("id"))
    assert form.findtext("domain") == "alice1.example.com"
    sim.apply_settings({"ipform_domain": False})
    assert call(sim, "iplist.edit", plid="6", elid=addresses[0].findtext("id")).find("domain") is None
    assert server_row(sim, 6).findtext("hostname") == "alice1.example.com"  # the one read left


def test_v7_server_edit_refused_during_install(make_sim):
    sim = make_sim(edit_during_install="refuse", install_flag_delay=0.5, install_requires_power=False)
    install(sim, 1)
    before = sim.server_state(1)
    save = dict(elid="1", sok="ok", name="srv01", mac="52:54:00:00:00:01", owner="2")
    assert error(call(sim, "server.edit", **save)) == ("busy", "server")  # even before the flag shows
    assert sim.server_state(1) == before
    assert call(sim, "server.edit", elid="1").findtext("name") == "srv01"  # the form still answers
    sim.advance(2.0)
    assert error(call(sim, "server.edit", **save)) is None and sim.server_state(1)["owner"] == "2"


def test_v8_domains_stored_lower_case(make_sim):
    sim = make_sim(hostname_case="lower")
    main = [e for e in call(sim, "iplist", elid="1").findall("elem") if e.findtext("type") != "group"][0]
    call(sim, "iplist.edit", plid="1", elid=main.findtext("id"), sok="ok", domain="Web1.Example.COM")
    assert server_row(sim, 1).findtext("hostname") == "web1.example.com"
    created = call(sim, "iplist.edit", plid="1", sok="ok", family="ipv4", domain="Extra.Example.com")
    domains = {e.findtext("ip"): e.findtext("domain") for e in call(sim, "iplist", elid="1").findall("elem")}
    assert domains[created.findtext("ip")] == "extra.example.com"
    sim.apply_settings({"hostname_case": "keep"})
    call(sim, "iplist.edit", plid="1", elid=main.findtext("id"), sok="ok", domain="Web1.Example.COM")
    assert server_row(sim, 1).findtext("hostname") == "Web1.Example.COM"


def test_v9_v10_empty_cells_and_flag_text(make_sim):
    sim = make_sim(empty_cells="empty")
    free = server_row(sim, 1)
    assert free.find("owner") is not None and free.find("owner").text is None and free.find("type") is not None
    assert free.find("poweroff").text is None  # a flag looks the same as an empty cell
    assert switch_and_ipmi(sim)[1].find("state") is not None
    sim.apply_settings({"flag_text": "on"})
    free = server_row(sim, 1)
    assert free.findtext("poweroff") == "on" and free.find("owner").text is None
    flagged = [child.tag for child in free if child.text == "on"]
    assert flagged == ["poweroff"]
    call(sim, "server.poweron", elid="6")
    assert switch_and_ipmi(sim)[0].find("func_in_progress") is None
    call(sim, "server.disable", elid="6")
    assert switch_and_ipmi(sim)[0].findtext("func_in_progress") == "on"
    call(sim, "user.suspend", elid="2")
    assert rows(call(sim, "user"))["2"].findtext("disabled") == "on"


def test_v16_every_flag_shown_on_or_off(make_sim):
    sim = make_sim(**VARIANTS["flags_on_off"])
    free = server_row(sim, 1)
    texts = {flag: free.findtext(flag) for flag in SERVER_ROW_FLAGS}
    assert texts == dict({flag: "off" for flag in SERVER_ROW_FLAGS}, poweroff="on")
    assert switch_and_ipmi(sim)[0].findtext("func_in_progress") == "off"
    assert rows(call(sim, "user"))["2"].findtext("disabled") == "off"
    call(sim, "server.disable", elid="6")
    blocked = server_row(sim, 6)
    assert blocked.findtext("blocked") == "on" and blocked.findtext("disabled") == "on" and blocked.findtext("hwproblem") == "off"
    assert switch_and_ipmi(sim)[0].findtext("func_in_progress") == "on"
    sim.apply_settings({"flag_off_text": ""})
    assert server_row(sim, 1).find("blocked") is None  # the default again: only the flags that are set


def test_v15_forms_leave_out_empty_fields(make_sim):
    sim = make_sim(**VARIANTS["form_omits_empty"])
    free = call(sim, "server.edit", elid="1")
    assert free.find("owner") is None and free.find("notes") is None and free.find("type") is None
    assert free.findtext("name") == "srv01" and free.findtext("disabled") == "off" and free.find("slist[@name='owner']") is not None
    assert call(sim, "server.edit", elid="6").findtext("owner") == "2"
    assert call(sim, "server.operations", elid="6").find("ostemplate") is None  # an empty field of another form
    # A save still takes no_owner, and one that sends no owner keeps it.
    assert error(call(sim, "server.edit", elid="6", sok="ok", name="srv06", mac=call(sim, "server.edit", elid="6").findtext("mac"))) is None
    assert call(sim, "server.edit", elid="6").findtext("owner") == "2"
    assert error(call(sim, "server.edit", elid="6", sok="ok", name="srv06", mac=call(sim, "server.edit", elid="6").findtext("mac"), owner="no_owner")) is None
    assert call(sim, "server.edit", elid="6").find("owner") is None
    sim.apply_settings({"form_empty_fields": "show"})
    shown = call(sim, "server.edit", elid="1")
    assert shown.findtext("owner") == "no_owner" and shown.findtext("notes") == ""


def test_v11_auth_answers(make_sim):
    sim = make_sim(auth_answer="text")
    auth = call(sim, "auth", authinfo=None, username="admin", password="admin-secret-pw").find("auth")
    assert auth.attrib == {} and error(call(sim, "server", authinfo=None, auth=auth.text)) is None
    sim.apply_settings({"auth_answer": "id"})
    auth = call(sim, "auth", authinfo=None, username="admin", password="admin-secret-pw").find("auth")
    assert auth.text is None and set(auth.attrib) == {"id"}
    assert error(call(sim, "server", authinfo=None, auth=auth.get("id"))) is None
    sim.apply_settings({"auth_answer": "ok"})
    sessions = len(sim.dump_state()["sessions"])
    answer = call(sim, "auth", authinfo=None, username="admin", password="admin-secret-pw")
    assert answer.find("ok") is not None and answer.find("auth") is None
    assert len(sim.dump_state()["sessions"]) == sessions  # no session was opened
    assert error(call(sim, "auth", authinfo=None, username="admin", password="wrong")) == ("auth", "badpassword")
    assert error(call(sim, "auth", authinfo=None, username="nobody", password="x")) == ("auth", "badpassword")
    call(sim, "session.newkey", username="alice", key="k" * 32)
    assert call(sim, "auth", authinfo=None, username="alice", key="k" * 32).find("ok") is not None
    assert error(call(sim, "auth", authinfo=None, username="alice", key="k" * 32)) == ("auth", "badpassword")  # used


def test_v12_newkey_needs_authinfo(make_sim):
    sim = make_sim(newkey_with_session="refuse")
    sid = call(sim, "auth", authinfo=None, username="admin", password="admin-secret-pw").findtext("auth")
    assert error(call(sim, "session.newkey", authinfo=None, auth=sid, username="alice", key="k" * 32)) == ("access", "session.newkey")
    assert error(call(sim, "session.newkey", username="alice", key="k" * 32)) is None
    sim.apply_settings({"newkey_with_session": "allow"})
    assert error(call(sim, "session.newkey", authinfo=None, auth=sid, username="alice", key="j" * 32)) is None


def test_v13_osmgr_name_is_the_title(make_sim):
    sim = make_sim(osmgr_name="title", install_requires_power=False)
    templates = call(sim, "osmgr").findall("elem")
    assert [(t.findtext("id"), t.findtext("name")) for t in templates][0] == (DEBIAN, "Debian 12 amd64")
    form = call(sim, "server.operations", elid="1")
    assert DEBIAN in [v.get("key") for v in form.findall("slist[@name='ostemplate']/val")]
    assert error(install(sim, 1, template="Debian 12 amd64")) == ("value", "ostemplate")
    assert error(install(sim, 1, template=templates[0].findtext("id"))) is None


def test_v14_paged_lists(make_sim):
    sim = make_sim(list_page_size=3)
    first = call(sim, "server")
    assert [first.findtext(k) for k in ("p_num", "p_cnt", "p_elems")] == ["1", "3", "7"]
    assert [child.tag for child in first][:3] == ["p_num", "p_cnt", "p_elems"]
    assert list(rows(first)) == ["1", "2", "3"]
    assert list(rows(call(sim, "server", p_num="3"))) == ["7"]
    past = call(sim, "server", p_num="4")
    assert past.findall("elem") == [] and past.findtext("p_elems") == "7"
    assert list(rows(call(sim, "server", p_num="2", p_cnt="5"))) == ["6", "7"]
    assert list(rows(call(sim, "server", p_cnt="100"))) == [str(i) for i in range(1, 8)]
    assert error(call(sim, "server", p_num="0")) == ("value", "p_num")
    assert error(call(sim, "server", p_cnt="x")) == ("value", "p_cnt")
    assert [call(sim, "osmgr", p_num=str(n)).findtext("p_elems") for n in (1, 2)] == ["3", "3"]
    assert len(call(sim, "user").findall("elem")) == 2
    assert call(sim, "iplist", elid="6").find("p_num") is None  # only server, user and osmgr are paged
    alice = call(sim, "server", authinfo="alice:alice-pw-123")
    assert alice.findtext("p_elems") == "1" and list(rows(alice)) == ["6"]
    sim.apply_settings({"list_page_size": 0})
    assert call(sim, "server").find("p_num") is None and call(sim, "server", p_num="2").find("p_num") is None


def test_v15_error_documents_with_another_http_status(make_sim):
    sim = make_sim(error_status=500)
    refused = post(sim, {"func": "server.poweron", "out": "xml", "authinfo": ADMIN, "elid": "99"})
    assert refused.status_code == 500 and error(ET.fromstring(refused.content)) == ("missed", "server")
    wrong = post(sim, {"func": "server", "out": "xml", "authinfo": "admin:wrong"})
    assert wrong.status_code == 500 and error(ET.fromstring(wrong.content)) == ("auth", "badpassword")
    assert post(sim, {"func": "server", "out": "xml", "authinfo": ADMIN}).status_code == 200
    assert [c["status"] for c in sim.calls] == [500, 500, 200]
    for bad in ("99", "600", "x"):
        with pytest.raises(ValueError):
            sim.apply_settings({"error_status": bad})


def test_paged_lists_variant_spans_pages_of_the_sample_panel():
    # VARIANTS' docstring promise: the sample panel's lists span several pages, users exactly one.
    state = default_state()
    size = VARIANTS["paged_lists"]["list_page_size"]
    assert len(state["servers"]) > 2 * size and len(state["os_templates"]) > size and 1 + len(state["users"]) == size


def test_install_flag_late_variant_fits_the_integration_timing():
    assert 0 < VARIANTS["install_flag_late"]["install_flag_delay"] < 1.5  # tests/integration/conftest.py FAST


# --- the list documents ----------------------------------------------------------------------------


def _reference(columns_rows, empty_cells=False, flag_text="", path=(), head=()):
    """The same list built with ElementTree, as the simulator did before _ListDoc."""
    doc = ET.Element("doc", {"lang": "en"})
    parent = doc
    for tag in path:
        parent = ET.SubElement(parent, tag)
    for key, value in head:
        ET.SubElement(parent, key).text = str(value)
    for columns, row_flags in columns_rows:
        elem = ET.SubElement(parent, "elem")
        for key, value in columns:
            if value not in (None, ""):
                ET.SubElement(elem, key).text = str(value)
            elif empty_cells:
                ET.SubElement(elem, key)
        for flag in row_flags:
            ET.SubElement(elem, flag).text = flag_text or None
    return ET.tostring(doc, encoding="UTF-8", xml_declaration=True)


@pytest.mark.parametrize("empty_cells, flag_text", [(False, ""), (True, ""), (True, "on"), (False, "a<&>b")])
@pytest.mark.parametrize("path, head", [((), ()), (("reportdata", "traffic"), ()), ((), (("p_num", 1), ("p_cnt", 2), ("p_elems", 0)))])
def test_list_documents_are_byte_identical_to_elementtree(empty_cells, flag_text, path, head):
    data = [
        ([("id", 1), ("name", "a & <b> \"c\" 'd' é ✓"), ("owner", ""), ("type", None), ("burst", 0), ("x", 12.5)], ["poweron"]),
        ([("id", "2"), ("hostname", "]]>")], []),
        ([], ["blocked", "disabled"]),
    ]
    for sample in (data, []):
        doc = _ListDoc(empty_cells=empty_cells, flag_text=flag_text, path=path, head=head)
        for columns, row_flags in sample:
            doc.row(columns, row_flags)
        assert doc.to_bytes() == _reference(sample, empty_cells, flag_text, path, head)


def test_strip_from_writes_leaves_an_element_out_of_a_writes_answer_only(make_sim):
    """V18: the change is made, its answer lacks the element; form reads keep theirs; every element is recorded."""
    sim = make_sim(strip_from_writes="iplist.edit:ip,iplist.edit:id")
    doc = call(sim, "iplist.edit", plid="1", sok="ok", family="ipv4", domain="a.example.net")
    assert error(doc) is None and [child.tag for child in doc] == ["ok"]
    made = [a for a in sim.server_state("1")["addresses"] if a["domain"] == "a.example.net"]
    assert len(made) == 1
    assert call(sim, "iplist.edit", plid="1", elid=made[0]["id"]).findtext("ip") == made[0]["ip"]
    assert sim.write_answer_elements == {"iplist.edit": {"ip", "id", "ok"}}
    sim.apply_settings({"strip_from_writes": "iplist.edit:ok"})
    assert [child.tag for child in call(sim, "iplist.edit", plid="1", sok="ok", family="ipv4", domain="a.example.net")] == ["ip", "id"]
    for bad in ("iplist.edit", "iplist.edit:", ":ok", "iplist.edit:two words"):
        with pytest.raises(ValueError):
            sim.apply_settings({"strip_from_writes": bad})
