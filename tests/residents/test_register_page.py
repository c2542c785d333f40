"""The public registration page: e-mail double opt-in with a signed, expiring link, no enumeration."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import itsdangerous.timed
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models import AuditLog, Contact
from hub.models.residents import Subscription
from hub.residents import register
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import csrf, seed

LINK = re.compile(r"https?://\S+/register/confirm/[\w.\-]+")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app)
    return app.test_client()


def _register(client: FlaskClient, email: str, **fields: object) -> tuple[int, str]:
    client.get("/register")
    form = {"csrf_token": csrf(client), "email": email, "category": ["bousai", "kenko"], "area": ["0321500"],
            "language": "en", **fields}
    response = client.post("/register", data=form)
    return response.status_code, response.get_data(as_text=True)


def _mails(sandbox_client: SandboxClient, to: str) -> list[dict[str, object]]:
    return sandbox_client.inbox(channel="email", to=to)


def _link(sandbox_client: SandboxClient, to: str) -> str:
    [mail] = _mails(sandbox_client, to)
    found = LINK.search(str(mail["text"]))
    assert found, mail["text"]
    return found.group(0)


def test_the_page_is_japanese_first_with_english_from_the_catalog(client: FlaskClient) -> None:
    page = client.get("/register").get_data(as_text=True)
    assert '<html lang="ja">' in page and "メール配信の登録" in page and "防災" in page and "奥州市" in page
    assert 'for="email"' in page and "Tiếng Việt" in page
    english = client.get("/register?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "Register for e-mail alerts" in english


def test_registration_is_confirmed_from_the_mailbox_then_stored_with_date_and_source(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    status, page = _register(client, "taro@mail.example.jp")
    assert status == 200 and "確認メールを送りました" in page
    with runtime.session() as s:
        assert s.scalar(select(Contact).where(Contact.email == "taro@mail.example.jp")) is None, \
            "nothing is stored before the mailbox confirms"
    link = _link(sandbox_client, "taro@mail.example.jp")
    path = link.split("://", 1)[1].split("/", 1)[1]
    shown = client.get("/" + path)
    assert shown.status_code == 200 and "登録を確定する" in shown.get_data(as_text=True)
    with runtime.session() as s:  # opening the link (a mail scanner does) confirms nothing
        assert s.scalar(select(Contact).where(Contact.email == "taro@mail.example.jp")) is None
    done = client.post("/" + path, data={"csrf_token": csrf(client)})
    assert done.status_code == 200 and "/r/p/" in done.get_data(as_text=True)
    with runtime.session() as s:
        contact = s.scalar(select(Contact).where(Contact.email == "taro@mail.example.jp"))
        assert contact is not None and contact.kind == "resident"
        assert [(c.channel, c.source, c.revoked_at) for c in contact.consents] == [("email", "web:register", None)]
        assert sorted(c.code for c in contact.categories) == ["bousai", "kenko"]
        assert [a.code for a in contact.areas] == ["0321500"] and contact.language == "en"
        records = s.scalars(select(Subscription).where(Subscription.contact_id == contact.id)).all()
        assert {(r.kind, r.code, r.source) for r in records} == {
            ("category", "bousai", "web:register"), ("category", "kenko", "web:register"),
            ("area", "0321500", "web:register"), ("language", "en", "web:register")}
        assert all(r.given_at is not None for r in records)
        actions = set(s.scalars(select(AuditLog.action).where(AuditLog.subject_id == str(contact.id))))
        assert {"consent.given", "preferences.changed"} <= actions


def test_the_answer_never_tells_whether_an_address_is_registered(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    with runtime.session() as s:
        s.add(Contact(kind="resident", name="登録済", email="known@mail.example.jp"))
    known = _register(client, "known@mail.example.jp")
    new = _register(client, "new@mail.example.jp")
    assert known[0] == new[0] == 200
    assert known[1].replace("known@", "X@") == new[1].replace("new@", "X@")
    assert len(_mails(sandbox_client, "known@mail.example.jp")) == len(_mails(sandbox_client, "new@mail.example.jp")) == 1


def test_a_mailbox_gets_a_few_mails_an_hour_and_the_page_does_not_say_so(
        client: FlaskClient, sandbox_client: SandboxClient) -> None:
    answers = {_register(client, "flood@mail.example.jp") for _ in range(register.MAILBOX_LIMIT + 2)}
    assert len(answers) == 1 and next(iter(answers))[0] == 200
    assert len(_mails(sandbox_client, "flood@mail.example.jp")) == register.MAILBOX_LIMIT


def test_one_client_address_is_stopped_after_many_registrations(
        client: FlaskClient, sandbox_client: SandboxClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(register, "ADDRESS_LIMIT", 3)
    for n in range(3):
        assert _register(client, f"spray{n}@mail.example.jp")[0] == 200
    status, page = _register(client, "spray9@mail.example.jp")
    assert status == 429 and "しばらくしてから" in page
    assert _mails(sandbox_client, "spray9@mail.example.jp") == []


def test_the_link_expires(client: FlaskClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    hours = runtime.settings.register_link_max_age_hours
    wanted = register.Request("late@mail.example.jp", frozenset({"bousai"}), frozenset(), "ja")
    monkeypatch.setattr(itsdangerous.timed, "time", SimpleNamespace(time=lambda: time.time() - hours * 3600 - 60))
    token = register.make_token(runtime.settings, wanted)
    monkeypatch.undo()
    client.get("/register")
    for response in (client.get(f"/register/confirm/{token}"),
                     client.post(f"/register/confirm/{token}", data={"csrf_token": csrf(client)})):
        assert response.status_code == 410 and "有効期限" in response.get_data(as_text=True)
    with runtime.session() as s:
        assert s.scalar(select(Contact).where(Contact.email == "late@mail.example.jp")) is None


def test_bad_tokens_bad_addresses_and_missing_csrf_are_4xx(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    good = register.make_token(runtime.settings, register.Request("a@mail.example.jp", frozenset(), frozenset()))
    for token in ("nonsense", good[:-2] + "xx", good.replace(".", "", 1)):
        assert client.get(f"/register/confirm/{token}").status_code == 404
    status, page = _register(client, "not-an-address")
    assert status == 422 and "形式が正しくありません" in page
    assert client.post("/register", data={"email": "x@mail.example.jp"}).status_code == 400
    assert client.post(f"/register/confirm/{good}", data={}).status_code == 400
    with runtime.session() as s:
        assert s.scalar(select(Contact).where(Contact.email.in_(["x@mail.example.jp", "a@mail.example.jp"]))) is None
    assert sandbox_client.inbox(channel="email") == []


def test_forged_choices_are_ignored(client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    _register(client, "forge@mail.example.jp", category=["bousai", "no-such"], area=["9999999"], language="xx")
    path = _link(sandbox_client, "forge@mail.example.jp").split("://", 1)[1].split("/", 1)[1]
    client.post("/" + path, data={"csrf_token": csrf(client)})
    with runtime.session() as s:
        contact = s.scalar(select(Contact).where(Contact.email == "forge@mail.example.jp"))
        assert contact is not None
        assert ([c.code for c in contact.categories], contact.areas, contact.language) == (["bousai"], [], "ja")
