"""Automatic triggers: rules, every telegram seen, incidents, warning state, feed health, send ledger.

The database is the only memory a trigger has: two pollers racing on the same
telegram are told apart by unique constraints, not by a lock in one process, and a restarted
worker finds the warning state, the open incidents and the rate ceiling where it left them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UtcDateTime, utcnow


class TriggerRule(Base):
    """When a source event matches ``conditions``, send ``template_code`` to ``audience``."""

    __tablename__ = "trigger_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(32), default="jma")
    kind: Mapped[str] = mapped_column(String(32))  # earthquake | tsunami | warning | landslide | …
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    on: Mapped[list[str]] = mapped_column(JSON, default=list)  # issued | upgraded | cleared | observed …
    template_code: Mapped[str] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(200))
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    approval: Mapped[str] = mapped_column(String(16), default="auto")  # auto | required
    hold_minutes: Mapped[int] = mapped_column(Integer, default=0)
    max_per_hour: Mapped[int] = mapped_column(Integer, default=3)
    department_code: Mapped[str | None] = mapped_column(String(32))
    # Optional staff call-out started with the alert: {"survey", "departments", "steps", "interval", "cycles"}.
    callout: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Removed rules stay: the ledger and old messages point at them as proof of why a send happened.
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TriggerIncident(Base):
    """Telegrams about one happening (one quake's EventID, one prefecture's warnings)."""

    __tablename__ = "trigger_incidents"
    __table_args__ = (UniqueConstraint("source", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))  # actual | exercise | test
    title: Mapped[str] = mapped_column(String(300), default="")
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TriggerTelegram(Base):
    """Every item a source delivered, once: claimed before download, then the decision taken.

    ``item_key`` (the telegram URL, or ``sha256:…`` for a replayed file) stops a second download;
    ``(unit_hash, version)`` stops the same telegram arriving by two ways from acting twice.
    """

    __tablename__ = "trigger_telegrams"
    __table_args__ = (
        UniqueConstraint("source", "item_key"),
        UniqueConstraint("source", "unit_hash", "version"),
        Index("ix_trigger_telegrams_unit", "source", "unit_hash", "reported_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    item_key: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default="claimed")  # claimed | done | quarantined | failed
    type_code: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(16))  # actual | exercise | test (from Control/Status)
    info_type: Mapped[str | None] = mapped_column(String(16))  # issued | corrected | cancelled
    unit_hash: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(100))
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    headline: Mapped[str] = mapped_column(Text, default="")
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("trigger_incidents.id"))
    decision: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class QuarantinedTelegram(Base):
    """A telegram that could not be read, kept with the reason so a person can look at it."""

    __tablename__ = "trigger_quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    item_key: Mapped[str] = mapped_column(String(500))
    error: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FeedHealth(Base):
    """One polled feed: conditional-GET validators and whether it is alive (silence is an alarm)."""

    __tablename__ = "trigger_feed_health"
    __table_args__ = (UniqueConstraint("source", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(500))
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    first_polled_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    entries_seen: Mapped[int] = mapped_column(Integer, default=0)
    new_telegrams: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the silence alarm went out; cleared on recovery so the next outage alarms again.
    alarm_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WarningStateRow(Base):
    """Level in effect per (telegram status, scheme, area, hazard): warnings are full snapshots."""

    __tablename__ = "trigger_warning_state"
    __table_args__ = (UniqueConstraint("status", "scheme", "area_code", "hazard"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    scheme: Mapped[str] = mapped_column(String(16))
    area_code: Mapped[str] = mapped_column(String(16))
    hazard: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer, default=0)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RuleIncident(Base):
    """What one rule has announced for one incident: the base for "is this news?"."""

    __tablename__ = "trigger_rule_incidents"
    __table_args__ = (UniqueConstraint("rule_id", "incident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("trigger_rules.id"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("trigger_incidents.id"))
    announced: Mapped[bool] = mapped_column(Boolean, default=False)
    told: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TriggerSend(Base):
    """Ledger: which telegram made which rule create which message (and the per-hour ceiling)."""

    __tablename__ = "trigger_sends"
    __table_args__ = (Index("ix_trigger_sends_rule_created", "rule_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("trigger_rules.id"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("trigger_incidents.id"))
    telegram_id: Mapped[int] = mapped_column(ForeignKey("trigger_telegrams.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    kind: Mapped[str] = mapped_column(String(16))  # alert | update | cancel | correction
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
