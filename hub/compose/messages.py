"""Creating, approving and withdrawing messages: the operations every front door calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from channels.base import Draft, Rendered
from hub.compose.audience import Audience, require_usable
from hub.compose.public import message_is_public, page_url
from hub.db import rowcount
from hub.models import (
    Category,
    Delivery,
    DeliveryState,
    Department,
    Message,
    MessageBody,
    MessageState,
    Mode,
    MsgType,
    Operator,
    audit,
    utcnow,
)
from hub.runtime import Runtime

ALERT_CATEGORIES = frozenset({"bousai"})


class ComposeError(ValueError):
    """The message cannot be sent as written; ``problems`` lists what to fix, per channel."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        self.problems = problems
        lines = [f"{ch}: {p}" for ch, ps in problems.items() for p in ps]
        super().__init__("送信できません:\n" + "\n".join(lines))


@dataclass
class Composition:
    title: str
    body: str
    channels: list[str]
    audience: str
    mode: str = Mode.ACTUAL
    msg_type: str = MsgType.ALERT
    category_code: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    references_id: int | None = None
    scheduled_at: datetime | None = None
    department_id: int | None = None
    source: str = "manual"
    update_label: str = "訂正"


def needs_second_person(c: Composition) -> bool:
    """A live free-text alert is checked by a second person (the Hawaii 2018 lesson)."""
    return c.mode == Mode.ACTUAL and c.source == "manual" and c.category_code in ALERT_CATEGORIES


def preview(runtime: Runtime, c: Composition, message_id: int | None = None,
            public_id: str | None = None) -> dict[str, Rendered]:
    """Render every chosen channel, so the composer can show limits and problems before sending.

    ``public_id``: the message's public page, linked from the text (only public messages have one).
    """
    unknown = [ch for ch in c.channels if ch not in runtime.available_channels()]
    if unknown:
        raise ComposeError({ch: ["このチャネルはありません"] for ch in unknown})
    link = page_url(runtime.settings, public_id) if public_id else None
    rendered = {}
    for name in c.channels:
        draft = Draft(
            title=c.title, body=c.body, mode=c.mode, msg_type=c.msg_type, override=c.overrides.get(name),
            link=link, message_id=message_id, update_label=c.update_label,
        )
        rendered[name] = runtime.channel(name).render(draft)
    return rendered


def create_message(session: Session, runtime: Runtime, c: Composition, created_by: Operator | None = None,
                   actor: str = "system") -> Message:
    """Validate, store the message and its rendered bodies. The caller commits, then calls :func:`release`."""
    if not c.channels:
        raise ComposeError({"*": ["チャネルを1つ以上選んでください"]})
    if not c.title.strip() and not c.body.strip():
        raise ComposeError({"*": ["件名か本文を入力してください"]})
    audience = Audience.parse(c.audience)
    if c.source == "manual":  # what a person composes now; never a rule's or a follow-up's
        require_usable(session, audience)
        _require_enabled(session, c)
    message = Message(
        title=c.title, body=c.body, overrides=c.overrides, channels=list(dict.fromkeys(c.channels)),
        audience=c.audience, mode=c.mode, msg_type=c.msg_type, category_code=c.category_code,
        references_id=c.references_id, scheduled_at=c.scheduled_at, department_id=c.department_id,
        source=c.source, created_by=created_by, meta={"update_label": c.update_label},
    )
    session.add(message)
    session.flush()
    rendered = preview(runtime, c, message.id, message.public_id if message_is_public(message) else None)
    problems = {ch: list(r.errors) for ch, r in rendered.items() if r.errors}
    if problems:
        raise ComposeError(problems)
    for ch, r in rendered.items():
        session.add(MessageBody(message=message, channel=ch, language="ja", subject=r.subject, text=r.text,
                                html=r.html))
    if needs_second_person(c):
        message.state = MessageState.AWAITING_APPROVAL
    elif c.scheduled_at and c.scheduled_at > utcnow():
        message.state = MessageState.SCHEDULED
    else:
        message.state = MessageState.QUEUED
    audit(session, actor, "message.create", message, channels=message.channels, audience=c.audience,
          mode=c.mode, msg_type=c.msg_type, state=message.state,
          warnings={ch: list(r.warnings) for ch, r in rendered.items() if r.warnings})
    return message


def _require_enabled(session: Session, c: Composition) -> None:
    # The CLI hands codes over unchecked; the API and web composer already refused these with a field.
    if c.category_code is not None:
        category = session.scalar(select(Category).where(Category.code == c.category_code))
        if category is None or category.disabled_at is not None:
            raise ComposeError({"category": [f"分類「{c.category_code}」は登録されていないか、無効です"]})
    if c.department_id is not None:
        department = session.get(Department, c.department_id)
        if department is None or department.disabled_at is not None:
            raise ComposeError({"department": ["この部署は無効になっているため送信できません"]})


class ApprovalError(PermissionError):
    pass


def approve(session: Session, message: Message, approver: Operator) -> None:
    if message.state != MessageState.AWAITING_APPROVAL:
        raise ApprovalError("このメッセージは承認待ちではありません")
    if message.created_by_id is not None and message.created_by_id == approver.id:
        raise ApprovalError("作成者本人は承認できません。別の担当者が確認してください")
    message.approved_by = approver
    due = message.scheduled_at and message.scheduled_at > utcnow()
    message.state = MessageState.SCHEDULED if due else MessageState.QUEUED
    audit(session, approver.username, "message.approve", message)


def withdraw(session: Session, message: Message, actor: str, reason: str) -> int:
    """Stop whatever of ``message`` has not gone out yet; returns the rows withdrawn."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.message_id == message.id, Delivery.state == DeliveryState.PENDING)
        .values(state=DeliveryState.SKIPPED, reason="withdrawn", error=f"取り下げ: {reason}", updated_at=utcnow())
    )
    if message.state in {MessageState.AWAITING_APPROVAL, MessageState.SCHEDULED}:
        message.state = MessageState.WITHDRAWN
    audit(session, actor, "message.withdraw", message, reason=reason, rows=rowcount(result))
    return rowcount(result)


def messages_due(session: Session) -> list[int]:
    """Queued messages not yet planned, and scheduled ones whose time has come."""
    now = utcnow()
    q = select(Message.id).where(
        Message.planned_at.is_(None),
        (Message.state == MessageState.QUEUED)
        | ((Message.state == MessageState.SCHEDULED) & (Message.scheduled_at <= now)),
    )
    return list(session.scalars(q))
