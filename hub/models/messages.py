"""Messages (modelled on CAP 1.2: status, msgType, references) and their rendered bodies."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Base, UtcDateTime, utcnow
from hub.models.org import Department, Operator


class Mode(enum.StrEnum):
    ACTUAL = "actual"
    EXERCISE = "exercise"
    TEST = "test"


class MsgType(enum.StrEnum):
    ALERT = "alert"  # 緊急・防災情報: the alerts lane
    NOTICE = "notice"  # everyday お知らせ: the notices lane, behind every alert
    UPDATE = "update"  # 訂正・続報 of an earlier message
    CANCEL = "cancel"  # 取消 of an earlier message


def follows_up(msg_type: str) -> bool:
    """A 訂正/続報/取消 of an earlier message (as opposed to a message of its own)."""
    return msg_type in (MsgType.UPDATE, MsgType.CANCEL)


class MessageState(enum.StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    SCHEDULED = "scheduled"
    QUEUED = "queued"  # delivery rows planned, batches enqueued
    DONE = "done"  # every delivery row terminal
    WITHDRAWN = "withdrawn"  # cancelled before it went out


class Template(Base):
    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category_code: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    channel_bodies: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    variables: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Prepared before they are needed: Hawaii 2018 took 38 minutes to correct for lack of one.
    correction_body: Mapped[str] = mapped_column(Text, default="")
    cancellation_body: Mapped[str] = mapped_column(Text, default="")
    # Reviewed translations by language code (translations/templates/<lang>/<code>.yaml): each holds
    # title, body, channels, correction and cancellation, with the Japanese text's variables.
    translations: Mapped[dict[str, dict[str, Any]]] = mapped_column(JSON, default=dict)


def new_public_id() -> str:
    """The address of a message's public page: 128 random bits, so pages cannot be enumerated."""
    return secrets.token_urlsafe(16)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    overrides: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    audience: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(16), default=Mode.ACTUAL)
    msg_type: Mapped[str] = mapped_column(String(16), default=MsgType.ALERT)
    category_code: Mapped[str | None] = mapped_column(String(32))
    references_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    state: Mapped[str] = mapped_column(String(24), default=MessageState.QUEUED)
    source: Mapped[str] = mapped_column(String(100), default="manual")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    planned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When its recipients' addresses were masked at the end of the retention period (retention.py).
    history_masked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    department: Mapped[Department | None] = relationship()
    created_by: Mapped[Operator | None] = relationship(foreign_keys=[created_by_id])
    approved_by: Mapped[Operator | None] = relationship(foreign_keys=[approved_by_id])
    references: Mapped[Message | None] = relationship(remote_side=[id])
    bodies: Mapped[list[MessageBody]] = relationship(back_populates="message", cascade="all, delete-orphan")

    @property
    def still_planning(self) -> bool:
        """Released to the planner, which has not written all its rows yet (a follow-up waits for it)."""
        return self.planned_at is None and self.state == MessageState.QUEUED


class MessageBody(Base):
    """What a channel actually sends for a message in one language: kept as proof of what was said."""

    __tablename__ = "message_bodies"
    __table_args__ = (UniqueConstraint("message_id", "channel", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8), default="ja")
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)

    message: Mapped[Message] = relationship(back_populates="bodies")
