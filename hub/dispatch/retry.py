"""The one place that decides when a failed attempt is tried again."""

from __future__ import annotations

import random

BASE_DELAY = 2.0
MAX_DELAY = 300.0  # stays far below the broker's visibility timeout; the sweeper covers the rest


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, never sooner than the provider's own retry-after hint."""
    delay = min(MAX_DELAY, BASE_DELAY * (2 ** max(0, attempts - 1)))
    delay = delay * (0.5 + random.random() / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_DELAY))
    return delay


def should_give_up(attempts: int, max_attempts: int) -> bool:
    return attempts >= max_attempts
