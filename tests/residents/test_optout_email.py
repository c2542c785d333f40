"""E-mail opt-out (RFC 8058): every resident e-mail carries List-Unsubscribe and the one-click
header plus footer links; a one-click POST unsubscribes, a GET (a mail scanner) never does.

Through the sandbox's real SMTP server and the hub's live HTTP server (no cookies, no CSRF token:
as a mail client posts it).
"""

from __future__ import annotations

import re

import requests
from flask import Flask
from sqlalchemy import select

from hub.models import AuditLog, Consent, Contact
from hub.residents.links import UNSUBSCRIBE, ResidentLink, url_for
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.support.hubtools import rows, send

MAILBOX = "taro@example.jp"


def _resident(runtime: Runtime, email: str = MAILBOX, language: str = "ja") -> int:
    with runtime.session() as session:
        contact = Contact(kind="resident", name="住民", email=email, language=language)
        contact.consents.append(Consent(channel="email", source="csv:test.csv"))
        session.add(contact)
        session.flush()
        return contact.id


def _headers(item: dict[str, object]) -> dict[str, str]:
    meta = item["meta"]
    assert isinstance(meta, dict)
    return {name: value for name, value in meta["headers"]}


def _mail(sandbox_client: SandboxClient, to: str = MAILBOX) -> list[dict[str, object]]:
    return sandbox_client.inbox("email", to=to)


def test_every_resident_email_carries_the_headers_and_footer_links(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    _resident(runtime)
    send(runtime, channels=["email"], title="断水のお知らせ", body="本日14時から断水します。")
    [mail] = _mail(sandbox_client)
    headers = _headers(mail)
    stop = re.fullmatch(r"<(\S+)>", headers["List-Unsubscribe"])
    assert stop is not None and "/r/u/" in stop.group(1)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = str(mail["text"]), str(mail["html"])
    assert f"配信停止: {stop.group(1)}" in text and "配信設定の変更: " in text and "/r/p/" in text
    assert f'href="{stop.group(1)}"' in html and "/r/p/" in html
    assert text.index("断水します") < text.index("配信停止:")  # the message first, the links at the end


def test_one_click_post_unsubscribes_and_the_next_message_does_not_reach_the_address(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    contact_id = _resident(runtime)
    other = _resident(runtime, "hanako@example.jp")
    send(runtime, channels=["email"])
    stop = re.fullmatch(r"<(\S+)>", _headers(_mail(sandbox_client)[0])["List-Unsubscribe"])
    assert stop is not None

    # A mail scanner or link preview fetches the link: a page with a button, nothing stopped.
    page = requests.get(stop.group(1), timeout=10)
    assert page.status_code == 200 and "配信を停止する" in page.text and "t***@example.jp" in page.text
    with runtime.session() as session:
        assert session.scalars(select(Consent.revoked_at).where(Consent.contact_id == contact_id)).one() is None

    # The mail client's one-click button: a bare POST, no cookies, no CSRF token.
    clicked = requests.post(stop.group(1), data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert clicked.status_code == 200 and "停止しました" in clicked.text
    again = requests.post(stop.group(1), data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert again.status_code == 200 and "すでに停止" in again.text
    with runtime.session() as session:
        consent = session.scalars(select(Consent).where(Consent.contact_id == contact_id)).one()
        assert consent.revoked_at is not None and consent.revoked_source == "email:one-click"
        entries = session.scalars(select(AuditLog).where(AuditLog.action == "consent.revoked")).all()
        assert [(e.subject_id, e.detail["source"]) for e in entries] == [(str(contact_id), "email:one-click")]

    sandbox_client.clear()
    second = send(runtime, channels=["email"], title="断水の解除", body="断水は解除されました。")
    by_address = {r.address: r for r in rows(runtime, second, "email")}
    assert (by_address[MAILBOX].state, by_address[MAILBOX].reason) == ("skipped", "opted_out")
    assert _mail(sandbox_client) == []
    assert [m["to"] for m in sandbox_client.inbox("email")] == ["hanako@example.jp"]
    assert other


def test_the_page_button_unsubscribes_and_says_where_it_came_from(app: Flask, runtime: Runtime) -> None:
    contact_id = _resident(runtime)
    link = url_for(runtime.settings, ResidentLink(UNSUBSCRIBE, contact_id, "email"))
    done = requests.post(link, data={"List-Unsubscribe": "One-Click", "via": "page"}, timeout=10)
    assert done.status_code == 200
    with runtime.session() as session:
        assert session.scalars(select(Consent.revoked_source)).one() == "email:page"
    english = requests.get(link + "?lang=en", timeout=10)
    assert "already stopped" in english.text


def test_bad_links_and_bad_posts_get_a_page_not_a_500(app: Flask, runtime: Runtime) -> None:
    contact_id = _resident(runtime)
    base = f"{runtime.settings.public_url}/r/u/"
    link = url_for(runtime.settings, ResidentLink(UNSUBSCRIBE, contact_id, "email"))
    for token in ("nonsense", link.rpartition("/")[2][:-2] + "xx", "%00", "a" * 2000):
        assert requests.get(base + token, timeout=10).status_code == 404
        assert requests.post(base + token, data={"List-Unsubscribe": "One-Click"}, timeout=10).status_code == 404
    gone = url_for(runtime.settings, ResidentLink(UNSUBSCRIBE, contact_id + 1000, "email"))
    assert requests.post(gone, data={"List-Unsubscribe": "One-Click"}, timeout=10).status_code == 404
    # Without RFC 8058's field the post is not an unsubscribe (a form bot, a mistaken client).
    assert requests.post(link, data={}, timeout=10).status_code == 400
    assert requests.post(link, data={"List-Unsubscribe": "yes"}, timeout=10).status_code == 400
    with runtime.session() as session:
        assert session.scalars(select(Consent.revoked_at).where(Consent.contact_id == contact_id)).one() is None


def test_the_footer_speaks_the_recipients_language(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    _resident(runtime, language="en")
    _resident(runtime, "jiro@example.jp", language="ja-easy")
    send(runtime, channels=["email"])
    assert "Unsubscribe: " in str(_mail(sandbox_client)[0]["text"])
    assert "おしらせを とめる: " in str(_mail(sandbox_client, "jiro@example.jp")[0]["text"])


def test_staff_are_told_their_work_messages_keep_coming(app: Flask, runtime: Runtime) -> None:
    with runtime.session() as session:
        staff = Contact(kind="staff", name="職員", email="shokuin@city.example.jp")
        session.add(staff)
        session.flush()
        link = url_for(runtime.settings, ResidentLink(UNSUBSCRIBE, staff.id, "email"))
    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and "業務連絡は、配信停止の対象外です" in page.text and "<form" not in page.text
    posted = requests.post(link, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert posted.status_code == 200 and "業務連絡は、配信停止の対象外です" in posted.text
