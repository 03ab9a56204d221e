# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the DCImanager client: parsing, flags, errors, retries, URL handling."""

from __future__ import annotations

import pytest
import requests

from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci import answers, client as dci_client
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.answers import SERVER_FLAGS, parse_document
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.client import DCIClient, normalize_api_url
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._dci.errors import DCIAnswerLostError, DCIError
from ansible_collections.ispsystem.dcimanager.plugins.module_utils._transport import AnswerLost
from unit.fake_http import FakeResponse, FakeSession, connection_refused

AUTH_OK = b'<?xml version="1.0" encoding="UTF-8"?><doc><auth id="sess123" level="28">sess123</auth></doc>'


def make_client(answers, **kwargs):
    """A client on fake answers; its reads are repeated ``retries`` times (5), not for a while (retry_for 0)."""
    kwargs.setdefault("retry_for", 0)
    client = DCIClient("https://panel.example", "admin", "s3cret-pw", sleep=lambda seconds: None, **kwargs)
    client.transport.session = FakeSession(answers)
    return client


@pytest.mark.parametrize(
    "given,expected",
    [
        ("https://dci.example.com", "https://dci.example.com:1500/dcimgr"),
        ("https://dci.example.com/", "https://dci.example.com:1500/dcimgr"),
        ("https://dci.example.com:1500", "https://dci.example.com:1500/dcimgr"),
        ("https://dci.example.com:1500/dcimgr", "https://dci.example.com:1500/dcimgr"),
        ("https://dci.example.com:8443/manager/dcimgr/", "https://dci.example.com:8443/manager/dcimgr"),
        ("dci.example.com", "https://dci.example.com:1500/dcimgr"),
        ("https://[2001:db8::1]", "https://[2001:db8::1]:1500/dcimgr"),
    ],
)
def test_normalize_api_url(given, expected):
    assert normalize_api_url(given) == expected


@pytest.mark.parametrize(
    "given,fragment",
    [
        ("", "empty"),
        ("ftp://dci.example.com", "https://"),
        ("https://admin:pw@dci.example.com", "credentials"),
        ("https://dci.example.com/dcimgr?func=auth", "query"),
        ("https://dci.example.com:99999", "port"),
    ],
)
def test_normalize_api_url_rejects(given, fragment):
    with pytest.raises(DCIError) as info:
        normalize_api_url(given)
    assert fragment in info.value.msg
    assert "pw" not in info.value.msg.replace("api_password", "")


def test_list_rows_become_dicts_with_boolean_flags():
    client = make_client(
        [
            AUTH_OK,
            b"<doc><elem><id>1</id><hostname>free.ds</hostname><poweron/></elem>"
            b"<elem><id>2</id><owner>bob</owner><blocked/><install_in_progress/></elem></doc>",
        ]
    )
    rows = client.list("server", flags=SERVER_FLAGS)
    assert rows[0]["id"] == "1" and rows[0]["hostname"] == "free.ds"
    assert rows[0]["poweron"] is True and rows[0]["blocked"] is False
    assert rows[1]["owner"] == "bob" and rows[1]["blocked"] is True and rows[1]["install_in_progress"] is True
    assert rows[1]["poweron"] is False and "hostname" not in rows[1]


def test_every_call_is_a_post_with_credentials_in_the_body_only():
    client = make_client([AUTH_OK, b"<doc/>"])
    client.list("user")
    login, call = client.transport.session.posts
    assert login["url"] == call["url"] == "https://panel.example:1500/dcimgr"
    assert login["data"] == {"func": "auth", "username": "admin", "password": "s3cret-pw", "out": "xml"}
    assert call["data"] == {"func": "user", "auth": "sess123", "out": "xml"}
    assert login["allow_redirects"] is False and login["verify"] is True


def test_session_is_reused_and_renewed_once_when_rejected():
    expired = b'<doc><error type="auth" object="session" lang="en"><msg>Session expired</msg></error></doc>'
    client = make_client([AUTH_OK, b"<doc/>", expired, AUTH_OK.replace(b"sess123", b"sess456"), b"<doc><elem><id>7</id></elem></doc>"])
    client.list("user")
    assert client.list("user") == [{"id": "7"}]
    funcs = [post["data"]["func"] for post in client.transport.session.posts]
    assert funcs == ["auth", "user", "user", "auth", "user"]
    assert client.transport.session.posts[-1]["data"]["auth"] == "sess456"


def test_session_rejected_twice_is_an_error():
    expired = b'<doc><error type="auth" object="session" lang="en"><msg>Session expired</msg></error></doc>'
    client = make_client([AUTH_OK, expired, AUTH_OK, expired])
    with pytest.raises(DCIError) as info:
        client.list("user")
    assert info.value.api_error == {"type": "auth", "object": "session", "msg": "Session expired"}


def test_authinfo_fallback_when_the_panel_gives_no_session():
    client = make_client([b"<doc><ok/></doc>", b"<doc/>"])
    client.list("user")
    assert client.transport.session.posts[1]["data"]["authinfo"] == "admin:s3cret-pw"
    assert "auth" not in client.transport.session.posts[1]["data"]


def test_bad_credentials_are_a_clear_error_without_the_password():
    client = make_client([b'<doc><error type="auth" object="badpassword" lang="en"><msg>Invalid username or password</msg></error></doc>'])
    with pytest.raises(DCIError) as info:
        client.list("user")
    assert "rejected the login of api_username 'admin'" in info.value.msg
    assert info.value.api_error["object"] == "badpassword"
    assert "s3cret-pw" not in str(info.value)


def test_panel_error_carries_type_object_and_msg():
    client = make_client([AUTH_OK, b'<doc><error type="exists" object="user" lang="en"><msg>User already exists</msg></error></doc>'])
    with pytest.raises(DCIError) as info:
        client.write("user.edit", name="bob", passwd="pw")
    assert info.value.api_error == {"type": "exists", "object": "user", "msg": "User already exists"}
    assert "user.edit" in info.value.msg


def test_reads_are_retried_on_5xx_broken_xml_and_dropped_connections():
    broken = requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected")
    client = make_client([AUTH_OK, FakeResponse(b"<html>bad gateway</html>", 502), b"<doc><elem><id>1", broken, b"<doc><elem><id>1</id></elem></doc>"])
    assert client.list("server") == [{"id": "1"}]
    assert len(client.transport.session.posts) == 5


def test_read_retries_are_bounded():
    client = make_client([AUTH_OK] + [FakeResponse(b"", 503)] * 4, retries=3)
    with pytest.raises(DCIError) as info:
        client.list("server")
    assert "HTTP 503" in info.value.msg
    assert len(client.transport.session.posts) == 5


def test_a_read_is_asked_again_while_its_time_lasts():
    """Beyond its count of repeats, a read goes on while the pauses before its repeats stay within retry_for."""
    pauses = []
    client = DCIClient("https://panel.example", "admin", "s3cret-pw", sleep=pauses.append, retries=2, retry_for=30)
    client.transport.session = FakeSession([AUTH_OK] + [FakeResponse(b"", 503)] * 40)
    with pytest.raises(DCIError, match="HTTP 503"):
        client.list("server")
    sends = len(client.transport.session.posts) - 1
    assert sends == len(pauses) + 1 and sends > 3
    # Pauses double from 0.5 s to at most 5 s (each up to half again by jitter), and stop before 30 s would pass.
    assert sum(pauses) < 30 and max(pauses) <= 7.5 and sum(pauses) + 5 >= 30
    # A panel that refuses connections is down, not flaky: its count of repeats only.
    client = DCIClient("https://panel.example", "admin", "s3cret-pw", sleep=pauses.append, retries=2, retry_for=30)
    client.transport.session = FakeSession([connection_refused()] * 10)
    with pytest.raises(DCIError, match="cannot connect"):
        client.list("server")
    assert len(client.transport.session.posts) == 3


def test_writes_are_not_retried_after_the_request_may_have_arrived():
    """The client never repeats such a write: it says the answer was lost, for the resource layer to read back."""
    client = make_client([AUTH_OK, FakeResponse(b"", 502), b"<doc/>"])
    with pytest.raises(DCIAnswerLostError) as info:
        client.write("server.poweron", elid="1")
    assert isinstance(info.value, AnswerLost) and isinstance(info.value, DCIError)
    assert "HTTP 502" in info.value.msg and info.value.call == "server.poweron"
    assert len(client.transport.session.posts) == 2


def test_writes_are_retried_when_the_connection_was_never_made():
    client = make_client([AUTH_OK, connection_refused(), b"<doc><ok/></doc>"])
    assert client.write("server.poweron", elid="1") == {"ok": ""}
    assert len(client.transport.session.posts) == 3
    assert client.write_count == 1


def test_unreachable_panel():
    client = make_client([connection_refused()] * 6)
    with pytest.raises(DCIError) as info:
        client.list("user")
    assert len(client.transport.session.posts) == 6  # the first try and five more
    assert "cannot connect to DCImanager at https://panel.example:1500/dcimgr" in info.value.msg
    assert info.value.api_error is None


def test_tls_failure_points_at_ca_path_and_is_not_retried():
    client = make_client([requests.exceptions.SSLError("certificate verify failed: self-signed certificate")])
    with pytest.raises(DCIError) as info:
        client.list("user")
    assert "ca_path" in info.value.msg and "self-signed" in info.value.msg
    assert len(client.transport.session.posts) == 1


def test_ca_path_is_passed_as_verify():
    client = make_client([AUTH_OK], ca_path="/etc/dci-ca.pem")
    client._ensure_auth()  # pylint: disable=protected-access
    assert client.transport.session.posts[0]["verify"] == "/etc/dci-ca.pem"
    assert make_client([], validate_certs=False, ca_path="/x").transport.verify is False


def test_web_page_instead_of_xml_is_explained():
    client = make_client([b"<!DOCTYPE html><html><body>login</body></html>"])
    with pytest.raises(DCIError) as info:
        client.list("user")
    assert "web page" in info.value.msg and "api_url" in info.value.msg


def test_redirects_are_connection_refused():
    client = make_client([FakeResponse(b"", 302, {"Location": "https://evil.example/"})])
    with pytest.raises(DCIError) as info:
        client.list("user")
    assert "redirect to https://evil.example/" in info.value.msg


def test_http_403_is_explained():
    client = make_client([FakeResponse(b"Forbidden", 403)])
    with pytest.raises(DCIError) as info:
        client.list("user")
    assert "HTTP 403" in info.value.msg


def test_entity_expansion_payload_is_connection_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE doc [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b"<doc><elem><name>&c;</name></elem></doc>"
    )
    with pytest.raises(DCIError) as info:
        parse_document(bomb, "user")
    assert "DTD" in info.value.msg


def test_external_entity_is_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret-file-content")
    # Even if the DTD check were bypassed, the hardened parser must not read the file.
    payload = ('<?xml version="1.0"?><!DOCTYPE doc [<!ENTITY x SYSTEM "file://%s">]><doc><name>&x;</name></doc>' % secret).encode()
    root = answers.etree.fromstring(payload, parser=answers._hardened_parser())  # pylint: disable=protected-access
    assert "top-secret-file-content" not in answers.etree.tostring(root).decode()


def test_huge_body_is_refused(monkeypatch):
    monkeypatch.setattr(dci_client, "MAX_BODY_BYTES", 1000)
    client = make_client([AUTH_OK, b"<doc>" + b"<elem><id>1</id></elem>" * 100 + b"</doc>"])
    with pytest.raises(DCIError) as info:
        client.list("server")
    assert "larger than 1000 bytes" in info.value.msg


def test_form_values_and_select_lists():
    client = make_client(
        [
            AUTH_OK,
            b"<doc><name>rack1</name><mac>00:11</mac><disabled>on</disabled>"
            b'<slist name="ostemplate"><val key="ISPsystem__Debian-12-amd64">Debian 12</val></slist></doc>',
        ]
    )
    form = client.form("server.operations", elid="1")
    assert form == {"name": "rack1", "mac": "00:11", "disabled": "on"}
    assert form.selects == {"ostemplate": {"ISPsystem__Debian-12-amd64": "Debian 12"}}


def test_check_login_reports_a_wrong_password_as_false():
    bad = b'<doc><error type="auth" object="badpassword" lang="en"><msg>Invalid password</msg></error></doc>'
    client = make_client([bad, AUTH_OK])
    assert client.check_login("bob", "wrong") is False
    assert client.check_login("bob", "right") is True
    assert client.write_count == 0


REFUSED = b'<doc><error type="exists" object="user" lang="en"><msg>User already exists</msg></error></doc>'


@pytest.mark.parametrize("status", [500, 502, 403, 404])
def test_an_error_document_is_the_panels_answer_whatever_the_http_status(status):
    client = make_client([AUTH_OK, FakeResponse(REFUSED, status), b"<doc><ok/></doc>"])
    with pytest.raises(DCIError) as info:
        client.write("user.edit", name="bob", passwd="pw")
    assert not isinstance(info.value, AnswerLost)  # refused, so not made: nothing to read back
    assert info.value.api_error == {"type": "exists", "object": "user", "msg": "User already exists"} and info.value.status == status
    assert "DCImanager refused user.edit with HTTP %d: User already exists (type exists, object user)" % status == info.value.msg
    client = make_client([AUTH_OK, FakeResponse(REFUSED, status), b"<doc/>"])
    with pytest.raises(DCIError):
        client.list("user")
    assert len(client.transport.session.posts) == 2  # a refused read is not asked again


@pytest.mark.parametrize("body", [b"<doc/>", b"<doc><ok/></doc>", b"<doc><error", b"<html>bad gateway</html>", b""])
def test_a_5xx_without_an_error_document_is_a_lost_answer(body):
    client = make_client([AUTH_OK, FakeResponse(body, 502)])
    with pytest.raises(DCIAnswerLostError) as info:
        client.write("server.poweron", elid="1")
    assert "HTTP 502" in info.value.msg and info.value.api_error is None
    client = make_client([AUTH_OK, FakeResponse(body, 503), b"<doc><elem><id>1</id></elem></doc>"])
    assert client.list("server") == [{"id": "1"}]


def test_a_login_refused_with_http_500_is_still_a_bad_login():
    bad = b'<doc><error type="auth" object="badpassword" lang="en"><msg>Invalid password</msg></error></doc>'
    client = make_client([FakeResponse(bad, 500)])
    with pytest.raises(DCIError) as info:
        client.list("user")
    assert "rejected the login of api_username 'admin'" in info.value.msg and info.value.status == 500
    client = make_client([FakeResponse(bad, 500), AUTH_OK])
    assert client.check_login("bob", "wrong") is False
    assert client.check_login("bob", "right") is True


# The catalogue of functions (_dci/functions.py) -------------------------------------------------


def test_a_forms_save_gets_sok_from_the_catalogue_and_other_writes_none():
    client = make_client([AUTH_OK, b"<doc><ok/></doc>", b"<doc><ok/></doc>", b"<doc/>"])
    client.write("server.edit", elid="1", name="srv01")
    client.write("server.poweron", elid="1")
    client.form("server.edit", elid="1")
    sent = [post["data"] for post in client.transport.session.posts[1:]]
    assert [data.get("sok") for data in sent] == ["ok", None, None]
    assert client.write_count == 2 and client.call_count == 3


@pytest.mark.parametrize(
    "use, match",
    [
        (lambda client: client.list("server.poweron", elid="1"), "does not let the collection use server.poweron as a list"),
        (lambda client: client.form("user.delete", elid="2"), "as a form"),
        (lambda client: client.document("server.reboot", elid="1"), "as a list or form"),
        (lambda client: client.write("server", elid="1"), "does not let the collection use server as a write"),
        (lambda client: client.write("server.connection.edit", plid="1", elid="2", port="x"), "as a write"),
        (lambda client: client.list("no.such.func"), "not in the collection's catalogue"),
        (lambda client: client.write("server.edit", sok="ok", elid="1"), "was given sok"),
        (lambda client: client.form("server.edit", sok="ok", elid="1"), "was given sok"),
        (lambda client: client.try_foreign_session("server.disable", "s"), "as a list or form"),
    ],
)
def test_the_client_refuses_what_the_catalogue_does_not_allow_before_sending(use, match):
    client = make_client([])
    with pytest.raises(ValueError, match=match):
        use(client)
    assert client.transport.session.posts == []


@pytest.mark.parametrize("body", [b'{"doc": {"elem": []}}', b"Service Unavailable", b"  ok"])
def test_an_answer_that_is_not_xml_at_all_is_another_services_and_not_asked_again(body):
    with pytest.raises(DCIError) as info:
        parse_document(body, "server")
    assert not isinstance(info.value, answers.DCIRetryableError)
    assert "answer to server is not XML at all; check that api_url points to the API endpoint" in info.value.msg


@pytest.mark.parametrize("body", [b'<?xml version="1.0" encoding="UTF-8"?>\n<doc><elem><id>1</id><na', b"\xef\xbb\xbf<doc><elem>", b""])
def test_an_answer_cut_off_on_its_way_is_asked_again(body):
    with pytest.raises(answers.DCIRetryableError, match="answer to server is not valid XML"):
        parse_document(body, "server")
