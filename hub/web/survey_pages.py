"""The message page's 「受付を終了」 button of a resident survey (the tally itself is in pages.message_page)."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue

from hub.api.common import ApiError
from hub.api.surveys import close_as
from hub.i18n import gettext as _
from hub.web.pages import _operator, login_required, web_bp


@web_bp.post("/messages/<int:message_id>/survey/close")
@login_required
def close_survey_page(message_id: int) -> ResponseReturnValue:
    try:
        close_as(message_id, _operator())
    except ApiError as exc:
        flash(exc.message, "error")
    else:
        flash(_("アンケートの受付を終了しました"), "ok")
    return redirect(url_for("web.message_page", message_id=message_id) + "#survey")
