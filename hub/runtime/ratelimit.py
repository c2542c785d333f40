"""Sends-per-second limits per (channel, sender), so big sends are spread instead of rejected.

With Redis the bucket is shared by every worker on every machine; without it (the embedded
default) each process keeps its own bucket, which is documented as approximate.

A wait longer than ``max_wait`` is not slept: the tokens are left in the bucket and
:class:`WaitTooLong` says how long, so the batch goes back to the queue for that long and the worker
slot serves other work (an alert must never queue behind a rate-limited everyday send). Inside
:func:`waiting_budget` the waits of one batch add up against one budget: a batch of 100 e-mails at
2 per second sends what it can within the budget and requeues the rest.

When Redis is away, sending pauses: the limiter keeps trying for ``outage_wait`` seconds, then
raises :class:`LimiterUnavailable`, which dispatch turns into a clean retry (nothing was sent).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

import redis

log = logging.getLogger(__name__)


RATE_WAIT_CODE = "hub_rate"  # error code of rows requeued for their sender's rate: due again exactly then


class LimiterUnavailable(Exception):
    """The shared rate limiter cannot be reached: nothing may be sent until it can."""


class WaitTooLong(Exception):
    """The next send is ``wait`` seconds away: more than a worker slot should sit idle for."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"{wait:.1f}s")
        self.wait = wait


# Token bucket in one atomic step: refill by elapsed time, then take n or report the wait.
_LUA_TAKE = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local max_wait = tonumber(ARGV[5])
local state = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate)
local wait = 0
if tokens < n then
  wait = (n - tokens) / rate
end
if wait > max_wait then
  return '-' .. tostring(wait)
end
redis.call('HSET', key, 'tokens', tokens - n, 'ts', now)
redis.call('EXPIRE', key, 3600)
return tostring(wait)
"""


_budget: ContextVar[list[float] | None] = ContextVar("rate_wait_budget", default=None)


@contextmanager
def waiting_budget(seconds: float) -> Iterator[None]:
    """Rate waits inside add up; a wait that would take them past ``seconds`` raises WaitTooLong."""
    token = _budget.set([seconds])
    try:
        yield
    finally:
        _budget.reset(token)


def wait_allowed(default: float) -> float:
    budget = _budget.get()
    return default if budget is None else max(0.0, budget[0])


def waited(seconds: float) -> None:
    budget = _budget.get()
    if budget is not None:
        budget[0] -= seconds


class RateLimiter(Protocol):
    def acquire(self, channel: str, sender: str | None, n: int, rate: float, max_wait: float = float("inf")) -> float:
        """Block until ``n`` sends are allowed; return the seconds waited.

        Raises :class:`WaitTooLong` (taking nothing) when that would be longer than ``max_wait``.
        """


class LocalRateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, channel: str, sender: str | None, n: int, rate: float, max_wait: float = float("inf")) -> float:
        if rate <= 0:
            return 0.0
        key = f"{channel}:{sender or '-'}"
        burst = max(rate, float(n))
        with self._lock:
            now = time.monotonic()
            tokens, ts = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - ts) * rate)
            wait = (n - tokens) / rate if tokens < n else 0.0
            if wait > max_wait:
                self._buckets[key] = (tokens, now)
                raise WaitTooLong(wait)
            self._buckets[key] = (tokens - n, now)
        if wait > 0:
            time.sleep(wait)
        return wait


class RedisRateLimiter:
    def __init__(self, url: str, outage_wait: float = 15.0) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=2.0)
        self._take = self._redis.register_script(_LUA_TAKE)
        self.outage_wait = outage_wait

    def acquire(self, channel: str, sender: str | None, n: int, rate: float, max_wait: float = float("inf")) -> float:
        if rate <= 0:
            return 0.0
        key = f"hub:rate:{channel}:{sender or '-'}"
        burst = max(rate, float(n))
        started = time.monotonic()
        while True:
            try:
                # Redis TIME keeps every machine on one clock for the bucket.
                seconds, micros = self._redis.time()
                limit = max_wait if max_wait != float("inf") else 1e12
                wait = float(self._take(keys=[key], args=[rate, burst, n, seconds + micros / 1e6, limit]))
                break
            except redis.RedisError as exc:
                if time.monotonic() - started >= self.outage_wait:
                    raise LimiterUnavailable(f"Redis ({type(exc).__name__})") from exc
                log.warning("rate limiter: Redis unavailable (%s); sending paused", type(exc).__name__)
                time.sleep(0.5)
        if wait < 0:
            raise WaitTooLong(-wait)
        if wait > 0:
            time.sleep(wait)
        return wait


def make_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else LocalRateLimiter()
