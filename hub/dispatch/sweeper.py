"""The safety net: due scheduled messages, rows of dead workers, batches whose task was lost.

Every worker runs it on a timer of its own (``sweep_interval_seconds``), one at a time through a
lock, so it needs neither the scheduler nor a free place in a long send queue: with the scheduler's
worker dead or thousands of batches queued, a dead worker's rows are still reconciled within one
lease period plus one sweep interval.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from celery import shared_task
from flask import Flask
from sqlalchemy import func, select

from channels.base import DeliveryResult, Outcome, Recipient
from hub.compose.messages import messages_due
from hub.contacts.erasure import mask_settled_follow_ups
from hub.db import get_engine, lock_key
from hub.dispatch import gateways
from hub.dispatch.batches import build_batch, senders_by_gateway
from hub.dispatch.claim import claim_stale_sending
from hub.dispatch.record import Recorder
from hub.dispatch.tasks import (
    can_reconcile,
    enqueue_pending,
    enqueue_planning,
    finish_if_done,
    retry_policy,
    runtime,
)
from hub.models import Delivery, DeliveryState, Message, MessageState
from hub.runtime import Runtime
from hub.runtime.timer import AppTimer

log = logging.getLogger(__name__)

NEVER_REQUESTED = "送信の直前に処理が止まりました（未送信と記録から確認できました）"


def reconcile_stale(rt: Runtime) -> int:
    """Rows a dead worker left in ``sending``: settle what can be known, resend only what never left."""
    owner = rt.lease.worker_id
    with rt.session() as session:
        groups = claim_stale_sending(session, owner, timedelta(seconds=rt.settings.stuck_after_seconds))
    touched: set[int] = set()
    for (message_id, channel_name, batch_no), row_ids in groups.items():
        channel = rt.channel(channel_name)
        with rt.session() as session:
            message = session.get(Message, message_id)
            if message is None:
                continue
            rows = session.execute(
                select(Delivery.id, Delivery.address, Delivery.language, Delivery.contact_id, Delivery.attempts,
                       Delivery.requested_at, Delivery.gateway)
                .where(Delivery.id.in_(row_ids), Delivery.state == DeliveryState.SENDING,
                       Delivery.claimed_by == owner)
            ).all()
            if not rows:
                continue
            recipients = {r.id: Recipient(r.id, r.address, r.language, r.contact_id) for r in rows}
            batch = build_batch(session, message, channel, batch_no, list(recipients.values()),
                                attempt=max(r.attempts for r in rows) + 1, settings=rt.settings)
            senders = senders_by_gateway(message, channel)
            policy = retry_policy(rt, message)
        results: list[DeliveryResult] = []
        if channel.records_each_request():
            # Each request was stamped before it was made: only stamped rows can be in doubt.
            results += [DeliveryResult(r.id, Outcome.NOT_SENT, error=NEVER_REQUESTED)
                        for r in rows if r.requested_at is None]
            in_doubt = [recipients[r.id] for r in rows if r.requested_at is not None]
        else:
            in_doubt = list(recipients.values())
        if in_doubt:
            results += [replace(f, attempted=f.outcome in (Outcome.SENT, Outcome.DELIVERED, Outcome.UNKNOWN))
                        for f in gateways.reconcile(channel, in_doubt, batch, {r.id: r.gateway for r in rows},
                                                    senders)]
        recorder = Recorder(attempts={r.id: r.attempts for r in rows}, owner=owner, policy=policy,
                            can_reconcile=can_reconcile(channel))
        with rt.session() as session:
            recorder.write(session, results)
        log.warning("reconciled %d rows a dead worker left of message %s/%s batch %s: %s", len(rows), message_id,
                    channel_name, batch_no, recorder.counts)
        touched.add(message_id)
    for message_id in touched:
        enqueue_pending(message_id)
    return sum(len(ids) for ids in groups.values())


def sweep_once(rt: Runtime) -> dict[str, int]:
    with rt.session() as session:
        due = messages_due(session)
        unfinished = list(session.scalars(
            select(Message.id).where(Message.state == MessageState.QUEUED, Message.planned_at.is_not(None))
        ))
    for message_id in due:
        enqueue_planning(message_id)
    reconciled = reconcile_stale(rt)
    requeued = sum(enqueue_pending(m, only_stale=True) for m in unfinished)
    for message_id in unfinished:
        finish_if_done(message_id)
    with rt.session() as session:  # erased people's rows that were in a worker's hands
        masked = mask_settled_follow_ups(session)
    return {"planned": len(due), "reconciled": reconciled, "requeued_batches": requeued, "masked": masked}


@shared_task(name="hub.dispatch.sweep")
def sweep() -> dict[str, int]:
    """One sweep now (the workers' timers run it anyway; this is for operators and tests)."""
    return sweep_once(runtime())


@contextmanager
def sweep_lock(rt: Runtime) -> Iterator[bool]:
    """True for the one sweeper of the fleet that may run now (PostgreSQL), or of the machine (SQLite)."""
    engine = get_engine(rt.settings.database_url)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = bool(conn.scalar(select(func.pg_try_advisory_lock(*lock_key("sweep")))))
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(select(func.pg_advisory_unlock(*lock_key("sweep"))))
                    conn.commit()
        return
    path = Path(rt.settings.data_dir).resolve() / "sweep.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class SweepTimer(AppTimer):
    """Runs the sweeper (and other safety nets) every ``interval`` seconds in a worker's background thread."""

    name = "hub-sweeper"

    def __init__(self, app: Flask, interval: float, also: Sequence[Callable[[Runtime], object]] = (),
                 beat: Callable[[Runtime], object] | None = None) -> None:
        super().__init__(app, interval)
        self.also = list(also)
        # Every round, lock or no lock: the node's heartbeat (hub/health/heartbeat.py).
        self.beat = beat

    def tick(self, rt: Runtime) -> None:
        self._beat(rt)
        with sweep_lock(rt) as mine:
            if mine:
                sweep_once(rt)
                for job in self.also:
                    job(rt)

    def _beat(self, rt: Runtime) -> None:
        if self.beat is None:
            return
        try:
            self.beat(rt)
        except Exception:  # a database blip: the watcher allows several missed beats
            log.exception("heartbeat failed; trying again in %.0f s", self.interval)
