"""Messages: create (then release after commit), preview, list, status, delivery rows, CSV, approve."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

from flask import Response, jsonify, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.api import api_bp
from hub.api.auth import Principal, current_principal
from hub.api.common import ApiError, json_body, paging, runtime
from hub.api.composing import (
    compose_failed,
    composition_from,
    is_follow_up,
    preview_payload,
    quiet_words,
    read_composition,
)
from hub.api.translations import read_languages
from hub.compose.audience import AudienceError
from hub.compose.corrections import follow_up
from hub.compose.messages import (
    ApprovalError,
    ComposeError,
    Composition,
    OverrideRefused,
    approve,
    create_message,
    reject,
)
from hub.compose.quiet import local_words, window_words
from hub.compose.status import export_deliveries_csv, message_summary
from hub.compose.tally import Tally, watched
from hub.contacts.masking import mask_address
from hub.dispatch.night import PAUSE_KEY
from hub.dispatch.tasks import release
from hub.i18n import current_locale
from hub.i18n import gettext as _
from hub.models import Delivery, DeliveryState, Message, MessageBody, MessageState, MsgType, Operator, audit
from hub.policy import Action, may_see_addresses, may_send_somewhere
from hub.relay import clock
from hub.runtime import Runtime
from hub.translate.fill import audience_languages, fill_missing

DELIVERY_STATES = tuple(DeliveryState)


def _iso(value: datetime | None) -> str | None:
    # SQLite hands back naive datetimes for timestamptz columns; every stored time is UTC.
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def summary(session: Session, message: Message, tally: Tally | None = None) -> dict[str, Any]:
    """``message_summary`` with an RFC 3339 ``created_at`` on every database; the counts are the
    ones shown to everyone watching (``watched_tally``) unless ``tally`` is given."""
    tally = tally or watched_tally(session, message)
    return {**message_summary(session, message, tally), "created_at": _iso(message.created_at)}


def watched_tally(session: Session, message: Message) -> Tally:
    """Counted once for every viewer of a large message (hub/compose/tally.py)."""
    return watched(session, message, runtime().tallies)


def get_message(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise ApiError(404, "not_found", _("メッセージ {id} はありません").format(id=message_id))
    return message


def readable_message(session: Session, message_id: int, principal: Principal) -> Message:
    """The message, if the caller may READ in its department (403 otherwise)."""
    message = get_message(session, message_id)
    if not principal.may(Action.READ, message.department_id):
        raise ApiError(403, "forbidden", _("他の部署のメッセージは閲覧できません"))
    return message


def quiet_of(message: Message) -> dict[str, str] | None:
    """Why a notice waits for the morning (scheduled, or paused mid-send when the window opened):
    the window, the time and the sentence."""
    paused = (message.meta or {}).get(PAUSE_KEY)
    if message.state == MessageState.QUEUED and paused:
        until = datetime.fromisoformat(paused["until"])
        if until > clock.now():
            return {"window": paused["window"], "at": _iso(until) or "",
                    "text": _("静かな時間帯（{window}）のため送信を止めています。{when} に続きを送ります").format(
                        window=window_words(paused["window"]), when=local_words(until, current_locale()))}
    quiet = (message.meta or {}).get("quiet")
    if message.state != MessageState.SCHEDULED or not quiet or message.scheduled_at is None:
        return None
    return {"window": quiet["window"], "at": _iso(message.scheduled_at) or "",
            "text": quiet_words(quiet["window"], message.scheduled_at)}


def message_detail(session: Session, message: Message, tally: Tally | None = None) -> dict[str, Any]:
    """The summary plus what a status page needs: who, to whom, and the cancel/correction chain."""
    referenced_by = session.scalars(
        select(Message.id).where(Message.references_id == message.id).order_by(Message.id))
    bodies = session.scalars(
        select(MessageBody).where(MessageBody.message_id == message.id).order_by(MessageBody.channel, MessageBody.id))
    return {
        **summary(session, message, tally),
        "body": message.body,
        "audience": message.audience,
        "category": message.category_code,
        "department": message.department.code if message.department else None,
        "created_by": message.created_by.username if message.created_by else None,
        "approved_by": message.approved_by.username if message.approved_by else None,
        "scheduled_at": _iso(message.scheduled_at),
        "sends_at": quiet_of(message),
        "referenced_by": list(referenced_by),
        "bodies": [{"channel": b.channel, "language": b.language, "subject": b.subject, "text": b.text}
                   for b in bodies],
        # What each language is (operator, reviewed, machine, fallback), why a translation failed,
        # and the channels a language did not fit (those send Japanese).
        "languages": (message.meta or {}).get("languages", {}),
    }


def create_from(data: dict[str, Any], principal: Principal) -> tuple[int, str, bool]:
    """Store a message for ``principal``; returns (id, state, created). The caller releases it.

    A cancellation or correction goes through hub.compose.corrections; when nothing of the
    original had gone out, withdrawing it is the whole job and the original's id comes back with
    ``created`` False.
    """
    rt = runtime()
    with rt.session() as s:
        comp = composition_from(s, data, principal)
        # Machine translation for every language the audience reads that has no text yet; a retraction
        # waits for a slow translator no longer than a trigger's alert does.
        deadline = rt.settings.trigger_translate_seconds if comp.msg_type == MsgType.CANCEL else None
        translate = (partial(_translated, rt, s, read_languages(data.get("languages"), {}), deadline)
                     if data.get("translate") is True else None)
        operator = s.get(Operator, principal.id)
        try:
            if is_follow_up(comp) and comp.references_id is not None:
                kind = "cancel" if comp.msg_type == MsgType.CANCEL else "correction"
                message = follow_up(s, rt, comp.references_id, kind=kind, body=comp.body, title=comp.title,
                                    actor=principal.username, created_by=operator,
                                    update_label=comp.update_label, override_reason=comp.override_reason,
                                    texts=comp.texts, translate=translate)
            else:
                comp = translate(comp) if translate is not None else comp
                message = create_message(s, rt, comp, created_by=operator, actor=principal.username)
        except OverrideRefused as exc:
            raise ApiError(403, "forbidden", _(str(exc))) from exc
        except ComposeError as exc:
            raise compose_failed(exc.problems) from exc
        except AudienceError as exc:
            raise compose_failed({"audience": [str(exc)]}) from exc
        return message.id, str(message.state), message.id != comp.references_id


def _translated(rt: Runtime, session: Session, extra: list[str], deadline: float | None,
                comp: Composition) -> Composition:
    return fill_missing(rt, comp, audience_languages(session, comp, extra), deadline)


def approve_as(message_id: int, principal: Principal) -> str:
    """Second-person approval; returns the new state. The caller releases it."""
    rt = runtime()
    with rt.session() as s:
        message = get_message(s, message_id)
        if not principal.may(Action.APPROVE, message.department_id):
            raise ApiError(403, "forbidden",
                           _("このメッセージを承認する権限がありません（その部署の承認者か管理者のみ）"))
        operator = s.get(Operator, principal.id)
        if operator is None:
            raise ApiError(401, "unauthorized", _("操作者が見つかりません。もう一度ログインしてください"))
        try:
            approve(s, message, operator, rt.settings)
        except ApprovalError as exc:
            raise ApiError(409, "approval_conflict", _(str(exc))) from exc
        return str(message.state)


def reject_as(message_id: int, principal: Principal, reason: str) -> None:
    """The second person refuses a waiting message, with a reason (an approver of its department)."""
    with runtime().session() as s:
        message = get_message(s, message_id)
        operator = s.get(Operator, principal.id)
        if operator is None or not principal.may(Action.APPROVE, message.department_id):
            raise ApiError(403, "forbidden",
                           _("このメッセージを却下する権限がありません（その部署の承認者か管理者のみ）"))
        try:
            reject(s, message, operator, reason)
        except ApprovalError as exc:
            raise ApiError(409, "approval_conflict", _(str(exc))) from exc


@api_bp.post("/messages")
def create_message_endpoint() -> ResponseReturnValue:
    # The department is the one named or the operator's home one; composition_from checks SEND there.
    principal = current_principal()
    if not may_send_somewhere(principal):
        raise ApiError(403, "forbidden", _("メッセージを送信する権限がありません"))
    message_id, state, created = create_from(json_body(), principal)
    # Only now is the row committed: a worker told about it will find it.
    release(message_id, state)
    with runtime().session() as s:
        response = jsonify(summary(s, get_message(s, message_id)))
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("api.get_message_endpoint", message_id=message_id)
    return response


@api_bp.post("/messages/preview")
def preview_endpoint() -> ResponseReturnValue:
    principal = current_principal()
    rt = runtime()
    with rt.session() as s:
        comp, problems = read_composition(s, json_body(), principal)
        return jsonify(preview_payload(s, rt, comp, problems))


def readable_where(principal: Principal) -> list[Any]:
    """The filter that keeps a message list to the departments the caller may READ."""
    allowed = principal.departments(Action.READ)
    return [] if allowed is None else [Message.department_id.in_(sorted(allowed))]


@api_bp.get("/messages")
def list_messages() -> ResponseReturnValue:
    page, per_page = paging()
    where = readable_where(current_principal())
    with runtime().session() as s:
        total = s.scalar(select(func.count()).select_from(Message).where(*where)) or 0
        rows = s.scalars(select(Message).where(*where).order_by(Message.created_at.desc(), Message.id.desc())
                         .offset((page - 1) * per_page).limit(per_page))
        items = [summary(s, m) for m in rows]
    return jsonify(items=items, page=page, per_page=per_page, total=total)


@api_bp.get("/messages/<int:message_id>")
def get_message_endpoint(message_id: int) -> ResponseReturnValue:
    with runtime().session() as s:
        return jsonify(message_detail(s, readable_message(s, message_id, current_principal())))


def _delivery_json(d: Delivery, mask: bool) -> dict[str, Any]:
    return {
        "id": d.id, "channel": d.channel, "contact_id": d.contact_id,
        "address": mask_address(d.address) if mask else d.address,
        "language": d.language, "state": d.state, "reason": d.reason, "provider_id": d.provider_id,
        "provider_status": d.provider_status, "attempts": d.attempts, "error_code": d.error_code,
        "error": d.error, "sent_at": _iso(d.sent_at), "delivered_at": _iso(d.delivered_at),
        "updated_at": _iso(d.updated_at), "gateway": d.gateway, "sender": d.sender,
    }


@api_bp.get("/messages/<int:message_id>/deliveries")
def list_deliveries(message_id: int) -> ResponseReturnValue:
    page, per_page = paging()
    channel = request.args.get("channel") or None
    state = request.args.get("state") or None
    if state is not None and state not in DELIVERY_STATES:
        raise ApiError(400, "invalid_parameter", _("state は次のいずれかです: {values}").format(
            values=", ".join(DELIVERY_STATES)))
    principal = current_principal()
    with runtime().session() as s:
        message = readable_message(s, message_id, principal)
        mask = not may_see_addresses(principal, message.department_id)
        where = [Delivery.message_id == message_id]
        if channel:
            where.append(Delivery.channel == channel)
        if state:
            where.append(Delivery.state == state)
        total = s.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0
        rows = s.scalars(select(Delivery).where(*where).order_by(Delivery.id)
                         .offset((page - 1) * per_page).limit(per_page))
        items = [_delivery_json(d, mask) for d in rows]
    return jsonify(items=items, page=page, per_page=per_page, total=total)


@api_bp.get("/messages/<int:message_id>/deliveries.csv")
def export_deliveries(message_id: int) -> ResponseReturnValue:
    rt = runtime()
    principal = current_principal()
    with rt.session() as s:
        message = readable_message(s, message_id, principal)
        mask = not may_see_addresses(principal, message.department_id)
        audit(s, principal.username, "export.deliveries", message, masked=mask, via="api")

    def generate() -> Iterator[bytes]:
        with rt.session() as s:
            for chunk in export_deliveries_csv(s, message_id, mask=mask):
                yield chunk.encode("utf-8")

    return Response(
        stream_with_context(generate()), mimetype="text/csv",
        headers={"Content-Type": "text/csv; charset=utf-8",
                 "Content-Disposition": f'attachment; filename="deliveries-{message_id}.csv"'},
    )


@api_bp.post("/messages/<int:message_id>/approve")
def approve_endpoint(message_id: int) -> ResponseReturnValue:
    state = approve_as(message_id, current_principal())
    release(message_id, state)
    with runtime().session() as s:
        return jsonify(summary(s, get_message(s, message_id)))


@api_bp.post("/messages/<int:message_id>/reject")
def reject_endpoint(message_id: int) -> ResponseReturnValue:
    data = json_body()
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise ApiError(400, "invalid_reason", _("却下する理由を入力してください（500文字以内）"))
    reject_as(message_id, current_principal(), reason)
    with runtime().session() as s:
        return jsonify(summary(s, get_message(s, message_id)))


# Pages read this too: keep the helpers importable without the routes' request context.
__all__ = ["approve_as", "create_from", "get_message", "message_detail", "quiet_of", "readable_message",
           "readable_where", "summary"]
