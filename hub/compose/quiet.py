"""Quiet hours: when an everyday notice may reach a resident's phone.

A reminder at 23:00 wakes people and teaches them to mute the city's number — the number that must
be heard when the next earthquake comes. So a notice due inside the quiet window (Japan time,
default 21:00–08:00, per department) leaves when the window ends. Alerts, 取消/訂正 and staff
call-outs are never held: only ``MsgType.NOTICE`` is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from hub.compose.schedule import JST
from hub.models.messages import MsgType


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
            start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
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


def held_by_quiet_hours(msg_type: str) -> bool:
    """Only everyday notices wait; anything about safety goes at once."""
    return msg_type == MsgType.NOTICE


def send_time(quiet: QuietHours | None, msg_type: str, when: datetime) -> datetime:
    """When a message of ``msg_type`` due at ``when`` may actually leave."""
    if quiet is None or not held_by_quiet_hours(msg_type):
        return when.astimezone(UTC)
    return quiet.next_allowed(when)
