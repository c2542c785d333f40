"""Residents' answers to a message's question, from every path: an SMS reply, a LINE button, the
signed answer page. Each path identifies the resident its own way (the number the provider vouches
for, the LINE user id of a signed webhook, the signed link) and ends in :func:`record_answer`.

Importing this module registers the SMS and LINE handlers (hub.app loads it with the answer page).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels.base import POLL_POSTBACK_PREFIX
from channels.inbound import UserEvent
from hub.callbacks import message_handlers, postback_handlers
from hub.compose.audience import RECEIVED_STATES
from hub.models import Contact, Delivery, Message, audit, utcnow
from hub.models.resident_answers import ResidentAnswer
from hub.residents.inbound import InboundSms, sms_handlers
from hub.residents.questions import (
    ANSWERABLE_STATES,
    MAX_HOURS,
    answer_key,
    choice_for,
    is_open,
    label_of,
    question_for,
    stored_question,
)
from hub.runtime import Runtime

log = logging.getLogger(__name__)
MAX_TEXT_ANSWER = 40  # a typed answer is a digit or a label (≤ 20), not a paragraph
# The latest messages looked at for open surveys: far more than a city sends within a survey's window.
RECENT_MESSAGES = 500


@dataclass(frozen=True)
class Recorded:
    key: str
    previous: str | None  # the answer it replaced (None: the first answer)

    @property
    def changed(self) -> bool:
        return self.previous is not None and self.previous != self.key


def record_answer(session: Session, message: Message, contact_id: int, key: str, channel: str,
                  actor: str) -> Recorded:
    """Store ``key`` as the resident's current answer; a later answer replaces the earlier one.

    The caller has checked that the survey is open and the key is one of its choices. Every answer
    that changes something is audited with the one it replaced: that is the answer's history.
    """
    now = utcnow()
    where = (ResidentAnswer.message_id == message.id, ResidentAnswer.contact_id == contact_id)
    row = session.scalar(select(ResidentAnswer).where(*where).with_for_update())
    if row is None:
        try:
            with session.begin_nested():
                session.add(ResidentAnswer(message_id=message.id, contact_id=contact_id, choice_key=key,
                                           channel=channel, answered_at=now, first_answered_at=now, changes=0))
        except IntegrityError:  # the same resident answered on two paths at once: the later one wins
            row = session.scalar(select(ResidentAnswer).where(*where).with_for_update())
        else:
            audit(session, actor, "survey.answer", message, contact=contact_id, choice=key, channel=channel)
            return Recorded(key, None)
    assert row is not None
    previous = row.choice_key
    if previous == key:
        return Recorded(key, previous)  # a double tap or a repeated reply: nothing new
    row.choice_key, row.channel, row.answered_at, row.changes = key, channel, now, row.changes + 1
    audit(session, actor, "survey.answer", message, contact=contact_id, choice=key, previous=previous,
          channel=channel)
    return Recorded(key, previous)


def reached(session: Session, message_id: int, contact_id: int, channel: str | None = None,
            address: str | None = None) -> bool:
    """Whether the message went (or may have gone) to the contact, on ``channel`` at ``address`` if given."""
    query = select(Delivery.id).where(Delivery.message_id == message_id, Delivery.contact_id == contact_id,
                                      Delivery.state.in_(RECEIVED_STATES))
    if channel is not None:
        query = query.where(Delivery.channel == channel)
    if address is not None:
        query = query.where(Delivery.address == address)  # the (message, channel, address) key
    return session.scalar(query.limit(1)) is not None


# -- LINE -------------------------------------------------------------------------------------------

def parse_postback(data: str) -> tuple[int, str] | None:
    """``ans:<message_id>:<key>`` → (message_id, key)."""
    if not data.startswith(POLL_POSTBACK_PREFIX):
        return None
    message_part, _, key = data.removeprefix(POLL_POSTBACK_PREFIX).partition(":")
    if not message_part.isdigit() or len(message_part) > 10 or len(key) != 1:
        return None
    return int(message_part), key


def handle_postback(session: Session, event: UserEvent) -> bool:
    """A survey's quick-reply button pressed on LINE (the webhook's signature is already verified).

    The user id says who answered: the buttons are the same for every recipient of a multicast.
    """
    parsed = parse_postback(event.data or "")
    if parsed is None:
        return (event.data or "").startswith(POLL_POSTBACK_PREFIX)  # ours, but not a button we made
    message_id, key = parsed
    contact = session.scalar(select(Contact).where(Contact.line_user_id == (event.user_id or "")))
    message = session.get(Message, message_id)
    question = stored_question(message) if message is not None else None
    if (contact is None or message is None or question is None
            or not reached(session, message_id, contact.id, "line", event.user_id)):
        log.warning("survey postback for message %s from a LINE user it did not reach", message_id)
        return True
    if not is_open(message):
        log.info("survey postback for message %s after it closed: not counted", message_id)
        return True
    if choice_for(question, key) != key:
        log.warning("survey postback for message %s with an unknown choice", message_id)
        return True
    record_answer(session, message, contact.id, key, "line", actor=f"line:{event.user_id}")
    return True


def handle_line_text(session: Session, event: UserEvent) -> bool:
    """A resident types the answer (「1」, 「はい」) instead of tapping: LINE hides the quick-reply
    buttons once another message arrives. Taken for the latest open survey that reached them on
    LINE; any other text is left to other handlers (no reply here: a push costs quota)."""
    user_id = event.user_id or ""
    contact_id = session.scalar(select(Contact.id).where(Contact.line_user_id == user_id)) if user_id else None
    if contact_id is None or not event.text or len(event.text) > MAX_TEXT_ANSWER:
        return False
    for message in open_surveys(session):
        if reached(session, message.id, contact_id, "line", user_id):
            key = answer_key(message, event.text)
            if key is None:
                return False
            record_answer(session, message, contact_id, key, "line", actor=f"line:{user_id}")
            return True
    return False


if handle_postback not in postback_handlers:
    postback_handlers.append(handle_postback)
if handle_line_text not in message_handlers:
    message_handlers.append(handle_line_text)


# -- SMS --------------------------------------------------------------------------------------------

def open_surveys(session: Session) -> list[Message]:
    """Messages whose question takes answers now, newest first (the messages table is small; the
    question lives in JSON, which SQLite and PostgreSQL query differently, so it is read here)."""
    since = utcnow() - timedelta(hours=MAX_HOURS)
    recent = session.scalars(select(Message).where(Message.created_at >= since,
                                                   Message.state.in_(ANSWERABLE_STATES))
                             .order_by(Message.id.desc()).limit(RECENT_MESSAGES))
    return [m for m in recent if is_open(m)]


def open_sms_survey(session: Session, phone: str) -> tuple[Message, int] | None:
    """The latest message with an open question that reached ``phone`` by SMS, and the contact it
    reached there (one row per number and message, even when a family shares the phone)."""
    for message in open_surveys(session):
        contact_id = session.scalar(
            select(Delivery.contact_id).where(Delivery.message_id == message.id, Delivery.channel == "sms",
                                              Delivery.address == phone, Delivery.state.in_(RECEIVED_STATES)))
        if contact_id is not None:
            return message, contact_id
    return None


REPLIES: dict[str, dict[str, str]] = {
    "ja": {"thanks": "回答を受け付けました（{choice}）。ありがとうございました。",
           "changed": "回答を変更しました（{choice}）。ありがとうございました。",
           "unknown": "1〜{n} の数字で返信してください（{listing}）"},
    "en": {"thanks": "Thank you, your answer was received ({choice}).",
           "changed": "Your answer was changed ({choice}). Thank you.",
           "unknown": "Please reply with a number from 1 to {n} ({listing})"},
}


def _language(session: Session, contact_id: int) -> str:
    return session.scalar(select(Contact.language).where(Contact.id == contact_id)) or "ja"


def sms_answer(session: Session, runtime: Runtime, sms: InboundSms) -> str | None:
    """An SMS reply to a survey: record it and thank, or say how to answer; None when no survey
    of ours is open for this number (the text is then for another handler, or nobody)."""
    found = open_sms_survey(session, sms.from_number)
    if found is None:
        return None
    message, contact_id = found
    language = _language(session, contact_id)
    # The choices as this resident read them; an answer in any language the survey went in counts.
    question = question_for(message, language)
    assert question is not None
    texts = REPLIES["ja" if language.startswith("ja") else "en"]
    key = answer_key(message, sms.body)
    if key is None:
        listing = " ".join(f"{c['key']}:{c['label']}" for c in question["choices"])
        return texts["unknown"].format(n=len(question["choices"]), listing=listing)
    recorded = record_answer(session, message, contact_id, key, "sms", actor=f"sms:{sms.from_number}")
    choice = f"{key}:{label_of(question, key)}"
    return texts["changed" if recorded.changed else "thanks"].format(choice=choice)


if sms_answer not in sms_handlers:
    sms_handlers.append(sms_answer)


def answer_summary(session: Session, message_id: int, contact_id: int) -> dict[str, Any] | None:
    row = session.scalar(select(ResidentAnswer).where(ResidentAnswer.message_id == message_id,
                                                      ResidentAnswer.contact_id == contact_id))
    if row is None:
        return None
    return {"key": row.choice_key, "channel": row.channel, "answered_at": row.answered_at}
