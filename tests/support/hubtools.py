"""Small helpers tests share: send a message the way the front doors do, wait for outcomes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.compose.messages import Composition, approve, create_message
from hub.compose.status import channel_counts
from hub.dispatch.tasks import release
from hub.models import Delivery, MessageState, Operator
from hub.runtime import Runtime

SECOND_PERSON = "test-approver"

ALL_CHANNELS = ["sms", "voice", "email", "line", "x", "rss"]


def second_person(session: Session) -> Operator:
    """An admin who approves what the tests send (the creator is nobody, so anyone else may)."""
    operator = session.scalar(select(Operator).where(Operator.username == SECOND_PERSON))
    if operator is None:
        operator = Operator(username=SECOND_PERSON, display_name="承認 担当", is_admin=True)
        session.add(operator)
        session.flush()
    return operator


def send(runtime: Runtime, *, approved: bool = True, **fields: Any) -> int:
    """Create a message as a front door would; a live one to residents is approved by a second person
    at once unless ``approved`` is False (these tests are about delivery, not about approval)."""
    fields.setdefault("title", "避難情報")
    fields.setdefault("body", "○○地区に避難指示を発令しました。")
    fields.setdefault("channels", ALL_CHANNELS)
    fields.setdefault("audience", "all")
    with runtime.session() as session:
        message = create_message(session, runtime, Composition(**fields), actor="test")
        if approved and message.state == MessageState.AWAITING_APPROVAL:
            approve(session, message, second_person(session))
        message_id, state = message.id, message.state
    release(message_id, state)
    return message_id


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def counts(runtime: Runtime, message_id: int) -> dict[str, dict[str, int]]:
    with runtime.session() as session:
        return channel_counts(session, message_id)


def rows(runtime: Runtime, message_id: int, channel: str | None = None) -> list[Delivery]:
    with runtime.session() as session:
        q = select(Delivery).where(Delivery.message_id == message_id)
        if channel:
            q = q.where(Delivery.channel == channel)
        return list(session.scalars(q.order_by(Delivery.id)))


def public_path(runtime: Runtime, message_id: int) -> str:
    """``/m/<public_id>`` of a message: where its public page would be (if it has one)."""
    from hub.models import Message

    with runtime.session() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return f"/m/{message.public_id}"
