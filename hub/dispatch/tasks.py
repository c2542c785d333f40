"""Celery tasks. Each takes ids, reads the truth from the database, and is safe to run twice."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

from celery import shared_task
from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from channels.base import Capability, Channel, DeliveryResult, Outcome, Recipient, skip_message
from hub.compose.messages import keep_quiet
from hub.contacts.erasure import ERASED_REASON, mask_when_settled
from hub.dispatch import gateways
from hub.dispatch.batches import build_batch, held_back, senders_by_gateway
from hub.dispatch.claim import CLAIMABLE, claim_batch
from hub.dispatch.lanes import lane_for
from hub.dispatch.night import night_hold, resumed_at, wait_for_morning
from hub.dispatch.planning import PlanCursor, PlannedPage, blocking_reason, plan_page, released_in_order
from hub.dispatch.record import Recorder
from hub.dispatch.retry import RetryPolicy
from hub.models import Delivery, DeliveryState, Message, MessageState, audit, utcnow
from hub.relay import clock
from hub.runtime import Runtime
from hub.runtime.leases import DatabaseAway, OwnershipLost
from hub.runtime.ratelimit import waiting_budget

log = logging.getLogger(__name__)

BUSY_STATES = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.CHECKING)
DATABASE_PATIENCE = 30.0  # seconds a worker keeps trying to record outcomes through a database blip
PLANNING_SLICE = 5.0  # seconds one planning task runs before it hands the lane on and queues itself again
T = TypeVar("T")


def through_blips(action: Callable[[], T], patience: float = DATABASE_PATIENCE) -> T:
    """Run a database write, trying again while the database is briefly away.

    Results already obtained from a provider must not be lost to a failover or a restart.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            return action()
        except DBAPIError as exc:
            if time.monotonic() >= deadline:
                raise DatabaseAway(f"the database stayed away for {patience:.0f}s: {exc}") from exc
            log.warning("database unavailable (%s); trying again", type(exc.orig).__name__)
            time.sleep(0.5)


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


@shared_task(name="hub.dispatch.plan_message")
def plan_message(message_id: int) -> dict[str, int]:
    """Plan the message page by page, each page's batches queued as soon as it is committed."""
    rt = runtime()
    counts: dict[str, int] = {}
    started = time.monotonic()
    while True:
        # Locked: another planner is writing a page (the sweeper queues one for every message not
        # yet planned); it carries on, and this task must not hold a worker slot waiting for it.
        step = _plan_step(rt, message_id, lock={"skip_locked": True})
        if step is None:
            return counts
        lane, page = step
        if page is None:
            # A follow-up reaches whom the original reached: wait until all of them are known.
            plan_message.apply_async((message_id,), countdown=1.0, queue=lane)
            return counts
        for channel, n in page.counts.items():
            counts[channel] = counts.get(channel, 0) + n
        for channel, batch_no in page.batches:
            send_batch.apply_async((message_id, channel, batch_no), queue=lane)
        if page.done:
            break
        if time.monotonic() - started > PLANNING_SLICE:
            plan_message.apply_async((message_id,), queue=lane)  # others in the lane get a turn
            return counts
    finish_if_done(message_id)
    return counts


def _plan_step(rt: Runtime, message_id: int, lock: bool | dict[str, bool]) -> tuple[str, PlannedPage | None] | None:
    """Write the message's next page: (its lane, the page), (lane, None) while its original is still
    being planned, or None when there is nothing (more) to plan."""
    with rt.session() as session:
        message = session.get(Message, message_id, with_for_update=lock)
        if message is None or message.planned_at is not None or message.state == MessageState.WITHDRAWN:
            return None
        lane = lane_for(message.msg_type)
        if PlanCursor.of(message).pages == 0 and not _may_start(session, rt, message):
            return None
        if _original_still_planning(session, message):
            return lane, None
        page = plan_page(session, rt, message)
        message.state = MessageState.QUEUED
    return lane, page


def _may_start(session: Session, rt: Runtime, message: Message) -> bool:
    now = clock.now()
    due = message.state == MessageState.QUEUED or (
        message.state == MessageState.SCHEDULED and message.scheduled_at is not None
        and message.scheduled_at <= now
    )
    if not due:
        return False
    if keep_quiet(message, rt.settings, now):
        # Due inside the quiet hours after all (workers were down until night, the window changed):
        # an everyday notice is never sent late into the night; it waits for the morning.
        message.state = MessageState.SCHEDULED
        audit(session, "system", "message.quiet_hours", message, until=(message.meta or {})["quiet"]["until"])
        return False
    blocked = blocking_reason(session, message)
    if blocked:
        log.error("message %s stopped before sending: %s", message.id, blocked)
        message.state = MessageState.WITHDRAWN
        audit(session, "safety", "message.blocked", message, reason=blocked, mode=message.mode)
        return False
    return True


def _original_still_planning(session: Session, message: Message) -> bool:
    if message.references_id is None or not message.audience.startswith("message:"):
        return False
    original = session.get(Message, message.references_id)
    return original is not None and original.still_planning


def plan_here(message_id: int) -> bool:
    """Plan every page of the message in this process, queueing nothing; False if there was nothing to plan.

    The engine alarm uses it: when no worker is alive, an alarm planned by a queued task never goes.
    """
    rt = runtime()
    planned = False
    while (step := _plan_step(rt, message_id, lock=True)) is not None and step[1] is not None:
        planned = True
        if step[1].done:
            break
    return planned


def enqueue_pending(message_id: int, only_stale: bool = False) -> int:
    """Enqueue one task per batch that still has rows to send or check; returns how many.

    ``only_stale``: just the batches whose task should have run a while ago and evidently did not
    (a broker restart loses its queue; the database still knows).
    """
    rt = runtime()
    with rt.session() as session:
        lane = lane_for(session.scalar(select(Message.msg_type).where(Message.id == message_id)) or "")
        q = select(Delivery.channel, Delivery.batch_no).where(
            Delivery.message_id == message_id, Delivery.state.in_(CLAIMABLE)
        )
        now = utcnow()
        # Due rows are queued once more and re-stamped, then left alone for stale_after_seconds.
        # A row waiting for a later time (a provider's Retry-After, a backoff, the morning) is not
        # stale: it is queued again once that time has passed.
        overdue = (Delivery.next_attempt_at < now) | (
            Delivery.next_attempt_at.is_(None)
            & (Delivery.updated_at < now - timedelta(seconds=rt.settings.stale_after_seconds)))
        if only_stale:
            q = q.where(overdue)
        groups = released_in_order((c, b) for c, b in session.execute(q.distinct()))
        if only_stale and groups:
            # Re-stamp so the next sweep does not enqueue the same backlog again while it waits.
            # Rows a claimer holds are left alone: bookkeeping must never make a claim wait or deadlock.
            free = (select(Delivery.id)
                    .where(Delivery.message_id == message_id, Delivery.state.in_(CLAIMABLE), overdue)
                    .with_for_update(skip_locked=True))
            session.execute(update(Delivery).where(Delivery.id.in_(free.scalar_subquery()))
                            .values(updated_at=now, next_attempt_at=None))
    for channel, batch_no in groups:
        send_batch.apply_async((message_id, channel, batch_no), queue=lane)
    return len(groups)


def retry_policy(rt: Runtime, message: Message) -> RetryPolicy:
    started = message.planned_at or utcnow()
    morning = resumed_at(message)  # a notice paused for the night keeps its retries in the morning
    if morning is not None and morning > started:
        started = morning
    return RetryPolicy(max_attempts=rt.settings.max_attempts,
                       deadline=started + timedelta(seconds=rt.settings.retry_deadline_seconds),
                       check_after=rt.settings.check_after_seconds,
                       base_delay=rt.settings.retry_base_seconds)


def can_reconcile(channel: Channel) -> bool:
    return bool(channel.capabilities & Capability.RECONCILE)


@shared_task(name="hub.dispatch.send_batch")
def send_batch(message_id: int, channel_name: str, batch_no: int) -> dict[str, int]:
    rt = runtime()
    channel = rt.channel(channel_name)
    with rt.session() as session:
        message = session.get(Message, message_id)
        if message is None or message.state == MessageState.WITHDRAWN:
            return {}
        night = night_hold(rt.settings, message)
        if night is not None:  # a notice still going when the quiet hours begin: the rest waits
            if waiting := wait_for_morning(session, message, channel_name, batch_no, night):
                log.info("message %s/%s batch %s: %d rows wait for the end of the quiet hours", message_id,
                         channel_name, batch_no, waiting)
            return {}
        owner = rt.lease.worker_id
        rows = claim_batch(session, message_id, channel_name, batch_no, owner)
        if not rows:
            return {}
        blocked = held_back(session, message, [r.contact_id for r in rows], channel.name)
        if erased := [r.id for r in rows if r.contact_id is not None and blocked.get(r.contact_id) == ERASED_REASON]:
            mask_when_settled(session, erased)  # the sweeper masks them once skipped
        recipients = [Recipient(r.id, r.address, r.language, r.contact_id) for r in rows]
        batch = build_batch(session, message, channel, batch_no,
                            [r for r in recipients if r.contact_id not in blocked],
                            attempt=max(r.attempts for r in rows) + 1, settings=rt.settings)
        senders = senders_by_gateway(message, channel)
        department = message.department
        policy = retry_policy(rt, message)
        lane = lane_for(message.msg_type)
    recorder = Recorder(attempts={r.id: r.attempts for r in rows}, owner=owner, policy=policy,
                        can_reconcile=can_reconcile(channel))

    def progress(results: list[DeliveryResult], requesting: Sequence[int] = ()) -> None:
        def write() -> None:
            with rt.session() as s:
                recorder.write(s, results)
                if requesting:
                    recorder.mark_requested(s, requesting)
        through_blips(write)

    checking = {r.id for r in rows if r.checking}
    try:
        if blocked:
            progress([DeliveryResult(r.delivery_id, Outcome.SKIPPED, reason=blocked[r.contact_id],
                                     error=skip_message(blocked[r.contact_id]))
                      for r in recipients if r.contact_id in blocked])
        if checking:
            # Ask first about rows whose last answer was lost; send again only what never arrived.
            in_doubt = [r for r in batch.recipients if r.delivery_id in checking]
            # Each row is asked of the gateway it was requested through, whatever that gateway's
            # circuit says; if it cannot answer, the row stays in doubt (checking) and waits.
            found = gateways.reconcile(channel, in_doubt, batch, {r.id: r.gateway for r in rows}, senders)
            progress([f for f in found if f.outcome != Outcome.NOT_SENT])
            resend = {f.delivery_id for f in found if f.outcome == Outcome.NOT_SENT}
            batch = replace(batch, recipients=[r for r in batch.recipients
                                               if r.delivery_id not in checking or r.delivery_id in resend])
        if batch.recipients:
            multi = gateways.gateways_of(channel)
            route: str | None = None
            if multi is not None:
                # New requests go through the department's gateway, or its partner while its circuit
                # is open; written on the rows first, so whatever happens next is asked of that one.
                route = gateways.choose(rt, multi, department)
                batch = replace(batch, gateway=route, sender=senders.get(route, batch.sender))
            ids, used = [r.delivery_id for r in batch.recipients], channel.sender_used(batch)
            if route is not None or used is not None:
                through_blips(lambda: _stamp(rt, ids, route, owner, used))
            with waiting_budget(rt.settings.rate_wait_max_seconds):
                channel.deliver(batch, on_progress=progress)
    except OwnershipLost:
        log.error("batch %s/%s/%s was taken over by the sweeper; stopped sending it", message_id,
                  channel_name, batch_no)
        return recorder.counts
    except BaseException:
        # Rows we hold must not wait for this (living) worker to die: hand them to the sweeper,
        # which settles them as after a crash (asks the provider / resends what never left).
        log.exception("batch %s/%s/%s stopped; its unrecorded rows go to the sweeper", message_id,
                      channel_name, batch_no)
        release_claim(rt, [r.id for r in rows], owner)
        raise
    if recorder.retry_in is not None:
        schedule_retry(message_id, channel_name, batch_no, recorder.retry_in, lane)
    finish_if_done(message_id)
    return recorder.counts


def _stamp(rt: Runtime, ids: list[int], gateway: str | None, owner: str, sender: str | None) -> None:
    with rt.session() as session:
        gateways.stamp(session, ids, gateway, owner, sender)


def release_claim(rt: Runtime, row_ids: list[int], owner: str) -> None:
    def release() -> None:
        with rt.session() as session:
            session.execute(update(Delivery).where(
                Delivery.id.in_(row_ids), Delivery.state == DeliveryState.SENDING, Delivery.claimed_by == owner,
            ).values(claimed_by=None))
    try:
        through_blips(release)
    except DatabaseAway:
        log.critical("could not hand %d rows to the sweeper; it settles them after HUB_STUCK_AFTER_SECONDS",
                     len(row_ids))


def schedule_retry(message_id: int, channel_name: str, batch_no: int, seconds: float, lane: str) -> None:
    try:
        send_batch.apply_async((message_id, channel_name, batch_no), countdown=seconds, queue=lane)
    except Exception:  # the broker is away: the rows wait in the database and the sweeper queues them
        log.warning("could not queue the retry of batch %s/%s/%s; the sweeper will", message_id, channel_name,
                    batch_no, exc_info=True)


def finish_if_done(message_id: int) -> bool:
    rt = runtime()
    with rt.session() as session:
        busy = session.scalar(select(exists().where(
            Delivery.message_id == message_id, Delivery.state.in_(BUSY_STATES),
        )))
        if busy:
            return False
        session.execute(
            update(Message).where(Message.id == message_id, Message.state == MessageState.QUEUED,
                                  Message.planned_at.is_not(None))
            .values(state=MessageState.DONE)
        )
    return True


def release(message_id: int, state: str) -> None:
    """Call after the message's transaction committed: a worker must find the row it is told about."""
    if state == MessageState.QUEUED:
        enqueue_planning(message_id)


def enqueue_planning(message_id: int) -> None:
    with runtime().session() as session:
        msg_type = session.scalar(select(Message.msg_type).where(Message.id == message_id))
    plan_message.apply_async((message_id,), queue=lane_for(msg_type or ""))
