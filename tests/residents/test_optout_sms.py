"""A resident texts STOP (停止, 配信停止) to a department's number: no more SMS, confirmed once.

Through the sandbox: the hub sends with the official Twilio SDK, the sandbox posts the signed
incoming-message webhook as Twilio does and delivers the TwiML reply to the resident's inbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask import Flask
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from hub.compose.corrections import follow_up
from hub.compose.messages import approve
from hub.dispatch.tasks import release
from hub.models import AuditLog, Consent, Contact, MessageState, WebhookEvent
from hub.residents import inbound
from hub.residents.inbound import InboundSms
from hub.residents.optout import keyword
from hub.runtime import Runtime
from sandbox import SANDBOX_TWILIO_AUTH_TOKEN, Sandbox, SandboxClient
from sandbox.twilio_inbound import incoming_form
from tests.support.hubtools import rows, second_person, send

PHONE = "+819012340001"
OTHER = "+819012340002"


def _resident(runtime: Runtime, phone: str = PHONE, kind: str = "resident") -> int:
    with runtime.session() as session:
        contact = Contact(kind=kind, name="住民", phone=phone)
        contact.consents.append(Consent(channel="sms", source="csv:test.csv"))
        session.add(contact)
        session.flush()
        return contact.id


def _our_number(sandbox_client: SandboxClient) -> str:
    """The number the resident's alert came from: the one they answer."""
    first = sandbox_client.inbox("sms", to=PHONE)[0]
    number: str = first["from"]
    return number


def _texts_to(sandbox_client: SandboxClient, phone: str) -> list[str]:
    return [item["text"] for item in sandbox_client.inbox("sms", to=phone)]


def test_stop_ends_sms_to_that_number_and_is_confirmed_once(
    app: Flask, runtime: Runtime, sandbox: Sandbox, sandbox_client: SandboxClient
) -> None:
    contact_id = _resident(runtime)
    _resident(runtime, OTHER)
    first = send(runtime, channels=["sms"], title="断水", body="本日14時から断水します。")
    assert {r.address for r in rows(runtime, first, "sms") if r.state in ("sent", "delivered")} == {PHONE, OTHER}
    number = _our_number(sandbox_client)

    stop = sandbox.send_sms(PHONE, number, "停止")
    assert stop["status"] == 200
    [confirmation] = stop["replies"]
    assert confirmation["to"] == PHONE and confirmation["from"] == number
    assert "配信停止を受け付けました" in confirmation["text"]
    # Twilio retries the same webhook (our answer was lost), and the resident, unsure, sends STOP
    # again with full-width letters: nothing is revoked twice and no second confirmation goes out.
    assert sandbox.send_sms(PHONE, number, "停止", sid=stop["sid"])["replies"] == []
    assert sandbox_client.send_sms(PHONE, number, "ＳＴＯＰ")["replies"] == []
    assert sum("配信停止" in text for text in _texts_to(sandbox_client, PHONE)) == 1

    with runtime.session() as session:
        consent = session.scalars(select(Consent).where(Consent.contact_id == contact_id)).one()
        assert consent.revoked_at is not None and consent.revoked_source == "sms:停止"
        entries = session.scalars(select(AuditLog).where(AuditLog.action == "consent.revoked")).all()
        assert [(e.subject_id, e.detail["channel"], e.detail["source"]) for e in entries] == [
            (str(contact_id), "sms", "sms:停止")]
        assert session.scalars(select(WebhookEvent.event_id).where(WebhookEvent.channel == "sms")).all()

    before = len(_texts_to(sandbox_client, PHONE))
    second = send(runtime, channels=["sms"], title="断水の解除", body="断水は解除されました。")
    by_address = {r.address: r for r in rows(runtime, second, "sms")}
    assert (by_address[PHONE].state, by_address[PHONE].reason) == ("skipped", "opted_out")
    assert "停止" in (by_address[PHONE].error or "")
    assert by_address[OTHER].state in ("sent", "delivered")
    assert len(_texts_to(sandbox_client, PHONE)) == before  # nothing more reached that number


def test_a_correction_does_not_reach_a_resident_who_stopped(
    app: Flask, runtime: Runtime, sandbox: Sandbox, sandbox_client: SandboxClient
) -> None:
    _resident(runtime)
    first = send(runtime, channels=["sms"], title="避難指示", body="○○地区に避難指示。")
    sandbox.send_sms(PHONE, _our_number(sandbox_client), "配信停止")
    with runtime.session() as session:
        message = follow_up(session, runtime, first, kind="correction", body="△△地区の誤りでした。", actor="test")
        if message.state == MessageState.AWAITING_APPROVAL:
            approve(session, message, second_person(session))
        correction, state = message.id, message.state
    release(correction, state)
    [row] = rows(runtime, correction, "sms")
    assert (row.state, row.reason) == ("skipped", "opted_out")


@pytest.mark.parametrize("body, expected", [
    ("STOP", "stop"), ("ＳＴＯＰ", "stop"), (" Stop. ", "stop"), ("配信 停止", "配信停止"), ("停止。", "停止"),
    ("ｽﾄｯﾌﾟ", "ストップ"), ("登録！", "登録"), ("1", "1"),
])
def test_keywords_are_read_like_a_person_writes_them(body: str, expected: str) -> None:
    assert keyword(body) == expected


def test_register_keyword_answers_with_the_registration_page(
    app: Flask, runtime: Runtime, sandbox: Sandbox, sandbox_client: SandboxClient
) -> None:
    for word in ("登録", "とうろく", "REGISTER"):
        [reply] = sandbox.send_sms(PHONE, "+815012345678", word)["replies"]
        assert f"{runtime.settings.public_url}/register" in reply["text"]
    assert "Sign up" in reply["text"]  # an English keyword gets English


@pytest.fixture
def echo_handler() -> Iterator[list[InboundSms]]:
    seen: list[InboundSms] = []

    def handler(session: object, runtime: object, sms: InboundSms) -> str | None:
        seen.append(sms)
        return "回答を受け付けました" if sms.body.strip() == "1" else None
    inbound.sms_handlers.append(handler)
    yield seen
    inbound.sms_handlers.remove(handler)


def test_other_texts_go_to_registered_handlers_and_unhandled_ones_get_no_reply(
    app: Flask, runtime: Runtime, sandbox: Sandbox, echo_handler: list[InboundSms]
) -> None:
    _resident(runtime)
    answered = sandbox.send_sms(PHONE, "+815012345678", "1")
    assert [r["text"] for r in answered["replies"]] == ["回答を受け付けました"]
    assert echo_handler[0] == InboundSms(answered["sid"], PHONE, "+815012345678", "1")
    # A text nobody handles is not answered (no help text that two robots could bounce forever).
    assert sandbox.send_sms(PHONE, "+815012345678", "こんにちは")["replies"] == []
    assert sandbox.send_sms(PHONE, "+815012345678", "STOP")["replies"] != []
    assert len(echo_handler) == 2  # the opt-out keyword never reached the other handlers


def _post(runtime: Runtime, form: list[tuple[str, str]], signature: str | None) -> requests.Response:
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    return requests.post(f"{runtime.settings.public_url}/callbacks/twilio/sms", data=form, headers=headers,
                         timeout=10)


def test_unsigned_forged_and_malformed_posts_change_nothing(app: Flask, runtime: Runtime) -> None:
    contact_id = _resident(runtime)
    url = f"{runtime.settings.public_url}/callbacks/twilio/sms"
    form = incoming_form("SM" + "0" * 32, PHONE, "+815012345678", "STOP")
    assert _post(runtime, form, None).status_code == 403
    assert _post(runtime, form, "forged").status_code == 403
    wrong_key = RequestValidator("not-our-token").compute_signature(url, dict(form))
    assert _post(runtime, form, wrong_key).status_code == 403
    # Signed with our token, but not an incoming message (no From): 400, not a 500.
    partial = [(k, v) for k, v in form if k != "From"]
    signed = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN).compute_signature(url, dict(partial))
    assert _post(runtime, partial, signed).status_code == 400
    with runtime.session() as session:
        assert session.scalars(select(Consent.revoked_at).where(Consent.contact_id == contact_id)).one() is None
    # The same form, properly signed, is applied and answered with TwiML.
    good = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN).compute_signature(url, dict(form))
    answer = _post(runtime, form, good)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/xml")
    assert "<Response><Message>" in answer.text


def test_a_body_over_the_cap_is_refused(app: Flask, runtime: Runtime) -> None:
    form = incoming_form("SM" + "1" * 32, PHONE, "+815012345678", "x" * (runtime.settings.webhook_max_bytes + 10))
    assert _post(runtime, form, "anything").status_code in (403, 413)
    url = f"{runtime.settings.public_url}/callbacks/twilio/sms"
    signed = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN).compute_signature(url, dict(form))
    assert _post(runtime, form, signed).status_code == 413


def test_stop_from_a_staff_phone_keeps_work_messages(
    app: Flask, runtime: Runtime, sandbox: Sandbox, sandbox_client: SandboxClient
) -> None:
    """Staff are reached as part of their work, with or without consent: STOP records their wish
    (and confirms it) but a department's call to its staff still goes out."""
    _resident(runtime, kind="staff")
    sandbox.send_sms(PHONE, "+815012345678", "STOP")
    message_id = send(runtime, channels=["sms"])
    assert rows(runtime, message_id, "sms")[0].state in ("sent", "delivered")


def test_two_stops_at_the_same_moment_confirm_once(app: Flask, runtime: Runtime, sandbox: Sandbox) -> None:
    """The resident taps send twice: two messages (two MessageSids) arrive together."""
    _resident(runtime)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda word: sandbox.send_sms(PHONE, "+815012345678", word),
                                ["STOP", "停止", "配信停止", "ストップ"]))
    assert [r["status"] for r in results] == [200] * 4
    assert sum(len(r["replies"]) for r in results) == 1
