"""取消 and 訂正 from the message page: a preview of what goes to whom on which channel, then one button.

The preview is the API's (``read_composition`` + ``preview_payload`` with ``msg_type`` and
``references``), and sending goes through ``create_from`` like ``POST /api/v1/messages``; the policy
(``may_follow_up``) is checked there and again here before anything is shown.

Languages: the original's readers of other languages must understand the follow-up too. A
cancellation's prepared text is machine-translated by the hub as it is sent (``translate``: it stays
prepared, so it still goes at once); a correction's new words get the composer's 「翻訳」 section, to be
reviewed (and approved with the rest) before they go.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from hub.api.common import ApiError, runtime
from hub.api.composing import preview_payload, read_composition
from hub.api.messages import create_from
from hub.dispatch.tasks import release
from hub.i18n import gettext as _
from hub.models import Message, Mode, MsgType
from hub.policy import may_follow_up
from hub.residents.languages import EASY_JAPANESE, LANGUAGES
from hub.translate import translator_ready
from hub.translate.fill import audience_languages
from hub.web.pages import _operator, login_required, web_bp
from hub.web.translations_form import texts_from_form, translate_for_review

KINDS = {"cancel": MsgType.CANCEL, "update": MsgType.UPDATE}


def _data(message: Message, kind: str) -> dict[str, Any]:
    form = request.form
    posted = request.method == "POST"
    body = form.get("body", "") if posted else (message.body if kind == "update" else "")
    data: dict[str, Any] = {
        "msg_type": KINDS[kind], "references": message.id, "mode": message.mode, "title": message.title,
        "department": message.department.code if message.department else None,
        "body": "" if kind == "cancel" else body, "channels": [], "audience": ""}
    if kind == "cancel":
        data["translate"] = True
    else:
        data["texts"] = texts_from_form(form, runtime().settings.secret_key) if posted else {}
        data["languages"] = [code for code in form.getlist("add_languages") if code in LANGUAGES] if posted else []
    return data


@web_bp.route("/messages/<int:message_id>/follow-up/<kind>", methods=["GET", "POST"])
@login_required
def follow_up_page(message_id: int, kind: str) -> ResponseReturnValue:
    if kind not in KINDS:
        abort(404)
    principal = _operator()
    rt = runtime()
    with rt.session() as s:
        message = s.get(Message, message_id)
        if message is None:
            abort(404)
        if not may_follow_up(principal, message):
            abort(403)
        data = _data(message, kind)
        title = message.title
        readers: list[str] = []
        try:
            comp, problems = read_composition(s, data, principal)
            if not problems.get("audience"):
                readers = audience_languages(s, comp, data.get("languages") or [])
            if kind == "update" and request.method == "POST" and request.form.get("step") == "translate":
                # Nothing is written here: end the transaction so no connection (and no PostgreSQL
                # snapshot) is held while the translator takes up to HUB_TRANSLATOR_TIMEOUT per text.
                s.commit()
                data["texts"], data["audience_languages"] = translate_for_review(rt, comp, readers), readers
                comp, problems = read_composition(s, data, principal)
            preview = preview_payload(s, rt, comp, problems)
        except ApiError as exc:
            if exc.status in (403, 404):
                abort(exc.status)
            preview = {"problems": exc.extra.get("problems") or {"*": [exc.message]}, "channels": {},
                       "mode": message.mode, "follow_up": None, "needs_approval": False}
    withdraw_only = bool(preview.get("follow_up") and preview["follow_up"]["withdraw_only"])
    if request.method == "POST" and request.form.get("step") == "send" and not preview["problems"]:
        if preview["mode"] == Mode.ACTUAL and not withdraw_only and request.form.get("confirm_actual") != "yes":
            flash(_("実配信であることの確認にチェックしてください"), "error")
        else:
            try:
                new_id, state, created = create_from(data, principal)
            except ApiError as exc:
                flash(exc.message, "error")
                return redirect(url_for("web.follow_up_page", message_id=message_id, kind=kind))
            release(new_id, state)
            if not created:
                flash(_("まだ誰にも届いていなかったため、元のメッセージを取り下げました"), "ok")
            elif kind == "cancel":
                flash(_("取消を送信しました"), "ok")
            else:
                flash(_("訂正を送信しました"), "ok")
            return redirect(url_for("web.message_page", message_id=new_id))
    return render_template("follow_up.html", kind=kind, original_id=message_id, original_title=title,
                           data=data, preview=preview, withdraw_only=withdraw_only,
                           machine_languages=[code for code in readers if code != EASY_JAPANESE],
                           translator_ready=translator_ready(rt.settings))
