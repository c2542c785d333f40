"""Building CSV sends the way the front doors do, on a hand-moved clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.dispatch.tasks import release
from hub.models import MessageState
from hub.notices.check import CheckReport, SendRequest, check
from hub.notices.store import approve_send, store
from hub.runtime import Runtime
from tests.support.hubtools import second_person

# 10:00 on a Monday, Japan time: inside nobody's quiet hours.
MORNING = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
HEADER = "phone,氏名,予約日時,consent"
TITLE = "健診のご案内"
BODY = "{{氏名}}様 {{予約日時}}に健診のご予約があります。"


def mobile(n: int) -> str:
    return f"090-1234-{n:04d}"


def csv_bytes(lines: list[str], encoding: str = "cp932") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def request(data: bytes, **fields: Any) -> SendRequest:
    fields.setdefault("title", TITLE)
    fields.setdefault("body", BODY)
    fields.setdefault("channels", ["sms"])
    return SendRequest(filename=fields.pop("filename", "kenshin.csv"), data=data, **fields)


def checked(runtime: Runtime, req: SendRequest) -> CheckReport:
    with runtime.session() as s:
        return check(s, runtime, req)


def send(runtime: Runtime, req: SendRequest, skip_bad: bool = True) -> tuple[int, list[int]]:
    """Check, store, approve (by a second person) and release: (the send's id, its message ids)."""
    with runtime.session() as s:
        report = check(s, runtime, req)
        stored = store(s, runtime, req, report, skip_bad=skip_bad, actor="test")
        if any(m.state == MessageState.AWAITING_APPROVAL for m in stored.messages):
            approve_send(s, stored.send.id, second_person(s))
        released = [(m.id, m.state) for m in stored.messages]
        send_id = stored.send.id
    for message_id, state in released:
        release(message_id, state)
    return send_id, [m for m, _ in released]
