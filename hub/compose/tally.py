"""A message's delivery counts for the people watching it: counted once for all of them.

The counts are one GROUP BY over the message's rows. At a million rows that costs the database
about 0.3 s per channel, and every open dashboard and status page asks again every 3 s, during the
very send whose rows the same database is writing (``benchmarks/console.py``). So a large message
(``CACHE_FROM_ROWS`` rows or more) is counted once for every viewer in every web process (through
Redis when there is one) and that count is shown for ten times what it cost to make, between 1 and
10 s, with the time it was made. While one request counts again, the others show the previous count
rather than count too. A smaller message is counted exactly on every request, as before.

A Prometheus scrape (``recent``) takes a shared count up to a minute old and counts every other
message of the last day together, in one statement.

Only the pages, the API's message views and ``/metrics`` read through here; whatever decides
something (the CLI's wait, the dispatcher, the stall watcher) counts exactly.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

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
class Shared:
    """Something counted for everyone watching: a JSON value, when it was made, and until when it is shown."""

    value: Any
    counted_at: datetime
    fresh_until: float  # time.time()

    def as_json(self) -> str:
        return json.dumps({"value": self.value, "counted_at": self.counted_at.isoformat(),
                           "fresh_until": self.fresh_until}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Shared:
        data = json.loads(text)
        return cls(data["value"], datetime.fromisoformat(data["counted_at"]), float(data["fresh_until"]))


@dataclass(frozen=True)
class Tally:
    rows: tuple[CountRow, ...]
    counted_at: datetime
    fresh_until: float  # time.time()

    @property
    def total(self) -> int:
        return _rows_in(self.rows)

    @classmethod
    def of(cls, shared: Shared) -> Tally:
        return cls(_rows(shared.value), shared.counted_at, shared.fresh_until)


def _rows_in(rows: Any) -> int:
    return sum(n for *_key, n in rows)


def _rows(value: Any) -> tuple[CountRow, ...]:
    return tuple((str(c), str(s), r, int(n)) for c, s, r, n in value)


def count(session: Session, message_id: int) -> tuple[CountRow, ...]:
    return count_many(session, [message_id])[message_id]


def count_many(session: Session, message_ids: list[int]) -> dict[int, tuple[CountRow, ...]]:
    """Each message's rows by channel, state and reason, in one statement."""
    rows: dict[int, list[CountRow]] = {m: [] for m in message_ids}
    for message_id, channel, state, reason, n in session.execute(
            select(Delivery.message_id, Delivery.channel, Delivery.state, Delivery.reason, func.count())
            .where(Delivery.message_id.in_(message_ids))
            .group_by(Delivery.message_id, Delivery.channel, Delivery.state, Delivery.reason)):
        rows[message_id].append((str(channel), str(state), reason, int(n)))
    return {m: tuple(r) for m, r in rows.items()}


def exact(session: Session, message_id: int) -> Tally:
    now = time.time()
    return Tally(count(session, message_id), _at(now), now)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class TallyStore(Protocol):
    def get(self, key: str) -> str | None: ...

    def put(self, key: str, text: str) -> None: ...

    def take_turn(self, key: str) -> bool:
        """True for the one caller that may count ``key`` again now."""


def shared(store: TallyStore, key: str, make: Callable[[], Any], *, worth_sharing: Callable[[Any], bool],
           fresh_max: float = FRESH_MAX) -> Shared:
    """``make()``'s value as everyone watching ``key`` sees it: made again once it has been shown
    for ten times what making it took (between 1 s and ``fresh_max``), by one request while the
    others show the previous one; kept for the others only when ``worth_sharing``."""
    cached = _load(store, key)
    if cached is not None and (time.time() < cached.fresh_until or not _quietly(lambda: store.take_turn(key), True)):
        return cached
    started = time.perf_counter()
    value = make()
    return _keep(store, key, value, time.perf_counter() - started, worth_sharing(value), fresh_max)


def _load(store: TallyStore, key: str) -> Shared | None:
    raw = _quietly(lambda: store.get(key), None)
    return Shared.from_json(raw) if raw else None


def _keep(store: TallyStore, key: str, value: Any, took: float, worth_sharing: bool,
          fresh_max: float = FRESH_MAX) -> Shared:
    now = time.time()
    made = Shared(value, _at(now), now + min(max(took * FRESH_FACTOR, FRESH_MIN), fresh_max))
    if worth_sharing:
        # Stored as its JSON, and given back from it: what the first viewer sees, the others see.
        text = made.as_json()
        _quietly(lambda: store.put(key, text), None)
        made = Shared.from_json(text)
    return made


def watched(session: Session, message: Message, store: TallyStore, *, cache_from_rows: int | None = None) -> Tally:
    """The counts to show for ``message``: cached while fresh when the message is large."""
    threshold = CACHE_FROM_ROWS if cache_from_rows is None else cache_from_rows
    return Tally.of(shared(store, _key(message), lambda: count(session, message.id),
                           worth_sharing=lambda rows: _rows_in(rows) >= threshold))


def recent(session: Session, messages: list[Message], store: TallyStore, *, max_age: float) -> list[Tally]:
    """Counts of many messages for a monitoring view (``/metrics``): a shared count no older than
    ``max_age`` seconds where there is one, the rest counted together in one statement."""
    found: dict[int, Tally] = {}
    for message in messages:
        cached = _load(store, _key(message))
        if cached is not None and time.time() - cached.counted_at.timestamp() < max_age:
            found[message.id] = Tally.of(cached)
    missing = [m for m in messages if m.id not in found]
    if missing:
        started = time.perf_counter()
        counted = count_many(session, [m.id for m in missing])
        took = time.perf_counter() - started
        for m in missing:
            rows = counted[m.id]
            found[m.id] = Tally.of(_keep(store, _key(m), rows, took, _rows_in(rows) >= CACHE_FROM_ROWS))
    return [found[m.id] for m in messages]


def _key(message: Message) -> str:
    # The state is part of the key: approving, finishing or cancelling shows fresh counts at once.
    return f"{message.public_id}:{message.state}"


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
        self._kept: dict[str, tuple[str, float]] = {}
        self._turns: dict[str, float] = {}

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._kept.get(key)
            return entry[0] if entry and entry[1] > time.monotonic() else None

    def put(self, key: str, text: str) -> None:
        with self._lock:
            now = time.monotonic()
            for old in [k for k, (_t, until) in self._kept.items() if until <= now]:
                del self._kept[old]
            self._kept[key] = (text, now + KEEP_SECONDS)
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

    def get(self, key: str) -> str | None:
        raw = self._redis.get(self.prefix + key)
        return raw.decode("utf-8") if isinstance(raw, bytes) else raw

    def put(self, key: str, text: str) -> None:
        pipe = self._redis.pipeline()
        pipe.set(self.prefix + key, text, ex=KEEP_SECONDS)
        pipe.delete(self.prefix + key + ":turn")
        pipe.execute()

    def take_turn(self, key: str) -> bool:
        return bool(self._redis.set(self.prefix + key + ":turn", "1", nx=True, ex=int(TURN_SECONDS)))


def make_tallies(redis_url: str | None) -> TallyStore:
    return RedisTallies(redis_url) if redis_url else LocalTallies()
