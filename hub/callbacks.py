"""Provider callbacks: Twilio status callbacks and the LINE webhook. Unsigned requests change nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qsl

from flask import Blueprint, abort, current_app, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels.inbound import (
    MalformedPost,
    ReceivesUserEvents,
    ReportsStatus,
    SignatureError,
    StatusEvent,
    UserEvent,
)
from hub import statuses
from hub.models import Consent, Contact, ContactKind, WebhookEvent, audit, utcnow
from hub.models.base import MAX_BIG_ID
from hub.residents.optout import revoke
from hub.runtime import Runtime

log = logging.getLogger(__name__)
callbacks_bp = Blueprint("callbacks", __name__, url_prefix="/callbacks")

# Later features (surveys, acknowledgements) register here to receive postback events.
PostbackHandler = Callable[[Session, UserEvent], bool]
postback_handlers: list[PostbackHandler] = []
# Text messages a person writes to the account (True: handled), and what follows a follow (run
# after its consent is recorded, e.g. the registration welcome in hub/residents/line_flow.py).
message_handlers: list[PostbackHandler] = []
FollowHandler = Callable[[Session, UserEvent, Contact], None]
follow_handlers: list[FollowHandler] = []

SEEN_EVENTS_KEPT = timedelta(days=7)
MAX_FORM_FIELDS = 200  # a Twilio status callback or Gather post carries a few dozen


def _runtime() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


def capped_body(rt: Runtime) -> bytes:
    """The raw body of a provider post, at most ``webhook_max_bytes`` (413 beyond, before reading
    it: a declared length over the cap is refused unread, an undeclared one stops at the cap)."""
    cap = rt.settings.webhook_max_bytes
    # One byte more than the cap: a streamed body is cut there silently, so a body that reaches it
    # is known to be too big.
    request.max_content_length = cap + 1
    body = request.get_data(cache=True)
    if len(body) > cap:
        abort(413)
    return body


def _form_of(raw: bytes) -> dict[str, str]:
    # Parsed by us from the capped bytes, never through request.form, so nothing bigger than the
    # cap is ever parsed; the first value of a repeated field wins, as with request.form.to_dict().
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        abort(400)
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def signed_form(rt: Runtime, channel_name: str) -> tuple[ReportsStatus, dict[str, str]]:
    """The channel and the posted form, or 403 when the post is not signed with our secret."""
    channel = rt.channel(channel_name)
    if not isinstance(channel, ReportsStatus):
        abort(404)
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        log.warning("rejected an unsigned %s post: %s", channel_name, request.path)
        abort(403)
    # Validate against the URL we handed the provider (public_url), not the one a proxy rewrote.
    url = rt.settings.public_url.rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode()
    form = _form_of(capped_body(rt))
    if not channel.verify_request(url, form, signature):
        log.warning("rejected a %s post with a bad signature: %s", channel_name, request.path)
        abort(403)
    return channel, form


def signed_status_post(rt: Runtime, channel_name: str) -> StatusEvent:
    """The status event of a provider post, or 403 when it is not signed with our secret."""
    channel, form = signed_form(rt, channel_name)
    return channel.status_event(form)


def delivery_id_arg() -> int:
    """The ``?d=`` a channel put in the URL it handed the provider: a delivery row's id, or 400.

    Bounded to PostgreSQL's BIGINT: a larger number in the bulk status update would fail it whole.
    """
    try:
        delivery_id = int(request.args["d"])
    except (KeyError, ValueError):
        abort(400)
    if not 0 < delivery_id <= MAX_BIG_ID:
        abort(400)
    return delivery_id


# The paths are the ones the channels hand to their provider with each request.
# Two callbacks per SMS make these the hottest path of a big send: they only verify, queue and
# answer; the queue is applied in bulk (hub/statuses.py says who applies it, and when).
@callbacks_bp.post("/twilio/status")
def twilio_message_status() -> tuple[str, int]:
    rt, delivery_id = _runtime(), delivery_id_arg()
    statuses.enqueue(rt, "sms", delivery_id, signed_status_post(rt, "sms"))
    return "", 204


@callbacks_bp.post("/twilio/call-status")
def twilio_call_status() -> tuple[str, int]:
    rt, delivery_id = _runtime(), delivery_id_arg()
    statuses.enqueue(rt, "voice", delivery_id, signed_status_post(rt, "voice"))
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
        body = capped_body(rt).decode("utf-8", "replace")
        events = channel.parse_webhook(body, request.headers.get("X-Line-Signature", ""))
    except SignatureError as exc:
        log.warning("rejected a %s webhook: %s", channel_name, exc)
        abort(403)
    except MalformedPost as exc:  # signed, but not a webhook: say so instead of a 500
        log.warning("rejected a malformed %s webhook: %s", channel_name, exc)
        abort(400)
    with rt.session() as session:
        forget_old_events(session)
        for event in events:
            if first_time(session, channel_name, event):
                _handle_user_event(session, channel_name, event)
    return "", 200


def first_time(session: Session, channel: str, event: UserEvent) -> bool:
    """Record the event's id; False when it was applied before (a redelivery, or a duplicate post).

    The id is written in the transaction that applies the event, so the effect and the record of
    it commit together; a concurrent post of the same id waits on the unique key and then skips.
    """
    if not event.event_id:
        return True  # nothing to recognise it by (LINE always sends one)
    try:
        with session.begin_nested():
            session.add(WebhookEvent(channel=channel, event_id=event.event_id[:64]))
    except IntegrityError:
        log.info("%s event %s already applied%s: skipped", channel, event.event_id,
                 " (redelivery)" if event.redelivery else "")
        return False
    return True


def forget_old_events(session: Session) -> None:
    # LINE redelivers for a limited time (well under a day); a week of ids is plenty and keeps the
    # table small. One indexed delete per webhook post.
    session.execute(delete(WebhookEvent).where(WebhookEvent.seen_at < utcnow() - SEEN_EVENTS_KEPT))


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
        for handler in follow_handlers:
            handler(session, event, contact)
    elif kind == "unfollow" and user_id:
        # A block is an opt-out like any other: dated, with its source, audited per contact.
        revoke(session, address_field == user_id, channel, f"{channel}:unfollow", actor=channel)
    elif kind == "postback" and not any(handler(session, event) for handler in postback_handlers):
        log.info("unhandled %s postback from %s", channel, user_id)
    elif kind == "message" and event.text is not None \
            and not any(handler(session, event) for handler in message_handlers):
        log.debug("unhandled %s text message from %s", channel, user_id)
