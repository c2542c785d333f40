"""Scheduled sends: the list of messages waiting for their time, and withdrawing one before it leaves.

A scheduled message is a row (``state = scheduled``, ``scheduled_at``) and nothing else: no task
waits in a broker, so a restart loses nothing and the sweeper of any worker plans it when due
(hub.compose.messages.messages_due). Withdrawing one makes it ``withdrawn`` under a row lock, so it
can never be planned afterwards, however its time passes. Who sees the list follows READ, who may
withdraw follows SEND in the message's department (hub.policy), as for cancellations.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.api import api_bp
from hub.api.auth import Principal, current_principal
from hub.api.common import ApiError, json_body, paging, runtime
from hub.api.messages import _iso, get_message, quiet_of, readable_message, readable_where, summary
from hub.compose.messages import withdraw
from hub.i18n import gettext as _
from hub.models import Message, MessageState
from hub.policy import may_follow_up

MAX_REASON = 500


def scheduled_item(session: Session, message: Message, principal: Principal) -> dict[str, Any]:
    return {
        **summary(session, message),
        "scheduled_at": _iso(message.scheduled_at),
        "department": message.department.code if message.department else None,
        "department_name": message.department.name if message.department else None,
        "created_by": message.created_by.username if message.created_by else None,
        "source": message.source,
        "quiet": quiet_of(message),
        "may_withdraw": may_follow_up(principal, message),
    }


def scheduled_page(session: Session, principal: Principal, page: int = 1,
                   per_page: int = 50) -> tuple[list[dict[str, Any]], int]:
    """The caller's readable scheduled messages, soonest first, and how many there are."""
    where = [Message.state == MessageState.SCHEDULED, *readable_where(principal)]
    total = session.scalar(select(func.count()).select_from(Message).where(*where)) or 0
    rows = session.scalars(select(Message).where(*where).order_by(Message.scheduled_at, Message.id)
                           .offset((page - 1) * per_page).limit(per_page))
    return [scheduled_item(session, m, principal) for m in rows], int(total)


def withdraw_scheduled(session: Session, message_id: int, principal: Principal, reason: str) -> Message:
    """Withdraw a scheduled message before it leaves (SEND in its department; audited)."""
    readable_message(session, message_id, principal)
    # Locked: the sweeper's planner locks the same row before it starts a due message, so either
    # it is withdrawn first and never planned, or it has started and this answers 409.
    message = session.get(Message, message_id, with_for_update=True, populate_existing=True)
    if message is None:
        raise ApiError(404, "not_found", _("メッセージ {id} はありません").format(id=message_id))
    if not may_follow_up(principal, message):
        raise ApiError(403, "forbidden", _("他の部署のメッセージは取り下げられません"))
    if message.state != MessageState.SCHEDULED:
        raise ApiError(409, "not_scheduled", _("このメッセージは既に送信待ちではありません"))
    withdraw(session, message, principal.username, reason=reason)
    return message


@api_bp.get("/messages/scheduled")
def list_scheduled() -> ResponseReturnValue:
    page, per_page = paging()
    with runtime().session() as s:
        items, total = scheduled_page(s, current_principal(), page, per_page)
    return jsonify(items=items, page=page, per_page=per_page, total=total)


@api_bp.post("/messages/<int:message_id>/withdraw")
def withdraw_endpoint(message_id: int) -> ResponseReturnValue:
    data = json_body()
    reason = data.get("reason") or _("予約送信を取り消しました")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise ApiError(400, "invalid_reason", _("理由は500文字以内の文字列で指定してください"))
    principal = current_principal()
    with runtime().session() as s:
        withdraw_scheduled(s, message_id, principal, reason.strip())
    with runtime().session() as s:
        return jsonify(summary(s, get_message(s, message_id)))
