"""Day-before reminders computed per row, released at 10:00 Japan time on the hub's clock, none late,
none at night; and where a time inside the quiet window goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.compose.quiet import QuietHours
from hub.compose.schedule import JST
from hub.dispatch.sweeper import sweep_once
from hub.models import Message, MessageState
from hub.notices.reminders import ReminderError, ReminderRule, reminder_time
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.notices.support import HEADER, MORNING, checked, csv_bytes, mobile, request, send

QUIET = QuietHours.parse("21:00-08:00")


def _jst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JST)


@pytest.mark.parametrize(("rule", "appointment", "expected"), [
    ("day_before@10:00", "2026-12-02 14:30", "2026-12-01 10:00"),
    ("days:3@09:30", "2026-12-05 08:00", "2026-12-02 09:30"),
    ("hours:2", "2026-12-02 14:30", "2026-12-02 12:30"),
    # Inside the quiet window: to its end, which is still before the appointment …
    ("hours:12", "2026-12-02 09:30", "2026-12-02 08:00"),
    ("day_before@23:00", "2026-12-02 14:30", "2026-12-02 08:00"),
    # … or, when the window ends too late, back to the last minute before it opened.
    ("hours:3", "2026-12-02 07:30", "2026-12-01 20:59"),
])
def test_each_rows_time_and_quiet_hours(rule: str, appointment: str, expected: str) -> None:
    when = reminder_time(ReminderRule.parse(rule), appointment, QUIET, MORNING)
    assert when == _jst(expected).astimezone(UTC)
    assert not QUIET.contains(when.astimezone(JST).time())  # never at night


@pytest.mark.parametrize(("rule", "appointment", "reason"), [
    ("day_before@10:00", "2026-11-30 18:00", "過ぎているため送りません"),  # yesterday 10:00
    ("day_before@10:00", "2026-11-30 08:00", "を過ぎています"),  # the appointment itself
    ("hours:2", "2026-12-02", "時刻がない"),
    ("day_before@10:00", "来週", "日時として読めません"),
])
def test_rows_that_cannot_be_reminded(rule: str, appointment: str, reason: str) -> None:
    with pytest.raises(ReminderError, match=reason):
        reminder_time(ReminderRule.parse(rule), appointment, QUIET, MORNING)


def test_day_before_reminders_leave_at_ten(runtime: Runtime, sandbox_client: SandboxClient,
                                           clock: ManualClock) -> None:
    lines = [HEADER,
             f"{mobile(1)},山田 花子,2026-12-02 14:30,all",
             f"{mobile(2)},佐藤 一郎,2026-12-02 09:00,all",
             f"{mobile(3)},鈴木 次郎,2026-12-03 11:00,all",
             f"{mobile(4)},田中 三郎,2026-11-30 18:00,all",  # the day before was yesterday
             f"{mobile(5)},高橋 四郎,2026-11-30 08:00,all"]  # already over
    req = request(csv_bytes(lines), body="{{氏名}}様 明日 {{予約日時}} に健診のご予約があります。",
                  reminder="day_before@10:00", date_column="予約日時")
    report = checked(runtime, req)
    assert [e.line for e in report.errors] == [5, 6]
    sandbox_client.clear()
    _send_id, message_ids = send(runtime, req)
    with runtime.session() as s:
        scheduled = {s.get(Message, m).scheduled_at: s.get(Message, m).state for m in message_ids}  # type: ignore[union-attr]
    assert scheduled == {_jst("2026-12-01 10:00"): MessageState.SCHEDULED,
                         _jst("2026-12-02 10:00"): MessageState.SCHEDULED}

    def texts() -> dict[str, str]:
        return {i["to"]: i["text"] for i in sandbox_client.inbox(channel="sms")}

    sweep_once(runtime)
    clock.set(_jst("2026-12-01 09:59:59"))
    sweep_once(runtime)
    assert texts() == {}  # not early
    clock.set(_jst("2026-12-01 10:00"))
    sweep_once(runtime)
    assert texts() == {"+819012340001": "健診のご案内\n山田 花子様 明日 2026-12-02 14:30 に健診のご予約があります。",
                       "+819012340002": "健診のご案内\n佐藤 一郎様 明日 2026-12-02 09:00 に健診のご予約があります。"}
    clock.set(_jst("2026-12-02 10:00") + timedelta(seconds=1))
    sweep_once(runtime)
    assert set(texts()) == {"+819012340001", "+819012340002", "+819012340003"}
    assert "+819012340004" not in texts() and "+819012340005" not in texts()  # never sent late
