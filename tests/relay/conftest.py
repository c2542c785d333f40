"""Relay fixtures: a hand-moved clock, seeded staff, and helpers to start and drive a call-out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from hub.relay import clock as relay_clock
from hub.relay.clock import ManualClock

T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    manual = ManualClock(T0)
    with relay_clock.using(manual):
        yield manual
