"""An everyday notice still sending when its department's quiet hours begin stops for the night.

A big notice can outlast the evening (100,000 SMS at a provider's 10 per second take almost three
hours): without this, a send started at 19:00 would keep texting residents until 22:00. Its rows
not yet sent wait for the window's end, with a note saying so; rows already with the provider are
left as they are. Alerts, 取消/訂正 and call-outs are never paused (``held_by_quiet_hours``). The
retry deadline counts from the resumption, so the morning's rows keep their retries.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from hub.compose.quiet import Hold, local_words, window_words
from hub.compose.quiet import hold as quiet_hold
from hub.config import Settings
from hub.db import rowcount
from hub.dispatch.claim import CLAIMABLE
from hub.models import Delivery, Message, audit, utcnow
from hub.relay import clock

PAUSE_KEY = "night_pause"  # in message.meta: the window, when it resumes (hub clock) and resume_at (wall)


def night_hold(settings: Settings, message: Message) -> Hold | None:
    """The hold on ``message`` now, if it is a notice and its department's quiet hours have begun."""
    return quiet_hold(settings, message.department, message.msg_type, None, clock.now())


def wait_for_morning(session: Session, message: Message, channel: str, batch_no: int, night: Hold) -> int:
    """Move the batch's unsent rows to the window's end; returns how many now wait."""
    wall = utcnow()
    # Rows are due by the wall clock (as every retry is); the window is read on the hub's clock,
    # which tests and drills move by hand.
    resume_at = wall + (night.until - night.due)
    note = (f"お知らせを送らない時間帯（{window_words(str(night.window))}）のため、"
            f"{local_words(night.until)} に続きを送ります")
    waiting = rowcount(session.execute(
        update(Delivery)
        .where(Delivery.message_id == message.id, Delivery.channel == channel, Delivery.batch_no == batch_no,
               Delivery.state.in_(CLAIMABLE))
        .values(next_attempt_at=resume_at, updated_at=wall, error=note)))
    paused = (message.meta or {}).get(PAUSE_KEY) or {}
    if waiting and paused.get("until") != night.until.isoformat():
        message.meta = {**(message.meta or {}), PAUSE_KEY: {
            "window": str(night.window), "until": night.until.isoformat(), "resume_at": resume_at.isoformat()}}
        audit(session, "system", "message.quiet_hours_pause", message, until=night.until.isoformat())
    return waiting


def resumed_at(message: Message) -> datetime | None:
    """When (wall clock) a send paused for the night went on, if it was paused."""
    raw = ((message.meta or {}).get(PAUSE_KEY) or {}).get("resume_at")
    return datetime.fromisoformat(raw) if raw else None
