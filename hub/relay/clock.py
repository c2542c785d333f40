"""The relay's notion of "now", replaceable so tests (and drills) can move time by hand.

Everything that decides *when* a step is due reads this clock; worker liveness (leases) keeps
reading the wall clock, because a frozen test clock must never make a living worker look dead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """Stands still until told to move; shared by every thread of the process (web, tasks, tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = aware(start) if start else datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = aware(when)


_clock: Clock = SystemClock()


def now() -> datetime:
    return _clock.now()


def set_clock(clock: Clock | None) -> None:
    global _clock
    _clock = clock or SystemClock()


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    previous = _clock
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


def aware(value: datetime) -> datetime:
    """Stored times are UTC; some drivers hand them back without the offset."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
