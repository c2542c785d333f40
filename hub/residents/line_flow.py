"""Registration on LINE: after a follow, the resident picks a language, then categories and an area,
with quick replies, one step at a time; 「設定」 later shows their choices and their own preferences
link. The language comes first so that everything after it is in words the resident reads:
Japanese for Japanese and やさしい日本語 readers, English for every other language (the hub's own
catalogs are Japanese and English; category and area names are the city's).

A multicast carries one text for everyone, so the personal link cannot travel in it: every LINE
message ends with how to ask for it (``channels.line.SETTINGS_HINTS``), and the answer to that
word is a reply to one person, which can carry it.

Webhook handlers only record the choice and queue the answer (``hub.residents.tasks.line_answer``);
the answer is built from what the database holds when it is sent. Postback data is
``reg|<op>|<arg>``; whatever else arrives is left to the other handlers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.base import Choice, Question, Rendered
from channels.inbound import UserEvent
from channels.line import QUICK_REPLY_MAX, SETTINGS_KEYWORD
from hub.callbacks import follow_handlers, message_handlers, postback_handlers
from hub.db import after_commit
from hub.i18n import gettext
from hub.models import Contact
from hub.residents import choices
from hub.residents.languages import EASY_JAPANESE, LANGUAGES, name_for
from hub.residents.links import PREFERENCES, ResidentLink, url_for
from hub.runtime import Runtime

log = logging.getLogger(__name__)

PREFIX = "reg"
LABEL_MAX = 20  # a quick reply button's label
# The words that ask for one's settings (what SETTINGS_HINTS tell residents to send), compared
# without spaces and case.
KEYWORDS = frozenset({SETTINGS_KEYWORD, "せってい", "配信設定", "settings", "setting", "menu", "メニュー"})

# Steps of the conversation (what an answer shows).
WELCOME, CATEGORIES, AREAS, LANGUAGE, DONE, SETTINGS = "welcome", "categories", "areas", "language", "done", "settings"
STEPS = (WELCOME, CATEGORIES, AREAS, LANGUAGE, DONE, SETTINGS)


@dataclass(frozen=True)
class Answer:
    """What to answer one event with: a step of the conversation and the page of its choices."""

    step: str
    page: int = 0


def data(op: str, *args: str | int) -> str:
    return "|".join((PREFIX, op, *(str(a) for a in args)))


def parse(raw: str | None) -> tuple[str, str] | None:
    """(op, argument) of our postback data; None for anyone else's (or anything longer than LINE sends)."""
    prefix, _sep, rest = (raw or "").partition("|")
    if prefix != PREFIX or len(raw or "") > 300:
        return None
    op, _sep, arg = rest.partition("|")
    return op, arg


def _page(raw: str) -> int:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 3 else 0


# -- webhook handlers ----------------------------------------------------------------------------

def _runtime() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


def _answer_later(session: Session, event: UserEvent, answer: Answer) -> None:
    from hub.residents import tasks

    user_id, token, key = event.user_id or "", event.reply_token, event.event_id or ""
    after_commit(session, lambda: tasks.queue_line_answer(user_id, token, key, answer))


def on_follow(session: Session, event: UserEvent, contact: Contact) -> None:
    _answer_later(session, event, Answer(WELCOME))


def _contact(session: Session, event: UserEvent) -> Contact | None:
    if not event.user_id:
        return None
    return session.scalar(select(Contact).where(Contact.line_user_id == event.user_id))


def on_postback(session: Session, event: UserEvent) -> bool:
    parts = parse(event.data)
    if parts is None:
        return False
    contact = _contact(session, event)
    if contact is None:  # not a follower we know (deleted since): nothing to keep choices for
        log.info("registration postback from an unknown LINE user")
        return True
    answer = apply(session, contact, *parts)
    if answer is not None:
        _answer_later(session, event, answer)
    return True


def apply(session: Session, contact: Contact, op: str, arg: str) -> Answer | None:
    """Record what the pressed button chose; the answer that shows the next step."""
    source = choices.LINE_POSTBACK
    now = choices.current(contact)
    if op == "c":  # "<page>|<code>": on if it was off, off if it was on; the same page again
        page, _sep, code = arg.partition("|")
        picked = now.categories ^ {code} if code else now.categories
        choices.choose(session, contact, categories=picked, source=source)
        return Answer(CATEGORIES, _page(page))
    if op == "cp":
        return Answer(CATEGORIES, _page(arg))
    if op == "cd":
        return Answer(AREAS)
    if op == "a":  # one area on LINE (the web page takes several); "" = none
        choices.choose(session, contact, areas={arg} if arg else set(), source=source)
        return Answer(DONE)
    if op == "ap":
        return Answer(AREAS, _page(arg))
    if op in ("l", "lf"):  # lf: the welcome's first step, which goes on to the categories
        choices.choose(session, contact, language=arg, source=source)
        return Answer(CATEGORIES if op == "lf" else DONE)
    if op in ("lp", "lfp"):
        return Answer(WELCOME if op == "lfp" else LANGUAGE, _page(arg))
    if op == "s":  # from the settings answer: change one part
        return Answer({"c": CATEGORIES, "a": AREAS, "l": LANGUAGE}.get(arg, SETTINGS))
    if op == "resume":  # consent given again in LINE by the resident's own press
        choices.give_consent(session, contact, "line", source)
        return Answer(SETTINGS)
    return None


def on_message(session: Session, event: UserEvent) -> bool:
    text = "".join((event.text or "").split()).lower()
    if text not in KEYWORDS:
        return False
    if _contact(session, event) is None:
        return False
    _answer_later(session, event, Answer(SETTINGS))
    return True


def install() -> None:
    if on_postback not in postback_handlers:
        postback_handlers.append(on_postback)
    if on_message not in message_handlers:
        message_handlers.append(on_message)
    if on_follow not in follow_handlers:
        follow_handlers.append(on_follow)


# -- what the answers say ------------------------------------------------------------------------

WELCOME_TEXT = ("友だち追加ありがとうございます。防災・行政の情報をLINEでお届けします。\n"
                "Thank you for adding us: the city sends disaster and city information here.\n\n"
                "はじめに、受け取る言語を選んでください（あとから「設定」と送って変更できます）。\n"
                "First, choose your language (send “settings” at any time to change it).")
LANGUAGE_TEXT = "受け取る言語を選んでください / Choose your language"


def _(text: str, locale: str) -> str:
    """The conversation's words in ``locale``: Japanese, やさしい日本語 or English (hub/i18n.py catalogs)."""
    return gettext(text, locale)


def speaks(contact: Contact) -> str:
    """The conversation's locale for this resident: Japanese, やさしい日本語, or English for every other language."""
    language = contact.language or "ja"
    return language if language in ("ja", EASY_JAPANESE) else "ja" if language.startswith("ja") else "en"


def _label(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def paged(options: list[Choice], page: int, controls: list[Choice], next_op: str,
          locale: str = "ja") -> tuple[Choice, ...]:
    """At most 13 quick replies: the options of ``page`` with 「次へ」 when they do not all fit, and
    the controls after them. 「次へ」 on the last page goes back to the first."""
    room = QUICK_REPLY_MAX - len(controls)
    if len(options) <= room:
        return (*options, *controls)
    per_page = room - 1
    pages = -(-len(options) // per_page)
    page %= pages
    shown = options[page * per_page:(page + 1) * per_page]
    return (*shown, Choice(_("次へ ▶", locale), data(next_op, (page + 1) % pages)), *controls)


def _ask(intro: str, text: str, suggestions: tuple[Choice, ...]) -> Rendered:
    return Rendered(subject=None, text=intro,
                    meta={"question": Question(text=text, spoken="", suggestions=suggestions)})


def summary(session: Session, contact: Contact) -> str:
    locale, reads = speaks(contact), contact.language or "ja"
    names = {c.code: name_for(c, reads) for c in [*choices.offered_categories(session), *contact.categories]}
    areas = [name_for(a, reads) for a in contact.areas]
    now = choices.current(contact)
    picked = [names.get(code, code) for code in sorted(now.categories)]
    lines = [
        _("分類: {names}", locale).format(names=_listed(picked, locale) if picked else _("すべて", locale)),
        _("地域: {names}", locale).format(names=_listed(areas, locale) if areas else _("指定なし", locale)),
        _("言語: {name}", locale).format(name=LANGUAGES.get(now.language, now.language)),
    ]
    if not choices.has_consent(contact, "line"):
        lines.append(_("LINEでの配信: 停止中", locale))
    return "\n".join(lines)


def _listed(names: list[str], locale: str) -> str:
    return ("、" if locale.startswith("ja") else ", ").join(names)


def _languages(op: str, page: int) -> tuple[Choice, ...]:
    options = [Choice(_label(name), data(op, code)) for code, name in LANGUAGES.items()]
    return paged(options, page, [], op + "p")


def content(session: Session, rt: Runtime, contact: Contact, answer: Answer) -> Rendered:
    """The reply for ``answer``, from the choices the database holds now."""
    step, locale, reads = answer.step, speaks(contact), contact.language or "ja"
    if step == WELCOME:
        return _ask(WELCOME_TEXT, f"① {LANGUAGE_TEXT}", _languages("lf", answer.page))
    if step == LANGUAGE:
        return _ask("", LANGUAGE_TEXT, _languages("l", answer.page))
    if step == CATEGORIES and not choices.offered_categories(session):
        step = AREAS
    if step == AREAS and not choices.offered_areas(session):
        step = DONE
    if step == CATEGORIES:
        chosen = choices.current(contact).categories
        options = [Choice(_label(("✓" if c.code in chosen else "") + name_for(c, reads)),
                          data("c", answer.page, c.code)) for c in choices.offered_categories(session)]
        text = _("② 受け取りたい情報の分類を押してください（複数選べます。もう一度押すと外れます）。"
                 "選び終わったら「決定」を押してください。\n選択中: {names}", locale).format(
            names=_listed([name_for(c, reads) for c in contact.categories], locale)
            or _("なし（すべて受け取ります）", locale))
        return _ask("", text, paged(options, answer.page, [Choice(_("決定", locale), data("cd"))], "cp", locale))
    if step == AREAS:
        options = [Choice(_label(name_for(a, reads)), data("a", a.code)) for a in choices.offered_areas(session)]
        return _ask("", _("③ お住まいの地域を選んでください。", locale),
                    paged(options, answer.page, [Choice(_("指定しない", locale), data("a", ""))], "ap", locale))
    link = url_for(rt.settings, ResidentLink(PREFERENCES, contact.id))
    if step == DONE:
        text = _("登録しました。\n{summary}\n\n変更や配信の停止はこちらから（あなた専用のリンクです）:\n{link}\n"
                 "「設定」と送ると、いつでもこの案内を表示します。", locale).format(
            summary=summary(session, contact), link=link)
        return Rendered(subject=None, text=text)
    controls = [Choice(_("分類を変える", locale), data("s", "c")), Choice(_("地域を変える", locale), data("s", "a")),
                Choice(_("言語を変える", locale), data("s", "l"))]
    if not choices.has_consent(contact, "line"):
        controls.append(Choice(_("配信を再開する", locale), data("resume")))
    text = _("現在の配信設定です。\n{summary}\n\n変更や配信の停止はこちらから（あなた専用のリンクです。"
             "他の人に教えないでください）:\n{link}", locale).format(summary=summary(session, contact), link=link)
    return _ask("", text, tuple(controls))
