"""When a scheduled message may be due: a real moment, stored in UTC, and not absurdly far off.

Every front door (API, composer, ``hub send --schedule``) reads the officer's time through here.
Two reasons:

* The time is converted to UTC before it is stored. SQLite keeps a datetime's wall-clock and drops
  its offset, so 09:00+09:00 came back as 09:00 UTC: a message scheduled for 9 o'clock Japan time
  went out at 18:00.
* A time more than a year ahead, or more than a day past, is a typo, not a plan (and year 9999
  overflowed when shown in Japan time: a 500 on the status page).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
MAX_AHEAD = timedelta(days=366)
MAX_PAST = timedelta(days=1)  # a little in the past is "now" (slow typing, clock skew)


class ScheduleError(ValueError):
    pass


def read_schedule(raw: str, now: datetime | None = None) -> datetime:
    """ISO 8601 → an aware UTC datetime; a time without an offset is Japan time (a browser's
    datetime-local has none). Raises ScheduleError with a message for the officer."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise ScheduleError("日時は ISO 8601 形式で指定してください（例: 2026-12-01T09:00+09:00）") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=JST)
    try:
        value = value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59-23:59 has no UTC equivalent
        raise ScheduleError("予約日時が範囲外です") from exc
    now = now or datetime.now(UTC)
    if value > now + MAX_AHEAD:
        raise ScheduleError("予約送信は1年以内の日時にしてください")
    if value < now - MAX_PAST:
        raise ScheduleError("予約日時が過去です")
    return value
