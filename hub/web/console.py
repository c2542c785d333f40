"""The operator console: the dashboard's sections, reject and stop forms, and Japanese 404/403 pages.

Routes are registered on ``web_bp`` (importing this module is enough, see hub/web/__init__.py). Every
decision goes through hub.policy; the pages only show what the policy already allows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from hub.api.common import ApiError, handle_http_error, runtime
from hub.api.composing import reachable
from hub.api.messages import reject_as, summary, watched_tally
from hub.compose.messages import Composition
from hub.compose.status import BUSY_STATES
from hub.compose.tally import CountRow
from hub.health.engine import EngineHealth, observe
from hub.i18n import gettext as _
from hub.models import DeliveryState, Message, MessageState, MsgType
from hub.policy import Action
from hub.web.pages import _operator, login_required, web_bp

log = logging.getLogger(__name__)

TRIGGER_PREFIX = "trigger:"
# Shown apart on the console; 取り下げ rows are stored as skipped with reason "withdrawn".
HONEST_KEYS = ("delivered", "sent", "failed", "skipped", "withdrawn", "unknown", "pending")


@web_bp.app_template_filter("iso_utc")
def iso_utc(value: datetime | None) -> str:
    """RFC 3339 in UTC for scripts (SQLite drops the offset; stored times are UTC)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def honest_counts(rows: Iterable[CountRow], channels: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per channel: every outcome counted apart, 取り下げ separate from 対象外."""
    out: dict[str, dict[str, int]] = {ch: dict.fromkeys(HONEST_KEYS, 0) for ch in channels}
    for channel, state, reason, n in rows:
        if state in BUSY_STATES:
            key = "pending"
        elif state == DeliveryState.SKIPPED and reason == "withdrawn":
            key = "withdrawn"
        else:
            key = str(state)
        out.setdefault(channel, dict.fromkeys(HONEST_KEYS, 0))[key] += n
    return out


def totals(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    return {k: sum(c[k] for c in counts.values()) for k in HONEST_KEYS}


def reached_nobody(message: Message, total: dict[str, int]) -> bool:
    """Finished, yet not one row went out or might have (no rows, all skipped, withdrawn or failed): never 完了."""
    if message.state != MessageState.DONE:
        return False
    return total["delivered"] + total["sent"] + total["unknown"] + total["pending"] == 0


def console_row(session: Session, message: Message) -> dict[str, Any]:
    tally = watched_tally(session, message)
    counts = honest_counts(tally.rows, message.channels or [])
    total = totals(counts)
    followers = [(f.id, f.title, f.msg_type) for f in session.scalars(
        select(Message).where(Message.references_id == message.id).order_by(Message.id))]
    original = message.references
    return {
        **summary(session, message, tally),
        "honest": counts, "total": total, "nobody": reached_nobody(message, total),
        "cancelled": any(t == MsgType.CANCEL for _i, _t, t in followers),
        "followers": followers,
        "original": (original.id, original.title) if original is not None else None,
        "scheduled_at": message.scheduled_at,
        "source": message.source,
    }


def dashboard_context(session: Session, where: Sequence[Any]) -> dict[str, Any]:
    recent = session.scalars(select(Message).where(*where)
                             .order_by(Message.created_at.desc(), Message.id.desc()).limit(20))
    messages = [console_row(session, m) for m in recent]
    # However old: a message waiting for a second person must not scroll out of sight.
    waiting = [(m.id, m.title) for m in session.scalars(
        select(Message).where(Message.state == MessageState.AWAITING_APPROVAL, *where).order_by(Message.id))]
    held = [console_row(session, m) for m in session.scalars(
        select(Message).where(Message.state == MessageState.SCHEDULED, Message.source.startswith(TRIGGER_PREFIX),
                              *where).order_by(Message.scheduled_at))]
    principal = _operator()
    for row in held:
        with_dept = session.get(Message, row["message_id"])
        row["may_stop"] = with_dept is not None and principal.may(Action.SEND, with_dept.department_id)
    sending = [row for row in messages if row["state"] == MessageState.QUEUED or row["total"]["pending"]]
    return {"messages": messages, "waiting": waiting, "held": held, "sending": sending, "engine": engine_state()}


def engine_state() -> EngineHealth | None:
    """For the dashboard's banner; None when it cannot be read (the page must still open)."""
    try:
        return observe(runtime())
    except Exception:
        log.exception("engine health could not be read for the dashboard")
        return None


def approval_plan(session: Session, message: Message) -> dict[str, int]:
    """How many each channel would reach if approved now (the same count the composer shows)."""
    comp = Composition(title=message.title, body=message.body, channels=list(message.channels or []),
                       audience=message.audience, mode=message.mode, msg_type=message.msg_type,
                       references_id=message.references_id, department_id=message.department_id)
    rt = runtime()
    plan: dict[str, int] = {}
    for ch in comp.channels:
        try:
            plan[ch] = reachable(session, rt, comp, ch)
        except Exception:  # an unknown channel or audience: say nothing rather than a wrong number
            plan[ch] = -1
    return plan


@web_bp.post("/messages/<int:message_id>/reject")
@login_required
def reject_page(message_id: int) -> ResponseReturnValue:
    reason = request.form.get("reason", "").strip()
    if not reason or len(reason) > 500:
        flash(_("却下する理由を入力してください（500文字以内）"), "error")
        return redirect(url_for("web.message_page", message_id=message_id))
    principal = _operator()
    with runtime().session() as s:
        message = s.get(Message, message_id)
        if message is None:
            abort(404)
        if message.created_by_id == principal.id:
            flash(_("作成者本人は承認できません。別の担当者に承認を依頼してください。"), "error")
            return redirect(url_for("web.message_page", message_id=message_id))
    try:
        reject_as(message_id, principal, reason)
    except ApiError as exc:
        flash(exc.message, "error")
        return redirect(url_for("web.message_page", message_id=message_id))
    flash(_("却下しました。このメッセージは送信されません"), "ok")
    return redirect(url_for("web.message_page", message_id=message_id))


def _error_page(exc: HTTPException, status: int, message: str) -> ResponseReturnValue:
    if request.path.startswith("/api/"):
        return handle_http_error(exc)
    return render_template("error.html", status=status, message=message), status


@web_bp.app_errorhandler(404)
def _app_not_found(exc: HTTPException) -> ResponseReturnValue:
    return _error_page(exc, 404, _("ページが見つかりません"))


@web_bp.app_errorhandler(403)
def _app_forbidden(exc: HTTPException) -> ResponseReturnValue:
    return _error_page(exc, 403, _("この操作を行う権限がありません"))


@web_bp.app_errorhandler(400)
def _app_bad_request(exc: HTTPException) -> ResponseReturnValue:
    return _error_page(exc, 400, exc.description or "")
