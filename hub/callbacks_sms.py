"""Text messages residents send to a department's number: Twilio's incoming-message webhook.

The number's "A message comes in" URL in the Twilio console is ``{HUB_PUBLIC_URL}/callbacks/twilio/sms``
(HTTP POST). The post is accepted only with a valid ``X-Twilio-Signature`` (403 otherwise, 400 when
it is not an incoming message, 413 beyond ``HUB_WEBHOOK_MAX_BYTES``) and applied once per
MessageSid: the record that it was seen commits with its effect, so a retried webhook changes
nothing and sends no second reply.

Order: opt-out keywords first (they must always work), then the registration keyword, then the
handlers others register in ``hub.residents.inbound`` (survey answers, …). The reply goes back as
TwiML ``<Message>``, which Twilio sends to the resident from the number they wrote to. A message
nobody handles gets no reply (an empty ``<Response/>``): an unknown text is never answered with a
help message, so two automated senders can never talk to each other forever.
"""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort
from sqlalchemy.orm import Session

from channels.inbound import UserEvent
from hub import callbacks
from hub.residents import optout
from hub.residents.inbound import InboundSms, reply_for
from hub.runtime import Runtime

log = logging.getLogger(__name__)
sms_bp = Blueprint("sms_callbacks", __name__, url_prefix="/callbacks/twilio")

MAX_BODY_CHARS = 1600  # Twilio's longest message


def twiml(reply: str | None) -> Response:
    inner = f"<Message>{escape(reply)}</Message>" if reply else ""
    xml = f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'
    return Response(xml, mimetype="text/xml")


def inbound_sms(form: dict[str, str]) -> InboundSms:
    """The incoming message of a signed post; 400 when it is not one (a status callback, say)."""
    sid, sender, to = form.get("MessageSid") or form.get("SmsSid"), form.get("From"), form.get("To")
    if not sid or not sender or not to or "Body" not in form:
        abort(400)
    return InboundSms(provider_id=sid[:64], from_number=sender.strip(), to_number=to.strip(),
                      body=form["Body"][:MAX_BODY_CHARS])


def answer(session: Session, rt: Runtime, sms: InboundSms) -> str | None:
    for handler in (optout.stop_reply, optout.register_reply):
        reply = handler(session, rt, sms)
        if reply is not None:
            return reply
    return reply_for(session, rt, sms)


@sms_bp.post("/sms")
def incoming_sms() -> Response:
    rt: Runtime = callbacks._runtime()
    _channel, form = callbacks.signed_form(rt, "sms")
    sms = inbound_sms(form)
    event = UserEvent(kind="sms", user_id=sms.from_number, event_id=sms.provider_id)
    with rt.session() as session:
        callbacks.forget_old_events(session)
        if not callbacks.first_time(session, "sms", event):
            return twiml(None)  # applied before: its reply, if any, was sent then
        reply = answer(session, rt, sms)
    log.info("incoming SMS %s: %s", sms.provider_id, "answered" if reply else "no reply")
    return twiml(reply)
