"""Quiet hours: a notice due at night leaves in the morning; an alert never waits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.compose.quiet import QuietHours, QuietHoursError, send_time
from hub.compose.schedule import JST
from hub.models import MsgType

NIGHT = QuietHours.parse("21:00-08:00")


def jst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=JST)


@pytest.mark.parametrize(("due", "leaves"), [
    (jst(1, 20, 59), jst(1, 20, 59)),  # just before the window
    (jst(1, 21, 0), jst(2, 8, 0)),  # the window opens
    (jst(1, 23, 30), jst(2, 8, 0)),
    (jst(2, 0, 10), jst(2, 8, 0)),  # after midnight: the same morning, not the next
    (jst(2, 7, 59), jst(2, 8, 0)),
    (jst(2, 8, 0), jst(2, 8, 0)),  # the window has closed
])
def test_a_notice_due_in_the_night_leaves_when_the_window_ends(due: datetime, leaves: datetime) -> None:
    assert send_time(NIGHT, MsgType.NOTICE, due) == leaves.astimezone(UTC)


@pytest.mark.parametrize("msg_type", [MsgType.ALERT, MsgType.CANCEL, MsgType.UPDATE])
def test_alerts_cancellations_and_corrections_never_wait(msg_type: str) -> None:
    assert send_time(NIGHT, msg_type, jst(1, 23, 30)) == jst(1, 23, 30).astimezone(UTC)


def test_a_daytime_window_and_no_window() -> None:
    lunch = QuietHours.parse("12:00-13:00")
    assert send_time(lunch, MsgType.NOTICE, jst(1, 12, 30)) == jst(1, 13, 0).astimezone(UTC)
    assert send_time(lunch, MsgType.NOTICE, jst(1, 23, 0)) == jst(1, 23, 0).astimezone(UTC)
    assert QuietHours.parse("") is None
    assert send_time(None, MsgType.NOTICE, jst(1, 23, 0)) == jst(1, 23, 0).astimezone(UTC)


@pytest.mark.parametrize("raw", ["21-8", "21:00", "25:00-08:00", "08:00-08:00"])
def test_a_window_that_is_not_one_is_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(QuietHoursError):
        QuietHours.parse(raw)
