"""Provider webhook events already applied, so a redelivered event changes nothing twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, BigId, UtcDateTime, utcnow


class WebhookEvent(Base):
    """One row per (channel, provider event id), written in the transaction that applies the event:
    the event's effect and the record that it happened commit together or not at all."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("channel", "event_id"), Index("ix_webhook_events_seen_at", "seen_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
