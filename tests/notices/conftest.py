from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.relay import clock as hub_clock
from hub.relay.clock import ManualClock
from tests.notices.support import MORNING


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    manual = ManualClock(MORNING)
    with hub_clock.using(manual):
        yield manual
