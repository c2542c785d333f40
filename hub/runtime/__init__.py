"""Per-process wiring: settings, database sessions, channel instances and the rate limiter.

One Runtime lives in the Flask app (``app.extensions["hub"]``) and therefore in every Celery
worker process too; channel adapters are built once and reused so SDK connections stay warm.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from channels.base import Channel, ChannelContext
from channels.errors import RateLimited, Unreachable
from hub.accounts.throttle import LoginThrottle, make_throttle
from hub.compose.tally import TallyStore, make_tallies
from hub.config import Settings
from hub.db import session_factory
from hub.health.provider_stats import ProviderStats
from hub.relay import clock
from hub.runtime.breaker import BreakerPolicy, CircuitBreaker, make_breaker
from hub.runtime.leases import Lease
from hub.runtime.ratelimit import RATE_WAIT_CODE, RateLimiter, WaitTooLong, make_limiter, wait_allowed, waited


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sessions: sessionmaker[Session] = session_factory(settings.database_url)
        self._channels: dict[str, Channel] = {}
        self._lock = threading.Lock()
        self._limiter: RateLimiter | None = None
        self._login_throttle: LoginThrottle | None = None
        self._breaker: CircuitBreaker | None = None
        self._tallies: TallyStore | None = None
        # Provider latency and errors for /metrics, added up in the database (hub/health/provider_stats.py).
        self.provider_stats = ProviderStats(self.sessions)
        self.lease = Lease(self.sessions, settings.lease_seconds, on_renew=self.provider_stats.flush)
        # When this process started, on the watcher's clock: it has watched the engine since then
        # (the alarm's grace for workers still starting, hub/health/watchdog.py).
        self.started_at: datetime = clock.now()

    @property
    def limiter(self) -> RateLimiter:
        if self._limiter is None:
            self._limiter = make_limiter(self.redis_url)
        return self._limiter

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit of each SMS gateway, shared by all workers through Redis when there is one."""
        if self._breaker is None:
            policy = BreakerPolicy(self.settings.sms_breaker_failures, self.settings.sms_breaker_cooldown_seconds)
            self._breaker = make_breaker(self.redis_url, policy)
        return self._breaker

    @property
    def tallies(self) -> TallyStore:
        """Large messages' delivery counts, made once for every viewer (hub/compose/tally.py)."""
        if self._tallies is None:
            self._tallies = make_tallies(self.redis_url)
        return self._tallies

    @tallies.setter
    def tallies(self, store: TallyStore) -> None:
        self._tallies = store

    @property
    def login_throttle(self) -> LoginThrottle:
        """Failed logins per account and per address, shared through Redis when there is one."""
        if self._login_throttle is None:
            self._login_throttle = make_throttle(self.redis_url)
        return self._login_throttle

    @login_throttle.setter
    def login_throttle(self, throttle: LoginThrottle) -> None:
        self._login_throttle = throttle

    @property
    def redis_url(self) -> str | None:
        if self.settings.redis_url:
            return self.settings.redis_url
        if self.settings.broker_url.startswith(("redis://", "rediss://")):
            return self.settings.broker_url
        return None

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def channel(self, name: str) -> Channel:
        with self._lock:
            channel = self._channels.get(name)
            if channel is None:
                channel = self._channels[name] = self._build_channel(name)
            return channel

    def _build_channel(self, name: str) -> Channel:
        from channels import registry

        rate = self.settings.rate_for(name)
        limiter = self.limiter

        max_wait = self.settings.rate_wait_max_seconds

        def throttle(sender: str | None, n: int) -> None:
            # Before any request is made: whatever goes wrong here leaves nothing in doubt.
            try:
                waited(limiter.acquire(name, sender, n, rate, wait_allowed(max_wait)))
            except WaitTooLong as exc:
                raise RateLimited(f"送信速度の上限（毎秒{rate:g}件）のため、{exc.wait:.0f}秒後に続きを送ります",
                                  retry_after=exc.wait, code=RATE_WAIT_CODE) from exc
            except Exception as exc:
                raise Unreachable(f"レート制限（Redis）が使えないため送信を止めました（未送信）: {exc}") from exc

        def gateway_health(gateway: str, ok: bool) -> None:
            with contextlib.suppress(Exception):  # bookkeeping must never fail a send
                self.breaker.record(gateway, ok)

        context = ChannelContext(
            public_url=self.settings.public_url, throttle=throttle, timeout=self.settings.provider_timeout,
            requests_in_flight=self.settings.requests_in_flight,
            gateway_health=gateway_health, observer=self.provider_stats,
        )
        return registry.build(name, self.settings, context)

    def available_channels(self) -> list[str]:
        from channels import registry

        return sorted(registry.available())
