"""A survey answered with the keypad on the call that carried the message: Twilio posts the key
to ``{HUB_PUBLIC_URL}/callbacks/twilio/poll-answer?d=<delivery id>`` (the ``<Gather action>`` of
that resident's own call, ``channels.voice.VoiceChannel.poll_twiml``).

The post is accepted only with a valid ``X-Twilio-Signature`` (403 otherwise), and only for a call
of that delivery row (its CallSid, once recorded); the key counts like any answer
(:func:`hub.residents.answers.record_answer`, channel ``voice``), while the survey is open. The
reply is TwiML: thanks and goodbye, the keys again for a key that is no choice, or that the survey
is closed.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.keypad import words_for
from channels.voice import VoiceChannel
from hub import callbacks
from hub.models import Delivery, Message, MessageBody
from hub.residents.answers import record_answer
from hub.residents.questions import choice_for, is_open, label_of, poll_from, question_for
from hub.runtime import Runtime

log = logging.getLogger(__name__)
keypad_bp = Blueprint("keypad_callbacks", __name__, url_prefix="/callbacks/twilio")


def _xml(twiml: str) -> Response:
    return Response(twiml, mimetype="text/xml")


def spoken_language(session: Session, delivery: Delivery) -> str:
    """The language the call spoke: the resident's when the message had a voice text in it."""
    if delivery.language == "ja":
        return "ja"
    found = session.scalar(select(MessageBody.id).where(
        MessageBody.message_id == delivery.message_id, MessageBody.channel == "voice",
        MessageBody.language == delivery.language).limit(1))
    return delivery.language if found is not None else "ja"


@keypad_bp.post("/poll-answer")
def poll_answer() -> Response:
    rt: Runtime = callbacks._runtime()
    delivery_id = callbacks.delivery_id_arg()
    channel, form = callbacks.signed_form(rt, "voice")
    if not isinstance(channel, VoiceChannel):
        abort(404)
    digits = channel.keypad_answer(form).digits
    with rt.session() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.channel != "voice" or delivery.contact_id is None:
            abort(404)
        call = form.get("CallSid", "")
        if delivery.provider_id and call != delivery.provider_id:
            log.warning("survey key for delivery %s from another call", delivery_id)
            abort(404)
        message = session.get(Message, delivery.message_id)
        language = spoken_language(session, delivery)
        question = question_for(message, language) if message is not None else None
        if message is None or question is None:
            abort(404)
        words = words_for(language)
        if not is_open(message):
            return _xml(channel.poll_reply(words.closed, language))
        key = choice_for(question, digits)
        poll = poll_from(question, message.id)
        assert poll is not None
        if key is None:  # a key that is no choice: the keys once more
            return _xml(channel.poll_reply("", language, ask_again=(poll, channel.callback_url("poll-answer",
                                                                                             delivery_id))))
        record_answer(session, message, delivery.contact_id, key, "voice", actor=f"voice:{delivery.address}")
        return _xml(channel.poll_reply(words.thanks.format(label=label_of(question, key)), language))
