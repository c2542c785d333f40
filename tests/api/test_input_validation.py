"""Bad input gets a clear 4xx naming what is wrong, before anything is stored, and never a 500.

Every case counts messages, bodies and deliveries before and after: a refusal that still stored a
row (or queued one) would pass a status-code check alone.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from hub.models import Delivery, Message, MessageBody
from tests.api.support import bearer, body, create, csrf, login, message

API = "/api/v1"
JSON = {"Content-Type": "application/json"}


def stored(client: FlaskClient) -> tuple[int, int, int]:
    with client.application.extensions["hub"].session() as s:
        return tuple(int(s.scalar(select(func.count()).select_from(model)) or 0)
                     for model in (Message, MessageBody, Delivery))  # type: ignore[return-value]


def refused(client: FlaskClient, send: Any, status: int = 400) -> dict[str, Any]:
    """Send, assert the status and a JSON error, and that nothing was stored; returns the error."""
    before = stored(client)
    response: TestResponse = send()
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    error = body(response)["error"]
    assert error["code"] and error["message"]
    assert stored(client) == before
    return dict(error)


@pytest.mark.parametrize(("audience", "named"), [
    ("area:9999999", "area:9999999"),
    ("category:nosuch", "category:nosuch"),
    ("department:x", "department:x"),
    ("list:424242", "list:424242"),
    ("message:424242", "message:424242"),
    ("list:abc", "list:abc"),          # was a 500: int("abc") inside the contact query
    ("message:1;drop", "message:1;drop"),
    (f"list:{2**31}", f"list:{2**31}"),   # beyond PostgreSQL's INTEGER: was a 500 there
    ("everyone", "everyone"),
])
def test_unknown_audience_is_400_naming_it(client: FlaskClient, audience: str, named: str) -> None:
    error = refused(client, lambda: create(client, audience=audience))
    assert error["code"] == "invalid_message"
    assert any(named in p for p in error["problems"]["audience"]), error


def test_known_audiences_by_code_and_by_name_still_send(client: FlaskClient) -> None:
    # The check must not refuse what contact_ids_query matches: codes and display names alike.
    for audience in ("category:kenko", "residents"):
        assert create(client, audience=audience).status_code == 201, audience
    assert create(client, audience="department:bousai", channels=["sms", "email"]).status_code == 201
    with client.application.extensions["hub"].session() as s:
        from hub.models import Area, Category
        area = s.scalars(select(Area)).first()
        name = s.scalar(select(Category.name).where(Category.code == "kenko"))
        assert area is not None
        codes = [f"area:{area.code}", f"area:{area.name}", f"category:{name}"]
    for audience in codes:
        assert create(client, audience=audience).status_code == 201, audience


@pytest.mark.parametrize(("fields", "key", "words"), [
    ({"title": "", "body": ""}, "*", "件名か本文"),
    ({"title": "  ", "body": "\n"}, "*", "件名か本文"),
    ({"channels": "sms"}, "channels", "配列"),
    ({"channels": ["sms", 3]}, "channels", "配列"),
    ({"channels": ["sms", "fax"]}, "channels", "fax"),
    ({"channels": ["sms", "sms"]}, "channels", "重複"),
    ({"channels": ["fax"] * 5000}, "channels", "16"),
    ({"channels": []}, "*", "チャネル"),
    ({"title": 5}, "title", "文字列"),
    ({"title": "あ" * 201}, "title", "200"),  # PostgreSQL refused it at commit: a 500
    ({"update_label": "続報" * 9}, "update_label", "16"),
    ({"msg_type": "cancel", "references": 2**70}, "references", "ありません"),  # was an OverflowError 500
    ({"msg_type": "cancel", "references": True}, "references", "ありません"),
])
def test_bad_fields_are_400_with_the_field_named(client: FlaskClient, fields: dict[str, Any], key: str,
                                                 words: str) -> None:
    error = refused(client, lambda: create(client, **fields))
    assert words in " ".join(error["problems"][key]), error


def test_a_huge_channel_list_is_refused_before_any_work(client: FlaskClient) -> None:
    # The preview renders and counts; 5,000 names must not make it render or count anything.
    error = refused(client, lambda: client.post(f"{API}/messages/preview", headers=bearer(),
                                                json={"channels": ["sms"] * 5000, "mode": "exercise"}))
    assert list(error["problems"]) == ["channels"]


@pytest.mark.parametrize("raw", [
    "[" * 1000 + "]" * 1000,
    '{"a":' * 1000 + "1" + "}" * 1000,
    '{"title": "t", "overrides": ' + "[" * 40 + "]" * 40 + "}",
])
def test_deeply_nested_json_is_400_not_a_recursion_error(client: FlaskClient, raw: str) -> None:
    for path in ("/messages", "/messages/preview", "/callouts"):
        error = refused(client, lambda path=path: client.post(f"{API}{path}", data=raw, headers=bearer(**JSON)))
        assert error["code"] == "json_too_deep"


@pytest.mark.parametrize("raw", [b"{bad", b"\xff\xfe{", b'{"title": "t",}', b"", b"[]", b"null", b'"s"'])
def test_malformed_json_is_400_in_the_api_error_format(client: FlaskClient, raw: bytes) -> None:
    error = refused(client, lambda: client.post(f"{API}/messages", data=raw, headers=bearer(**JSON)))
    assert error["code"] == "invalid_json"


def test_method_overrides_are_refused_not_obeyed(client: FlaskClient) -> None:
    # The client meant DELETE; creating (and sending) the message instead would be the worst answer.
    error = refused(client, lambda: client.post(f"{API}/messages?_method=DELETE", json=message(),
                                                headers=bearer()))
    assert error["code"] == "method_override_not_supported"
    for header in ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"):
        refused(client, lambda header=header: client.post(f"{API}/messages", json=message(),
                                                          headers=bearer(**{header: "DELETE"})))
    # Outside the API the refusal is a page, still a 400 and still nothing stored.
    login(client, "admin")
    before = stored(client)
    page = client.post("/compose?_method=PUT", data={**message(), "csrf_token": csrf(client), "step": "send",
                                                     "confirm_actual": "yes"})
    assert page.status_code == 400 and "メソッドの上書き" in page.get_data(as_text=True)
    assert stored(client) == before


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "PROPFIND", "TRACE", "FOO"])
def test_odd_methods_are_405_in_json_under_the_api(client: FlaskClient, method: str) -> None:
    for path in ("/messages", "/messages/1", "/callouts", "/contacts/import"):
        error = refused(client, lambda path=path: client.open(f"{API}{path}", method=method, headers=bearer()),
                        status=405)
        assert error["code"] == "method_not_allowed"
    page = client.open("/compose", method=method)
    assert page.status_code == 405


def test_unknown_api_paths_and_bad_ids_are_json_404(client: FlaskClient) -> None:
    # 2**31 is beyond PostgreSQL's INTEGER (an out-of-range error, a 500); 10**23 beyond SQLite's.
    for path in ("/nosuch", "/messages/abc", "/messages/99999999999999999999999", f"/messages/{2**31}",
                 f"/messages/{2**31}/deliveries", f"/callouts/{2**31}"):
        error = refused(client, lambda path=path: client.get(f"{API}{path}", headers=bearer()), status=404)
        assert error["code"] == "not_found"


def test_web_composer_names_an_unknown_audience(client: FlaskClient) -> None:
    login(client, "admin")
    before = stored(client)
    form = {k: v for k, v in message(audience="area:9999999").items() if k != "overrides"}
    page = client.post("/compose", data={**form, "csrf_token": csrf(client), "step": "send",
                                         "confirm_actual": "yes"})
    assert page.status_code == 422 and "area:9999999" in page.get_data(as_text=True)
    assert stored(client) == before


def test_errors_translate_with_accept_language(client: FlaskClient) -> None:
    r = client.post(f"{API}/messages", data="[" * 100 + "]" * 100,
                    headers=bearer(**JSON, **{"Accept-Language": "en"}))
    assert "nested too deeply" in json.loads(r.data)["error"]["message"]


@pytest.mark.parametrize("query", ["_scheme=javascript", "_anchor=x", "_external=1", "_method=GET"])
def test_url_for_options_in_a_query_string_do_not_break_pages(client: FlaskClient, query: str) -> None:
    # Every page's language links rebuild the URL from the query string: these were 500s.
    for path in ("/login", "/nosuch"):
        assert client.get(f"{path}?{query}").status_code in (200, 400, 404), path


@pytest.mark.parametrize("raw", ["not json", "[]", '{"events": 5}', '{"events": [5]}', '{"x": 1}'])
def test_a_signed_but_malformed_line_webhook_is_400_and_changes_nothing(client: FlaskClient, raw: str) -> None:
    import base64
    import hashlib
    import hmac

    from hub.models import Consent, Contact

    secret = client.application.config["HUB_SETTINGS"].line_channel_secret
    signature = base64.b64encode(hmac.new(secret.encode(), raw.encode(), hashlib.sha256).digest()).decode()

    def counts() -> tuple[int, ...]:
        with client.application.extensions["hub"].session() as s:
            return tuple(int(s.scalar(select(func.count()).select_from(m)) or 0) for m in (Contact, Consent))

    before = counts()
    r = client.post("/callbacks/line/webhook", data=raw, headers={"X-Line-Signature": signature,
                                                                  "Content-Type": "application/json"})
    assert r.status_code == 400
    assert counts() == before


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59", "0001-01-01T00:00:00+14:00",
                                  "2000-01-01T09:00", "tomorrow", "2026-02-30T09:00"])
def test_absurd_schedules_are_400(client: FlaskClient, when: str) -> None:
    # Year 9999 was stored, then broke the status page (OverflowError in Japan time): a 500.
    error = refused(client, lambda: create(client, scheduled_at=when))
    assert list(error["problems"]) == ["scheduled_at"]


def test_a_schedule_in_japan_time_is_stored_as_that_moment(client: FlaskClient) -> None:
    # On SQLite the offset was dropped: 09:00+09:00 came back as 09:00 UTC, nine hours late.
    from datetime import UTC, datetime, timedelta

    day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    for sent in (f"{day}T09:00:00+09:00", f"{day}T09:00"):  # no offset: Japan time
        message_id = body(create(client, scheduled_at=sent, mode="exercise"))["message_id"]
        detail = body(client.get(f"{API}/messages/{message_id}", headers=bearer()))
        assert datetime.fromisoformat(detail["scheduled_at"]) == datetime.fromisoformat(f"{day}T00:00:00+00:00")
        assert detail["state"] == "scheduled"


def test_nul_characters_are_400_not_a_database_error(client: FlaskClient) -> None:
    # PostgreSQL refuses NUL in any text, stored or compared: each of these was a 500 there.
    for fields in ({"title": "a\x00b"}, {"category": "\x00"}, {"overrides": {"sms": "\x00"}}):
        error = refused(client, lambda fields=fields: create(client, **fields))
        assert error["code"] == "nul_character"
    error = refused(client, lambda: client.get(f"{API}/messages/1/deliveries?channel=%00", headers=bearer()))
    assert error["code"] == "nul_character"
    login(client, "admin")
    before = stored(client)
    form = {k: v for k, v in message(title="a\x00b").items() if k != "overrides"}
    page = client.post("/compose", data={**form, "csrf_token": csrf(client), "step": "confirm"})
    assert page.status_code == 400 and "NUL" in page.get_data(as_text=True)
    assert stored(client) == before
    # Every form, not only the composer's: a user name with NUL was a 500 on PostgreSQL.
    client.post("/logout", data={"csrf_token": csrf(client)})
    client.get("/login")
    signed_in = client.post("/login", data={"username": "admin\x00", "password": "x", "csrf_token": csrf(client)})
    assert signed_in.status_code == 400 and "NUL" in signed_in.get_data(as_text=True)
    register = client.post("/register", data={"email": "a\x00@example.jp", "csrf_token": csrf(client)})
    assert register.status_code == 400


def test_a_list_name_longer_than_its_column_is_400(client: FlaskClient) -> None:
    r = client.post(f"{API}/contacts/import?list={'x' * 201}", headers=bearer(**{"Content-Type": "text/csv"}),
                    data="name,phone\n山田,09012345678\n".encode())
    assert r.status_code == 400 and body(r)["error"]["code"] == "invalid_parameter"
