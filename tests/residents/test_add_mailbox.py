"""A resident registered on LINE adds their e-mail from the preferences page: the same double opt-in
as registration, then one person, one record — their earlier e-mail-only registration of the same
mailbox is folded in, so each message reaches the mailbox once."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models import AuditLog, Contact
from hub.residents.links import PREFERENCES, ResidentLink, make_token
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import csrf, seed
from tests.residents.support import OSHU, add_resident
from tests.support.hubtools import rows, send, wait_for

LINK = re.compile(r"https?://\S+(/register/confirm/[\w.\-]+)")
MAILBOX = "lan@mail.example.jp"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app)
    return app.test_client()


def _ask(client: FlaskClient, runtime: Runtime, contact_id: int, email: str) -> tuple[int, str]:
    path = f"/r/p/{make_token(runtime.settings, ResidentLink(PREFERENCES, contact_id))}"
    client.get(path)
    response = client.post(path, data={"csrf_token": csrf(client), "action": "email", "email": email})
    return response.status_code, response.get_data(as_text=True)


def _confirm_path(sandbox_client: SandboxClient, says: str = "追加するお申し込み") -> str:
    wait_for(lambda: len(sandbox_client.inbox(channel="email", to=MAILBOX)) == 1)
    [mail] = sandbox_client.inbox(channel="email", to=MAILBOX)
    assert says in str(mail["text"])
    found = LINK.search(str(mail["text"]))
    assert found, mail["text"]
    return found.group(1)


def test_a_line_resident_adds_their_mailbox_and_an_earlier_email_registration_is_folded_in(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    on_line = add_resident(runtime, line_user_id="U" + "a" * 32, language="vi")
    by_mail = add_resident(runtime, email=MAILBOX)  # the same person, registered on the web before

    status, page = _ask(client, runtime, on_line, MAILBOX)
    assert status == 200 and 'id="notice"' in page
    # A Vietnamese reader's page, mail and confirmation are in English (the pages have no Vietnamese).
    confirm = _confirm_path(sandbox_client, "add this e-mail address to an existing registration")
    shown = client.get(confirm).get_data(as_text=True)
    assert 'id="joining"' in shown and MAILBOX in shown and "Tiếng Việt" in shown and '<html lang="en">' in shown
    with runtime.session() as s:
        assert s.get(Contact, on_line).email is None, "opening the link changes nothing"

    done = client.post(confirm, data={"csrf_token": csrf(client)})
    assert done.status_code == 200 and "/r/p/" in done.get_data(as_text=True)
    with runtime.session() as s:
        joined, earlier = s.get(Contact, on_line), s.get(Contact, by_mail)
        assert joined is not None and earlier is not None
        assert joined.email == MAILBOX and joined.language == "vi"
        assert {c.channel for c in joined.consents if c.revoked_at is None} == {"line", "email"}
        assert (earlier.email, earlier.active) == (None, False)
        assert not [c for c in earlier.consents if c.revoked_at is None]
        actions = set(s.scalars(select(AuditLog.action).where(AuditLog.action.like("contact.%"))))
        assert {"contact.merged", "contact.email_added"} <= actions

    first = send(runtime, channels=["email"], audience=f"area:{OSHU}", category_code="bousai",
                 title="避難指示", body="避難してください。")
    wait_for(lambda: all(r.state in ("sent", "delivered") for r in rows(runtime, first)))
    assert [r.contact_id for r in rows(runtime, first) if r.address == MAILBOX] == [on_line]

    # One record: the resident's one 「すべての配信を停止する」 stops the mailbox too.
    path = f"/r/p/{make_token(runtime.settings, ResidentLink(PREFERENCES, on_line))}"
    assert client.post(path, data={"csrf_token": csrf(client), "action": "stop"}).status_code == 200
    after = send(runtime, channels=["email"], audience=f"area:{OSHU}", category_code="bousai",
                 title="避難指示（続報）", body="避難を続けてください。")
    wait_for(lambda: all(r.state in ("sent", "delivered", "skipped") for r in rows(runtime, after)))
    assert [r for r in rows(runtime, after) if r.address == MAILBOX and r.state != "skipped"] == []


def test_someone_else_sharing_the_mailbox_is_left_alone(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    on_line = add_resident(runtime, line_user_id="U" + "c" * 32)
    family = add_resident(runtime, email=MAILBOX, phone="+819033330001")  # their own phone: another person
    assert _ask(client, runtime, on_line, MAILBOX)[0] == 200
    assert client.post(_confirm_path(sandbox_client), data={"csrf_token": csrf(client)}).status_code == 200
    with runtime.session() as s:
        other = s.get(Contact, family)
        assert other is not None and other.email == MAILBOX and other.active
        assert {c.channel for c in other.consents if c.revoked_at is None} == {"email", "sms"}
        assert s.get(Contact, on_line).email == MAILBOX


def test_a_bad_address_or_form_changes_nothing(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    on_line = add_resident(runtime, line_user_id="U" + "b" * 32)
    status, page = _ask(client, runtime, on_line, "not-an-address")
    assert status == 422 and 'id="email-error"' in page
    path = f"/r/p/{make_token(runtime.settings, ResidentLink(PREFERENCES, on_line))}"
    assert client.post(path, data={"action": "email", "email": MAILBOX}).status_code == 400, "no CSRF token"
    assert sandbox_client.inbox(channel="email", to=MAILBOX) == []

    # The registration it would join was deleted meanwhile: a 404, never a 500.
    assert _ask(client, runtime, on_line, MAILBOX)[0] == 200
    confirm = _confirm_path(sandbox_client)
    with runtime.session() as s:
        s.delete(s.get(Contact, on_line))
    assert client.post(confirm, data={"csrf_token": csrf(client)}).status_code == 404
