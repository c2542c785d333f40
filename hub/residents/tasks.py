"""Celery tasks of resident registration: LINE answers and registration confirmation e-mails.

Both run in the everyday lane (``hub.notices``): a resident's settings never take a worker slot
an alert needs. They carry what identifies the work only; the database says what to answer.
"""

from __future__ import annotations

import logging
import secrets

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from channels.base import Batch, Outcome, Recipient
from channels.line import LineChannel
from hub.dispatch.lanes import NOTICES
from hub.models import Contact
from hub.residents import line_flow, register
from hub.runtime import Runtime

log = logging.getLogger(__name__)


def _runtime() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


def queue_line_answer(user_id: str, reply_token: str | None, key: str, answer: line_flow.Answer) -> None:
    line_answer.apply_async((user_id, reply_token, key, answer.step, answer.page), queue=NOTICES)


@shared_task(name="hub.residents.line_answer")
def line_answer(user_id: str, reply_token: str | None, key: str, step: str, page: int = 0) -> bool:
    """Answer a follower's follow, button or 「設定」: by reply (free) or, if the reply token is no
    longer accepted (the lane was busy), by a push whose retry key is the event's id."""
    rt = _runtime()
    if step not in line_flow.STEPS:
        return False
    with rt.session() as session:
        contact = session.scalar(select(Contact).where(Contact.line_user_id == user_id))
        if contact is None:
            return False
        content = line_flow.content(session, rt, contact, line_flow.Answer(step, page))
    channel = rt.channel("line")
    assert isinstance(channel, LineChannel)
    if reply_token and channel.reply(reply_token, content):
        return True
    batch = Batch(message_id=0, batch_no=0, recipients=[Recipient(0, user_id)], contents={"ja": content},
                  idempotency_key=f"residents:line:{key or secrets.token_hex(8)}:{step}:{page}")
    [result] = channel.deliver(batch)
    if result.outcome not in (Outcome.SENT, Outcome.DELIVERED):
        log.warning("residents: LINE answer (%s) not sent: %s", step, result.error)
        return False
    return True


def queue_confirmation(request: register.Request) -> None:
    send_confirmation.apply_async((request.email, sorted(request.categories), sorted(request.areas),
                                   request.language, request.locale, request.contact_id), queue=NOTICES)


@shared_task(name="hub.residents.send_confirmation")
def send_confirmation(email: str, categories: list[str], areas: list[str], language: str, locale: str,
                      contact_id: int | None = None) -> bool:
    """The double opt-in e-mail with its signed, expiring confirmation link."""
    rt = _runtime()
    request = register.Request(email, frozenset(categories), frozenset(areas), language, locale, contact_id)
    with rt.session() as session:
        sender, sender_name = register.sender_of(session, rt)
    content = register.confirmation_mail(rt.settings, request, sender_name)
    # Message 0 is never a row of ``messages``; a random row number keeps Message-IDs apart.
    batch = Batch(message_id=0, batch_no=0, recipients=[Recipient(secrets.randbelow(2**48), email)],
                  contents={"ja": content}, sender=sender)
    [result] = rt.channel("email").deliver(batch)
    if result.outcome not in (Outcome.SENT, Outcome.DELIVERED):
        log.warning("residents: registration confirmation not sent: %s", result.error)
        return False
    return True
