"""Provider webhook events already applied, so a redelivered event changes nothing twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import PROVIDER_ID_MAX, Base, BigId, UtcDateTime, utcnow


class WebhookEvent(Base):
    """One row per (channel, provider event id), written in the transaction that applies the event:
    the event's effect and the record that it happened commit together or not at all."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("channel", "event_id"), Index("ix_webhook_events_seen_at", "seen_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class QueuedStatus(Base):
    """A signed provider status callback, accepted and waiting to be applied (append-only).

    The callback endpoint only inserts here and answers; ``hub/statuses.py`` applies the queue to
    ``deliveries`` in bulk and deletes what it applied in the same transaction, so an applier that
    dies half-way leaves every event queued.
    """

    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)  # arrival order
    channel: Mapped[str] = mapped_column(String(16))
    delivery_id: Mapped[int] = mapped_column(BigId)  # no foreign key: a stray id is ignored when applied
    provider_id: Mapped[str] = mapped_column(String(PROVIDER_ID_MAX))
    status: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(16))  # delivered | failed; None: accepted only
    error_code: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
