"""What the watchdog knows about the delivery engine: worker heartbeats, its own observations,
the engine alarm, and provider measurements the workers aggregate for the metrics scrape."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UtcDateTime, utcnow


class WorkerHeartbeat(Base):
    """One Celery worker node (not each pool process): its main process beats every sweep interval.

    ``beats`` only ever grows; the watcher judges liveness by whether it changed *while it watched*,
    on its own clock, so a skewed clock on a worker's machine can neither kill nor revive it.
    """

    __tablename__ = "worker_heartbeats"

    node: Mapped[str] = mapped_column(String(200), primary_key=True)  # celery@host
    host: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int] = mapped_column(Integer)
    lanes: Mapped[str] = mapped_column(String(200), default="")  # the queues it consumes, comma-separated
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)  # the worker's own clock
    beats: Mapped[int] = mapped_column(Integer, default=0)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # a clean shutdown said goodbye


class EngineObservation(Base):
    """The watcher's memory: a fingerprint of a subject (a worker's beats, a send's settled rows)
    and when, on the watcher's clock, it last changed."""

    __tablename__ = "engine_observations"

    subject: Mapped[str] = mapped_column(String(220), primary_key=True)  # worker:<node> | message:<id> | watch
    fingerprint: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EngineAlarm(Base):
    """One row per alarm kind; ``alarm_sent_at`` is flipped by compare-and-set so the fleet alarms once."""

    __tablename__ = "engine_alarms"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    alarm_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    detail: Mapped[str | None] = mapped_column(Text)


class ProviderStat(Base):
    """Counters the workers add to after each batch (provider latency histogram, errors), so one
    scrape of any web process sees the whole fleet, whichever machines the workers run on."""

    __tablename__ = "provider_stats"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # latency_bucket | latency_sum | …
    label: Mapped[str] = mapped_column(String(32), primary_key=True, default="")  # le=… | outcome
    value: Mapped[float] = mapped_column(Float, default=0.0)
