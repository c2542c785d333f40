"""What the three front doors (web page, ``hub send --csv``, API) share: reading the operator's input
the way the composer and the API read a message (department, mode, category, channels, lengths), then
checking the file, and storing it only when the operator confirms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from hub.api.auth import Principal
from hub.api.composing import InvalidInput, read_composition
from hub.dispatch.tasks import release
from hub.models import CsvSend, MsgType, Operator
from hub.notices.check import CsvSendError, SendRequest, check
from hub.notices.store import messages_of, store
from hub.runtime import Runtime

MAX_RULE = 64
MAX_COLUMN = 100


def read_request(session: Session, data: Mapping[str, Any], principal: Principal, filename: str,
                 file_bytes: bytes) -> SendRequest:
    """A SendRequest from untrusted input; raises InvalidInput listing every problem at once."""
    channels = data.get("channels")
    if isinstance(channels, str):
        channels = [c.strip() for c in channels.split(",") if c.strip()]
    fields = {"title": data.get("title"), "body": data.get("body"), "channels": channels,
              "mode": data.get("mode"), "category": data.get("category") or None,
              "department": data.get("department") or None, "scheduled_at": data.get("scheduled_at") or None,
              "msg_type": MsgType.NOTICE, "audience": "residents"}
    comp, problems = read_composition(session, fields, principal)
    reminder = _short(data, "reminder", MAX_RULE, problems)
    date_column = _short(data, "date_column", MAX_COLUMN, problems)
    if reminder and comp.scheduled_at is not None:
        problems.setdefault("scheduled_at", []).append(
            "リマインドでは送信時刻を行ごとに決めます（予約日時は指定しません）")
    if not file_bytes.strip():
        problems.setdefault("file", []).append("CSVが空です")
    if problems:
        raise InvalidInput(problems)
    return SendRequest(filename=filename, data=file_bytes, title=comp.title, body=comp.body, channels=comp.channels,
                       category_code=comp.category_code, department_id=comp.department_id, mode=comp.mode,
                       reminder=reminder, date_column=date_column, scheduled_at=comp.scheduled_at)


def _short(data: Mapping[str, Any], key: str, limit: int, problems: dict[str, list[str]]) -> str | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > limit:
        problems.setdefault(key, []).append(f"{limit}文字以内の文字列で指定してください")
        return None
    return value.strip() or None


@dataclass
class Outcome:
    preview: dict[str, Any]
    send_id: int | None = None
    messages: list[dict[str, Any]] | None = None


def check_and_maybe_store(session: Session, runtime: Runtime, req: SendRequest, principal: Principal, *,
                          confirm: bool, skip_bad: bool) -> Outcome:
    """Check (always) and store (only with ``confirm``); the caller commits, then calls :func:`release_all`.

    Raises CsvSendError for a file that cannot be sent at all, or bad rows without ``skip_bad``.
    """
    report = check(session, runtime, req)
    preview = report.preview(runtime.settings.sms_unit_price_yen)
    if not confirm:
        return Outcome(preview)
    operator = session.get(Operator, principal.id) if principal.id else None
    stored = store(session, runtime, req, report, created_by=operator, actor=principal.username, skip_bad=skip_bad)
    session.flush()
    return Outcome(preview, stored.send.id, [describe(m) for m in stored.messages])


def release_all(outcome: Outcome) -> None:
    for message in outcome.messages or []:
        release(message["message_id"], message["state"])


def describe(message: Any) -> dict[str, Any]:
    return {"message_id": message.id, "state": message.state, "mode": message.mode,
            "scheduled_at": message.scheduled_at.isoformat() if message.scheduled_at else None}


def send_detail(session: Session, send: CsvSend) -> dict[str, Any]:
    return {"csv_send_id": send.id, "filename": send.filename, "title": send.title, "body": send.body,
            "channels": send.channels, "columns": send.columns, "rows": send.rows, "reminder": send.reminder,
            "date_column": send.date_column, "category": send.category_code,
            "created_at": send.created_at.isoformat() if send.created_at else None,
            "messages": [describe(m) for m in messages_of(session, send.id)]}


__all__ = ["CsvSendError", "Outcome", "check_and_maybe_store", "read_request", "release_all", "send_detail"]
