"""予約送信の一覧 (/scheduled): every scheduled message the operator may read, soonest first, each
with the reason it waits (its time, the quiet hours, a rule's hold) and, for those who may, 取り下げ.

Thin: hub.api.scheduled lists and withdraws, with the same policy as the API.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from hub.api.common import ApiError, runtime
from hub.api.scheduled import scheduled_page, withdraw_scheduled
from hub.i18n import gettext as _
from hub.web.pages import _operator, login_required, web_bp

SHOWN = 200


@web_bp.get("/scheduled")
@login_required
def scheduled_list() -> ResponseReturnValue:
    with runtime().session() as s:
        items, total = scheduled_page(s, _operator(), per_page=SHOWN)
    return render_template("scheduled.html", items=items, total=total, shown=SHOWN)


@web_bp.post("/messages/<int:message_id>/stop")
@login_required
def stop_page(message_id: int) -> ResponseReturnValue:
    """送信を止める: withdraw a message still waiting for its time (SEND in its department; audited)."""
    back = url_for("web.scheduled_list") if request.form.get("next") == "scheduled" else url_for("web.dashboard")
    try:
        with runtime().session() as s:
            withdraw_scheduled(s, message_id, _operator(), reason=_("操作者が送信を止めました"))
    except ApiError as exc:
        if exc.status in (403, 404):
            abort(exc.status)
        flash(exc.message, "error")
        return redirect(back)
    flash(_("#{id} の送信を止めました").format(id=message_id), "ok")
    return redirect(back)
