"""The one place that decides what happens after an attempt that did not settle a row.

An attempt is a provider request that carried the row. Only those count towards
``max_attempts``; rows held back by a rate limit or never sent at all (connection refused, our
limiter unavailable) are retried until ``deadline`` instead, so a busy provider cannot use up a
recipient's tries before a single request was made for them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

BASE_DELAY = 2.0
MAX_DELAY = 300.0  # stays far below the broker's visibility timeout; the sweeper covers the rest
JST = ZoneInfo("Asia/Tokyo")


def backoff_seconds(attempts: int, retry_after: float | None = None, base: float = BASE_DELAY) -> float:
    """Exponential backoff with jitter, never sooner than the provider's own retry-after hint."""
    delay = min(MAX_DELAY, base * (2 ** max(0, attempts - 1)))
    delay = delay * (0.5 + random.random() / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_DELAY))
    return delay


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    deadline: datetime  # after this, rows that never got a request are given up
    check_after: float  # seconds before asking the provider about a request whose answer was lost
    base_delay: float = BASE_DELAY  # the first retry's backoff; it doubles per attempt

    def out_of_attempts(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def past_deadline(self, now: datetime) -> bool:
        return now >= self.deadline


def clock_time(moment: datetime) -> str:
    return moment.astimezone(JST).strftime("%H:%M:%S")


def retry_note(at: datetime, attempts: int, policy: RetryPolicy) -> str:
    return f"{clock_time(at)}に再送します（これまでの送信{attempts}回／上限{policy.max_attempts}回）"


def check_note(at: datetime) -> str:
    return f"{clock_time(at)}に送信済みかを事業者に確認し、受け付けられていなければ送り直します"


def gave_up_note(attempts: int) -> str:
    return f"{attempts}回送信しても届けられなかったため、この宛先への送信を終了しました"


def deadline_note(policy: RetryPolicy) -> str:
    return f"{clock_time(policy.deadline)}までに送信できなかったため、この宛先への送信を終了しました"


UNKNOWN_NOTE = "届いたかを確かめる手段がないため、二重送信を避けて再送しません。受信者に確認してください"
RESEND_NOTE = "送り直します"


def with_note(error: str | None, note: str) -> str:
    return f"{error} → {note}" if error else note


def timedelta_seconds(seconds: float) -> timedelta:
    return timedelta(seconds=max(0.0, seconds))
