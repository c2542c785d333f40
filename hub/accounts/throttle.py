"""Login throttling: too many failures for one account, or from one client address, stop further tries.

Sliding windows of failure times. With Redis (``settings.redis_url``, or a Redis broker) every web
process on every machine sees the same counts; without it each process counts alone, which is
enough for the embedded single-process default. The client address is ``request.remote_addr``:
behind a reverse proxy that is the proxy, unless the app is wrapped in werkzeug's ``ProxyFix``
(docs/security.md).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

log = logging.getLogger(__name__)

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW_SECONDS = 15 * 60

# Add a failure and report how many are in the window and when the oldest of them leaves it.
_LUA_FAIL = """
local key, now, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
redis.call('ZADD', key, now, ARGV[3])
redis.call('EXPIRE', key, math.ceil(window))
return redis.call('ZCARD', key)
"""
_LUA_COUNT = """
local key, now, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {redis.call('ZCARD', key), tostring(oldest[2] or now)}
"""


class FailureStore(Protocol):
    def add(self, key: str) -> int:
        """Record one failure now; the count in the window afterwards."""

    def count(self, key: str) -> tuple[int, float]:
        """Failures in the window, and seconds until the oldest of them leaves it."""

    def clear(self, key: str) -> None: ...


class LocalFailures:
    def __init__(self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._times: dict[str, deque[float]] = {}

    def _live(self, key: str, now: float) -> deque[float]:
        times = self._times.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def add(self, key: str) -> int:
        now = self._clock()
        with self._lock:
            times = self._live(key, now)
            times.append(now)
            return len(times)

    def count(self, key: str) -> tuple[int, float]:
        now = self._clock()
        with self._lock:
            times = self._live(key, now)
            return len(times), (times[0] + self.window - now) if times else 0.0

    def clear(self, key: str) -> None:
        with self._lock:
            self._times.pop(key, None)


class RedisFailures:
    def __init__(self, url: str, prefix: str = "hub:login:", window: float = WINDOW_SECONDS) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=2.0)
        self._fail = self._redis.register_script(_LUA_FAIL)
        self._count = self._redis.register_script(_LUA_COUNT)
        self.prefix = prefix
        self.window = window

    def _now(self) -> float:
        seconds, micros = self._redis.time()  # one clock for every machine
        return float(seconds) + micros / 1e6

    def add(self, key: str) -> int:
        now = self._now()
        member = f"{now}:{threading.get_ident()}:{time.perf_counter_ns()}"
        return int(self._fail(keys=[self.prefix + key], args=[now, self.window, member]))

    def count(self, key: str) -> tuple[int, float]:
        now = self._now()
        n, oldest = self._count(keys=[self.prefix + key], args=[now, self.window])
        return int(n), max(0.0, float(oldest) + self.window - now) if int(n) else 0.0

    def clear(self, key: str) -> None:
        self._redis.delete(self.prefix + key)


class SharedOrLocal:
    """Redis counts, or this process's own while Redis is unreachable.

    A Redis outage during a disaster must not lock every operator out of the console, so logins
    stay throttled per process instead of failing (and a warning is logged).
    """

    def __init__(self, shared: FailureStore, local: FailureStore | None = None) -> None:
        self.shared = shared
        self.local = local or LocalFailures()

    @staticmethod
    def _warn(exc: Exception) -> None:
        log.warning("login throttle: Redis unavailable (%s); counting in this process", type(exc).__name__)

    def add(self, key: str) -> int:
        try:
            return self.shared.add(key)
        except redis.RedisError as exc:
            self._warn(exc)
            return self.local.add(key)

    def count(self, key: str) -> tuple[int, float]:
        try:
            return self.shared.count(key)
        except redis.RedisError as exc:
            self._warn(exc)
            return self.local.count(key)

    def clear(self, key: str) -> None:
        try:
            self.shared.clear(key)
        except redis.RedisError as exc:
            self._warn(exc)
            self.local.clear(key)


@dataclass(frozen=True)
class Refusal:
    """Why a login is refused before the password is even looked at, and for how long."""

    scope: str  # "account" | "address"
    retry_after: int  # seconds


def _key(kind: str, value: str) -> str:
    # Usernames are hashed so Redis never holds a list of who is being attacked in clear text.
    return f"{kind}:{hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]}"


class LoginThrottle:
    def __init__(self, store: FailureStore, account_limit: int = ACCOUNT_LIMIT,
                 address_limit: int = ADDRESS_LIMIT) -> None:
        self.store = store
        self.account_limit = account_limit
        self.address_limit = address_limit

    def refusal(self, username: str, address: str | None) -> Refusal | None:
        checks = [("account", _key("account", username), self.account_limit)]
        if address:
            checks.append(("address", _key("address", address), self.address_limit))
        for scope, key, limit in checks:
            n, wait = self.store.count(key)
            if n >= limit:
                return Refusal(scope, max(1, int(wait + 0.999)))
        return None

    def failed(self, username: str, address: str | None) -> None:
        self.store.add(_key("account", username))
        if address:
            self.store.add(_key("address", address))

    def succeeded(self, username: str) -> None:
        # The address keeps its count: one good password must not reset a spray over many accounts.
        self.store.clear(_key("account", username))


def make_throttle(redis_url: str | None) -> LoginThrottle:
    return LoginThrottle(SharedOrLocal(RedisFailures(redis_url)) if redis_url else LocalFailures())
