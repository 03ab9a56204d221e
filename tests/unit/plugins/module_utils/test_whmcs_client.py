# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the WHMCS client: transport, quirks, errors, retries, paging, normalisation, PHP serialize."""

from __future__ import annotations

import base64

import pytest
import requests

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._transport import AnswerLost
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.client import WHMCSClient, api_endpoint
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.errors import WHMCSAnswerLostError, WHMCSError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._whmcs.services import (
    encode_custom_fields,
    normalize_service,
    php_serialize,
    products_list,
    split_addresses,
)
from simulators.whmcs import WHMCSSimulator, make_state, php_unserialize
from unit.fake_http import FakeResponse, FakeSession, connection_refused

SECRET = "s3cr3t-VALUE"
ACCESS_KEY = "acc3ss-KEY"
SUCCESS = {"result": "success"}


def make_client(answers, access_key=None, **kwargs):
    """A client on fake answers; its reads are repeated ``retries`` times (5), not for a while (retry_for 0)."""
    kwargs.setdefault("retry_for", 0)
    sleeps = []
    client = WHMCSClient("https://billing.example.com/whmcs/", "ident", SECRET, access_key=access_key, sleep=sleeps.append, **kwargs)
    client.transport.session = FakeSession(answers)
    client.sleeps = sleeps
    return client


# URL handling ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, expected",
    [
        ("https://billing.example.com", "https://billing.example.com/includes/api.php"),
        ("https://billing.example.com/", "https://billing.example.com/includes/api.php"),
        ("https://example.com/whmcs", "https://example.com/whmcs/includes/api.php"),
        ("https://example.com/whmcs/", "https://example.com/whmcs/includes/api.php"),
        ("https://example.com/whmcs/includes/api.php", "https://example.com/whmcs/includes/api.php"),
        ("https://example.com:8443/includes/api.php/", "https://example.com:8443/includes/api.php"),
        ("https://example.com/?x=1#y", "https://example.com/includes/api.php"),
    ],
)
def test_api_endpoint(given, expected):
    assert api_endpoint(given) == expected


@pytest.mark.parametrize("bad", ["", None, "billing.example.com", "ftp://example.com/"])
def test_api_endpoint_refuses_non_urls(bad):
    with pytest.raises(WHMCSError):
        api_endpoint(bad)


def test_missing_credentials_are_refused_before_any_call():
    with pytest.raises(WHMCSError, match="credentials are missing"):
        WHMCSClient("https://example.com/", "ident", "")


# Transport ----------------------------------------------------------------------------------


def test_call_posts_a_form_with_json_and_credentials_only_in_the_body():
    client = make_client([FakeResponse({"result": "success", "x": "1"})], access_key=ACCESS_KEY, ca_path="/ca.pem", timeout=7)
    assert client.read("GetProducts", {"pid": 3, "gid": None}) == {"result": "success", "x": "1"}
    post = client.transport.session.posts[0]
    data = dict(post["data"])
    assert post["url"] == "https://billing.example.com/whmcs/includes/api.php"
    assert SECRET not in post["url"] and ACCESS_KEY not in post["url"]
    assert data == {"action": "GetProducts", "identifier": "ident", "secret": SECRET, "accesskey": ACCESS_KEY, "responsetype": "json", "pid": "3"}
    assert post["timeout"] == 7 and post["verify"] == "/ca.pem" and post["allow_redirects"] is False


def test_no_accesskey_field_without_an_access_key_and_verify_flags():
    client = make_client([FakeResponse(SUCCESS)], validate_certs=False, ca_path="/ca.pem")
    client.read("GetProducts")
    assert "accesskey" not in dict(client.transport.session.posts[0]["data"])
    assert client.transport.session.posts[0]["verify"] is False
    assert make_client([]).transport.verify is True


def test_list_values_are_sent_as_repeated_fields():
    client = make_client([FakeResponse(SUCCESS)])
    client.write("UpdateClientProduct", {"serviceid": 1, "unset[]": ["domain", "notes"]})
    assert [value for key, value in client.transport.session.posts[0]["data"] if key == "unset[]"] == ["domain", "notes"]


def test_result_error_carries_whmcs_message_and_a_hint():
    client = make_client([FakeResponse({"result": "error", "message": "Invalid IP 192.0.2.9"})])
    with pytest.raises(WHMCSError) as info:
        client.read("GetClientsProducts")
    exc = info.value
    assert exc.api_message == "Invalid IP 192.0.2.9"
    assert exc.api_error == {"type": "error", "object": "GetClientsProducts", "msg": "Invalid IP 192.0.2.9"}
    assert "allow-list" in exc.msg and "access key" in exc.msg
    assert len(client.transport.session.posts) == 1  # an API refusal is an answer, not a transient failure


@pytest.mark.parametrize(
    "message, hint",
    [
        ("Invalid or missing credentials", "identifier and secret"),
        ("Authentication Failed", "identifier and secret"),
        ("Invalid Access Key", "api_access_key"),
        ("Access Denied", "role"),
        ("Command Not Found", ""),
    ],
)
def test_error_hints(message, hint):
    client = make_client([FakeResponse({"result": "error", "message": message})])
    with pytest.raises(WHMCSError) as info:
        client.read("GetProducts")
    assert message in info.value.msg and hint in info.value.msg


def test_http_403_says_ip_refused_and_what_to_do():
    client = make_client([FakeResponse(b"Forbidden", status=403)])
    with pytest.raises(WHMCSError) as info:
        client.read("GetClientsProducts")
    assert "HTTP 403" in info.value.msg and "allow-list" in info.value.msg and "access key" in info.value.msg
    assert info.value.status == 403 and info.value.api_error is None
    assert len(client.transport.session.posts) == 1


def test_redirect_is_refused():
    client = make_client([FakeResponse(b"", status=302, headers={"Location": "https://u:p@other.example.com/"})])
    with pytest.raises(WHMCSError, match="redirect to https://other.example.com/"):
        client.read("GetProducts")


@pytest.mark.parametrize(
    "body,posts",
    [
        (b"<html>Fatal error</html>", 1),  # a web page: a wrong URL, not asked again
        (b"result=success;", 6),  # garbled or cut off: a read is asked again, a bounded number of times
        (b"[1, 2]", 1),
        (b"\xff\xfe", 6),
    ],
)
def test_non_json_bodies(body, posts):
    client = make_client([FakeResponse(body) for dummy in range(6)])
    with pytest.raises(WHMCSError, match="not JSON|unexpected JSON"):
        client.read("GetProducts")
    assert len(client.transport.session.posts) == posts


def test_a_garbled_answer_to_a_read_is_asked_again():
    client = make_client([FakeResponse(b'{"result":"succ'), FakeResponse({"result": "success", "n": "1"})])
    assert client.read("GetProducts")["n"] == "1"


@pytest.mark.parametrize("answer", [{"serviceid": "1"}, {"result": "maybe"}, {}])
def test_an_answer_that_says_neither_success_nor_error_is_no_answer(answer):
    """Not a refusal (the write may have been made): a read asks again, a write's answer counts as lost, to be read back."""
    client = make_client([FakeResponse(answer), FakeResponse({"result": "success", "n": "1"})])
    assert client.read("GetProducts")["n"] == "1"
    client = make_client([FakeResponse(answer), FakeResponse(SUCCESS)])
    with pytest.raises(WHMCSAnswerLostError, match="answered UpdateClientProduct with neither success nor an error"):
        client.write("UpdateClientProduct", {"serviceid": 1, "domain": "a.example.com"})
    assert len(client.transport.session.posts) == 1


def test_byte_order_mark_is_tolerated():
    client = make_client([FakeResponse(b'\xef\xbb\xbf{"result":"success","n":"2"}')])
    assert client.read("GetProducts")["n"] == "2"


def test_secrets_never_appear_in_errors():
    echoed = ('{"result":"error","message":"bad secret %s and key %s"}' % (SECRET, ACCESS_KEY)).encode()
    answers = [FakeResponse(echoed), FakeResponse(b"<p>%s</p>" % SECRET.encode()), requests.exceptions.SSLError("certificate verify failed for " + SECRET)]
    for answer in answers:
        client = make_client([answer], access_key=ACCESS_KEY)
        with pytest.raises(WHMCSError) as info:
            client.read("GetProducts")
        for text in (str(info.value), info.value.msg, repr(info.value.api_error)):
            assert SECRET not in text and ACCESS_KEY not in text


def test_tls_failure_names_ca_path():
    client = make_client([requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED")])
    with pytest.raises(WHMCSError, match="ca_path"):
        client.read("GetProducts")
    assert len(client.transport.session.posts) == 1  # a TLS failure is not transient


# Retries --------------------------------------------------------------------------------------


def test_reads_are_retried_with_growing_backoff_then_succeed():
    client = make_client([FakeResponse(b"busy", status=503), requests.exceptions.ReadTimeout("slow"), FakeResponse({"result": "success"})])
    assert client.read("GetClientsProducts") == {"result": "success"}
    assert len(client.transport.session.posts) == 3
    assert len(client.sleeps) == 2 and client.sleeps[0] < client.sleeps[1]


def test_reads_give_up_after_the_retry_budget():
    client = make_client([FakeResponse(b"busy", status=502)] * 10, retries=2)
    with pytest.raises(WHMCSError, match="HTTP 502"):
        client.read("GetProducts")
    assert len(client.transport.session.posts) == 3


def test_writes_are_not_repeated_after_the_request_may_have_arrived():
    """The client never repeats such a write: it says the answer was lost, for the resource layer to read back."""
    client = make_client([FakeResponse(b"busy", status=503), FakeResponse(SUCCESS)])
    with pytest.raises(WHMCSAnswerLostError, match="HTTP 503"):
        client.write("UpdateClientProduct", {"serviceid": 1, "domain": "a.example.com"})
    assert len(client.transport.session.posts) == 1
    client = make_client([requests.exceptions.ReadTimeout("slow"), FakeResponse(SUCCESS)])
    with pytest.raises(WHMCSAnswerLostError, match="did not answer ModuleCreate") as info:
        client.write("ModuleCreate", {"serviceid": 1})
    assert isinstance(info.value, AnswerLost) and isinstance(info.value, WHMCSError)
    assert len(client.transport.session.posts) == 1


def test_writes_are_repeated_when_the_request_never_left():
    client = make_client([requests.exceptions.ConnectTimeout("connect"), connection_refused(), FakeResponse({"result": "success", "serviceid": 1})])
    assert client.write("UpdateClientProduct", {"serviceid": 1, "domain": "a.example.com"})["serviceid"] == 1
    assert len(client.transport.session.posts) == 3
    assert client.write_count == 1


# Answer quirks ----------------------------------------------------------------------------------


def test_products_list_quirks():
    assert products_list({"products": ""}) == []
    assert products_list({}) == []
    assert products_list({"products": {"product": {"id": "1"}}}) == [{"id": "1"}]
    assert products_list({"products": {"product": [{"id": "1"}, {"id": "2"}]}}) == [{"id": "1"}, {"id": "2"}]


def paging_server(total, cap=None, shrink_at=None):
    """A fake GetClientsProducts over services 1..total; ``cap`` limits limitnum like a server setting could."""

    def answer(data):
        start, limit = int(data["limitstart"]), int(data["limitnum"])
        assert limit > 0, "the client must always page explicitly"
        if cap:
            limit = min(limit, cap)
        ids = list(range(1, total + 1))
        chosen = ids[start : start + limit]
        return FakeResponse(
            {
                "result": "success",
                "totalresults": str(total),
                "startnumber": start,
                "numreturned": len(chosen),
                "products": {"product": [{"id": str(i)} for i in chosen]} if chosen else "",
            }
        )

    return answer


@pytest.mark.parametrize("total, page_size", [(0, 10), (1, 10), (10, 10), (11, 10), (95, 10), (7, 1)])
def test_get_clients_products_pages_through_everything(total, page_size):
    client = make_client([paging_server(total)] * 200)
    services = client.get_clients_products(page_size=page_size, pid=3)
    assert [int(s["id"]) for s in services] == list(range(1, total + 1))
    posts = [dict(post["data"]) for post in client.transport.session.posts]
    assert len(posts) == max(1, -(-total // page_size))
    assert all(p["pid"] == "3" and p["limitnum"] == str(page_size) for p in posts)
    assert [int(p["limitstart"]) for p in posts] == list(range(0, max(1, total), page_size))[: len(posts)]


def test_get_clients_products_survives_a_capped_limit():
    client = make_client([paging_server(25, cap=4)] * 200)
    assert len(client.get_clients_products(page_size=10)) == 25


def test_get_clients_products_drops_duplicates_and_stops_on_an_empty_page():
    pages = [
        FakeResponse({"result": "success", "totalresults": "5", "products": {"product": [{"id": "1"}, {"id": "2"}]}}),
        FakeResponse({"result": "success", "totalresults": "6", "products": {"product": [{"id": "2"}, {"id": "3"}]}}),
        FakeResponse({"result": "success", "totalresults": "6", "products": ""}),
    ]
    client = make_client(pages)
    assert [s["id"] for s in client.get_clients_products(page_size=2)] == ["1", "2", "3"]
    assert len(client.transport.session.posts) == 3


def test_get_service_and_missing_service():
    client = make_client(
        [
            FakeResponse({"result": "success", "totalresults": "1", "products": {"product": [{"id": "9"}]}}),
            FakeResponse({"result": "success", "totalresults": "0", "products": ""}),
        ]
    )
    assert client.get_service(9) == {"id": "9"}
    assert client.get_service(10) is None
    assert dict(client.transport.session.posts[0]["data"])["serviceid"] == "9"


# Normalisation ---------------------------------------------------------------------------------

RAW = {
    "id": "42",
    "clientid": "7",
    "orderid": "1003",
    "pid": "3",
    "regdate": "2024-01-15",
    "name": "Dedicated E3",
    "groupname": "Dedicated Servers",
    "domain": "",
    "dedicatedip": " 203.0.113.42 ",
    "assignedips": "203.0.113.43\r\n\r\n2001:db8::42\n",
    "serverid": "0",
    "servername": "",
    "serverip": "",
    "serverhostname": "",
    "billingcycle": "Free Account",
    "nextduedate": "0000-00-00",
    "status": "Active",
    "username": "client7",
    "password": "pw",
    "notes": "n",
    "customfields": {
        "customfield": [
            {"id": "5", "name": "Rack", "translated_name": "Rack", "value": "A-12"},
            {"id": "6", "name": "Serial", "translated_name": "Serial", "value": ""},
        ]
    },
    "configoptions": {
        "configoption": [
            {"id": "1", "option": "OS", "type": "dropdown", "value": "Debian 12"},
            {"id": "2", "option": "IP", "type": "quantity", "value": "2"},
            {"id": "3", "option": "Backup", "type": "yesno", "value": 1},
            {"id": "4", "option": "recipe", "type": "radio", "value": "10"},
        ]
    },
}


def test_normalize_service():
    service = normalize_service(RAW)
    assert service == {
        "service_id": 42,
        "client_id": 7,
        "order_id": 1003,
        "product_id": 3,
        "product_name": "Dedicated E3",
        "product_group": "Dedicated Servers",
        "status": "Active",
        "domain": "",
        "dedicated_ip": "203.0.113.42",
        "assigned_ips": ["203.0.113.43", "2001:db8::42"],
        "username": "client7",
        "billing_cycle": "Free Account",
        "next_due_date": None,
        "reg_date": "2024-01-15",
        "server_id": 0,
        "server_name": "",
        "server_ip": "",
        "server_hostname": "",
        "config_options": {"OS": "Debian 12", "IP": 2, "Backup": 1, "recipe": "10"},
        "custom_fields": {"Rack": "A-12", "Serial": ""},
    }
    assert normalize_service(RAW, include_password=True)["password"] == "pw"


def test_normalize_service_tolerates_empty_containers():
    raw = dict(RAW, customfields="", configoptions={"configoption": []}, assignedips=None)
    service = normalize_service(raw)
    assert service["custom_fields"] == {} and service["config_options"] == {} and service["assigned_ips"] == []


def test_split_addresses():
    assert split_addresses("a\nb, c;d\r\n") == ["a", "b", "c", "d"]
    assert split_addresses("") == [] and split_addresses(None) == []


# PHP serialize ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ({5: "abc", 6: ""}, 'a:2:{i:5;s:3:"abc";i:6;s:0:"";}'),
        ({"7": "x"}, 'a:1:{i:7;s:1:"x";}'),
        ({"07": "x", "name": 1}, 'a:2:{s:2:"07";s:1:"x";s:4:"name";i:1;}'),
        ({1: "é"}, 'a:1:{i:1;s:2:"é";}'),
        ([True, None, 1.5], "a:3:{i:0;b:1;i:1;N;i:2;d:1.5;}"),
        ({1: {2: 'q";'}}, 'a:1:{i:1;a:1:{i:2;s:3:"q";";}}'),
    ],
)
def test_php_serialize(value, expected):
    assert php_serialize(value) == expected


def test_php_serialize_round_trips_through_an_independent_parser():
    value = {1: "A-12", 2: "", 30: 'ünïcödé "quoted" ; {braces}', 4: "0"}
    assert php_unserialize(php_serialize(value)) == value


def test_encode_custom_fields():
    encoded = encode_custom_fields({"5": "A-12", 6: None})
    assert php_unserialize(base64.b64decode(encoded).decode()) == {5: "A-12", 6: ""}


def test_php_serialize_refuses_other_types():
    with pytest.raises(TypeError):
        php_serialize({1: object()})


# UpdateClientProduct -----------------------------------------------------------------------------


def test_update_client_product_sends_fields_unset_and_custom_fields():
    client = make_client([FakeResponse({"result": "success", "serviceid": 42})])
    client.update_client_product(42, fields={"domain": "a.example.com"}, unset=["notes", "dedicatedip"], custom_fields={5: "A-12"})
    data = client.transport.session.posts[0]["data"]
    as_dict = dict(data)
    assert as_dict["action"] == "UpdateClientProduct" and as_dict["serviceid"] == "42"
    assert as_dict["domain"] == "a.example.com"
    assert [v for k, v in data if k == "unset[]"] == ["notes", "dedicatedip"]
    assert php_unserialize(base64.b64decode(as_dict["customfields"]).decode()) == {5: "A-12"}


@pytest.mark.parametrize("value", ["", "0", None])
def test_update_client_product_refuses_values_whmcs_would_ignore(value):
    client = make_client([])
    with pytest.raises(WHMCSError, match="unset"):
        client.update_client_product(42, fields={"domain": value})
    assert client.transport.session.posts == []


# The client against the simulator over real HTTPS: the reference's quirks, end to end ------------


@pytest.fixture
def sim(tmp_path):
    server = WHMCSSimulator(state=make_state(30, seed=4), tls_dir=str(tmp_path / "tls")).start()
    yield server
    server.close()
    assert not server.errors


def sim_client(sim, **kwargs):
    return WHMCSClient(sim.url, sim.identifier, sim.secret, ca_path=sim.ca_path, sleep=lambda seconds: None, **kwargs)


def test_simulator_paging_quirks(sim):
    client = sim_client(sim)
    everything = client.read("GetClientsProducts")  # no limitnum: everything
    assert everything["totalresults"] == "30" and everything["numreturned"] == 30
    assert client.read("GetClientsProducts", {"limitnum": 0})["numreturned"] == 30
    page = client.read("GetClientsProducts", {"limitstart": 25, "limitnum": 10})
    assert [s["id"] for s in page["products"]["product"]] == ["26", "27", "28", "29", "30"]
    assert client.read("GetClientsProducts", {"serviceid": 999})["products"] == ""
    assert client.read("GetProducts", {"pid": 999})["products"] == ""
    assert [s["id"] for s in client.get_clients_products(page_size=7)] == [str(i) for i in range(1, 31)]


def test_simulator_update_quirks(sim):
    client = sim_client(sim)
    sid = 5
    client.write("UpdateClientProduct", {"serviceid": sid, "domain": "a.example.com", "notes": "n"})
    # Empty values ("" and "0") are ignored; unset[] blanks.
    client.write("UpdateClientProduct", {"serviceid": sid, "domain": "", "notes": "0"})
    assert sim.service(sid)["domain"] == "a.example.com" and sim.service(sid)["notes"] == "n"
    client.update_client_product(sid, unset=["domain", "notes"], custom_fields={})
    assert sim.service(sid)["domain"] == "" and sim.service(sid)["notes"] == ""
    with pytest.raises(WHMCSError, match="Service ID Not Found"):
        client.update_client_product(999, fields={"notes": "x"})
    sim.clear_calls()
    with pytest.raises(ValueError, match="not in the collection's catalogue"):
        client.read("NoSuchAction")
    with pytest.raises(ValueError, match="lists UpdateClientProduct as a write, not a read"):
        client.read("UpdateClientProduct", {"serviceid": sid})
    with pytest.raises(ValueError, match="lists GetProducts as a read, not a write"):
        client.write("GetProducts")
    assert sim.calls == []  # refused before anything was sent


def test_simulator_strip_from_writes(sim):
    client = sim_client(sim)
    sim.apply_settings({"strip_from_writes": "UpdateClientProduct:serviceid"})
    assert client.write("UpdateClientProduct", {"serviceid": 5, "notes": "n"}) == {"result": "success"}
    assert sim.service(5)["notes"] == "n" and sim.write_answer_keys == {"UpdateClientProduct": {"result", "serviceid"}}
    sim.apply_settings({"strip_from_writes": "UpdateClientProduct:result"})
    with pytest.raises(WHMCSError, match="neither success nor an error"):
        client.write("UpdateClientProduct", {"serviceid": 5, "notes": "m"})
    assert sim.service(5)["notes"] == "m"


def test_simulator_auth_modes(sim):
    with pytest.raises(WHMCSError, match="Invalid or missing credentials"):
        WHMCSClient(sim.url, sim.identifier, "wrong", ca_path=sim.ca_path).read("GetProducts")
    sim.refuse_ip = "error"
    with pytest.raises(WHMCSError, match="Invalid IP 127.0.0.1"):
        sim_client(sim).read("GetProducts")
    sim.refuse_ip = "403"
    with pytest.raises(WHMCSError, match="HTTP 403"):
        sim_client(sim).read("GetProducts")
    with pytest.raises(WHMCSError, match="Invalid Access Key"):
        sim_client(sim, access_key="nope").read("GetProducts")
    sim.access_key = "right-key"
    assert sim_client(sim, access_key="right-key").read("GetProducts")["result"] == "success"
    assert all(call["query"] == "" for call in sim.calls)  # never anything in the URL


def test_simulator_answers_xml_without_responsetype(sim):
    answer = requests.post(
        sim.url + "includes/api.php", verify=sim.ca_path, timeout=10, data={"action": "GetProducts", "identifier": sim.identifier, "secret": sim.secret}
    )
    assert answer.status_code == 200 and answer.text.startswith("<?xml")


@pytest.mark.parametrize("status", [403, 500, 400])
def test_a_refusal_is_whmcs_answer_whatever_the_http_status(status):
    client = make_client([FakeResponse({"result": "error", "message": "Invalid IP 192.0.2.9"}, status=status), FakeResponse(SUCCESS)])
    with pytest.raises(WHMCSError) as info:
        client.write("UpdateClientProduct", {"serviceid": 1, "domain": "a.example.com"})
    assert not isinstance(info.value, AnswerLost)
    assert info.value.api_error == {"type": "error", "object": "UpdateClientProduct", "msg": "Invalid IP 192.0.2.9"} and info.value.status == status
    assert info.value.msg.startswith("WHMCS refused UpdateClientProduct with HTTP %d: Invalid IP 192.0.2.9 (add the controller's address" % status)
    assert len(client.transport.session.posts) == 1


@pytest.mark.parametrize("body", [SUCCESS, {"result": "other"}, {"message": "x"}, b"<html>busy</html>", b'{"result":"err'])
def test_a_5xx_without_a_refusal_is_decided_by_its_status(body):
    client = make_client([FakeResponse(body, status=503), FakeResponse({"result": "success", "n": "1"})])
    assert client.read("GetProducts")["n"] == "1"
    client = make_client([FakeResponse(body, status=503)])
    with pytest.raises(WHMCSAnswerLostError, match="HTTP 503"):
        client.write("UpdateClientProduct", {"serviceid": 1, "domain": "a.example.com"})
