"""Claiming rows before a provider call, so two workers never send the same row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.db import lock_key
from hub.models import Delivery, DeliveryState, WorkerLease, utcnow

CLAIMABLE = (DeliveryState.PENDING, DeliveryState.CHECKING)


@dataclass(frozen=True)
class ClaimedRow:
    id: int
    address: str
    language: str
    contact_id: int | None
    attempts: int  # provider requests made for the row so far
    gateway: str | None  # the gateway its last request went through (channels with several)
    checking: bool  # a request may have reached the provider: ask it before sending again


def _batch_lock_taken(session: Session, message_id: int, channel: str, batch_no: int) -> bool:
    """PostgreSQL: one claimer per batch at a time, so a batch (one LINE request) is never split.

    SKIP LOCKED alone lets two claimers racing on one batch each take part of it; a retried
    request must carry exactly the rows it carried before. SQLite serialises writers anyway.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(*lock_key("batch", message_id, channel,
                                                                                batch_no)))))


def claim_batch(session: Session, message_id: int, channel: str, batch_no: int,
                worker_id: str) -> list[ClaimedRow]:
    """Move the batch's due ``pending`` and ``checking`` rows to ``sending``.

    Claiming uses no attempt: an attempt is counted only when a request carrying the row is made.
    """
    if not _batch_lock_taken(session, message_id, channel, batch_no):
        return []
    now = utcnow()
    due = (
        select(Delivery.id, Delivery.state)
        .where(
            Delivery.message_id == message_id,
            Delivery.channel == channel,
            Delivery.batch_no == batch_no,
            Delivery.state.in_(CLAIMABLE),
            (Delivery.next_attempt_at.is_(None)) | (Delivery.next_attempt_at <= now),
        )
        # No SKIP LOCKED here: the batch lock already keeps other claimers out, and skipping rows
        # another transaction briefly holds (a sweeper's re-stamp) would split the batch — and a
        # LINE request whose rows are split is no longer the request its retry key stands for.
        .with_for_update()
    )
    before = {row_id: state for row_id, state in session.execute(due)}
    if not before:
        return []
    rows = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(before)), Delivery.state.in_(CLAIMABLE))
        .values(state=DeliveryState.SENDING, claimed_at=now, claimed_by=worker_id, updated_at=now,
                requested_at=None)
        .returning(Delivery.id, Delivery.address, Delivery.language, Delivery.contact_id, Delivery.attempts,
                   Delivery.gateway)
    ).all()
    # RETURNING comes in whatever order PostgreSQL's update visited the rows; requests go in the
    # order the audience was planned, so a batch sends the same way on every database and every try.
    in_plan_order = sorted(rows, key=lambda row: row[0])
    return [ClaimedRow(*row, checking=before[row[0]] == DeliveryState.CHECKING) for row in in_plan_order]


StaleGroups = dict[tuple[int, str, int], list[int]]


def claim_stale_sending(session: Session, worker_id: str, stuck_after: timedelta,
                        limit: int = 5000) -> StaleGroups:
    """Rows left in ``sending`` by a dead worker (its lease lapsed), handed over by a worker that
    could not finish them (``claimed_by`` NULL), or held far longer than any batch takes
    (``stuck_after``): take them over for reconciling.

    Returns the row ids taken, grouped by (message_id, channel, batch_no).
    """
    now = utcnow()
    alive = select(WorkerLease.worker_id).where(WorkerLease.expires_at > now)
    stale = (
        select(Delivery.id)
        .where(Delivery.state == DeliveryState.SENDING,
               Delivery.claimed_by.is_(None) | Delivery.claimed_by.not_in(alive)
               | (Delivery.claimed_at < now - stuck_after))
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
