"""Provider callbacks: Twilio status callbacks and the LINE webhook. Unsigned requests change nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, request
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from channels.base import Outcome
from channels.inbound import (
    MalformedPost,
    ReceivesUserEvents,
    ReportsStatus,
    SignatureError,
    StatusEvent,
    UserEvent,
)
from hub.db import rowcount
from hub.models import Consent, Contact, ContactKind, Delivery, DeliveryState, audit, utcnow
from hub.models.base import table_of
from hub.runtime import Runtime

log = logging.getLogger(__name__)
callbacks_bp = Blueprint("callbacks", __name__, url_prefix="/callbacks")

# Later features (surveys, acknowledgements) register here to receive postback events.
PostbackHandler = Callable[[Session, UserEvent], bool]
postback_handlers: list[PostbackHandler] = []

_FINAL_STATE = {Outcome.DELIVERED: DeliveryState.DELIVERED, Outcome.FAILED: DeliveryState.FAILED}


def _runtime() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


def signed_form(rt: Runtime, channel_name: str) -> tuple[ReportsStatus, dict[str, str]]:
    """The channel and the posted form, or 403 when the post is not signed with our secret."""
    channel = rt.channel(channel_name)
    if not isinstance(channel, ReportsStatus):
        abort(404)
    # Validate against the URL we handed the provider (public_url), not the one a proxy rewrote.
    url = rt.settings.public_url.rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode()
    form = request.form.to_dict()
    if not channel.verify_request(url, form, request.headers.get("X-Twilio-Signature", "")):
        log.warning("rejected a %s post with a bad signature: %s", channel_name, request.path)
        abort(403)
    return channel, form


def signed_status_post(rt: Runtime, channel_name: str) -> StatusEvent:
    """The status event of a provider post, or 403 when it is not signed with our secret."""
    channel, form = signed_form(rt, channel_name)
    return channel.status_event(form)


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


def _apply_final(delivery_id: int, event: StatusEvent) -> None:
    final = _FINAL_STATE.get(event.outcome) if event.outcome else None
    error_code, provider_status = event.error_code, event.status
    params: dict[str, Any] = {"b_id": delivery_id, "b_sid": event.provider_id, "b_status": provider_status,
                              "b_now": utcnow()}
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
            log.info("status callback changed nothing for delivery %s / %s (%s)", delivery_id,
                     event.provider_id, provider_status)


def _delivery_id() -> int:
    try:
        return int(request.args["d"])
    except (KeyError, ValueError):
        abort(400)


# The paths are the ones the channels hand to their provider with each request.
@callbacks_bp.post("/twilio/status")
def twilio_message_status() -> tuple[str, int]:
    _apply_final(_delivery_id(), signed_status_post(_runtime(), "sms"))
    return "", 204


@callbacks_bp.post("/twilio/call-status")
def twilio_call_status() -> tuple[str, int]:
    _apply_final(_delivery_id(), signed_status_post(_runtime(), "voice"))
    return "", 204


@callbacks_bp.post("/<channel_name>/webhook")
def user_events_webhook(channel_name: str) -> tuple[str, int]:
    rt = _runtime()
    if channel_name not in rt.available_channels():
        abort(404)
    channel = rt.channel(channel_name)
    if not isinstance(channel, ReceivesUserEvents):
        abort(404)
    try:
        events = channel.parse_webhook(request.get_data(as_text=True), request.headers.get("X-Line-Signature", ""))
    except SignatureError as exc:
        log.warning("rejected a %s webhook: %s", channel_name, exc)
        abort(403)
    except MalformedPost as exc:  # signed, but not a webhook: say so instead of a 500
        log.warning("rejected a malformed %s webhook: %s", channel_name, exc)
        abort(400)
    with rt.session() as session:
        for event in events:
            _handle_user_event(session, channel_name, event)
    return "", 200


def _handle_user_event(session: Session, channel: str, event: UserEvent) -> None:
    kind, user_id = event.kind, event.user_id
    address_field = getattr(Contact, _runtime().channel(channel).address_field or "line_user_id")
    if kind == "follow" and user_id:
        contact = session.scalar(select(Contact).where(address_field == user_id))
        if contact is None:
            contact = Contact(kind=ContactKind.RESIDENT, name="")
            setattr(contact, address_field.key, user_id)
            session.add(contact)
            session.flush()
        contact.active = True
        session.add(Consent(contact=contact, channel=channel, source=f"{channel}:follow"))
        audit(session, channel, "consent.given", contact, channel=channel)
    elif kind == "unfollow" and user_id:
        contact = session.scalar(select(Contact).where(address_field == user_id))
        if contact is not None:
            for consent in contact.consents:
                if consent.channel == channel and consent.revoked_at is None:
                    consent.revoked_at = utcnow()
            audit(session, channel, "consent.revoked", contact, channel=channel)
    elif kind == "postback" and not any(handler(session, event) for handler in postback_handlers):
        log.info("unhandled %s postback from %s", channel, user_id)
