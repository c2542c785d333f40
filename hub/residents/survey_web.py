"""The resident's answer page of a survey: ``/r/a/<token>``, the signed link of their e-mail.

The link is the only credential (hub/residents/links.py ANSWER: it names the contact and the
message); the form carries the session's CSRF token so another site cannot answer for someone who
once opened their link. A bad or forged token is a 404, a closed survey a 410, never a 500.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue

from channels.locale import bcp47
from hub.api.auth import csrf_ok, csrf_token
from hub.i18n import speak_to_resident
from hub.models import Contact, Message
from hub.residents import answers
from hub.residents.links import ANSWER, ResidentLinkError, read_token
from hub.residents.questions import choice_for, closes_at, is_open, language_state, question_for
from hub.runtime import Runtime

surveys_bp = Blueprint("surveys", __name__, template_folder="templates")
BAD_LINK = "このリンクは正しくありません。メールに記載されたリンクをそのまま開いてください"


def _rt() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


def _page(status: int, **context: object) -> ResponseReturnValue:
    response = current_app.make_response((render_template("surveys/answer.html", **context), status))
    # The token is in the path: never hand it on in a Referer, never keep the page in a shared cache.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@surveys_bp.route("/r/a/<token>", methods=["GET", "POST"])
def answer_page(token: str) -> ResponseReturnValue:
    rt = _rt()
    try:
        link = read_token(rt.settings, ANSWER, token)
    except ResidentLinkError:
        return _page(404, error=BAD_LINK)
    with rt.session() as s:
        message = s.get(Message, link.message_id)
        contact = s.get(Contact, link.contact_id)
        if message is None or contact is None or contact.erased_at is not None:
            return _page(404, error=BAD_LINK)
        language = contact.language or "ja"
        question = question_for(message, language)
        if question is None:
            return _page(404, error=BAD_LINK)
        speak_to_resident(language)
        local = language_state(message, language)
        mine = answers.answer_summary(s, message.id, contact.id)
        # The question (and title) in the resident's language where the message went in it.
        translated_title = local.get("title") and local.get("origin") != "fallback"
        context = {"question": question, "title": local.get("title") or message.title,
                   "title_lang": bcp47(language) if translated_title else "ja",
                   "text_lang": bcp47(language) if local.get("question") else "ja", "mode": message.mode,
                   "token": token,
                   "current": mine["key"] if mine else None, "closes_at": closes_at(message),
                   "csrf": csrf_token()}
        if not is_open(message):
            return _page(410, closed=True, **context)
        if request.method == "GET":
            return _page(200, **context)
        if not csrf_ok(request.form.get("csrf_token")):
            return _page(400, error="画面の有効期限が切れました。もう一度回答してください", **context)
        key = choice_for(question, request.form.get("choice", ""))
        if key is None:
            return _page(422, error="選択肢を1つ選んでください", **context)
        recorded = answers.record_answer(s, message, contact.id, key, "web",
                                         actor=f"web:contact:{contact.id}:{link.channel}"[:100])
        context["current"] = key
    return _page(200, saved=True, changed=recorded.changed, **context)

