"""Writing provider outcomes back to delivery rows, in bulk, and scheduling retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from channels.base import DeliveryResult, Outcome
from hub.dispatch.leases import OwnershipLost
from hub.dispatch.retry import backoff_seconds, should_give_up
from hub.models import Delivery, DeliveryState, utcnow
from hub.models.base import table_of

_STATE_FOR = {
    Outcome.SENT: DeliveryState.SENT,
    Outcome.DELIVERED: DeliveryState.DELIVERED,
    Outcome.FAILED: DeliveryState.FAILED,
    Outcome.SKIPPED: DeliveryState.SKIPPED,
    Outcome.UNKNOWN: DeliveryState.UNKNOWN,
}

# Guarded by the current state: a status callback that raced ahead (delivered before we wrote
# "sent") must not be overwritten.
_TABLE = table_of(Delivery)
_UPDATE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"), _TABLE.c.state == DeliveryState.SENDING,
           _TABLE.c.claimed_by == bindparam("owner"))
    .values(
        state=bindparam("new_state"),
        provider_id=bindparam("new_provider_id"),
        error=bindparam("new_error"),
        error_code=bindparam("new_error_code"),
        reason=bindparam("new_reason"),
        next_attempt_at=bindparam("new_next_attempt_at"),
        sent_at=bindparam("new_sent_at"),
        delivered_at=bindparam("new_delivered_at"),
        updated_at=bindparam("new_updated_at"),
    )
)


@dataclass
class Recorder:
    """Collects results for one claimed batch and writes them; remembers when to try again."""

    attempts: dict[int, int]  # row id -> attempts so far (including this one)
    max_attempts: int
    owner: str  # worker id that claimed the rows
    retry_in: float | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def write(self, session: Session, results: list[DeliveryResult]) -> None:
        if not results:
            return
        now = utcnow()
        params: list[dict[str, Any]] = []
        for r in results:
            state, next_at, error = self._state(r, now)
            params.append({
                "row_id": r.delivery_id,
                "owner": self.owner,
                "new_state": state,
                "new_provider_id": r.provider_id,
                "new_error": error,
                "new_error_code": r.error_code,
                "new_reason": r.reason,
                "new_next_attempt_at": next_at,
                "new_sent_at": now if state in (DeliveryState.SENT, DeliveryState.DELIVERED) else None,
                "new_delivered_at": now if state == DeliveryState.DELIVERED else None,
                "new_updated_at": now,
            })
            self.counts[state] = self.counts.get(state, 0) + 1
        result = session.connection().execute(_UPDATE, params)
        if 0 <= result.rowcount < len(params):
            # Either a status callback settled the row first (harmless), or the sweeper took the
            # rows over because our lease lapsed: then we must stop sending at once.
            lost = session.execute(select(func.count()).select_from(Delivery).where(
                Delivery.id.in_([p["row_id"] for p in params]),
                Delivery.state == DeliveryState.SENDING, Delivery.claimed_by != self.owner)).scalar_one()
            if lost:
                raise OwnershipLost(f"{lost} rows were taken over by the sweeper")

    def _state(self, r: DeliveryResult, now: Any) -> tuple[str, Any, str | None]:
        if r.outcome in (Outcome.RETRY, Outcome.NOT_SENT):
            attempts = self.attempts.get(r.delivery_id, 1)
            if r.outcome == Outcome.RETRY and should_give_up(attempts, self.max_attempts):
                return DeliveryState.FAILED, None, f"{r.error}（{attempts}回試行して失敗）"
            delay = 0.0 if r.outcome == Outcome.NOT_SENT else backoff_seconds(attempts, r.retry_after)
            self.retry_in = delay if self.retry_in is None else min(self.retry_in, delay)
            return DeliveryState.PENDING, now + timedelta(seconds=delay), r.error
        return _STATE_FOR[r.outcome], None, r.error
