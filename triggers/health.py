"""What ``hub jma status`` prints and the console's JMA page shows: feed health and the quarantine."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.config import Settings
from hub.models import utcnow
from hub.models.triggers import FeedHealth, QuarantinedTelegram, TriggerTelegram


def feed_status(session: Session, settings: Settings, *, quarantined: int = 5,
                now: datetime | None = None) -> dict[str, Any]:
    """Each feed (silent for longer than ``jma_silence_alarm_minutes``?), telegrams in the last 24 h,
    and the ``quarantined`` most recent quarantined items with their reasons."""
    now = now or utcnow()
    limit = timedelta(minutes=settings.jma_silence_alarm_minutes)
    feeds = list(session.scalars(select(FeedHealth).order_by(FeedHealth.url)))
    day = now - timedelta(days=1)
    processed = session.scalar(select(func.count()).select_from(TriggerTelegram)
                               .where(TriggerTelegram.claimed_at > day)) or 0
    held = list(session.scalars(select(QuarantinedTelegram)
                                .order_by(QuarantinedTelegram.id.desc()).limit(quarantined)))
    rows = []
    for f in feeds:
        last_ok = f.last_success_at or f.first_polled_at
        silent = now - (last_ok if last_ok.tzinfo else last_ok.replace(tzinfo=now.tzinfo)) > limit
        rows.append({"url": f.url, "silent": silent, "last_success_at": f.last_success_at,
                     "last_error": f.last_error or "", "last_error_at": f.last_error_at,
                     "entries_seen": f.entries_seen, "new_telegrams": f.new_telegrams,
                     "alarm_sent": f.alarm_sent_at is not None})
    recent = [{"item": q.item_key, "error": q.error, "received_at": q.received_at} for q in held]
    return {"enabled": settings.jma_enabled, "feeds": rows, "telegrams_24h": processed, "quarantined": recent}
