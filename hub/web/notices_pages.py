"""The console's personalised CSV send (差し込み送信): upload → check → preview → confirm → its page.

The same front door as ``POST /api/v1/csv-sends`` and ``hub send --csv`` (hub/notices/front.py).
The confirmation form carries the uploaded file back (base64) with its SHA-256, so what is sent is
exactly the file that was previewed, and nothing is stored before the operator confirms.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.api.common import ApiError, as_id, runtime
from hub.compose.messages import ApprovalError
from hub.dispatch.tasks import release
from hub.i18n import gettext as _
from hub.models import Category, CsvSend, Department, Mode, Operator
from hub.notices.check import CsvSendError
from hub.notices.front import check_and_maybe_store, read_request, release_all, send_detail
from hub.notices.reminders import RULE_HELP
from hub.notices.store import approve_send, cancel_send
from hub.policy import Action, Principal
from hub.web.pages import _operator, login_required, web_bp

FIELDS = ("title", "body", "mode", "category", "department", "reminder", "date_column", "scheduled_at")
PERSONAL_CHANNELS = ("sms", "email", "line", "voice")
REMINDER_CHOICES = ("", "day_before@10:00", "day_before@18:00", "days:2@10:00", "hours:2")


def _choices(s: Session, principal: Principal) -> dict[str, Any]:
    sending = principal.departments(Action.SEND)
    departments = [(d.code, d.name) for d in s.scalars(select(Department).where(Department.disabled_at.is_(None))
                                                       .order_by(Department.code))
                   if sending is None or d.id in sending]
    categories = [(c.code, c.name) for c in s.scalars(select(Category).where(Category.disabled_at.is_(None))
                                                      .order_by(Category.code))]
    return {"departments": departments, "categories": categories, "channels": PERSONAL_CHANNELS,
            "reminders": REMINDER_CHOICES, "rule_help": RULE_HELP}


def _form() -> dict[str, Any]:
    data: dict[str, Any] = {k: (request.form.get(k) or "").strip() for k in FIELDS}
    data["channels"] = request.form.getlist("channels")[:len(PERSONAL_CHANNELS) + 2]  # public ones are refused by name
    return data


def _file() -> tuple[str, bytes]:
    """The upload (first step) or the file carried through the confirmation, checked against its digest."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        return upload.filename, upload.read()
    carried = request.form.get("file_b64", "")
    try:
        data = base64.b64decode(carried, validate=True)
    except (binascii.Error, ValueError):
        abort(400)
    if hashlib.sha256(data).hexdigest() != request.form.get("file_sha256"):
        abort(400)
    return (request.form.get("filename") or "upload.csv")[:200], data


@web_bp.get("/notices/csv")
@login_required
def csv_send_form() -> ResponseReturnValue:
    principal = _operator()
    with runtime().session() as s:
        return render_template("notices/csv.html", data={"mode": "", "channels": ["sms"]}, preview=None,
                               problems={}, **_choices(s, principal))


@web_bp.post("/notices/csv")
@login_required
def csv_send_post() -> ResponseReturnValue:
    principal = _operator()
    data = _form()
    confirm = request.form.get("step") == "confirm"
    if confirm and data.get("mode") == Mode.ACTUAL and request.form.get("confirm_actual") != "yes":
        # As in the composer: a live send goes only with the operator's tick; until then it is checked again.
        flash(_("実配信であることの確認にチェックしてください"), "error")
        confirm = False
    skip_bad = request.form.get("skip_bad") == "1"
    filename, raw = _file()
    rt = runtime()
    carried = {"file_b64": base64.b64encode(raw).decode(), "file_sha256": hashlib.sha256(raw).hexdigest(),
               "filename": filename}
    with rt.session() as s:
        context = _choices(s, principal)
        try:
            req = read_request(s, data, principal, filename, raw)
            outcome = check_and_maybe_store(s, rt, req, principal, confirm=confirm, skip_bad=skip_bad)
        except ApiError as exc:
            s.rollback()
            problems = exc.extra.get("problems") or {"*": [exc.message]}
            return render_template("notices/csv.html", data=data, preview=None, problems=problems,
                                   **context), exc.status
        except CsvSendError as exc:
            s.rollback()
            return render_template("notices/csv.html", data=data, preview=None, problems=exc.problems,
                                   **context), 422
    if outcome.send_id is None:
        return render_template("notices/csv.html", data=data, preview=outcome.preview, problems={},
                               carried=carried, **context)
    release_all(outcome)
    return redirect(url_for("web.csv_send_page", send_id=outcome.send_id), 303)


def _send_or_404(s: Session, send_id: int, principal: Principal) -> CsvSend:
    send = s.get(CsvSend, send_id)
    if send is None:
        abort(404)
    if not principal.may(Action.READ, send.department_id):
        abort(403)
    return send


@web_bp.get("/notices/csv/<int:send_id>")
@login_required
def csv_send_page(send_id: int) -> ResponseReturnValue:
    principal = _operator()
    with runtime().session() as s:
        send = _send_or_404(s, send_id, principal)
        detail = send_detail(s, send)
        waiting = any(m["state"] == "awaiting_approval" for m in detail["messages"])
        return render_template("notices/csv_send.html", send=detail,
                               may_cancel=principal.may(Action.SEND, send.department_id),
                               may_approve=waiting and principal.may(Action.APPROVE, send.department_id)
                               and principal.id != send.created_by_id)


@web_bp.post("/notices/csv/<int:send_id>/approve")
@login_required
def csv_send_approve(send_id: int) -> ResponseReturnValue:
    principal = _operator()
    with runtime().session() as s:
        send = _send_or_404(s, send_id, principal)
        approver = s.get(Operator, principal.id)
        if not principal.may(Action.APPROVE, send.department_id) or approver is None:
            abort(403)
        try:
            approved = [(m.id, m.state) for m in approve_send(s, send_id, approver)]
        except ApprovalError:
            s.rollback()
            abort(409)
    for message_id, state in approved:
        release(message_id, state)
    return redirect(url_for("web.csv_send_page", send_id=send_id), 303)


@web_bp.post("/notices/csv/<int:send_id>/cancel")
@login_required
def csv_send_cancel(send_id: int) -> ResponseReturnValue:
    principal = _operator()
    with runtime().session() as s:
        send = _send_or_404(s, send_id, principal)
        if not principal.may(Action.SEND, send.department_id):
            abort(403)
        chosen = as_id(request.form.get("message_id"))
        cancel_send(s, send_id, principal.username, _("CSV送信の取り消し"), [chosen] if chosen else None)
    return redirect(url_for("web.csv_send_page", send_id=send_id), 303)
