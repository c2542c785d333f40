"""Operator pages (dashboard, composer, status) and the public message page. Thin: they call the API layer.

Login and logout live in :mod:`hub.web.login`; the operator id and session version are kept in the
signed Flask session. Every POST carries the session's CSRF token, and the composer's live preview calls
/api/v1 with the same session and an ``X-CSRF-Token`` header.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from hub.api.auth import (
    Principal,
    csrf_token,
    refuse_form_without_csrf,
    session_principal,
)
from hub.api.common import ApiError, as_id, runtime
from hub.api.composing import (
    CHANNEL_LABELS,
    CHANNELS,
    JST,
    MSG_TYPE_LABELS,
    describe_audience,
    preview_payload,
    read_composition,
)
from hub.api.messages import approve_as, create_from, message_detail, readable_message, readable_where, watched_tally
from hub.compose.public import message_is_public
from hub.contacts.masking import as_people_write_it
from hub.dispatch.tasks import release
from hub.i18n import gettext as _
from hub.i18n import remember_language
from hub.models import Area, Category, Department, Message, MessageState, Mode, MsgType, Template
from hub.policy import Action, may_follow_up, may_override, may_send_somewhere
from hub.residents import survey_tally
from hub.residents.languages import LANGUAGES
from hub.translate.fill import audience_languages
from hub.web.translations_form import (
    ORIGIN_LABELS,
    form_texts,
    html_lang,
    language_choices,
    local_texts,
    texts_from_form,
    translate_for_review,
)

web_bp = Blueprint("web", __name__)
View = TypeVar("View", bound=Callable[..., ResponseReturnValue])
PUBLIC_STATES = (MessageState.QUEUED, MessageState.DONE)
SILENT_SHOWN = 100  # non-responders listed on the message page; the CSV has them all


@web_bp.record_once
def _cookie_defaults(state: BlueprintSetupState) -> None:
    # The session cookie is what lets the composer send: never across sites, never over plain HTTP
    # when the hub is published on HTTPS.
    config = state.app.config
    if config.get("SESSION_COOKIE_SAMESITE") is None:
        config["SESSION_COOKIE_SAMESITE"] = "Lax"
    settings = config.get("HUB_SETTINGS")
    if settings is not None and settings.public_url.startswith("https://"):
        config["SESSION_COOKIE_SECURE"] = True


def _in_japan(value: datetime | str) -> datetime:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:  # SQLite drops the offset; stored times are UTC
        when = when.replace(tzinfo=UTC)
    return when.astimezone(JST)


@web_bp.app_template_filter("jst")
def jst(value: datetime | str | None) -> str:
    return _in_japan(value).strftime("%Y-%m-%d %H:%M") if value else ""


@web_bp.app_template_filter("jst_time")
def jst_time(value: datetime | str | None) -> str:
    """The time of day in Japan, to the second (when a count was made)."""
    return _in_japan(value).strftime("%H:%M:%S") if value else ""


web_bp.add_app_template_filter(as_people_write_it, "address")  # phone numbers as officers dial them


@web_bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    def lang_url(code: str) -> str:
        # url_for reads _method, _scheme, _external and _anchor as its own options: from a query
        # string they made every page (error pages included) fail to render, a 500.
        query = {k: v for k, v in request.args.to_dict().items() if not k.startswith("_")}
        args = {**(request.view_args or {}), **query, "lang": code}
        return url_for(request.endpoint or "web.dashboard", **args)

    def translation_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
        return form_texts(local_texts(data.get("texts") or {}), runtime().settings.secret_key)

    return {"csrf_token": csrf_token, "lang_url": lang_url, "operator": g.get("operator"),
            "CHANNEL_LABELS": CHANNEL_LABELS, "MSG_TYPE_LABELS": MSG_TYPE_LABELS,
            "translation_rows": translation_rows, "LANGUAGE_NAMES": LANGUAGES, "ORIGIN_LABELS": ORIGIN_LABELS,
            "html_lang": html_lang, "language_choices": language_choices}


web_bp.before_request(refuse_form_without_csrf)
web_bp.after_request(remember_language)


def login_required(view: View) -> View:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        from hub.web.login import pending_redirect

        pending = pending_redirect()
        if pending is not None:
            return pending
        principal = session_principal()
        if principal is None:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        g.operator = principal
        return view(*args, **kwargs)

    return cast(View, wrapped)


def _operator() -> Principal:
    principal: Principal = g.operator
    return principal


@web_bp.get("/")
@login_required
def dashboard() -> ResponseReturnValue:
    from hub.web.console import dashboard_context

    where = readable_where(_operator())
    with runtime().session() as s:
        context = dashboard_context(s, where)
    return render_template("dashboard.html", **context)


def _choices() -> dict[str, Any]:
    with runtime().session() as s:
        return {
            "categories": [(c.code, c.name) for c in s.scalars(select(Category).order_by(Category.code))],
            "areas": [(a.code, a.name) for a in s.scalars(select(Area).order_by(Area.code))],
            "departments": [(d.code, d.name)
                            for d in s.scalars(select(Department).order_by(Department.code))],
            "channels": [c for c in CHANNELS if c in runtime().available_channels()],
            # Only texts a person can send as they are; a JMA template's variables are the trigger's to fill.
            "templates": [(t.code, t.name) for t in s.scalars(select(Template).order_by(Template.code))
                          if not t.variables],
        }


def _form_data() -> dict[str, Any]:
    form = request.form
    return {
        "title": form.get("title", ""), "body": form.get("body", ""), "channels": form.getlist("channels"),
        "audience": form.get("audience", ""), "mode": form.get("mode", ""),
        "msg_type": form.get("msg_type") or MsgType.ALERT, "category": form.get("category") or None,
        "department": form.get("department") or None, "references": form.get("references") or None,
        "scheduled_at": form.get("scheduled_at") or None, "update_label": form.get("update_label") or "",
        "overrides": {ch: form.get(f"override_{ch}", "") for ch in CHANNELS if form.get(f"override_{ch}")},
        # The emergency override (only offered to an operator who holds it; the API checks again).
        "override": ({"reason": form.get("override_reason", "")} if form.get("use_override") == "yes" else None),
        **_question_fields(form.get("question_text", ""), form.get("question_choices", "")),
        # The 「翻訳」 section: each language's text, and languages the operator adds to the audience's.
        "texts": texts_from_form(form, runtime().settings.secret_key),
        "languages": [code for code in form.getlist("add_languages") if code in LANGUAGES],
    }


def _question_fields(text: str, choices: str) -> dict[str, Any]:
    """The composer's survey section: a question and its choices, one a line (keys 1, 2, … in order)."""
    labels = [line.strip() for line in choices.splitlines() if line.strip()]
    question = {"text": text, "choices": labels} if text.strip() or labels else None
    return {"question_text": text, "question_choices": choices, "question": question}


def _prefill(ref_id: int | None, kind: str) -> dict[str, Any]:
    """A correction or cancellation starts from the original's title and mode."""
    data: dict[str, Any] = {"channels": [], "overrides": {}, "msg_type": MsgType.ALERT}
    if not ref_id:
        return data
    with runtime().session() as s:
        original = s.get(Message, ref_id)
        if original is None:
            abort(404)
        # Channels and audience are the original's: hub.compose.corrections decides them.
        data.update(references=original.id, mode=original.mode,
                    msg_type=MsgType.CANCEL if kind == "cancel" else MsgType.UPDATE,
                    title=original.title, body="" if kind == "cancel" else original.body)
    return data


def _from_template(code: str) -> dict[str, Any]:
    """A prepared text to start from: its title, body, category and per-channel texts, then edited."""
    with runtime().session() as s:
        template = s.scalar(select(Template).where(Template.code == code))
        if template is None:
            abort(404)
        return {"template": template.code, "title": template.title, "body": template.body,
                "category": template.category_code or "", "overrides": dict(template.channel_bodies or {}),
                "channels": sorted(template.channel_bodies or {})}


@web_bp.get("/compose")
@login_required
def compose() -> ResponseReturnValue:
    if not may_send_somewhere(_operator()):
        abort(403)
    kind = request.args.get("type", "")
    ref = as_id(request.args.get("ref"))
    if request.args.get("ref") and ref is None:
        abort(404)  # no message can have that number
    data = _prefill(ref, kind)
    if not data.get("references") and request.args.get("template"):
        data.update(_from_template(request.args["template"]))
    return render_template("compose.html", data=data, problems={}, **_choices())


@web_bp.post("/compose")
@login_required
def compose_post() -> ResponseReturnValue:
    principal = _operator()
    if not may_send_somewhere(principal):
        abort(403)
    data, step = _form_data(), request.form.get("step", "confirm")
    rt = runtime()
    if step == "translate":
        return _translate_step(data, principal)
    try:
        with rt.session() as s:
            comp, problems = read_composition(s, data, principal)
            preview = preview_payload(s, rt, comp, problems)
    except ApiError as exc:  # refused outright (NUL, too many channels …): show what, not just that
        preview = {"problems": exc.extra.get("problems") or {"*": [exc.message]}}
    if step == "edit" or preview["problems"]:
        status = 422 if preview["problems"] and step != "edit" else 200
        return render_template("compose.html", data=data, problems=preview["problems"], **_choices()), status
    # A follow-up takes the original's mode whatever the form said: word and guard by that one.
    data["mode"] = preview["mode"]
    withdraw_only = bool(preview["follow_up"] and preview["follow_up"]["withdraw_only"])
    if step == "send":
        if data["mode"] == Mode.ACTUAL and not withdraw_only and request.form.get("confirm_actual") != "yes":
            flash(_("実配信であることの確認にチェックしてください"), "error")
        else:
            try:
                message_id, state, created = create_from(data, principal)
            except ApiError as exc:
                return render_template("compose.html", data=data, problems=exc.extra.get("problems")
                                       or {"*": [exc.message]}, **_choices()), exc.status
            release(message_id, state)
            if not created:
                flash(_("まだ誰にも届いていなかったため、元のメッセージを取り下げました"), "ok")
            return redirect(url_for("web.message_page", message_id=message_id))
    names = _("、").join(_(CHANNEL_LABELS.get(ch, ch)) for ch in preview["channels"])
    return render_template("confirm.html", data=data, preview=preview, channel_names=names,
                           withdraw_only=withdraw_only, can_override=may_override(principal))


def _translate_step(data: dict[str, Any], principal: Principal) -> ResponseReturnValue:
    """Machine translations for every language the audience reads, shown for review in the composer."""
    rt = runtime()
    with rt.session() as s:
        comp, problems = read_composition(s, data, principal)
        if "audience" in problems or (not comp.title and not comp.body):
            wanted = {k: v for k, v in problems.items() if k in ("audience", "*")}
            return render_template("compose.html", data=data, problems=wanted, **_choices()), 422
        languages = audience_languages(s, comp, data["languages"])
    data["texts"] = translate_for_review(rt, comp, languages)
    data["audience_languages"] = languages
    return render_template("compose.html", data=data, problems={}, **_choices())


@web_bp.get("/messages/<int:message_id>")
@login_required
def message_page(message_id: int) -> ResponseReturnValue:
    principal = _operator()
    with runtime().session() as s:
        try:
            readable = readable_message(s, message_id, principal)
            tally = watched_tally(s, readable)
            detail = message_detail(s, readable, tally)
        except ApiError as exc:
            abort(exc.status)
        message = s.get(Message, message_id)
        assert message is not None
        creator_id, department_id = message.created_by_id, message.department_id
        audience_words = describe_audience(s, message.audience)
        original = message.references.title if message.references else None
        followers = {m.id: (m.title, m.msg_type) for m in s.scalars(
            select(Message).where(Message.id.in_(detail["referenced_by"])))}
        public_id = message.public_id if message_is_public(message) else None
        from hub.web.console import approval_plan, honest_counts

        plan = approval_plan(s, message) if message.state == MessageState.AWAITING_APPROVAL else {}
        honest = honest_counts(tally.rows, message.channels or [])
        rejected = (message.meta or {}).get("rejected")
        can_follow_up = may_follow_up(principal, message)
        survey = survey_tally.watched(s, message, runtime().tallies)
        silent = survey_tally.silent(s, message, runtime().tallies, survey, SILENT_SHOWN) if survey else []
    can_approve = principal.may(Action.APPROVE, department_id) and principal.id != creator_id
    return render_template("message.html", msg=detail, audience_words=audience_words, original=original,
                           followers=followers, can_approve=can_approve, public_id=public_id,
                           is_creator=principal.id == creator_id, plan=plan, honest=honest, rejected=rejected,
                           can_follow_up=can_follow_up, survey=survey, silent=silent,
                           can_close_survey=principal.may(Action.SEND, department_id),
                           SURVEY_CHANNEL_LABELS=survey_tally.CHANNEL_LABELS)


@web_bp.post("/messages/<int:message_id>/approve")
@login_required
def approve_page(message_id: int) -> ResponseReturnValue:
    try:
        state = approve_as(message_id, _operator())
    except ApiError as exc:
        flash(exc.message, "error")
        return redirect(url_for("web.message_page", message_id=message_id))
    release(message_id, state)
    flash(_("承認しました。配信を開始します"), "ok")
    return redirect(url_for("web.message_page", message_id=message_id))


@web_bp.get("/m/<public_id>")
def public_message(public_id: str) -> ResponseReturnValue:
    """What the link in an SMS or post opens: no login, the full text, exercises unmistakable.

    Addressed by the random ``public_id`` (sequential ids would let anyone walk every message) and
    only for messages meant for the public (hub.compose.public); anything else is a plain 404.
    """
    with runtime().session() as s:
        message = s.scalar(select(Message).where(Message.public_id == public_id))
        if message is None or message.state not in PUBLIC_STATES or not message_is_public(message):
            abort(404)
        followers = [f for f in s.scalars(select(Message).where(
            Message.references_id == message.id, Message.state.in_(PUBLIC_STATES)).order_by(Message.id))
            if message_is_public(f)]
        original = message.references
        # The page in the reader's language when the message has it (the links in their texts ask).
        texts = {code: t for code, t in ((message.meta or {}).get("languages") or {}).items()
                 if isinstance(t, dict) and t.get("title") is not None}
        language = request.args.get("lang", "")
        local = texts.get(language) if language in LANGUAGES else None
        page = {
            "title": local["title"] if local else message.title, "body": local["body"] if local else message.body,
            "language": language if local else "ja",
            "languages": [("ja", LANGUAGES["ja"])] + [(c, LANGUAGES[c]) for c in LANGUAGES if c in texts],
            "mode": message.mode,
            "msg_type": message.msg_type, "created_at": message.created_at,
            "department": message.department.name if message.department else "",
            "original": ((original.public_id, original.title)
                         if original is not None and message_is_public(original) else None),
            "followers": [(f.public_id, f.title, f.msg_type) for f in followers],
        }
    response = current_app.make_response(render_template("public_message.html", p=page))
    response.headers["Cache-Control"] = "public, max-age=30"
    return response
