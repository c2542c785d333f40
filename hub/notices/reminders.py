"""Reminders relative to a date column: each row's own send time, kept out of quiet hours.

A rule is one of:

* ``day_before@10:00`` — the day before the row's date, at 10:00 Japan time (前日10時);
* ``days:N@HH:MM`` — N days before, at HH:MM Japan time;
* ``hours:N`` — N hours before the row's date and time.

A time inside the quiet window (hub/compose/quiet.py) moves to the window's end if that is still
before the appointment, else back to the last minute before the window opened (the evening
before): a reminder is never sent at night, and never after the thing it reminds of. A row whose
send time has already passed is reported, not sent late.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.orm import Session

from hub.compose.quiet import QuietHours, send_time
from hub.compose.quiet import quiet_hours_for as department_quiet_hours
from hub.compose.schedule import JST
from hub.config import Settings
from hub.models import Department, MsgType

_RULE = re.compile(r"^(?:(?P<day_before>day_before)@(?P<at1>\d{1,2}:\d{2})"
                   r"|days:(?P<days>\d{1,3})@(?P<at2>\d{1,2}:\d{2})"
                   r"|hours:(?P<hours>\d{1,3}))$")
RULE_HELP = "day_before@10:00 / days:N@HH:MM / hours:N"
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S",
                 "%Y年%m月%d日 %H:%M", "%Y年%m月%d日 %H時%M分", "%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日")


class ReminderError(ValueError):
    pass


def quiet_hours_for(session: Session, settings: Settings, department_id: int | None) -> QuietHours | None:
    """The quiet window that applies to a department's notices (the one place CSV sends ask): the
    department's own, "none", or the hub's — hub.compose.quiet decides, as for every notice."""
    department = session.get(Department, department_id) if department_id is not None else None
    return department_quiet_hours(settings, department)


@dataclass(frozen=True)
class ReminderRule:
    days: int = 0
    at: time | None = None  # a clock time (Japan) on that day; None: ``hours`` before the moment
    hours: int = 0

    @classmethod
    def parse(cls, raw: str) -> ReminderRule:
        found = _RULE.match(raw.strip())
        if found is None:
            raise ReminderError(f"リマインドの指定が正しくありません: {raw!r}（使えるもの: {RULE_HELP}）")
        if found["hours"] is not None:
            if int(found["hours"]) == 0:
                raise ReminderError("何時間前かを1以上で指定してください")
            return cls(hours=int(found["hours"]))
        days = 1 if found["day_before"] else int(found["days"])
        try:
            at = time.fromisoformat((found["at1"] or found["at2"]).zfill(5))
        except ValueError as exc:
            raise ReminderError(f"時刻が正しくありません: {raw!r}") from exc
        if days == 0:
            raise ReminderError("何日前かを1以上で指定してください")
        return cls(days=days, at=at)

    def __str__(self) -> str:
        if self.at is None:
            return f"hours:{self.hours}"
        return f"day_before@{self.at:%H:%M}" if self.days == 1 else f"days:{self.days}@{self.at:%H:%M}"

    def due(self, appointment: datetime) -> datetime:
        """The send time before quiet hours (aware, UTC)."""
        if self.at is None:
            return (appointment - timedelta(hours=self.hours)).astimezone(UTC)
        day = appointment.astimezone(JST).date() - timedelta(days=self.days)
        return datetime.combine(day, self.at, tzinfo=JST).astimezone(UTC)


def read_moment(raw: str) -> tuple[datetime, bool]:
    """A date column's cell → (the moment, aware UTC; whether it had a time). Japan time unless it says."""
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text)
        has_time = "T" in text or ":" in text
    except ValueError:
        for pattern in _DATE_FORMATS:
            try:
                value = datetime.strptime(text, pattern)
            except ValueError:
                continue
            has_time = "%H" in pattern
            break
        else:
            raise ReminderError(f"日時として読めません: {raw!r}（例: 2026-12-02 14:30）") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=JST)
    return value.astimezone(UTC), has_time


def out_of_quiet(quiet: QuietHours | None, when: datetime, before: datetime) -> datetime:
    """``when`` moved out of the quiet window: to its end if that is still before ``before`` (the
    appointment), else to the last minute before the window opened."""
    moved = send_time(quiet, MsgType.NOTICE, when)
    if quiet is None or moved == when.astimezone(UTC) or moved < before:
        return moved
    local = when.astimezone(JST)
    opened = local.replace(hour=quiet.start.hour, minute=quiet.start.minute, second=0, microsecond=0)
    if opened > local:
        opened -= timedelta(days=1)
    return (opened - timedelta(minutes=1)).astimezone(UTC)


def reminder_time(rule: ReminderRule, cell: str, quiet: QuietHours | None, now: datetime) -> datetime:
    """When a row's reminder goes (UTC); raises ReminderError with the row's reason."""
    appointment, has_time = read_moment(cell)
    if rule.at is None and not has_time:
        raise ReminderError(f"「{cell}」に時刻がないため、何時間前かを決められません")
    if appointment <= now:
        raise ReminderError(f"日時（{_shown(appointment)}）を過ぎています")
    when = out_of_quiet(quiet, rule.due(appointment), appointment)
    if when < now:
        raise ReminderError(f"送信時刻（{_shown(when)}）を過ぎているため送りません")
    return when


def _shown(moment: datetime) -> str:
    local = moment.astimezone(JST)
    return f"{local.month}月{local.day}日 {local:%H:%M}"
