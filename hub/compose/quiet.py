"""Quiet hours: when an everyday notice may reach a resident's phone.

A reminder at 23:00 wakes people and teaches them to mute the city's number — the number that must
be heard when the next earthquake comes. So a notice due inside the quiet window (Japan time,
default 21:00–08:00, per department) leaves when the window ends. Alerts, 取消/訂正 and staff
call-outs are never held: only ``MsgType.NOTICE`` is.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from hub.compose.schedule import JST
from hub.models.messages import MsgType

if TYPE_CHECKING:
    from hub.config import Settings
    from hub.models.org import Department

log = logging.getLogger(__name__)
NO_WINDOW = "none"  # a department's setting: its notices never wait


class QuietHoursError(ValueError):
    pass


@dataclass(frozen=True)
class QuietHours:
    start: time  # the window opens (Japan time), e.g. 21:00
    end: time  # and closes, e.g. 08:00; a window may cross midnight

    @classmethod
    def parse(cls, raw: str) -> QuietHours | None:
        """"21:00-08:00" → the window; "" → none."""
        raw = raw.strip()
        if not raw:
            return None
        try:
            start, end = (_clock_time(part) for part in raw.split("-"))
        except ValueError as exc:
            raise QuietHoursError("静かな時間帯は「21:00-08:00」の形で指定してください") from exc
        if start == end:
            raise QuietHoursError("静かな時間帯の開始と終了が同じです")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # crosses midnight

    def next_allowed(self, when: datetime) -> datetime:
        """``when`` (aware) if outside the window, else the window's end; returned in UTC."""
        local = when.astimezone(JST)
        if not self.contains(local.time().replace(tzinfo=None)):
            return when.astimezone(UTC)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)


def _clock_time(text: str) -> time:
    """"8:00" or "08:00" (people write both) → 08:00; anything else is a ValueError."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if match is None:
        raise ValueError(text)
    return time(int(match.group(1)), int(match.group(2)))


def held_by_quiet_hours(msg_type: str) -> bool:
    """Only everyday notices wait; anything about safety goes at once."""
    return msg_type == MsgType.NOTICE


def send_time(quiet: QuietHours | None, msg_type: str, when: datetime) -> datetime:
    """When a message of ``msg_type`` due at ``when`` may actually leave."""
    if quiet is None or not held_by_quiet_hours(msg_type):
        return when.astimezone(UTC)
    return quiet.next_allowed(when)


def read_setting(raw: str | None) -> str | None:
    """What an administrator typed for a department, checked: "" → None (the hub's window),
    "none", or the window written as "21:00-08:00". Raises QuietHoursError."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if raw.lower() == NO_WINDOW:
        return NO_WINDOW
    quiet = QuietHours.parse(raw)
    return str(quiet) if quiet is not None else None


def quiet_hours_for(settings: Settings, department: Department | None) -> QuietHours | None:
    """The window a department's notices keep: its own, "none", or the hub's (HUB_QUIET_HOURS)."""
    own = ((department.quiet_hours if department is not None else None) or "").strip()
    if own.lower() == NO_WINDOW:
        return None
    if own:
        try:
            return QuietHours.parse(own)
        except QuietHoursError:  # stored before it was checked: the hub's window rather than none
            log.error("department %s has quiet hours %r that are not a window; using the hub's",
                      department.code if department is not None else "?", own)
    return QuietHours.parse(settings.quiet_hours)


@dataclass(frozen=True)
class Hold:
    """A notice kept back by the quiet window: due at ``due``, leaves at ``until`` (both UTC)."""

    window: QuietHours
    due: datetime
    until: datetime

    def record(self) -> dict[str, Any]:
        """What ``message.meta["quiet"]`` keeps, so the message page and the record can say why."""
        return {"window": str(self.window), "due": self.due.isoformat(), "until": self.until.isoformat()}


def hold(settings: Settings, department: Department | None, msg_type: str, due: datetime | None,
         now: datetime) -> Hold | None:
    """The hold on a message of ``msg_type`` due at ``due`` (None: now), or None when it may go then."""
    quiet = quiet_hours_for(settings, department)
    if quiet is None or not held_by_quiet_hours(msg_type):
        return None
    wanted = max(due, now) if due is not None else now
    until = send_time(quiet, msg_type, wanted)
    if until <= wanted:
        return None
    return Hold(quiet, wanted.astimezone(UTC), until)


def window_words(window: str) -> str:
    """"21:00-08:00" → "21:00〜8:00", as the composer and the message page say it."""
    quiet = QuietHours.parse(window)
    if quiet is None:
        return ""
    return f"{quiet.start.hour}:{quiet.start.minute:02d}〜{quiet.end.hour}:{quiet.end.minute:02d}"


def local_words(when: datetime, locale: str = "ja") -> str:
    """A moment in Japan time as people say it: "12月2日 8:00" (English: "Dec 2, 8:00")."""
    local = when.astimezone(JST)
    if locale == "ja":
        return f"{local.month}月{local.day}日 {local.hour}:{local.minute:02d}"
    return f"{local:%b} {local.day}, {local.hour}:{local.minute:02d}"
