"""Sends per second per (channel, sender): one bucket shared by every worker through Redis."""

from __future__ import annotations

import uuid

from hub.runtime.ratelimit import LocalRateLimiter, RedisRateLimiter
from tests.support.services import REDIS_URL, redis_reachable, require


def test_workers_share_one_bucket_per_sender_in_redis() -> None:
    require("Redis", redis_reachable())
    sender = f"+8150{uuid.uuid4().int % 10**8:08d}"
    worker_a, worker_b = RedisRateLimiter(REDIS_URL), RedisRateLimiter(REDIS_URL)
    waits_a = [worker_a.acquire("sms", sender, 1, rate=10) for _ in range(10)]
    assert max(waits_a) == 0, "a full bucket lets a burst of `rate` sends through"
    # The other worker finds the bucket this one emptied: it has to wait about 1/rate.
    assert 0.03 < worker_b.acquire("sms", sender, 1, rate=10) <= 0.11
    # Another sender (another department's number) has its own bucket.
    assert worker_b.acquire("sms", sender + "1", 1, rate=10) == 0


def test_local_bucket_spreads_sends_when_there_is_no_redis() -> None:
    limiter = LocalRateLimiter()
    assert all(limiter.acquire("sms", "dept", 1, rate=20) == 0 for _ in range(20))
    assert limiter.acquire("sms", "dept", 1, rate=20) > 0.02
    assert limiter.acquire("sms", "dept", 1, rate=0) == 0, "rate 0 means unthrottled"
