"""Claiming rows before a provider call, so two workers never send the same row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.models import Delivery, DeliveryState, WorkerLease, utcnow


@dataclass(frozen=True)
class ClaimedRow:
    id: int
    address: str
    language: str
    contact_id: int | None
    attempts: int


def claim_batch(session: Session, message_id: int, channel: str, batch_no: int,
                worker_id: str) -> list[ClaimedRow]:
    """Move the batch's due ``pending`` rows to ``sending``; rows another worker holds are skipped."""
    now = utcnow()
    due = (
        select(Delivery.id)
        .where(
            Delivery.message_id == message_id,
            Delivery.channel == channel,
            Delivery.batch_no == batch_no,
            Delivery.state == DeliveryState.PENDING,
            (Delivery.next_attempt_at.is_(None)) | (Delivery.next_attempt_at <= now),
        )
        # PostgreSQL: rows locked by another worker are left to it; SQLite serialises writers anyway.
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(due))
    if not ids:
        return []
    rows = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.state == DeliveryState.PENDING)
        .values(state=DeliveryState.SENDING, claimed_at=now, claimed_by=worker_id, updated_at=now,
                attempts=Delivery.attempts + 1)
        .returning(Delivery.id, Delivery.address, Delivery.language, Delivery.contact_id, Delivery.attempts)
    ).all()
    return [ClaimedRow(*row) for row in rows]


StaleGroups = dict[tuple[int, str, int], list[int]]


def claim_stale_sending(session: Session, older_than: timedelta, worker_id: str,
                        limit: int = 5000) -> StaleGroups:
    """Rows left in ``sending`` by a dead worker: take them over so only one sweeper reconciles them.

    Returns the row ids taken, grouped by (message_id, channel, batch_no).
    """
    now = utcnow()
    cutoff: datetime = now - older_than
    alive = select(WorkerLease.worker_id).where(WorkerLease.expires_at > now)
    stale = (
        select(Delivery.id)
        .where(Delivery.state == DeliveryState.SENDING, Delivery.claimed_at < cutoff,
               Delivery.claimed_by.is_(None) | Delivery.claimed_by.not_in(alive))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(stale))
    groups: StaleGroups = {}
    if not ids:
        return groups
    rows = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.state == DeliveryState.SENDING)
        .values(claimed_at=now, claimed_by=worker_id, updated_at=now)
        .returning(Delivery.id, Delivery.message_id, Delivery.channel, Delivery.batch_no)
    ).all()
    for row_id, message_id, channel, batch_no in rows:
        groups.setdefault((message_id, channel, batch_no), []).append(row_id)
    return groups
