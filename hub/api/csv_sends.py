"""Personalised CSV sends (差し込み): check a file (preview and every bad row), send it, see and cancel it."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from hub.api import api_bp
from hub.api.auth import current_principal
from hub.api.common import ApiError, runtime
from hub.compose.messages import ApprovalError
from hub.dispatch.tasks import release
from hub.i18n import gettext as _
from hub.models import CsvSend, Operator
from hub.notices.check import CsvSendError
from hub.notices.front import check_and_maybe_store, read_request, release_all, send_detail
from hub.notices.store import approve_send, cancel_send
from hub.policy import Action

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return str(request.form.get(name, request.args.get(name, ""))).strip().lower() in _TRUE


def _failed(exc: CsvSendError, preview: dict[str, object] | None = None) -> ApiError:
    return ApiError(422, "csv_send_refused", _("このCSVでは送信できません"), problems=exc.problems,
                    **({"preview": preview} if preview else {}))


@api_bp.post("/csv-sends")
def create_csv_send() -> ResponseReturnValue:
    """multipart: ``file`` and the fields; without ``confirm=true`` only the check and the preview."""
    principal = current_principal()
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(415, "unsupported_media_type", _("CSVを multipart の file 欄で送ってください"))
    rt = runtime()
    confirm, skip_bad = _flag("confirm"), _flag("skip_bad")
    with rt.session() as s:
        req = read_request(s, request.form, principal, upload.filename or "upload.csv", upload.read())
        try:
            outcome = check_and_maybe_store(s, rt, req, principal, confirm=confirm, skip_bad=skip_bad)
        except CsvSendError as exc:
            s.rollback()
            raise _failed(exc) from exc
    release_all(outcome)
    body = {"preview": outcome.preview, "csv_send_id": outcome.send_id, "messages": outcome.messages}
    return jsonify(body), (201 if outcome.send_id else 200)


def _readable(send_id: int) -> CsvSend:
    principal = current_principal()
    with runtime().session() as s:
        send = s.get(CsvSend, send_id)
        if send is None:
            raise ApiError(404, "not_found", _("CSV送信 {id} はありません").format(id=send_id))
        if not principal.may(Action.READ, send.department_id):
            raise ApiError(403, "forbidden", _("他の部署のメッセージは閲覧できません"))
        s.expunge(send)
        return send


@api_bp.get("/csv-sends/<int:send_id>")
def get_csv_send(send_id: int) -> ResponseReturnValue:
    send = _readable(send_id)
    with runtime().session() as s:
        return jsonify(send_detail(s, s.merge(send)))


@api_bp.post("/csv-sends/<int:send_id>/approve")
def approve_csv_send(send_id: int) -> ResponseReturnValue:
    """A second person approves every message (send time) of the send that waits: one file, one decision."""
    principal = current_principal()
    send = _readable(send_id)
    if not principal.may(Action.APPROVE, send.department_id):
        raise ApiError(403, "forbidden", _("このメッセージを承認する権限がありません（その部署の承認者か管理者のみ）"))
    with runtime().session() as s:
        approver = s.get(Operator, principal.id)
        if approver is None:
            raise ApiError(401, "unauthorized", _("操作者が見つかりません。もう一度ログインしてください"))
        try:
            approved = [(m.id, m.state) for m in approve_send(s, send_id, approver)]
        except ApprovalError as exc:
            s.rollback()
            raise ApiError(409, "approval_conflict", _(str(exc))) from exc
        detail = send_detail(s, s.merge(send))
    for message_id, state in approved:
        release(message_id, state)
    return jsonify(detail)


@api_bp.post("/csv-sends/<int:send_id>/cancel")
def cancel_csv_send(send_id: int) -> ResponseReturnValue:
    """Withdraw every message (send time) of the send not yet gone, or only ``message_ids``."""
    principal = current_principal()
    send = _readable(send_id)
    if not principal.may(Action.SEND, send.department_id):
        raise ApiError(403, "forbidden", _("この部署の名義で送信する権限がありません"))
    data = request.get_json(silent=True) or {}
    ids = data.get("message_ids") if isinstance(data, dict) else None
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
        raise ApiError(400, "invalid_parameter", _("message_ids は整数の配列で指定してください"))
    with runtime().session() as s:
        withdrawn = cancel_send(s, send_id, principal.username, "CSV送信の取り消し", ids)
        detail = send_detail(s, s.merge(send))
    return jsonify({**detail, "withdrawn": withdrawn})
