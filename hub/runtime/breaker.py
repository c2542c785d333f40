"""A circuit breaker per gateway, shared by every worker through Redis (in-process without it).

Closed: requests flow and failures in a row are counted; any answer resets the count. Open
(``failures`` in a row reached the threshold): the gateway gets no new batches until the
cool-down has passed. Half-open: the first worker that asks after the cool-down is let through
with one probe batch and the circuit stays shut to the others meanwhile (the cool-down starts
again); the probe's first answer closes it, its failure keeps it open.

The breaker only steers *new* sends. Rows in doubt at a gateway are always asked of that gateway,
whatever its circuit says: asking cannot make a second copy, sending elsewhere could.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis

log = logging.getLogger(__name__)

# One atomic step each, on Redis's clock so every machine agrees. KEYS[1] = the gateway's hash.
_LUA_ALLOW = """
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
local now, threshold, cooldown = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if failures < threshold then return 1 end
if now < open_until then return 0 end
redis.call('HSET', KEYS[1], 'open_until', now + cooldown)
return 2
"""
_LUA_FAIL = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[2]) then
  local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
  redis.call('HSET', KEYS[1], 'open_until', math.max(open_until, tonumber(ARGV[1]) + tonumber(ARGV[3])))
end
redis.call('EXPIRE', KEYS[1], 86400)
return failures
"""


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 5  # failed requests in a row that open the circuit
    cooldown: float = 60.0  # seconds before one probe is let through


class CircuitBreaker(Protocol):
    policy: BreakerPolicy

    def allows(self, gateway: str) -> bool:
        """May a new batch go to ``gateway`` now (closed, or this caller is the half-open probe)?"""

    def is_open(self, gateway: str) -> bool:
        """Open and still cooling down (a read: no probe is taken)."""

    def record(self, gateway: str, ok: bool) -> None:
        """One request's outcome at ``gateway``: an answer closes, a failure counts."""


class LocalBreaker:
    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self._lock = threading.Lock()
        self._state: dict[str, tuple[int, float]] = {}  # gateway -> (failures in a row, open until)

    def allows(self, gateway: str) -> bool:
        with self._lock:
            failures, open_until = self._state.get(gateway, (0, 0.0))
            if failures < self.policy.failures:
                return True
            now = time.monotonic()
            if now < open_until:
                return False
            self._state[gateway] = (failures, now + self.policy.cooldown)
            return True

    def is_open(self, gateway: str) -> bool:
        with self._lock:
            failures, open_until = self._state.get(gateway, (0, 0.0))
            return failures >= self.policy.failures and time.monotonic() < open_until

    def record(self, gateway: str, ok: bool) -> None:
        with self._lock:
            if ok:
                self._state.pop(gateway, None)
                return
            failures, open_until = self._state.get(gateway, (0, 0.0))
            failures += 1
            if failures >= self.policy.failures:
                open_until = max(open_until, time.monotonic() + self.policy.cooldown)
                if failures == self.policy.failures:
                    log.warning("gateway %s: circuit opened after %d failed requests", gateway, failures)
            self._state[gateway] = (failures, open_until)


class RedisBreaker:
    def __init__(self, url: str, policy: BreakerPolicy, prefix: str = "hub:breaker:") -> None:
        self.policy = policy
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._allow = self._redis.register_script(_LUA_ALLOW)
        self._fail = self._redis.register_script(_LUA_FAIL)

    def _now(self) -> float:
        seconds, micros = self._redis.time()
        return float(seconds) + micros / 1e6

    def allows(self, gateway: str) -> bool:
        try:
            verdict = int(self._allow(keys=[self.prefix + gateway],
                                      args=[self._now(), self.policy.failures, self.policy.cooldown]))
        except redis.RedisError:
            log.warning("circuit breaker: Redis unavailable; %s treated as closed", gateway)
            return True  # no shared knowledge: the primary, as without a breaker
        if verdict == 2:
            log.info("gateway %s: half-open, this batch probes it", gateway)
        return verdict != 0

    def is_open(self, gateway: str) -> bool:
        try:
            failures, open_until = self._redis.hmget(self.prefix + gateway, "failures", "open_until")
            return int(failures or 0) >= self.policy.failures and self._now() < float(open_until or 0)
        except redis.RedisError:
            return False

    def record(self, gateway: str, ok: bool) -> None:
        try:
            if ok:
                self._redis.delete(self.prefix + gateway)
                return
            failures = int(self._fail(keys=[self.prefix + gateway],
                                      args=[self._now(), self.policy.failures, self.policy.cooldown]))
            if failures == self.policy.failures:
                log.warning("gateway %s: circuit opened after %d failed requests", gateway, failures)
        except redis.RedisError:
            log.warning("circuit breaker: Redis unavailable; the outcome at %s was not counted", gateway)


def make_breaker(redis_url: str | None, policy: BreakerPolicy) -> CircuitBreaker:
    return RedisBreaker(redis_url, policy) if redis_url else LocalBreaker(policy)
