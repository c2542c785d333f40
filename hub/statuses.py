"""Provider status callbacks: queued cheaply when they arrive, applied to deliveries in bulk.

Two callbacks arrive per SMS (accepted, then the carrier's verdict), so at fan-out speed applying
each in its own transaction made the web process the busiest one on the machine. The endpoint now
verifies the signature, inserts one row into the append-only ``status_events`` table (callbacks
arriving together share one INSERT and COMMIT) and answers once it is committed;
:func:`apply_queued` turns up to ``APPLY_BATCH`` queued events into one UPDATE of ``deliveries``
(``UPDATE … FROM unnest(…)`` on PostgreSQL, one executemany on SQLite) and deletes them in the same
transaction: an applier that dies between taking and applying leaves them all queued.

Why a database table and not a Redis list: Twilio does not resend a callback it got a 2xx for, and
the production Redis may keep nothing on disk (a restart empties it, see docs/operations.md), so the
one record of "delivered" must be durable the moment we answer.

Who applies, and when: a thread in every worker (:class:`StatusApplier`, every
``HUB_STATUS_APPLY_SECONDS``, 1 s by default) — not the sweeper's tick, whose 10 s would leave
statuses invisible too long, and not a Celery task per callback, which would put a broker round
trip back on the hot path. One applier at a time (a PostgreSQL advisory lock held by its
transaction; on SQLite the database's write lock, taken with ``BEGIN IMMEDIATE`` before the events
are read), so events are applied in arrival order. A status is visible within about a second of
its callback. Without workers (``tasks_eager``: tests, a web-only process) the request applies the
queue itself.

Semantics are exactly those of applying each callback on its own, in arrival order: "accepted"
words never downgrade a final state, the first final word of a request wins, a row being checked or
in doubt is settled by the provider's own word, and a callback for a row that is not ours (unknown
delivery, another provider id) changes nothing and is only logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, delete, func, insert, or_, select, text, update

from channels.base import Outcome
from channels.inbound import StatusEvent
from hub.bounces.dsn import meaning
from hub.db import get_engine, lock_key, rowcount
from hub.groupcommit import GroupCommit
from hub.models import Delivery, DeliveryState, QueuedStatus, utcnow
from hub.models.base import PROVIDER_ID_MAX, UtcDateTime, table_of
from hub.runtime import Runtime
from hub.runtime.timer import AppTimer

log = logging.getLogger(__name__)

APPLY_BATCH = 1000

_Q = table_of(QueuedStatus)
_T = table_of(Delivery)
_INSERT = insert(_Q)
_TARGET = {None: DeliveryState.SENT, Outcome.DELIVERED: DeliveryState.DELIVERED, Outcome.FAILED: DeliveryState.FAILED}
# Where an "accepted" word applies; a final word applies to these and to rows in doubt.
_ACCEPTING = (DeliveryState.SENDING, DeliveryState.CHECKING, DeliveryState.SENT)


_WRITERS: dict[str, GroupCommit] = {}
_WRITERS_LOCK = threading.Lock()


def _writer(database_url: str) -> GroupCommit:
    with _WRITERS_LOCK:
        writer = _WRITERS.get(database_url)
        if writer is None:

            def write(rows: Sequence[dict[str, Any]]) -> None:
                with get_engine(database_url).begin() as conn:
                    conn.execute(_INSERT, list(rows))

            writer = _WRITERS[database_url] = GroupCommit(write)
        return writer


def enqueue(rt: Runtime, channel: str, delivery_id: int, event: StatusEvent) -> None:
    """Record a verified callback durably (no ORM session): the request's whole work. Callbacks
    arriving together share one INSERT and COMMIT (:mod:`hub.groupcommit`); each request still
    answers only once its own row is committed."""
    _writer(rt.settings.database_url).submit({
        "channel": channel, "delivery_id": delivery_id, "provider_id": event.provider_id[:PROVIDER_ID_MAX],
        "status": event.status[:32], "outcome": event.outcome.value if event.outcome else None,
        "error_code": (event.error_code or None) and str(event.error_code)[:32], "received_at": utcnow()})
    if rt.settings.tasks_eager:  # nobody else will: no workers in this setup
        apply_queued(rt, wait=True)


@dataclass(frozen=True)
class Change:
    """What one or more consecutive callbacks of one request do to one row."""

    delivery_id: int
    sid: str
    status: str
    target: str  # sent | delivered | failed
    code: str | None
    # An "accepted" word came first in the same run: sent_at is set if the row could take it.
    accept: bool = False
    channel: str = ""

    @property
    def final(self) -> bool:
        return self.target != DeliveryState.SENT

    @property
    def error(self) -> str | None:
        if self.target != DeliveryState.FAILED:
            return None
        if self.channel == "email":  # a bounce report (hub/bounces), long after our relay took it
            return f"届きませんでした: {meaning(self.code or '')}（相手のサーバーからの通知 {self.code or '-'}）"
        return f"通信事業者が配信できませんでした（{self.status}, code {self.code or '-'}）"


def plan_rounds(events: Sequence[Any]) -> list[list[Change]]:
    """Queued events (in arrival order) as rounds of changes, each row at most once per round.

    Consecutive events of one request (same provider id) on a row collapse exactly: after a final
    word nothing of that request changes the row; an "accepted" word followed by another word is
    that word, remembering the acceptance. A row only needs a second round when callbacks of two
    different requests for it arrive in one batch (a resend after a lost answer) — rare.
    """
    per_row: dict[int, list[Change]] = {}
    for e in events:
        change = Change(e.delivery_id, e.provider_id, e.status, _TARGET.get(e.outcome, DeliveryState.SENT),
                        e.error_code, channel=getattr(e, "channel", ""))
        changes = per_row.setdefault(e.delivery_id, [])
        last = changes[-1] if changes else None
        if last is None or last.sid != change.sid:
            changes.append(change)
        elif not last.final:
            changes[-1] = replace(change, accept=change.final or last.accept)
    depth = max((len(c) for c in per_row.values()), default=0)
    return [[c[k] for c in per_row.values() if len(c) > k] for k in range(depth)]


# PostgreSQL: one statement for the whole round, whatever its size (the arrays are parameters).
_PG_APPLY = text("""
UPDATE deliveries AS d SET
  state = v.target,
  provider_id = v.sid,
  provider_status = v.status,
  updated_at = :now,
  sent_at = CASE WHEN v.target = 'sent' OR (v.accept AND d.state IN ('sending', 'checking', 'sent'))
                 THEN :now ELSE d.sent_at END,
  delivered_at = CASE WHEN v.target = 'delivered' THEN :now ELSE d.delivered_at END,
  error_code = CASE WHEN v.target = 'failed' THEN v.code ELSE d.error_code END,
  error = CASE WHEN v.target = 'failed' THEN v.error ELSE d.error END
FROM unnest(CAST(:ids AS BIGINT[]), CAST(:sids AS TEXT[]), CAST(:statuses AS TEXT[]),
            CAST(:targets AS TEXT[]), CAST(:accepts AS BOOLEAN[]), CAST(:codes AS TEXT[]),
            CAST(:errors AS TEXT[])) AS v(id, sid, status, target, accept, code, error)
WHERE d.id = v.id
  AND (d.provider_id IS NULL OR d.provider_id = v.sid)
  AND (d.state IN ('sending', 'checking', 'sent') OR (v.target <> 'sent' AND d.state = 'unknown'))
""")

# SQLite: the same statement per row, sent as one executemany (no network between us and the file).
_NOW = bindparam("now", type_=UtcDateTime)
_IS = {s: _T.c.state == s for s in DeliveryState}  # no IN: expanding parameters cannot executemany
_CAN_ACCEPT = or_(*(_IS[s] for s in _ACCEPTING))
_SQLITE_APPLY = (
    update(_T)
    .where(_T.c.id == bindparam("v_id"),
           _T.c.provider_id.is_(None) | (_T.c.provider_id == bindparam("v_sid")),
           or_(_CAN_ACCEPT, and_(bindparam("v_target") != DeliveryState.SENT, _IS[DeliveryState.UNKNOWN])))
    .values(
        state=bindparam("v_target"), provider_id=bindparam("v_sid"), provider_status=bindparam("v_status"),
        updated_at=_NOW,
        sent_at=case((or_(bindparam("v_target") == DeliveryState.SENT, and_(bindparam("v_accept"), _CAN_ACCEPT)),
                      _NOW), else_=_T.c.sent_at),
        delivered_at=case((bindparam("v_target") == DeliveryState.DELIVERED, _NOW), else_=_T.c.delivered_at),
        error_code=case((bindparam("v_target") == DeliveryState.FAILED, bindparam("v_code")),
                        else_=_T.c.error_code),
        error=case((bindparam("v_target") == DeliveryState.FAILED, bindparam("v_error")), else_=_T.c.error),
    )
)


def _apply_round(conn: Connection, changes: list[Change], now: datetime) -> int:
    if conn.dialect.name == "postgresql":
        return rowcount(conn.execute(_PG_APPLY, {
            "now": now, "ids": [c.delivery_id for c in changes], "sids": [c.sid for c in changes],
            "statuses": [c.status for c in changes], "targets": [str(c.target) for c in changes],
            "accepts": [c.accept for c in changes], "codes": [c.code for c in changes],
            "errors": [c.error for c in changes]}))
    return rowcount(conn.execute(_SQLITE_APPLY, [
        {"now": now, "v_id": c.delivery_id, "v_sid": c.sid, "v_status": c.status, "v_target": str(c.target),
         "v_accept": c.accept, "v_code": c.code, "v_error": c.error} for c in changes]))


def apply_batch(rt: Runtime, limit: int = APPLY_BATCH, wait: bool = False) -> int:
    """Apply up to ``limit`` queued events in one transaction; returns how many were taken.

    ``wait``: wait for another applier's round instead of leaving the queue to it (a round that
    read the queue before this caller's event was committed would not apply it, and without the
    workers' timer nobody else would).
    """
    with get_engine(rt.settings.database_url).begin() as conn:
        if conn.dialect.name == "postgresql":
            if wait:
                conn.execute(select(func.pg_advisory_xact_lock(*lock_key("statuses"))))
            elif not conn.scalar(select(func.pg_try_advisory_xact_lock(*lock_key("statuses")))):
                return 0  # another worker is applying; it drains the queue in arrival order
        if conn.dialect.name == "sqlite":
            # Read, apply and delete under the write lock (waiting for it up to the busy timeout).
            # pysqlite would only BEGIN at the UPDATE, leaving the read outside the transaction: two
            # appliers could then take the same events, and SQLite gives a deleted newest row's id
            # (INTEGER PRIMARY KEY, no AUTOINCREMENT) to the next event, so the slower applier's
            # DELETE by id removed a newer callback — a "delivered" — that nobody had applied.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        events = conn.execute(select(_Q.c.id, _Q.c.delivery_id, _Q.c.provider_id, _Q.c.status, _Q.c.outcome,
                                     _Q.c.error_code, _Q.c.channel).order_by(_Q.c.id).limit(limit)).all()
        if not events:
            return 0
        now, changed, rows = utcnow(), 0, 0
        for changes in plan_rounds(events):
            rows += len(changes)
            changed += _apply_round(conn, changes, now)
        conn.execute(delete(_Q).where(_Q.c.id.in_([e.id for e in events])))
    if changed < rows:
        log.info("%d of %d status changes matched no delivery in its state (unknown id, another request, "
                 "or already final)", rows - changed, rows)
    return len(events)


def apply_queued(rt: Runtime, limit: int = APPLY_BATCH, wait: bool = False) -> int:
    """Drain the queue, ``limit`` events per transaction; returns how many were applied."""
    total = 0
    while True:
        taken = apply_batch(rt, limit, wait)
        total += taken
        if taken < limit:
            return total


class StatusApplier(AppTimer):
    """Applies queued status callbacks every ``interval`` seconds in a worker's background thread
    (a failed round leaves the events in their table for the next)."""

    name = "hub-statuses"

    def tick(self, runtime: Runtime) -> None:
        apply_queued(runtime)
