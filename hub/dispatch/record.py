"""Writing provider outcomes back to delivery rows, in bulk, and scheduling what comes next."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from channels.base import DeliveryResult, Outcome
from hub.dispatch.retry import (
    RESEND_NOTE,
    UNKNOWN_NOTE,
    RetryPolicy,
    backoff_seconds,
    check_note,
    deadline_note,
    gave_up_note,
    retry_note,
    timedelta_seconds,
    with_note,
)
from hub.models import Delivery, DeliveryState, utcnow
from hub.models.base import table_of
from hub.runtime.leases import OwnershipLost
from hub.runtime.ratelimit import RATE_WAIT_CODE

_FINAL_STATE = {
    Outcome.SENT: DeliveryState.SENT,
    Outcome.DELIVERED: DeliveryState.DELIVERED,
    Outcome.FAILED: DeliveryState.FAILED,
    Outcome.SKIPPED: DeliveryState.SKIPPED,
}

# Guarded by the current state and owner: a status callback that raced ahead (delivered before we
# wrote "sent") must not be overwritten, nor rows the sweeper took over from us.
_TABLE = table_of(Delivery)
_OWNED = (_TABLE.c.id == bindparam("row_id")) & (_TABLE.c.state == DeliveryState.SENDING) & (
    _TABLE.c.claimed_by == bindparam("owner"))
_UPDATE = (
    update(_TABLE)
    .where(_OWNED)
    .values(
        state=bindparam("new_state"),
        provider_id=bindparam("new_provider_id"),
        error=bindparam("new_error"),
        error_code=bindparam("new_error_code"),
        reason=bindparam("new_reason"),
        attempts=bindparam("new_attempts"),
        next_attempt_at=bindparam("new_next_attempt_at"),
        sent_at=bindparam("new_sent_at"),
        delivered_at=bindparam("new_delivered_at"),
        updated_at=bindparam("new_updated_at"),
    )
)
# PostgreSQL: the whole claim's results in one statement (the arrays are parameters), as status
# callbacks are applied; per-row statements were most of the database's time per SMS.
_PG_UPDATE = text("""
UPDATE deliveries AS d SET
  state = v.state, provider_id = v.provider_id, error = v.error, error_code = v.error_code,
  reason = v.reason, attempts = v.attempts, next_attempt_at = v.next_at, sent_at = v.sent_at,
  delivered_at = v.delivered_at, updated_at = v.updated_at
FROM unnest(CAST(:ids AS BIGINT[]), CAST(:states AS TEXT[]), CAST(:provider_ids AS TEXT[]),
            CAST(:errors AS TEXT[]), CAST(:codes AS TEXT[]), CAST(:reasons AS TEXT[]),
            CAST(:attempts AS INTEGER[]), CAST(:next_ats AS TIMESTAMPTZ[]), CAST(:sent_ats AS TIMESTAMPTZ[]),
            CAST(:delivered_ats AS TIMESTAMPTZ[]), CAST(:updated_ats AS TIMESTAMPTZ[]))
  AS v(id, state, provider_id, error, error_code, reason, attempts, next_at, sent_at, delivered_at, updated_at)
WHERE d.id = v.id AND d.state = 'sending' AND d.claimed_by = :owner
""")


def _update_rows(conn: Connection, params: list[dict[str, Any]]) -> int:
    if conn.dialect.name != "postgresql":
        return int(conn.execute(_UPDATE, params).rowcount)
    column = {"ids": "row_id", "states": "new_state", "provider_ids": "new_provider_id", "errors": "new_error",
              "codes": "new_error_code", "reasons": "new_reason", "attempts": "new_attempts",
              "next_ats": "new_next_attempt_at", "sent_ats": "new_sent_at", "delivered_ats": "new_delivered_at",
              "updated_ats": "new_updated_at"}
    arrays: dict[str, Any] = {name: [p[key] for p in params] for name, key in column.items()}
    arrays["states"] = [str(state) for state in arrays["states"]]
    return int(conn.execute(_PG_UPDATE, {**arrays, "owner": params[0]["owner"]}).rowcount)


_MARK_REQUESTED = update(_TABLE).where(_OWNED).values(requested_at=bindparam("now"))
# When the provider's status callback settled a row before our own write, the request still counts.
_SETTLED_FIRST = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"), _TABLE.c.claimed_by == bindparam("owner"),
           # (no IN: expanding parameters cannot be used with executemany)
           (_TABLE.c.state == DeliveryState.SENT) | (_TABLE.c.state == DeliveryState.DELIVERED)
           | (_TABLE.c.state == DeliveryState.FAILED),
           _TABLE.c.attempts < bindparam("new_attempts"))
    .values(attempts=bindparam("new_attempts"))
)


@dataclass
class Decision:
    state: str
    error: str | None
    attempts: int
    next_at: datetime | None = None


@dataclass
class Recorder:
    """Writes the results of one claim and decides, for each row, what happens next."""

    attempts: dict[int, int]  # row id -> provider requests made before this claim
    owner: str  # worker id that claimed the rows
    policy: RetryPolicy
    can_reconcile: bool  # the channel can be asked afterwards whether it accepted a request
    retry_in: float | None = None  # seconds until the earliest row of this claim is due again
    counts: dict[str, int] = field(default_factory=dict)
    # One retry time for every row of the claim: the rows of a request stay together, so a retry
    # is exactly the request that was made before (same rows, same idempotency key).
    _retry_at: datetime | None = None

    def mark_requested(self, session: Session, row_ids: Sequence[int]) -> None:
        """Write-ahead: these rows are about to be in a request (channels that cannot be asked)."""
        params = [{"row_id": i, "owner": self.owner, "now": utcnow()} for i in row_ids]
        if params:
            self._check_owned(session, session.connection().execute(_MARK_REQUESTED, params).rowcount, params)

    def write(self, session: Session, results: list[DeliveryResult]) -> None:
        if not results:
            return
        now = utcnow()
        params: list[dict[str, Any]] = []
        for r in results:
            d = self.decide(r, now)
            params.append({
                "row_id": r.delivery_id,
                "owner": self.owner,
                "new_state": d.state,
                "new_provider_id": r.provider_id,
                "new_error": d.error,
                "new_error_code": r.error_code,
                "new_reason": r.reason,
                "new_attempts": d.attempts,
                "new_next_attempt_at": d.next_at,
                "new_sent_at": now if d.state in (DeliveryState.SENT, DeliveryState.DELIVERED) else None,
                "new_delivered_at": now if d.state == DeliveryState.DELIVERED else None,
                "new_updated_at": now,
            })
            self.counts[d.state] = self.counts.get(d.state, 0) + 1
            if d.next_at is not None:
                wait = max(0.0, (d.next_at - now).total_seconds())
                self.retry_in = wait if self.retry_in is None else min(self.retry_in, wait)
        conn = session.connection()
        updated = _update_rows(conn, params)
        late = [p for p in params if p["new_attempts"]] if 0 <= updated < len(params) else []
        if late:
            conn.execute(_SETTLED_FIRST, late)
        self._check_owned(session, updated, params)

    def _check_owned(self, session: Session, rowcount: int, params: list[dict[str, Any]]) -> None:
        if 0 <= rowcount < len(params):
            # Either a status callback settled the row first (harmless), or the sweeper took the
            # rows over because our lease lapsed: then we must stop sending at once.
            lost = session.execute(select(func.count()).select_from(Delivery).where(
                Delivery.id.in_([p["row_id"] for p in params]),
                Delivery.state == DeliveryState.SENDING, Delivery.claimed_by != self.owner)).scalar_one()
            if lost:
                raise OwnershipLost(f"{lost} rows were taken over by the sweeper")

    def decide(self, r: DeliveryResult, now: datetime) -> Decision:
        attempts = self.attempts.get(r.delivery_id, 0) + (1 if r.attempted else 0)
        policy = self.policy
        if r.outcome in _FINAL_STATE:
            return Decision(_FINAL_STATE[r.outcome], r.error, attempts)
        if r.outcome == Outcome.NOT_SENT:
            return Decision(DeliveryState.PENDING, with_note(r.error, RESEND_NOTE), attempts, now)
        if r.outcome == Outcome.UNKNOWN:
            if self.can_reconcile and not policy.past_deadline(now):
                at = now + timedelta_seconds(policy.check_after)
                return Decision(DeliveryState.CHECKING, with_note(r.error, check_note(at)), attempts, at)
            return Decision(DeliveryState.UNKNOWN, with_note(r.error, UNKNOWN_NOTE), attempts)
        # RETRY
        if r.attempted and policy.out_of_attempts(attempts):
            if r.error_code == "timeout":  # the last request may have been accepted: we cannot say "failed"
                return Decision(DeliveryState.UNKNOWN, with_note(r.error, UNKNOWN_NOTE), attempts)
            return Decision(DeliveryState.FAILED, with_note(r.error, gave_up_note(attempts)), attempts)
        if policy.past_deadline(now):
            return Decision(DeliveryState.FAILED, with_note(r.error, deadline_note(policy)), attempts)
        if r.error_code == RATE_WAIT_CODE and r.retry_after is not None:
            # Our own rate limit, not a provider's refusal: due exactly when the sender has room again.
            return Decision(DeliveryState.PENDING, r.error, attempts, now + timedelta_seconds(r.retry_after))
        at = self._retry_time(now, attempts, r.retry_after)
        return Decision(DeliveryState.PENDING, with_note(r.error, retry_note(at, attempts, policy)), attempts, at)

    def _retry_time(self, now: datetime, attempts: int, retry_after: float | None) -> datetime:
        policy = self.policy
        wanted = now + timedelta_seconds(backoff_seconds(attempts, retry_after, policy.base_delay))
        if self._retry_at is None or (retry_after is not None and wanted > self._retry_at):
            self._retry_at = wanted
        return self._retry_at
