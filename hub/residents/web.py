"""Residents' own pages: registration (``/register``, e-mail double opt-in) and preferences (``/r/p/<token>``).

No login: the confirmation link and the preferences link are the credentials (signed with the
hub's secret). Every POST carries the session's CSRF token like the console's forms; bad input
is a 4xx page, never a 500. What a resident changes goes through :mod:`hub.residents.choices`
(live state, dated records, audit).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from hub.api.auth import refuse_form_without_csrf
from hub.contacts.erasure import erase_contact
from hub.i18n import current_locale, page_lang, reader_language, remember_language, speak_to_resident
from hub.i18n import gettext as _
from hub.models import Contact
from hub.residents import choices, line_flow, register, tasks
from hub.residents.languages import EASY_JAPANESE, JAPANESE, LANGUAGES, NamedForResidents, name_and_language
from hub.residents.links import PREFERENCES, ResidentLinkError, read_token
from hub.runtime import Runtime

residents_bp = Blueprint("residents", __name__, template_folder="templates")
line_flow.install()
MAX_CHOICES = 200  # more boxes than any city offers: a longer form is not a person's


def _rt() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


residents_bp.before_request(refuse_form_without_csrf)
residents_bp.after_request(remember_language)


@residents_bp.context_processor
def _names() -> dict[str, Any]:
    def named(row: NamedForResidents) -> Markup:
        """A category's or area's name for this reader, marked with its language when it is not the
        page's (a screen reader then reads a Vietnamese name in Vietnamese on an English page)."""
        name, language = name_and_language(row, reader_language())
        tag = "ja" if language == EASY_JAPANESE else language
        return escape(name) if tag == page_lang() else Markup('<span lang="{}">{}</span>').format(tag, name)

    return {"named": named}


@residents_bp.errorhandler(HTTPException)
def _error_page(exc: HTTPException) -> ResponseReturnValue:
    return _problem(exc.code or 400, exc.description or "")


def _problem(status: int, message: str) -> ResponseReturnValue:
    return render_template("residents/problem.html", status=status, message=message), status


def _form_choices() -> dict[str, Any]:
    """The posted choices; a language that is not offered is None (left as it is)."""
    language = request.form.get("language", "")
    return {"categories": set(request.form.getlist("category")[:MAX_CHOICES]),
            "areas": set(request.form.getlist("area")[:MAX_CHOICES]),
            "language": language if language in LANGUAGES else None}


def _options(session: Session) -> dict[str, Any]:
    return {"categories": choices.offered_categories(session), "areas": choices.offered_areas(session),
            "languages": LANGUAGES}


# -- registration --------------------------------------------------------------------------------

@residents_bp.route("/register", methods=["GET", "POST"])
def register_page() -> ResponseReturnValue:
    rt = _rt()
    with rt.session() as s:
        options = _options(s)
        if request.method == "GET":
            return render_template("residents/register.html", **options, chosen=None, error=None)
    picked = _form_choices()
    picked["language"] = picked["language"] or JAPANESE
    email = register.normalise_email(request.form.get("email", ""))
    if email is None:
        page = render_template("residents/register.html", **options, chosen=picked,
                               email=request.form.get("email", "")[:register.MAX_EMAIL],
                               error=_("メールアドレスの形式が正しくありません"))
        return page, 422
    if register.address_refused(rt, request.remote_addr):
        return _problem(429, _("短い時間に多くの登録がありました。しばらくしてからもう一度お試しください"))
    if register.may_send(rt, request.remote_addr, email):
        tasks.queue_confirmation(register.Request(email, frozenset(picked["categories"]),
                                                  frozenset(picked["areas"]), picked["language"],
                                                  current_locale()))
    # The same answer for every address: registered, new, or throttled.
    return render_template("residents/register_sent.html", email=email,
                           hours=rt.settings.register_link_max_age_hours)


@residents_bp.route("/register/confirm/<token>", methods=["GET", "POST"])
def confirm_page(token: str) -> ResponseReturnValue:
    """GET only shows what will be registered: mail scanners open links, only a press confirms."""
    rt = _rt()
    try:
        wanted = register.read_token(rt.settings, token)
    except register.RegisterLinkError as exc:
        if exc.expired:
            return _problem(410, _("このリンクは有効期限が切れています。もう一度登録ページからお申し込みください"))
        return _problem(404, _("このリンクは正しくありません"))
    speak_to_resident(wanted.locale)  # the page in the words of the page that asked for it
    with rt.session() as s:
        if request.method == "POST":
            try:
                _contact, link = register.confirm(s, rt.settings, wanted)
            except register.RegisterLinkError:  # the registration it joins is gone
                return _problem(404, _("このリンクは正しくありません"))
            return render_template("residents/confirmed.html", link=link)
        options = _options(s)
    return render_template("residents/confirm.html", wanted=wanted, token=token, **options)


# -- preferences ---------------------------------------------------------------------------------

@residents_bp.route("/r/p/<token>", methods=["GET", "POST"])
def preferences_page(token: str) -> ResponseReturnValue:
    rt = _rt()
    try:
        link = read_token(rt.settings, PREFERENCES, token)
    except ResidentLinkError:
        return _problem(404, _("このリンクは正しくありません"))
    with rt.session() as s:
        contact = s.get(Contact, link.contact_id)
        if contact is None:
            return _problem(404, _("このリンクは正しくありません"))
        speak_to_resident(contact.language or "ja")
        if contact.erased_at is not None:
            return render_template("residents/erased.html", just_now=False), 410
        notice = None
        if request.method == "POST":
            action = request.form.get("action", "")
            if action == "erase":
                if request.form.get("confirm_erase") != "yes":
                    error = _("消去すると元に戻せないことを確認し、チェックを入れてください")
                    return _preferences(s, token, contact, erase_error=error), 422
                erase_contact(s, contact, rt.settings.secret_keys, "web:preferences", choices.actor_of(contact))
                return render_template("residents/erased.html", just_now=True)
            if action == "stop":
                choices.stop_everything(s, contact, choices.WEB_PREFERENCES)
                notice = _("すべての配信を停止しました。")
            elif action == "save":
                picked = _form_choices()
                choices.choose(s, contact, categories=picked["categories"], areas=picked["areas"],
                               language=picked["language"], source=choices.WEB_PREFERENCES)
                notice = _("配信設定を保存しました。")
            elif action == "email":
                refused = _add_mailbox(rt, s, token, contact)
                if refused is not None:
                    return refused
                notice = _("確認のメールを送りました。メールのリンクを開き、「登録を確定する」を押すと追加されます。")
            else:
                return _problem(400, _("操作が正しくありません"))
        s.flush()
        page = _preferences(s, token, contact, notice=notice)
    return page


def _preferences(session: Session, token: str, contact: Contact, **context: Any) -> str:
    consents = sorted({c.channel for c in contact.consents if c.revoked_at is None})
    return render_template("residents/preferences.html", token=token, chosen=choices.current(contact),
                           consents=consents, has_email=bool(contact.email), **context, **_options(session))


def _add_mailbox(rt: Runtime, session: Session, token: str, contact: Contact) -> ResponseReturnValue | None:
    """The preferences page's 「メールでも受け取る」: the same double opt-in as registration (and its
    throttles), the mailbox joining this registration once it confirms. None when the mail is on its way."""
    email = register.normalise_email(request.form.get("email", ""))
    if email is None:
        page = _preferences(session, token, contact, email_error=_("メールアドレスの形式が正しくありません"),
                            email=request.form.get("email", "")[:register.MAX_EMAIL])
        return page, 422
    if register.address_refused(rt, request.remote_addr):
        return _problem(429, _("短い時間に多くの登録がありました。しばらくしてからもう一度お試しください"))
    if register.may_send(rt, request.remote_addr, email):
        current = choices.current(contact)
        tasks.queue_confirmation(register.Request(email, current.categories, current.areas, current.language,
                                                  current_locale(), contact_id=contact.id))
    return None
