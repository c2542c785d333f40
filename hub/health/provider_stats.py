"""Provider latency and errors, measured in whichever process sends and added up in the database.

Workers run on any machines, so a process-local Prometheus registry (or the multiprocess mode's
shared folder) would show one machine's share at best. Each process instead adds its counts to
``provider_stats`` — at most once a second after a batch, and with each renewal of its worker lease
for what is left — and any web process's ``/metrics`` reads the fleet's totals. Once a second, not
after every batch: a call-out step is one person's batch, and a transaction of its own for their
counts was a sixth of the step on SQLite. A process killed mid-send loses its last second's
measurements, never anyone's message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from channels.base import DeliveryResult, Outcome
from hub.models.health import ProviderStat

log = logging.getLogger(__name__)

# Upper bounds (seconds) of the latency histogram: SMS and e-mail answer in tens of milliseconds,
# a LINE multicast of 500 in about a second, a struggling provider at the timeout.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# The least time between two writes after batches; what comes in between waits for the next one.
FLUSH_EVERY = 1.0
ERRORS = (Outcome.FAILED, Outcome.RETRY, Outcome.UNKNOWN)
Key = tuple[str, str, str]  # channel, name, label


def bucket_label(bound: float) -> str:
    return repr(float(bound))


class ProviderStats:
    """The :class:`channels.base.Observer` of a Runtime's channels."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        self._pending: dict[Key, float] = {}
        self._flushed_at = -FLUSH_EVERY

    def request(self, channel: str, seconds: float) -> None:
        bound = next((b for b in BUCKETS if seconds <= b), None)
        with self._lock:
            self._add((channel, "latency_bucket", bucket_label(bound) if bound else "+Inf"), 1)
            self._add((channel, "latency_sum", ""), seconds)
            self._add((channel, "latency_count", ""), 1)

    def results(self, channel: str, results: Sequence[DeliveryResult]) -> None:
        with self._lock:
            for r in results:
                if r.outcome in ERRORS:
                    # Errors of requests made, by outcome; rows that never reached the provider apart.
                    self._add((channel, "errors", r.outcome.value if r.attempted else "not_sent"), 1)
            due = time.monotonic() - self._flushed_at >= FLUSH_EVERY
        if due:
            self.flush()

    def count(self, channel: str, name: str, label: str, delta: float = 1) -> None:
        """Any other fleet-wide counter of a channel (e.g. what the bounce mailbox rounds did)."""
        if delta:
            with self._lock:
                self._add((channel, name, label), delta)

    def flush(self) -> None:
        """Write what this process counted since the last write (also the lease renewer's call)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushed_at = time.monotonic()
        if not pending:
            return
        try:
            with self._sessions.begin() as session:
                insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
                for (channel, name, label), delta in sorted(pending.items()):  # one lock order for all
                    stmt = insert(ProviderStat).values(channel=channel, name=name, label=label, value=delta)
                    session.execute(stmt.on_conflict_do_update(
                        index_elements=["channel", "name", "label"],
                        set_={"value": ProviderStat.value + stmt.excluded.value}))
        except Exception:  # the database is away: keep the counts for the next batch
            log.warning("provider measurements not recorded yet", exc_info=True)
            with self._lock:
                for key, delta in pending.items():
                    self._add(key, delta)

    def _add(self, key: Key, delta: float) -> None:
        self._pending[key] = self._pending.get(key, 0.0) + delta
