"""The relay step loop (the escalation pattern of Grafana OnCall) on top of the database.

A person's next step is a row: ``(cycle, step_index)`` due at ``next_step_at``. Dispatching
stamps a fresh ``active_task_id`` on the row and names it in the task; a task whose id is no
longer on the row is stale and exits. The step is claimed with a guarded UPDATE, its attempt row
is unique per (person, cycle, step), the provider is called outside any transaction, and the
outcome and the next position are written together. An answer clears the active task id, so
whatever is queued for that person finds nothing to do.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from channels.base import skip_message
from hub.dispatch.retry import backoff_seconds, clock_time
from hub.models import Department, WorkerLease, audit, utcnow
from hub.models.relay import (
    AttemptState,
    Callout,
    CalloutState,
    CalloutTarget,
    ContactAttempt,
    TargetState,
)
from hub.relay import clock, surveys
from hub.relay.callouts import close_callout, finish_if_done
from hub.relay.contacting import ADDRESS_FIELDS, Step, StepResult, reconcile_step, send_step
from hub.runtime import Runtime

log = logging.getLogger(__name__)
# Twilio call outcomes after which nobody heard the question: go on to the next step at once.
UNREACHED_CALL = frozenset({"busy", "no-answer", "failed", "canceled"})
# A step that may have reached the person waits the full interval like a sent one.
WAIT_AFTER = frozenset({AttemptState.SENT, AttemptState.UNKNOWN})


@dataclass(frozen=True)
class Dispatch:
    """Enqueue ``hub.relay.step(target_id, task_id)`` once the transaction that wrote it committed."""

    target_id: int
    task_id: str


def new_task_id() -> str:
    return str(uuid.uuid4())


# -- the periodic tick -------------------------------------------------------------------------------

def tick(session: Session, rt: Runtime, limit: int = 5000) -> list[Dispatch]:
    """Close call-outs past their deadline, recover steps of dead workers, dispatch what is due."""
    now = clock.now()
    overdue = select(Callout.id).where(Callout.state == CalloutState.ACTIVE, Callout.deadline_at.is_not(None),
                                       Callout.deadline_at <= now)
    for callout_id in session.scalars(overdue):
        close_callout(session, callout_id, actor="relay", reason="deadline")
    recover_stale(session, rt)
    dispatches = dispatch_due(session, rt, limit=limit)
    for callout_id in session.scalars(select(Callout.id).where(Callout.state == CalloutState.ACTIVE)):
        finish_if_done(session, callout_id)
    return dispatches


def dispatch_due(session: Session, rt: Runtime, callout_id: int | None = None,
                 limit: int = 5000) -> list[Dispatch]:
    now = clock.now()
    # A dispatched task that has not run for this long is presumed lost (Redis can lose messages);
    # its replacement gets a new id, so if the old one turns up after all it is stale.
    lost_before = now - timedelta(seconds=rt.settings.stale_after_seconds)
    due = (
        select(CalloutTarget.id, CalloutTarget.state)
        .join(Callout, Callout.id == CalloutTarget.callout_id)
        .where(Callout.state == CalloutState.ACTIVE,
               CalloutTarget.state.in_([TargetState.WAITING, TargetState.RECOVERING]),
               CalloutTarget.next_step_at <= now,
               or_(CalloutTarget.active_task_id.is_(None), CalloutTarget.dispatched_at < lost_before))
        .order_by(CalloutTarget.next_step_at, CalloutTarget.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=CalloutTarget)
    )
    if callout_id is not None:
        due = due.where(CalloutTarget.callout_id == callout_id)
    rows = session.execute(due).all()
    if not rows:
        return []
    dispatches = [Dispatch(target_id, new_task_id()) for target_id, _state in rows]
    table = cast(Table, CalloutTarget.__table__)
    stmt = (update(table)
            .where(table.c.id == bindparam("b_id"), table.c.state == bindparam("b_state"))
            .values(active_task_id=bindparam("b_task"), dispatched_at=now))
    session.connection().execute(stmt, [
        {"b_id": d.target_id, "b_state": state, "b_task": d.task_id}
        for d, (_id, state) in zip(dispatches, rows, strict=True)
    ])
    return dispatches


def recover_stale(session: Session, rt: Runtime) -> int:
    """Steps held by a worker whose lease lapsed: hand them to the next task, which reconciles."""
    wall = utcnow()
    alive = select(WorkerLease.worker_id).where(WorkerLease.expires_at > wall)
    stuck = list(session.scalars(
        select(CalloutTarget.id)
        .where(CalloutTarget.state == TargetState.CONTACTING,
               CalloutTarget.claimed_at < wall - timedelta(seconds=rt.settings.stale_after_seconds),
               or_(CalloutTarget.claimed_by.is_(None), CalloutTarget.claimed_by.not_in(alive)))
        .with_for_update(skip_locked=True)
    ))
    if stuck:
        session.execute(
            update(CalloutTarget)
            .where(CalloutTarget.id.in_(stuck), CalloutTarget.state == TargetState.CONTACTING)
            .values(state=TargetState.RECOVERING, active_task_id=None, dispatched_at=None,
                    next_step_at=clock.now())
        )
        log.warning("relay: %d steps of dead workers will be reconciled", len(stuck))
    return len(stuck)


# -- one step ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Claimed:
    step: Step
    recovering: bool


def run_step(rt: Runtime, target_id: int, task_id: str) -> list[Dispatch]:
    """The body of ``hub.relay.step``: claim, contact, record. Safe to run any number of times."""
    worker = rt.lease.worker_id
    with rt.session() as session:
        claimed = _claim(session, rt, target_id, task_id, worker)
    if claimed is None:
        return []
    result: StepResult | None = reconcile_step(rt, claimed.step) if claimed.recovering else None
    if result is None:
        result = send_step(rt, claimed.step)
    with rt.session() as session:
        return _record(session, claimed.step, result, worker, rt.settings.max_attempts)


def _loaded(session: Session, target_id: int, lock: bool = False) -> CalloutTarget | None:
    """The target with its call-out (and sender department) and contact, in one query."""
    query = (select(CalloutTarget).where(CalloutTarget.id == target_id)
             .options(joinedload(CalloutTarget.callout).joinedload(Callout.department),
                      joinedload(CalloutTarget.contact)))
    return session.scalar(query.with_for_update(of=CalloutTarget) if lock else query)


def _claim(session: Session, rt: Runtime, target_id: int, task_id: str, worker: str) -> _Claimed | None:
    target = _loaded(session, target_id)
    if (target is None or target.active_task_id != task_id or target.answered_at is not None
            or target.state not in (TargetState.WAITING, TargetState.RECOVERING)):
        return None
    seen = target.state
    won = session.execute(
        update(CalloutTarget)
        .where(CalloutTarget.id == target_id, CalloutTarget.active_task_id == task_id,
               CalloutTarget.state == seen, CalloutTarget.answered_at.is_(None))
        .values(state=TargetState.CONTACTING, claimed_by=worker, claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(won, "rowcount", 0) != 1:
        return None
    for name, value in (("state", TargetState.CONTACTING), ("claimed_by", worker)):
        set_committed_value(target, name, value)
    callout = target.callout
    if callout.state != CalloutState.ACTIVE:
        _stop(target, TargetState.CLOSED)
        return None
    if seen == TargetState.RECOVERING and target.last_attempt_id is not None:
        attempt = session.get(ContactAttempt, target.last_attempt_id)
        if attempt is not None and attempt.state == AttemptState.SENDING:
            attempt.claimed_by = worker
            audit(session, "relay", "relay.step.recover", attempt, target=target.id, channel=attempt.channel)
            return _Claimed(_step_of(session, rt, callout, target, attempt), recovering=True)
    for _ in range(len(callout.chain)):
        channel = callout.chain[target.step_index]
        address = getattr(target.contact, ADDRESS_FIELDS[channel]) if target.contact.active else None
        # An address its own server reported unknown (hub/bounces) would only cost the step's wait.
        unusable = "address_bounced" if channel == "email" and target.contact.email_bounced_at else None
        if address and unusable is None:
            again = _to_retry(session, target)
            if again is not None:
                # The provider refused this step for now: the same attempt row is sent again.
                again.state, again.claimed_by, again.at = AttemptState.SENDING, worker, clock.now()
                target.last_attempt_id = again.id
                return _Claimed(_step_of(session, rt, callout, target, again), recovering=False)
            if seen == TargetState.RECOVERING and _attempted(session, target):
                # A slow worker recorded this step after its lease lapsed and the step was taken
                # over: the step is done, never contact twice for it.
                log.error("relay: target %s already has an attempt for cycle %s step %s", target.id,
                          target.cycle, target.step_index)
                if not _advance(target, callout):
                    break
                continue
            # The unique (target, cycle, step) constraint stays the last guard under any race.
            attempt = ContactAttempt(callout_id=callout.id, target_id=target.id, cycle=target.cycle,
                                     step_index=target.step_index, channel=channel, address=address,
                                     state=AttemptState.SENDING, claimed_by=worker, at=clock.now())
            session.add(attempt)
            session.flush()
            target.last_attempt_id = attempt.id
            if channel == "voice":
                first = surveys.next_question(callout.survey_snapshot, {}, kinds=("choice", "number"))
                target.voice_question = first["key"] if first else None
            return _Claimed(_step_of(session, rt, callout, target, attempt), recovering=False)
        reason = unusable or "no_address"
        skipped = ContactAttempt(callout_id=callout.id, target_id=target.id, cycle=target.cycle,
                                 step_index=target.step_index, channel=channel, state=AttemptState.SKIPPED,
                                 reason=reason,
                                 error=skip_message(reason) if unusable else "この連絡手段の宛先が登録されていません",
                                 at=clock.now(), finished_at=clock.now())
        session.add(skipped)
        session.flush()
        audit(session, "relay", "relay.step", skipped, target=target.id, channel=channel,
              state=AttemptState.SKIPPED, reason=reason, cycle=skipped.cycle, step=skipped.step_index)
        if not _advance(target, callout):
            break
    # A whole round of skips: no step of the chain can reach this person.
    _stop(target, TargetState.EXHAUSTED)
    finish_if_done(session, callout.id)
    return None


def _to_retry(session: Session, target: CalloutTarget) -> ContactAttempt | None:
    return session.scalar(select(ContactAttempt).where(
        ContactAttempt.target_id == target.id, ContactAttempt.cycle == target.cycle,
        ContactAttempt.step_index == target.step_index, ContactAttempt.state == AttemptState.RETRY))


def _attempted(session: Session, target: CalloutTarget) -> bool:
    return session.scalar(select(ContactAttempt.id).where(
        ContactAttempt.target_id == target.id, ContactAttempt.cycle == target.cycle,
        ContactAttempt.step_index == target.step_index)) is not None


def _step_of(session: Session, rt: Runtime, callout: Callout, target: CalloutTarget,
             attempt: ContactAttempt) -> Step:
    dept = callout.department or session.scalar(
        select(Department).where(Department.code == rt.settings.relay_department))
    channel = rt.channel(attempt.channel)
    sender = None
    if dept is not None and channel.sender_field:
        sender = getattr(dept, channel.sender_field) or None
    return Step(attempt_id=attempt.id, callout_id=callout.id, target_id=target.id, channel=attempt.channel,
                address=attempt.address or "", mode=callout.mode, title=callout.title,
                snapshot=callout.survey_snapshot, issued_at=clock.aware(attempt.at), sender=sender,
                sender_name=(dept.email_sender_name or dept.name) if dept is not None else None,
                interval_seconds=callout.interval_seconds)


def _advance(target: CalloutTarget, callout: Callout) -> bool:
    """Move to the next (cycle, step); False when the last cycle is used up."""
    if target.step_index + 1 < len(callout.chain):
        target.step_index += 1
        return True
    if target.cycle < callout.cycles:
        target.cycle, target.step_index = target.cycle + 1, 0
        return True
    return False


def _stop(target: CalloutTarget, state: TargetState) -> None:
    target.state, target.active_task_id, target.next_step_at = state, None, None
    target.claimed_by = None


def _record(session: Session, step: Step, result: StepResult, worker: str, max_attempts: int) -> list[Dispatch]:
    now = clock.now()
    counted = bool(result.extra.get("attempted", result.state != AttemptState.SKIPPED))
    row = session.execute(
        update(ContactAttempt)
        .where(ContactAttempt.id == step.attempt_id, ContactAttempt.state == AttemptState.SENDING)
        .values(state=result.state, provider_id=result.provider_id, error=result.error, reason=result.reason,
                finished_at=now, tries=ContactAttempt.tries + (1 if counted else 0))
        .returning(ContactAttempt.provider_status, ContactAttempt.tries)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        return []  # another worker reconciled this step meanwhile
    state = result.state
    if state == AttemptState.RETRY:
        retry_at = _retry_at(step, result, row.tries, max_attempts, now)
        if retry_at is not None:
            return _retry_later(session, step, result, worker, retry_at, row.tries)
        state = AttemptState.FAILED
        note = (f"{row.tries}回送信しても届けられなかったため、次の連絡手段に進みます" if counted
                else "連絡の間隔のうちに送信できなかったため、次の連絡手段に進みます")
        session.execute(update(ContactAttempt).where(ContactAttempt.id == step.attempt_id)
                        .values(state=state, error=f"{result.error} → {note}")
                        .execution_options(synchronize_session=False))
    # The call may already have ended unanswered: its status callback came before we got here.
    if step.channel == "voice" and state == AttemptState.SENT and row.provider_status in UNREACHED_CALL:
        state = AttemptState.NO_ANSWER
        session.execute(update(ContactAttempt).where(ContactAttempt.id == step.attempt_id)
                        .values(state=state).execution_options(synchronize_session=False))
    audit(session, "relay", "relay.step", ("contact_attempts", step.attempt_id), target=step.target_id,
          channel=step.channel, state=str(state), provider_id=result.provider_id, error=result.error)
    # Locked: an answer committing between this read and our write must not be overwritten.
    target = _loaded(session, step.target_id, lock=True)
    if target is None or target.state != TargetState.CONTACTING or target.claimed_by != worker:
        return []  # answered or closed while we were talking to the provider
    callout = target.callout
    if callout.state != CalloutState.ACTIVE:
        _stop(target, TargetState.CLOSED)
        return []
    if not _advance(target, callout):
        _stop(target, TargetState.EXHAUSTED)
        session.flush()
        finish_if_done(session, callout.id)
        return []
    immediate = state not in WAIT_AFTER
    dispatch = _schedule(target, at=step.issued_at + timedelta(seconds=callout.interval_seconds),
                         immediate=immediate, now=now)
    return [dispatch] if immediate else []


def _retry_at(step: Step, result: StepResult, tries: int, max_attempts: int, now: datetime) -> datetime | None:
    """When to send a refused step again; None to give up and go on to the next step.

    As in a broadcast: only real requests count towards ``max_attempts``; a step only held back
    (rate limit, nothing left this machine) is retried until its interval is over.
    """
    attempted = bool(result.extra.get("attempted"))
    if attempted and tries >= max_attempts:
        return None
    at = now + timedelta(seconds=backoff_seconds(tries, result.extra.get("retry_after")))
    return None if not attempted and at >= step.issued_at + timedelta(seconds=step.interval_seconds) else at


def _retry_later(session: Session, step: Step, result: StepResult, worker: str, at: datetime,
                 tries: int) -> list[Dispatch]:
    session.execute(update(ContactAttempt).where(ContactAttempt.id == step.attempt_id).values(
        error=f"{result.error} → {clock_time(at)}に同じ連絡をもう一度送ります（これまでの送信{tries}回）",
        claimed_by=None).execution_options(synchronize_session=False))
    audit(session, "relay", "relay.step.retry", ("contact_attempts", step.attempt_id), target=step.target_id,
          channel=step.channel, error=result.error)
    target = _loaded(session, step.target_id, lock=True)
    if target is None or target.state != TargetState.CONTACTING or target.claimed_by != worker:
        return []
    target.state, target.claimed_by = TargetState.WAITING, None
    # The tick dispatches it when due: no long countdowns in the broker.
    target.next_step_at, target.active_task_id, target.dispatched_at = at, None, None
    return []


def _schedule(target: CalloutTarget, at: datetime, immediate: bool, now: datetime) -> Dispatch:
    target.state, target.claimed_by = TargetState.WAITING, None
    if immediate:
        target.next_step_at, target.active_task_id, target.dispatched_at = now, new_task_id(), now
    else:
        # The tick dispatches it when due: no long countdowns in the broker.
        target.next_step_at, target.active_task_id, target.dispatched_at = at, None, None
    return Dispatch(target.id, target.active_task_id or "")


# -- voice status callbacks --------------------------------------------------------------------------

def call_ended(session: Session, attempt_id: int, status: str) -> list[Dispatch]:
    """A call's final status. Unanswered → the person's next step at once (if still theirs)."""
    row = session.execute(
        update(ContactAttempt).where(ContactAttempt.id == attempt_id, ContactAttempt.channel == "voice")
        .values(provider_status=status)
        .returning(ContactAttempt.state, ContactAttempt.target_id)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None or status not in UNREACHED_CALL or row.state != AttemptState.SENT:
        return []  # still "sending": the worker sees provider_status when it records the call
    session.execute(update(ContactAttempt).where(ContactAttempt.id == attempt_id)
                    .values(state=AttemptState.NO_ANSWER).execution_options(synchronize_session=False))
    audit(session, "twilio", "relay.call.unanswered", ("contact_attempts", attempt_id), status=status)
    now, task_id = clock.now(), new_task_id()
    moved = session.execute(
        update(CalloutTarget)
        .where(CalloutTarget.id == row.target_id, CalloutTarget.last_attempt_id == attempt_id,
               CalloutTarget.state == TargetState.WAITING, CalloutTarget.answered_at.is_(None))
        .values(next_step_at=now, active_task_id=task_id, dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    return [Dispatch(row.target_id, task_id)] if getattr(moved, "rowcount", 0) == 1 else []
