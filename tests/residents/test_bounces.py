"""Bounces: a remote server refuses an e-mail our relay had accepted, and its delivery report comes
back to the message's own return path. The delivery row then says what really happened, an
address reported unknown gets no more mail until it changes, and nobody outside can fail a row."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from hub.bounces.addresses import delivery_of, return_path
from hub.bounces.receiver import bounce_server
from hub.config import Settings
from hub.models import AuditLog, Contact, Delivery
from hub.runtime import Runtime
from sandbox import SandboxClient
from sandbox.dsn import delivery_report
from sandbox.smtp import free_port
from tests.api.support import login, seed
from tests.residents.support import OSHU, add_resident, bounced_staff
from tests.support.hubtools import rows, send, wait_for

BOUNCE_DOMAIN = "bounce.city.example.jp"
GONE, FULL, LATE, FINE = ("gone@mail.example.jp", "full@mail.example.jp", "late@mail.example.jp",
                          "fine@mail.example.jp")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, bounce_domain=BOUNCE_DOMAIN)


@pytest.fixture
def receiver(app: Flask, runtime: Runtime, sandbox_client: SandboxClient) -> Iterator[int]:
    """``hub bounces serve``, with the sandbox's relay reporting to it (the bounce domain's MX)."""
    seed(app, residents=0, staff=0)
    server = bounce_server(runtime, "127.0.0.1", free_port("127.0.0.1"))
    server.start()
    sandbox_client.set_bounce_target("127.0.0.1", server.port)
    yield server.port
    sandbox_client.set_bounce_target(None)
    server.stop()


def _delivery(runtime: Runtime, message_id: int, address: str) -> Delivery:
    (row,) = [r for r in rows(runtime, message_id, "email") if r.address == address]
    return row


def _send(runtime: Runtime) -> int:
    return send(runtime, channels=["email"], audience=f"area:{OSHU}", category_code="bousai",
                title="避難指示", body="直ちに避難してください。")


def _sent_to(runtime: Runtime, address: str) -> tuple[int, Delivery]:
    """A resident at ``address`` and a message's e-mail to them, recorded as sent."""
    add_resident(runtime, name="本人", email=address)
    message_id = _send(runtime)
    wait_for(lambda: _delivery(runtime, message_id, address).state == "sent")
    return message_id, _delivery(runtime, message_id, address)


def test_a_bounce_fails_its_row_and_an_unknown_address_gets_no_more_mail(
        receiver: int, app: Flask, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    people = {address: add_resident(runtime, name=address, email=address) for address in (GONE, FULL, LATE, FINE)}
    sandbox_client.inject_fault("email", "bounce", match=GONE)
    sandbox_client.inject_fault("email", "bounce_full", match=FULL)
    sandbox_client.inject_fault("email", "bounce_delayed", match=LATE)
    first = _send(runtime)

    # Each e-mail left with its own signed return path, naming its row.
    sent = {m["to"]: m for m in sandbox_client.inbox("email")}
    assert set(sent) == {LATE, FINE}, "the refused copies never reached anyone"
    for address in (LATE, FINE):
        row = _delivery(runtime, first, address)
        assert sent[address]["meta"]["mail_from"] == return_path(runtime.settings.secret_key, BOUNCE_DOMAIN, row.id)

    wait_for(lambda: _delivery(runtime, first, GONE).state == "failed" and _delivery(runtime, first, FULL).state
             == "failed", timeout=15)
    gone, full = _delivery(runtime, first, GONE), _delivery(runtime, first, FULL)
    assert gone.error_code == "5.1.1" and "宛先のメールアドレスが存在しません" in (gone.error or "")
    assert full.error_code == "5.2.2" and "メールボックスが一杯" in (full.error or "")
    # A "delayed" report is not a verdict: the relay is still trying.
    wait_for(lambda: sandbox_client.stats().get("smtp.bounce.sent", 0) == 3)
    assert _delivery(runtime, first, LATE).state == "sent" and _delivery(runtime, first, FINE).state == "sent"

    with runtime.session() as s:
        marked = {c.email: (c.email_bounced_at, c.email_bounce) for c in s.scalars(
            select(Contact).where(Contact.id.in_(people.values())))}
        audited = s.scalars(select(AuditLog.subject_id).where(AuditLog.action == "contact.email_bounced")).all()
    assert marked[GONE][0] is not None and marked[GONE][1].startswith("5.1.1 ")  # type: ignore[union-attr]
    assert "User unknown" in marked[GONE][1]  # type: ignore[operator]
    assert all(marked[a] == (None, None) for a in (FULL, LATE, FINE)), "a full mailbox is not a wrong address"
    assert audited == [str(people[GONE])]

    # The officer sees it on the contact's page.
    web = app.test_client()
    login(web, "admin")
    note = web.get(f"/contacts/{people[GONE]}").get_data(as_text=True).split('id="bounce-note"', 1)[1]
    assert "宛先不明" in note.split("</p>", 1)[0] and "（5.1.1: 550 5.1.1" in note and "User unknown" in note
    assert 'id="bounce-note"' not in web.get(f"/contacts/{people[FULL]}").get_data(as_text=True)

    # The next message skips the unknown address and says why; the others get it.
    sandbox_client.clear()
    second = _send(runtime)
    wait_for(lambda: all(r.state in ("sent", "skipped") for r in rows(runtime, second, "email")))
    skipped = _delivery(runtime, second, GONE)
    assert skipped.state == "skipped" and skipped.reason == "address_bounced"
    assert "宛先不明" in (skipped.error or "")
    assert {m["to"] for m in sandbox_client.inbox("email")} == {FULL, LATE, FINE}

    # A new address clears the mark: the resident is tried again.
    with runtime.session() as s:
        s.get(Contact, people[GONE]).email = "found@mail.example.jp"  # type: ignore[union-attr]
    with runtime.session() as s:
        assert s.get(Contact, people[GONE]).email_bounced_at is None  # type: ignore[union-attr]
    sandbox_client.clear()
    third = _send(runtime)
    wait_for(lambda: _delivery(runtime, third, "found@mail.example.jp").state == "sent")


def test_nobody_can_fail_a_row_with_a_made_up_return_path(
        receiver: int, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    message_id, row = _sent_to(runtime, FINE)
    good = return_path(runtime.settings.secret_key, BOUNCE_DOMAIN, row.id)
    forged = good.replace(good.split("-")[2].split("@")[0], "a" * 13)
    assert delivery_of(runtime.settings.secret_key, forged) is None
    with smtplib.SMTP("127.0.0.1", receiver, timeout=5) as smtp:
        smtp.ehlo()
        code, _ = smtp.mail("")
        assert code == 250
        code, reply = smtp.rcpt(forged)
        assert code == 550, reply
        code, _ = smtp.rcpt(f"bounce-{row.id}@{BOUNCE_DOMAIN}")  # no signature at all
        assert code == 550
        code, _ = smtp.rcpt(f"postmaster@{BOUNCE_DOMAIN}")  # and no open relay or mailbox
        assert code == 550
    # Not a delivery report (an auto-reply sent to the return path) changes nothing either.
    with smtplib.SMTP("127.0.0.1", receiver, timeout=5) as smtp:
        smtp.sendmail("", [good], b"From: someone@example.jp\r\nSubject: Out of office\r\n\r\nI am away.\r\n")
    assert _delivery(runtime, message_id, FINE).state == "sent"


def test_a_report_the_database_cannot_take_now_is_refused_for_a_retry(
        receiver: int, runtime: Runtime, sandbox_client: SandboxClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    from hub.bounces import receiver as module

    message_id, row = _sent_to(runtime, GONE)
    address = return_path(runtime.settings.secret_key, BOUNCE_DOMAIN, row.id)
    report = delivery_report(b"Subject: x\r\n\r\n", GONE, "bounce")
    real = module.record_bounce

    def database_away(*args: object) -> object:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(module, "record_bounce", database_away)
    with smtplib.SMTP("127.0.0.1", receiver, timeout=5) as smtp, pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("", [address], report)
    assert refused.value.smtp_code == 451, "a temporary refusal: the reporting server tries again later"
    assert _delivery(runtime, message_id, GONE).state == "sent"

    monkeypatch.setattr(module, "record_bounce", real)  # the database is back; the retry is recorded
    with smtplib.SMTP("127.0.0.1", receiver, timeout=5) as smtp:
        smtp.sendmail("", [address], report)
    wait_for(lambda: _delivery(runtime, message_id, GONE).state == "failed")


def test_a_report_that_overtakes_the_workers_record_is_asked_again_later(
        receiver: int, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    from sqlalchemy import update

    message_id, row = _sent_to(runtime, GONE)
    with runtime.session() as s:  # as it was between the relay's 250 and the worker's record
        s.execute(update(Delivery).where(Delivery.id == row.id).values(state="sending", provider_id=None))
    address = return_path(runtime.settings.secret_key, BOUNCE_DOMAIN, row.id)
    report = delivery_report(b"Subject: x\r\n\r\n", GONE, "bounce")
    with smtplib.SMTP("127.0.0.1", receiver, timeout=5) as smtp, pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("", [address], report)
    assert refused.value.smtp_code == 451
    with runtime.session() as s:  # the worker's record lands
        s.execute(update(Delivery).where(Delivery.id == row.id).values(state="sent", provider_id=row.provider_id))
    with smtplib.SMTP("127.0.0.1", receiver, timeout=5) as smtp:
        smtp.sendmail("", [address], report)
    wait_for(lambda: _delivery(runtime, message_id, GONE).state == "failed")
    assert _delivery(runtime, message_id, GONE).provider_id == row.provider_id


def test_the_servers_words_are_shown_only_to_those_who_may_see_addresses(
        receiver: int, app: Flask, runtime: Runtime) -> None:
    # A staff member's bounce, on their department's page: a viewer sees that mail stopped and
    # the code, not the server's words, which name the address.
    staff_id = bounced_staff(runtime, "防災 太郎", "taro@city.example.jp")
    for who, words_shown in (("admin", True), ("viewer", False)):
        web = app.test_client()
        login(web, who)
        page = web.get(f"/contacts/{staff_id}")
        assert page.status_code == 200
        note = page.get_data(as_text=True).split('id="bounce-note"', 1)[1].split("</p>", 1)[0]
        assert "宛先不明" in note and "5.1.1" in note
        assert ("User unknown" in note) is words_shown and ("taro@city.example.jp" in note) is words_shown


def test_erasing_a_person_also_erases_what_their_server_said_of_their_address(receiver: int, runtime: Runtime) -> None:
    from hub.contacts.erasure import erase_contact

    staff_id = bounced_staff(runtime, "防災 次郎", "jiro@city.example.jp")
    with runtime.session() as s:
        erase_contact(s, s.get(Contact, staff_id), runtime.settings.secret_key, "test", "admin")  # type: ignore[arg-type]
    with runtime.session() as s:
        erased = s.get(Contact, staff_id)
        assert erased is not None and erased.email is None
        assert (erased.email_bounce, erased.email_bounced_at) == (None, None)  # the words named the address


def test_the_contact_list_finds_the_addresses_that_came_back(receiver: int, app: Flask, runtime: Runtime) -> None:
    # A clerk's follow-up list: who to ask for a new address, also as CSV.
    bounced = bounced_staff(runtime, "防災 三郎", "saburo@city.example.jp")
    add_resident(runtime, name="届く 住民", email=FINE)
    web = app.test_client()
    login(web, "admin")
    everyone = web.get("/contacts").get_data(as_text=True)
    assert "防災 三郎" in everyone and "届く 住民" in everyone
    assert everyone.count('class="bounced"') == 1
    only = web.get("/contacts?mail=bounced").get_data(as_text=True)
    assert f'data-id="{bounced}"' in only and only.count('class="contact-row"') == 1
    assert '<option value="bounced" selected>' in only
    exported = web.get("/contacts/export.csv?mail=bounced").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert len(exported) == 2 and "saburo@city.example.jp" in exported[1]


def test_a_bounce_domain_that_is_not_a_domain_stops_the_start(settings: Settings) -> None:
    from hub.config import ConfigError

    with pytest.raises(ConfigError, match="HUB_BOUNCE_DOMAIN"):
        replace(settings, bounce_domain="bounce city").check_startup(["email"])
    replace(settings, bounce_domain="bounce.city.example.jp").check_startup(["email"])


def test_the_receiver_offers_starttls_with_a_certificate(app: Flask, runtime: Runtime, tmp_path: Path) -> None:
    # Reports carry the original's headers (the resident's address): they travel encrypted when
    # the reporting server can, as every major one does when STARTTLS is offered.
    import ssl

    from tests.support.certs import make_pki

    pki = make_pki(tmp_path)
    server = bounce_server(runtime, "127.0.0.1", free_port("127.0.0.1"), str(pki.cert_file), str(pki.key_file))
    server.start()
    try:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("starttls")
            smtp.starttls(context=ssl.create_default_context(cafile=str(pki.ca_file)))
            smtp.ehlo()
            assert smtp.mail("")[0] == 250
            assert smtp.rcpt("postmaster@bounce.city.example.jp")[0] == 550
    finally:
        server.stop()


def test_a_resident_who_confirms_the_same_address_again_gets_mail_again(
        receiver: int, app: Flask, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    # Their mailbox was deleted and made again: the confirmation mail they open proves it works.
    import re

    from hub.models import utcnow
    from tests.api.support import csrf

    contact_id = add_resident(runtime, name="戻った 住民", email=GONE)
    with runtime.session() as s:
        contact = s.get(Contact, contact_id)
        assert contact is not None
        contact.email_bounced_at, contact.email_bounce = utcnow(), "5.1.1 User unknown"
    web = app.test_client()
    web.get("/register")
    assert web.post("/register", data={"csrf_token": csrf(web), "email": GONE, "category": ["bousai"],
                                       "area": [OSHU]}).status_code == 200
    wait_for(lambda: len(sandbox_client.inbox("email", to=GONE)) == 1)
    link = re.search(r"https?://\S+(/register/confirm/[\w.\-]+)", sandbox_client.inbox("email", to=GONE)[0]["text"])
    assert link is not None
    assert web.post(link.group(1), data={"csrf_token": csrf(web)}).status_code == 200
    with runtime.session() as s:
        contact = s.get(Contact, contact_id)
        assert contact is not None and (contact.email_bounced_at, contact.email_bounce) == (None, None)
        cleared = s.scalars(select(AuditLog.detail).where(AuditLog.action == "contact.email_bounce_cleared")).all()
    assert cleared == [{"source": "double_opt_in"}]


def test_an_officer_who_checked_with_the_person_resumes_their_mail(
        receiver: int, app: Flask, runtime: Runtime) -> None:
    from tests.api.support import csrf

    staff_id = bounced_staff(runtime, "防災 四郎", "shiro@city.example.jp")
    viewer = app.test_client()
    login(viewer, "viewer")
    page = viewer.get(f"/contacts/{staff_id}").get_data(as_text=True)
    assert 'id="bounce-note"' in page and 'id="clear-bounce"' not in page, "a viewer cannot change contacts"
    viewer.get(f"/contacts/{staff_id}")
    assert viewer.post(f"/contacts/{staff_id}/clear-bounce", data={"csrf_token": csrf(viewer)}).status_code == 403

    officer = app.test_client()
    login(officer, "admin")
    assert 'id="clear-bounce"' in officer.get(f"/contacts/{staff_id}").get_data(as_text=True)
    done = officer.post(f"/contacts/{staff_id}/clear-bounce", data={"csrf_token": csrf(officer)})
    assert done.status_code == 302
    page = officer.get(f"/contacts/{staff_id}").get_data(as_text=True)
    assert 'id="bounce-note"' not in page and "メールの送信を再開します" in page
    with runtime.session() as s:
        assert s.get(Contact, staff_id).email_bounced_at is None  # type: ignore[union-attr]
        who = s.execute(select(AuditLog.actor, AuditLog.detail)
                        .where(AuditLog.action == "contact.email_bounce_cleared")).all()
    assert [tuple(w) for w in who] == [("admin", {"status": "5.1.1"})]
