"""The 通常/訓練/試験 rule, applied twice: when a trigger creates a message, and right before it is sent.

Only an ACTUAL item may create a live message; an EXERCISE item creates an exercise message
(【訓練】 first, drill participants only) or nothing, by ``HUB_JMA_EXERCISE_POLICY``; TEST items
never create anything. The second check runs when the dispatcher plans a trigger message's
deliveries (the step right before any provider is called): it reads the status of the stored
telegram again and withdraws the message if its mode does not fit — so a bug between the two
points, or a message edited by hand, cannot turn a drill into a live alert.

The check is a SQLAlchemy ``before_flush`` listener, installed when this module is imported
(the engine and the Celery task module import it), so ``hub.dispatch`` needs no knowledge of
triggers.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session

from hub.models import Delivery, DeliveryState, Message, MessageState, Mode, audit, utcnow
from hub.models.triggers import TriggerTelegram
from triggers.base import Status

log = logging.getLogger(__name__)

EXERCISE_POLICIES = ("exercise", "ignore")
SOURCE_PREFIX = "trigger:"


def mode_for(status: Status | str | None, policy: str = "exercise") -> str | None:
    """The message mode an item of ``status`` may create, or None if it may create nothing."""
    if status == Status.ACTUAL:
        return Mode.ACTUAL
    if status == Status.EXERCISE and policy == "exercise":
        return Mode.EXERCISE
    return None


def ignore_reason(status: Status, policy: str) -> str:
    if status == Status.TEST:
        return "試験電文のため配信しません（Status=試験）"
    if status == Status.EXERCISE:
        return "訓練電文は設定により無視します（HUB_JMA_EXERCISE_POLICY=ignore）"
    return "配信できない電文です"


def _being_planned(message: Message) -> bool:
    history = inspect(message).attrs.planned_at.history
    added = list(history.added or ())
    return bool(added) and added[0] is not None and not any(history.deleted or ())


def expected_mode(session: Session, message: Message) -> str | None:
    """The only mode this trigger message may have, read again from the stored telegram."""
    info: dict[str, Any] = dict((message.meta or {}).get("trigger") or {})
    if info.get("kind") == "alarm":
        return Mode.ACTUAL  # the silence alarm goes to staff; it carries no telegram
    telegram_id = info.get("telegram_id")
    telegram = session.get(TriggerTelegram, int(telegram_id)) if telegram_id else None
    if telegram is None:
        return None
    # The policy was applied when the message was made; here only "may this status be sent at all".
    return mode_for(telegram.status, "exercise")


def _check_planning(session: Session, _context: Any, _instances: Any) -> None:
    for obj in list(session.dirty):
        if not isinstance(obj, Message) or not (obj.source or "").startswith(SOURCE_PREFIX):
            continue
        if not _being_planned(obj):
            continue
        expected = expected_mode(session, obj)
        if obj.mode == expected:
            continue
        log.error("blocked trigger message %s: mode %s, its telegram allows %s", obj.id, obj.mode, expected)
        obj.state = MessageState.WITHDRAWN
        session.execute(
            update(Delivery)
            .where(Delivery.message_id == obj.id, Delivery.state == DeliveryState.PENDING)
            .values(state=DeliveryState.SKIPPED, reason="safety", updated_at=utcnow(),
                    error="電文の種別（通常・訓練・試験）と配信モードが一致しないため送信を止めました")
        )
        audit(session, "safety", "message.blocked", obj, mode=obj.mode, allowed=expected)


def install() -> None:
    if not event.contains(Session, "before_flush", _check_planning):
        event.listen(Session, "before_flush", _check_planning)


install()
