"""Signed callbacks only: a forged Twilio status or LINE event is refused and changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator

from hub.app import create_app
from hub.config import Settings
from hub.models import AuditLog, Consent, Contact, Delivery, WebhookEvent, utcnow
from hub.runtime import Runtime
from sandbox import SANDBOX_LINE_CHANNEL_SECRET, SANDBOX_TWILIO_AUTH_TOKEN, SandboxClient
from tests.support.hubtools import rows, send, wait_for


def _sent_sms_row(runtime: Runtime, sandbox_client: SandboxClient) -> Delivery:
    with runtime.session() as session:
        session.add(Contact(kind="staff", name="職員", phone="+819099990000"))
    message_id = send(runtime, channels=["sms"])
    return rows(runtime, message_id, "sms")[0]


def test_forged_twilio_status_is_rejected_and_changes_nothing(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    row = _sent_sms_row(runtime, sandbox_client)
    wait_for(lambda: rows(runtime, row.message_id, "sms")[0].state == "delivered")
    before = rows(runtime, row.message_id, "sms")[0]
    form = {"MessageSid": row.provider_id or "", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    response = app.test_client().post(f"/callbacks/twilio/status?d={row.id}", data=form,
                                      headers={"X-Twilio-Signature": "forged"})
    assert response.status_code == 403
    after = rows(runtime, row.message_id, "sms")[0]
    assert (after.state, after.error_code, after.updated_at) == (before.state, before.error_code, before.updated_at)


def test_signed_twilio_failure_is_recorded(app: Flask, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    row = _sent_sms_row(runtime, sandbox_client)
    wait_for(lambda: rows(runtime, row.message_id, "sms")[0].state == "delivered")
    with runtime.session() as session:  # as if the carrier's verdict were still outstanding
        session.query(Delivery).filter_by(id=row.id).update({"state": "sent"})
    url = f"{runtime.settings.public_url}/callbacks/twilio/status?d={row.id}"
    form = {"MessageSid": row.provider_id or "", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    signature = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN).compute_signature(url, form)
    response = app.test_client().post(f"/callbacks/twilio/status?d={row.id}", data=form,
                                      headers={"X-Twilio-Signature": signature})
    assert response.status_code == 204
    after = rows(runtime, row.message_id, "sms")[0]
    assert (after.state, after.error_code) == ("failed", "30003")


@pytest.mark.parametrize("path", ["status", "call-status", "poll-answer"])
@pytest.mark.parametrize("d", ["x", "0", "-1", str(2**63), str(10**30)])
def test_a_delivery_number_no_row_can_have_is_a_400_even_signed(app: Flask, runtime: Runtime, path: str,
                                                                 d: str) -> None:
    """Signed or not, never a 500 — nor a number that would fail the bulk status update for everyone."""
    url = f"{runtime.settings.public_url}/callbacks/twilio/{path}?d={d}"
    form = {"MessageSid": "SM" + "0" * 32, "CallSid": "CA" + "0" * 32, "MessageStatus": "delivered",
            "CallStatus": "completed", "Digits": "1"}
    signature = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN).compute_signature(url, form)
    response = app.test_client().post(f"/callbacks/twilio/{path}?d={d}", data=form,
                                      headers={"X-Twilio-Signature": signature})
    assert response.status_code == 400


def _line_post(app: Flask, events: list[dict[str, object]], secret: str) -> int:
    body = json.dumps({"destination": "Uxxxxxxxx", "events": events})
    signature = base64.b64encode(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()).decode()
    return app.test_client().post("/callbacks/line/webhook", data=body, content_type="application/json",
                                  headers={"X-Line-Signature": signature}).status_code


def _event(kind: str, user: str) -> dict[str, object]:
    extra: dict[str, object] = {"follow": {"isUnblocked": False}} if kind == "follow" else {}
    return {**extra, "type": kind, "mode": "active", "timestamp": 1700000000000, "webhookEventId": f"01H{kind}{user[-6:]}",
            "deliveryContext": {"isRedelivery": False}, "replyToken": "0f3779fba3b349968c5d07db31eab56f",
            "source": {"type": "user", "userId": user}}


def test_line_follow_and_unfollow_record_consent(app: Flask, runtime: Runtime) -> None:
    user = "U" + "a" * 32
    assert _line_post(app, [_event("follow", user)], SANDBOX_LINE_CHANNEL_SECRET) == 200
    with runtime.session() as session:
        contact = session.query(Contact).filter_by(line_user_id=user).one()
        assert [(c.channel, c.revoked_at) for c in contact.consents] == [("line", None)]
    assert _line_post(app, [_event("unfollow", user)], SANDBOX_LINE_CHANNEL_SECRET) == 200
    with runtime.session() as session:
        consent = session.query(Consent).one()
        assert consent.revoked_at is not None and consent.revoked_source == "line:unfollow"
        revoked = session.query(AuditLog).filter_by(action="consent.revoked").one()
        assert (revoked.subject_id, revoked.detail["source"]) == (str(consent.contact_id), "line:unfollow")


def test_events_the_sdk_cannot_read_do_not_cost_the_follows_beside_them(app: Flask, runtime: Runtime) -> None:
    """LINE adds event types, modes and source types over time; a follow beside them still counts."""
    first, second, third = ("U" + c * 32 for c in "cde")
    newer_mode = {**_event("follow", first), "mode": "dormant"}
    newer_source = {**_event("follow", second), "source": {"type": "channel", "userId": second}}
    unknown = {**_event("reaction", "U" + "f" * 32), "reaction": {"emoji": "👍"}}
    no_timestamp = {k: v for k, v in _event("message", "U" + "0" * 32).items() if k != "timestamp"}
    events = [newer_mode, unknown, no_timestamp, newer_source, _event("follow", third)]
    assert _line_post(app, events, SANDBOX_LINE_CHANNEL_SECRET) == 200
    with runtime.session() as session:
        followed = {c.line_user_id for c in session.query(Contact) if c.consents}
    assert followed == {first, second, third}


def test_forged_line_webhook_is_rejected(app: Flask, runtime: Runtime) -> None:
    assert _line_post(app, [_event("follow", "U" + "b" * 32)], "not-the-secret") == 403
    with runtime.session() as session:
        assert session.query(Contact).count() == 0


def test_sandbox_emits_signed_line_events_the_hub_accepts(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    user = "U" + "c" * 32
    sandbox_client.emit_line_event(_event("follow", user))

    def registered() -> bool:
        with runtime.session() as session:
            return session.query(Contact).filter_by(line_user_id=user).count() == 1
    wait_for(registered, timeout=5)


def test_without_a_configured_secret_nothing_is_accepted(tmp_path: Path) -> None:
    """Signatures are checked with the settings' token and secret; an empty key proves nothing."""
    app = create_app(Settings(data_dir=str(tmp_path), public_url="http://127.0.0.1:9").resolved())
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    signature = RequestValidator("").compute_signature("http://127.0.0.1:9/callbacks/twilio/status?d=1", form)
    response = app.test_client().post("/callbacks/twilio/status?d=1", data=form,
                                      headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert _line_post(app, [_event("follow", "U" + "b" * 32)], "") == 403


def _consents(runtime: Runtime, user: str) -> int:
    with runtime.session() as session:
        return session.query(Consent).join(Contact).filter(Contact.line_user_id == user).count()


def test_a_redelivered_line_event_is_applied_once(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    user = "U" + "d" * 32
    follow = {**_event("follow", user), "webhookEventId": "01JREDELIVERY0000000000001"}
    assert sandbox_client.emit_line_event(follow)["status"] == 200
    # LINE sends it again, marked as a redelivery (our first answer was lost), and then a proxy
    # replays the very same post: neither adds a second consent or audit entry.
    again = {**follow, "deliveryContext": {"isRedelivery": True}}
    assert sandbox_client.emit_line_event(again)["status"] == 200
    assert _line_post(app, [follow], SANDBOX_LINE_CHANNEL_SECRET) == 200
    assert _consents(runtime, user) == 1
    with runtime.session() as session:
        assert session.query(AuditLog).filter_by(action="consent.given").count() == 1
    # A new event (its own id) from the same person is applied.
    second = {**follow, "webhookEventId": "01JREDELIVERY0000000000002"}
    assert _line_post(app, [second], SANDBOX_LINE_CHANNEL_SECRET) == 200
    assert _consents(runtime, user) == 2


def test_a_redelivery_of_an_event_never_applied_is_applied(app: Flask, runtime: Runtime) -> None:
    """isRedelivery alone is no reason to skip: the first delivery may never have reached us."""
    user = "U" + "e" * 32
    event = {**_event("follow", user), "deliveryContext": {"isRedelivery": True}}
    assert _line_post(app, [event], SANDBOX_LINE_CHANNEL_SECRET) == 200
    assert _consents(runtime, user) == 1


def test_seen_event_ids_expire(app: Flask, runtime: Runtime) -> None:
    user = "U" + "f" * 32
    event = _event("follow", user)
    assert _line_post(app, [event], SANDBOX_LINE_CHANNEL_SECRET) == 200
    with runtime.session() as session:
        session.query(WebhookEvent).update({"seen_at": utcnow() - timedelta(days=8)})
    assert _line_post(app, [_event("unfollow", user)], SANDBOX_LINE_CHANNEL_SECRET) == 200
    with runtime.session() as session:
        assert [e.event_id for e in session.query(WebhookEvent)] == [_event("unfollow", user)["webhookEventId"]]
