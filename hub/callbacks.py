"""Provider callbacks: Twilio status callbacks and the LINE webhook. Unsigned requests change nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, request
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from hub.db import rowcount
from hub.models import Consent, Contact, ContactKind, Delivery, DeliveryState, audit, utcnow
from hub.models.base import table_of
from hub.runtime import Runtime

log = logging.getLogger(__name__)
callbacks_bp = Blueprint("callbacks", __name__, url_prefix="/callbacks")

# Later features (surveys, acknowledgements) register here to receive LINE postback events.
PostbackHandler = Callable[[Session, Any], bool]
postback_handlers: list[PostbackHandler] = []

_SMS_FINAL = {"delivered": DeliveryState.DELIVERED, "undelivered": DeliveryState.FAILED,
              "failed": DeliveryState.FAILED}
_CALL_FINAL = {"completed": DeliveryState.DELIVERED, "busy": DeliveryState.FAILED,
               "no-answer": DeliveryState.FAILED, "failed": DeliveryState.FAILED,
               "canceled": DeliveryState.FAILED}


def _runtime() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


def _verify_twilio(rt: Runtime) -> None:
    # Validate against the URL we handed to Twilio (public_url), not the one a proxy rewrote.
    url = rt.settings.public_url.rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode()
    signature = request.headers.get("X-Twilio-Signature", "")
    token = rt.settings.twilio_auth_token  # without one, no signature proves anything
    if not token or not RequestValidator(token).validate(url, request.form.to_dict(), signature):
        log.warning("rejected Twilio callback with a bad signature: %s", request.path)
        abort(403)


# Callbacks arrive two per SMS, so this is the hottest path of a big send: three prepared Core
# statements (building ORM statements per request cost more than executing them).
_T = table_of(Delivery)
_OURS = (_T.c.id == bindparam("b_id")) & (_T.c.provider_id.is_(None) | (_T.c.provider_id == bindparam("b_sid")))
_COMMON: dict[str, Any] = {"provider_id": bindparam("b_sid"), "provider_status": bindparam("b_status"),
           "updated_at": bindparam("b_now")}
# "sent"/"ringing" etc. only confirm acceptance: they never downgrade a final state.
# A row being checked after a lost answer is settled by the provider's own word.
_ACCEPTED = update(_T).where(_OURS, _T.c.state.in_([DeliveryState.SENDING, DeliveryState.CHECKING,
                                                    DeliveryState.SENT])).values(
    state=DeliveryState.SENT, sent_at=bindparam("b_now"), **_COMMON)
_SETTLEABLE = [DeliveryState.SENDING, DeliveryState.CHECKING, DeliveryState.SENT, DeliveryState.UNKNOWN]
_DELIVERED = update(_T).where(_OURS, _T.c.state.in_(_SETTLEABLE)).values(
    state=DeliveryState.DELIVERED, delivered_at=bindparam("b_now"), **_COMMON)
_FAILED = update(_T).where(_OURS, _T.c.state.in_(_SETTLEABLE)).values(
    state=DeliveryState.FAILED, error_code=bindparam("b_code"), error=bindparam("b_error"), **_COMMON)


def _apply_final(delivery_id: int, sid: str, final: DeliveryState | None, error_code: str | None,
                 provider_status: str) -> None:
    params: dict[str, Any] = {"b_id": delivery_id, "b_sid": sid, "b_status": provider_status, "b_now": utcnow()}
    if final is None:
        stmt = _ACCEPTED
    elif final == DeliveryState.DELIVERED:
        stmt = _DELIVERED
    else:
        stmt = _FAILED
        params["b_code"] = error_code
        params["b_error"] = f"通信事業者が配信できませんでした（{provider_status}, code {error_code or '-'}）"
    with _runtime().session() as session:
        if rowcount(session.connection().execute(stmt, params)) == 0:
            log.info("status callback changed nothing for delivery %s / %s (%s)", delivery_id, sid,
                     provider_status)


def _delivery_id() -> int:
    try:
        return int(request.args["d"])
    except (KeyError, ValueError):
        abort(400)


@callbacks_bp.post("/twilio/status")
def twilio_message_status() -> tuple[str, int]:
    _verify_twilio(_runtime())
    status = request.form.get("MessageStatus", "")
    _apply_final(_delivery_id(), request.form.get("MessageSid", ""), _SMS_FINAL.get(status),
                 request.form.get("ErrorCode"), status)
    return "", 204


@callbacks_bp.post("/twilio/call-status")
def twilio_call_status() -> tuple[str, int]:
    _verify_twilio(_runtime())
    status = request.form.get("CallStatus", "")
    _apply_final(_delivery_id(), request.form.get("CallSid", ""), _CALL_FINAL.get(status),
                 request.form.get("ErrorCode"), status)
    for hook in call_status_hooks:
        hook(_delivery_id(), status, request.form.to_dict())
    return "", 204


call_status_hooks: list[Callable[[int, str, dict[str, str]], None]] = []


@callbacks_bp.post("/line/webhook")
def line_webhook() -> tuple[str, int]:
    from linebot.v3.exceptions import InvalidSignatureError
    from linebot.v3.webhook import WebhookParser

    rt = _runtime()
    secret = rt.settings.line_channel_secret
    if not secret:  # without one, no signature proves anything
        log.warning("rejected LINE webhook: no channel secret configured (HUB_LINE_CHANNEL_SECRET)")
        abort(403)
    body = request.get_data(as_text=True)
    try:
        events = WebhookParser(secret).parse(body, request.headers.get("X-Line-Signature", ""))
    except InvalidSignatureError:
        log.warning("rejected LINE webhook with a bad signature")
        abort(403)
    with rt.session() as session:
        for event in events:
            _handle_line_event(session, event)
    return "", 200


def _handle_line_event(session: Session, event: Any) -> None:
    kind = getattr(event, "type", "")
    user_id = getattr(getattr(event, "source", None), "user_id", None)
    if kind == "follow" and user_id:
        contact = session.scalar(select(Contact).where(Contact.line_user_id == user_id))
        if contact is None:
            contact = Contact(kind=ContactKind.RESIDENT, name="", line_user_id=user_id)
            session.add(contact)
            session.flush()
        contact.active = True
        session.add(Consent(contact=contact, channel="line", source="line:follow"))
        audit(session, "line", "consent.given", contact, channel="line")
    elif kind == "unfollow" and user_id:
        contact = session.scalar(select(Contact).where(Contact.line_user_id == user_id))
        if contact is not None:
            for consent in contact.consents:
                if consent.channel == "line" and consent.revoked_at is None:
                    consent.revoked_at = utcnow()
            audit(session, "line", "consent.revoked", contact, channel="line")
    elif kind == "postback" and not any(handler(session, event) for handler in postback_handlers):
        log.info("unhandled LINE postback from %s", user_id)
