"""A message's delivery counts for the people watching it: counted once for all of them.

The counts are one GROUP BY over the message's rows. At a million rows that costs the database
about 0.3 s per channel, and every open dashboard and status page asks again every 3 s, during the
very send whose rows the same database is writing (``benchmarks/console.py``). So a large message
(``CACHE_FROM_ROWS`` rows or more) is counted once for every viewer in every web process (through
Redis when there is one) and that count is shown for ten times what it cost to make, between 1 and
10 s, with the time it was made. While one request counts again, the others show the previous count
rather than count too. A smaller message is counted exactly on every request, as before.

Only the pages and the API's message views read through here; whatever decides something (the
CLI's wait, the dispatcher) counts exactly.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Delivery, Message

log = logging.getLogger(__name__)

CACHE_FROM_ROWS = 20_000
FRESH_FACTOR = 10.0  # a count that took 0.3 s is shown for 3 s
FRESH_MIN, FRESH_MAX = 1.0, 10.0
# How long one request may take its turn to count before another may try (a web process killed
# mid-count must not freeze the numbers).
TURN_SECONDS = 30.0
KEEP_SECONDS = 120  # a stale count is kept this long, to show while the next one is made

T = TypeVar("T")
CountRow = tuple[str, str, str | None, int]  # channel, state, reason, rows


@dataclass(frozen=True)
class Tally:
    rows: tuple[CountRow, ...]
    counted_at: datetime
    fresh_until: float  # time.time()

    @property
    def total(self) -> int:
        return sum(n for *_key, n in self.rows)

    def as_json(self) -> str:
        return json.dumps({"rows": self.rows, "counted_at": self.counted_at.isoformat(),
                           "fresh_until": self.fresh_until})

    @classmethod
    def from_json(cls, text: str | bytes) -> Tally:
        data = json.loads(text)
        return cls(tuple((str(c), str(s), r, int(n)) for c, s, r, n in data["rows"]),
                   datetime.fromisoformat(data["counted_at"]), float(data["fresh_until"]))


def count(session: Session, message_id: int) -> tuple[CountRow, ...]:
    rows = session.execute(
        select(Delivery.channel, Delivery.state, Delivery.reason, func.count())
        .where(Delivery.message_id == message_id)
        .group_by(Delivery.channel, Delivery.state, Delivery.reason))
    return tuple((str(c), str(s), r, int(n)) for c, s, r, n in rows)


def exact(session: Session, message_id: int) -> Tally:
    now = time.time()
    return Tally(count(session, message_id), datetime.now(UTC), now)


class TallyStore(Protocol):
    def get(self, key: str) -> Tally | None: ...

    def put(self, key: str, tally: Tally) -> None: ...

    def take_turn(self, key: str) -> bool:
        """True for the one caller that may count ``key`` again now."""


def watched(session: Session, message: Message, store: TallyStore, *, cache_from_rows: int | None = None) -> Tally:
    """The counts to show for ``message``: cached while fresh when the message is large."""
    threshold = CACHE_FROM_ROWS if cache_from_rows is None else cache_from_rows
    # The state is part of the key: approving, finishing or cancelling shows fresh counts at once.
    key = f"{message.public_id}:{message.state}"
    cached = _quietly(lambda: store.get(key), None)
    if cached is not None and (time.time() < cached.fresh_until or not _quietly(lambda: store.take_turn(key), True)):
        return cached
    started = time.perf_counter()
    rows = count(session, message.id)
    took = time.perf_counter() - started
    tally = Tally(rows, datetime.now(UTC), time.time() + min(max(took * FRESH_FACTOR, FRESH_MIN), FRESH_MAX))
    if tally.total >= threshold:
        _quietly(lambda: store.put(key, tally), None)
    return tally


def _quietly(step: Callable[[], T], otherwise: T) -> T:
    """The cache only saves work: when it fails, count as if it were not there."""
    try:
        return step()
    except Exception:
        log.warning("delivery counts cache unavailable; counting directly", exc_info=True)
        return otherwise


class LocalTallies:
    """One web process's cache (the embedded default runs one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tallies: dict[str, tuple[Tally, float]] = {}
        self._turns: dict[str, float] = {}

    def get(self, key: str) -> Tally | None:
        with self._lock:
            entry = self._tallies.get(key)
            return entry[0] if entry and entry[1] > time.monotonic() else None

    def put(self, key: str, tally: Tally) -> None:
        with self._lock:
            now = time.monotonic()
            for old in [k for k, (_t, until) in self._tallies.items() if until <= now]:
                del self._tallies[old]
            self._tallies[key] = (tally, now + KEEP_SECONDS)
            self._turns.pop(key, None)

    def take_turn(self, key: str) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._turns.get(key, 0.0) > now:
                return False
            self._turns[key] = now + TURN_SECONDS
            return True


class RedisTallies:
    """Shared by every web process, so ten officers on five machines cost one count."""

    def __init__(self, url: str, prefix: str = "hub:tally:") -> None:
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    def get(self, key: str) -> Tally | None:
        raw = self._redis.get(self.prefix + key)
        return Tally.from_json(raw) if raw else None

    def put(self, key: str, tally: Tally) -> None:
        pipe = self._redis.pipeline()
        pipe.set(self.prefix + key, tally.as_json(), ex=KEEP_SECONDS)
        pipe.delete(self.prefix + key + ":turn")
        pipe.execute()

    def take_turn(self, key: str) -> bool:
        return bool(self._redis.set(self.prefix + key + ":turn", "1", nx=True, ex=int(TURN_SECONDS)))


def make_tallies(redis_url: str | None) -> TallyStore:
    return RedisTallies(redis_url) if redis_url else LocalTallies()
