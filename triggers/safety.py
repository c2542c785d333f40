"""The 通常/訓練/試験 rule, applied twice: when a trigger creates a message, and right before it is sent.

Only an ACTUAL item may create a live message; an EXERCISE item creates an exercise message
(【訓練】 first, drill participants only) or nothing, by ``HUB_JMA_EXERCISE_POLICY``; TEST items
never create anything. The second check runs when the dispatcher plans a trigger message's
deliveries (the step right before any provider is called): it reads the status of the stored
telegram again and withdraws the message if its mode does not fit — so a bug between the two
points, or a message edited by hand, cannot turn a drill into a live alert.

The app factory registers the check explicitly (:func:`install`) with
``hub.dispatch.planning.register_pre_send_check``, so ``hub.dispatch`` needs no knowledge of triggers.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from hub.dispatch.planning import register_pre_send_check
from hub.models import Message, Mode
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


def check_trigger_message(session: Session, message: Message) -> str | None:
    """Called by the dispatcher right before a message is planned: None lets it go."""
    if not (message.source or "").startswith(SOURCE_PREFIX):
        return None
    expected = expected_mode(session, message)
    if message.mode == expected:
        return None
    return (f"電文の種別（通常・訓練・試験）と配信モードが一致しないため送信を止めました"
            f"（モード {message.mode}、電文が許すもの {expected or 'なし'}）")


def install() -> None:
    """Called by the app factory, so every web and worker process checks before it sends."""
    register_pre_send_check(check_trigger_message)
