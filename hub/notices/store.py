"""Storing a checked CSV send: the send, one ordinary message per send time, and the good rows.

Grouping rows by their send time makes a reminder file a few scheduled messages (state
SCHEDULED, ``scheduled_at`` = the group's time), all linked to one :class:`CsvSend`: the operator
sees and cancels them together or one by one, and scheduling, approval, the notices lane and the
delivery guarantees are the engine's own. Nothing is stored while any row is bad unless the
operator chose to send the good rows only (``skip_bad``): the reasons are shown first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub.compose.messages import ApprovalError, Composition, approve, create_message, withdraw
from hub.models import CsvRow, CsvSend, Message, MessageState, MsgType, Operator, audit
from hub.models.base import table_of
from hub.notices.check import CheckReport, CsvSendError, SendRequest
from hub.relay import clock
from hub.runtime import Runtime

MAX_FILENAME = 200
# Composition.source of a CSV send's messages: the front doors checked the department and category
# (hub/notices/front.py), and the composer's audience check refuses ``personal:`` typed by hand.
SOURCE = "csv"


@dataclass
class StoredSend:
    send: CsvSend
    messages: list[Message]


def store(session: Session, runtime: Runtime, req: SendRequest, report: CheckReport, *,
          created_by: Operator | None = None, actor: str = "system", skip_bad: bool = False) -> StoredSend:
    """Store the send and its messages (the caller commits, then releases each message)."""
    if report.errors and not skip_bad:
        raise CsvSendError({"file": [
            f"{len(report.errors)}行に問題があります。直すか、問題のない行だけを送ってください"]})
    if not report.rows:
        raise CsvSendError({"file": ["送れる行がありません"]})
    send = CsvSend(filename=req.filename[:MAX_FILENAME], title=req.title, body=req.body, channels=list(req.channels),
                   columns=report.columns, category_code=req.category_code, department_id=req.department_id,
                   created_by_id=created_by.id if created_by else None, reminder=req.reminder,
                   date_column=req.date_column if req.reminder else None,
                   rows=len(report.rows))
    session.add(send)
    session.flush()
    groups: dict[datetime, list[int]] = {}
    for n, row in enumerate(report.rows):
        groups.setdefault(row.send_at, []).append(n)
    now = clock.now()
    messages: list[Message] = []
    for when, members in sorted(groups.items()):
        used = sorted({ch for n in members for ch in report.rows[n].addresses}, key=req.channels.index)
        message = create_message(session, runtime, Composition(
            title=req.title, body=req.body, channels=used, audience=f"personal:{send.id}", mode=req.mode,
            msg_type=MsgType.NOTICE, category_code=req.category_code, department_id=req.department_id,
            scheduled_at=when if when > now else None, source=SOURCE), created_by=created_by, actor=actor)
        message.meta = {**(message.meta or {}), "csv_send": send.id}
        if message.state != MessageState.AWAITING_APPROVAL:
            message.state = MessageState.SCHEDULED if when > now else MessageState.QUEUED
        session.flush()
        session.execute(insert(table_of(CsvRow)), [
            {"csv_send_id": send.id, "message_id": message.id, "line": report.rows[n].line,
             "contact_id": report.rows[n].contact_id, "addresses": report.rows[n].addresses,
             "values": report.rows[n].values, "send_at": when}
            for n in members])
        messages.append(message)
    audit(session, actor, "csv_send.create", send, filename=send.filename, rows=len(report.rows),
          bad_rows=[{"line": e.line, "reason": e.reason} for e in report.errors], messages=[m.id for m in messages],
          reminder=req.reminder)
    return StoredSend(send, messages)


def messages_of(session: Session, send_id: int) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.audience == f"personal:{send_id}").order_by(
        Message.scheduled_at, Message.id)))


def approve_send(session: Session, send_id: int, approver: Operator) -> list[Message]:
    """Approve every message of the send that waits for a second person (one decision, one file)."""
    waiting = [m for m in messages_of(session, send_id) if m.state == MessageState.AWAITING_APPROVAL]
    if not waiting:
        raise ApprovalError("承認待ちのメッセージはありません")
    for message in waiting:
        approve(session, message, approver)
    return waiting


def cancel_send(session: Session, send_id: int, actor: str, reason: str,
                message_ids: Sequence[int] | None = None) -> int:
    """Withdraw what has not gone yet: the whole send, or the chosen messages (send times) of it."""
    withdrawn = 0
    for message in messages_of(session, send_id):
        if message_ids is not None and message.id not in message_ids:
            continue
        if message.state in (MessageState.AWAITING_APPROVAL, MessageState.SCHEDULED, MessageState.QUEUED):
            withdraw(session, message, actor, reason)
            withdrawn += 1
    return withdrawn

