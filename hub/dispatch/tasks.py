"""Celery tasks. Each takes ids, reads the truth from the database, and is safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import exists, select, update

from channels.base import DeliveryResult, Outcome, Recipient
from hub.compose.messages import messages_due
from hub.compose.planning import blocking_reason, plan_deliveries
from hub.dispatch.batches import build_batch, non_exercise_contacts
from hub.dispatch.claim import claim_batch, claim_stale_sending
from hub.dispatch.leases import OwnershipLost
from hub.dispatch.record import Recorder
from hub.models import Delivery, DeliveryState, Message, MessageState, audit, utcnow
from hub.runtime import Runtime

log = logging.getLogger(__name__)


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


@shared_task(name="hub.dispatch.plan_message")
def plan_message(message_id: int) -> dict[str, int]:
    rt = runtime()
    with rt.session() as session:
        message = session.get(Message, message_id, with_for_update=True)
        if message is None or message.planned_at is not None:
            return {}
        due = message.state == MessageState.QUEUED or (
            message.state == MessageState.SCHEDULED and message.scheduled_at is not None
            and message.scheduled_at <= utcnow()
        )
        if not due:
            return {}
        blocked = blocking_reason(session, message)
        if blocked:
            log.error("message %s stopped before sending: %s", message_id, blocked)
            message.state = MessageState.WITHDRAWN
            audit(session, "safety", "message.blocked", message, reason=blocked, mode=message.mode)
            return {}
        counts = plan_deliveries(session, rt, message)
        message.state = MessageState.QUEUED
    enqueue_pending(message_id)
    finish_if_done(message_id)
    return counts


def enqueue_pending(message_id: int, only_stale: bool = False) -> int:
    """Enqueue one task per batch that still has pending rows; returns how many were enqueued."""
    rt = runtime()
    with rt.session() as session:
        q = select(Delivery.channel, Delivery.batch_no).where(
            Delivery.message_id == message_id, Delivery.state == DeliveryState.PENDING
        )
        if only_stale:
            now = utcnow()
            q = q.where(
                (Delivery.next_attempt_at <= now)
                | (Delivery.next_attempt_at.is_(None)
                   & (Delivery.updated_at < now - timedelta(seconds=rt.settings.stale_after_seconds)))
            )
        groups = sorted({(c, b) for c, b in session.execute(q.distinct())})
        if only_stale and groups:
            # Re-stamp so the next sweep does not enqueue the same backlog again while it waits.
            session.execute(
                update(Delivery)
                .where(Delivery.message_id == message_id, Delivery.state == DeliveryState.PENDING)
                .values(updated_at=utcnow())
            )
    for channel, batch_no in groups:
        send_batch.delay(message_id, channel, batch_no)
    return len(groups)


@shared_task(name="hub.dispatch.send_batch")
def send_batch(message_id: int, channel_name: str, batch_no: int) -> dict[str, int]:
    rt = runtime()
    with rt.session() as session:
        message = session.get(Message, message_id)
        if message is None or message.state == MessageState.WITHDRAWN:
            return {}
        owner = rt.lease.worker_id
        rows = claim_batch(session, message_id, channel_name, batch_no, owner)
        if not rows:
            return {}
        blocked = non_exercise_contacts(session, message, [r.contact_id for r in rows])
        recipients = [Recipient(r.id, r.address, r.language, r.contact_id) for r in rows]
        batch = build_batch(session, message, channel_name, batch_no,
                            [r for r in recipients if r.contact_id not in blocked],
                            attempt=max(r.attempts for r in rows))
    recorder = Recorder(attempts={r.id: r.attempts for r in rows}, max_attempts=rt.settings.max_attempts,
                        owner=owner)

    def flush(results: list[DeliveryResult]) -> None:
        with rt.session() as s:
            recorder.write(s, results)

    if blocked:
        flush([DeliveryResult(r.delivery_id, Outcome.SKIPPED, reason="exercise_only",
                              error="訓練対象ではないため送信しません")
               for r in recipients if r.contact_id in blocked])
    if batch.recipients:
        try:
            rt.channel(channel_name).deliver(batch, on_progress=flush)
        except OwnershipLost:
            log.error("batch %s/%s/%s was taken over by the sweeper; stopped sending it", message_id,
                      channel_name, batch_no)
            return recorder.counts
    if recorder.retry_in is not None:
        send_batch.apply_async((message_id, channel_name, batch_no), countdown=recorder.retry_in)
    finish_if_done(message_id)
    return recorder.counts


def finish_if_done(message_id: int) -> bool:
    rt = runtime()
    with rt.session() as session:
        busy = session.scalar(select(exists().where(
            Delivery.message_id == message_id,
            Delivery.state.in_([DeliveryState.PENDING, DeliveryState.SENDING]),
        )))
        if busy:
            return False
        session.execute(
            update(Message).where(Message.id == message_id, Message.state == MessageState.QUEUED,
                                  Message.planned_at.is_not(None))
            .values(state=MessageState.DONE)
        )
    return True


def reconcile_stale() -> int:
    """Ask providers about rows a dead worker left in ``sending``; resend only what was not accepted."""
    rt = runtime()
    with rt.session() as session:
        owner = rt.lease.worker_id
        groups = claim_stale_sending(session, timedelta(seconds=rt.settings.stale_after_seconds), owner)
    touched: set[int] = set()
    for (message_id, channel_name, batch_no), row_ids in groups.items():
        with rt.session() as session:
            message = session.get(Message, message_id)
            if message is None:
                continue
            rows = session.execute(
                select(Delivery.id, Delivery.address, Delivery.language, Delivery.contact_id, Delivery.attempts,
                       Delivery.claimed_at)
                .where(Delivery.id.in_(row_ids), Delivery.state == DeliveryState.SENDING)
            ).all()
            recipients = [Recipient(r.id, r.address, r.language, r.contact_id) for r in rows]
            if not recipients:
                continue
            batch = build_batch(session, message, channel_name, batch_no, recipients,
                                attempt=max(r.attempts for r in rows))
        results = rt.channel(channel_name).reconcile(recipients, batch)
        recorder = Recorder(attempts={r.id: r.attempts for r in rows}, max_attempts=rt.settings.max_attempts,
                            owner=owner)
        with rt.session() as session:
            recorder.write(session, results)
        log.warning("reconciled %d stale rows of message %s/%s batch %s: %s", len(rows), message_id,
                    channel_name, batch_no, recorder.counts)
        touched.add(message_id)
    for message_id in touched:
        enqueue_pending(message_id)
    return sum(len(ids) for ids in groups.values())


@shared_task(name="hub.dispatch.sweep")
def sweep() -> dict[str, int]:
    """Periodic safety net: due messages, rows of dead workers, retries whose task was lost."""
    rt = runtime()
    with rt.session() as session:
        due = messages_due(session)
        unfinished = list(session.scalars(
            select(Message.id).where(Message.state == MessageState.QUEUED, Message.planned_at.is_not(None))
        ))
    for message_id in due:
        plan_message.delay(message_id)
    reconciled = reconcile_stale()
    requeued = sum(enqueue_pending(m, only_stale=True) for m in unfinished)
    for message_id in unfinished:
        finish_if_done(message_id)
    return {"planned": len(due), "reconciled": reconciled, "requeued_batches": requeued}


def release(message_id: int, state: str) -> None:
    """Call after the message's transaction committed: a worker must find the row it is told about."""
    if state == MessageState.QUEUED:
        plan_message.delay(message_id)
