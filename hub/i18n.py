"""Japanese-first UI strings with English from Babel catalogs in ``translations/``.

Source strings are Japanese; ``translations/en/LC_MESSAGES/messages.po`` holds English. Catalogs
are read from the .po files at start-up so no compile step can be forgotten on a fresh machine.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from flask import Flask, g, request

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
SUPPORTED = ("ja", "en")
# やさしい日本語: the residents' own pages speak it to a resident who chose it (never chosen by the
# browser, never the console's). Its catalog is a file beside the locale folders: Babel knows no
# such locale, and pybabel's tools must not take it for one.
EASY = "ja-easy"


@cache
def catalog(locale: str) -> dict[str, str]:
    path = TRANSLATIONS / ("ja-easy.po" if locale == EASY else f"{locale}/LC_MESSAGES/messages.po")
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        po = read_po(fh, locale=None if locale == EASY else locale)
    return {str(m.id): str(m.string) for m in po if m.id and m.string}


def gettext(text: str, locale: str | None = None) -> str:
    locale = locale or current_locale()
    if locale == "ja":
        return text
    return catalog(locale).get(text, text)


def current_locale() -> str:
    try:
        return str(g.get("locale", "ja"))
    except RuntimeError:  # outside a request: the CLI and workers speak Japanese
        return "ja"


# The residents' own pages (their blueprints) also offer やさしい日本語; the console does not.
RESIDENT_PAGES = frozenset({"residents", "surveys", "unsubscribe"})


def offered() -> tuple[str, ...]:
    """The locales this page may be asked for (``?lang=``, the cookie)."""
    return (*SUPPORTED, EASY) if request.blueprint in RESIDENT_PAGES else SUPPORTED


def _select_locale() -> None:
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen not in offered():
        chosen = request.accept_languages.best_match(SUPPORTED, default="ja")
    g.locale = chosen
    g.pop("reader_language", None)


def page_lang() -> str:
    """The page's ``lang`` attribute: やさしい日本語 is Japanese to a browser and a screen reader."""
    locale = current_locale()
    return "ja" if locale == EASY else locale


def speak_to_resident(language: str) -> None:
    """A resident's own page (their link names them) in the language they chose, as far as the
    catalogs go: やさしい日本語, English for every language but Japanese — unless the page was told a
    language (``?lang=``, the language cookie). A Japanese reader keeps what the browser asks for."""
    if request.args.get("lang") in offered() or request.cookies.get("lang") in offered():
        return
    g.reader_language = language
    if language == EASY:
        g.locale = EASY
    elif not language.startswith("ja"):
        g.locale = "en"


def reader_language() -> str:
    """The language a resident reads the city's own names in (categories, areas): the one they chose,
    when the page speaks to them by it, else the page's."""
    return str(g.get("reader_language") or current_locale())


def init_app(app: Flask) -> None:
    app.before_request(_select_locale)
    app.jinja_env.globals["_"] = gettext
    app.jinja_env.globals["current_locale"] = current_locale
    app.jinja_env.globals["page_lang"] = page_lang


def remember_language(response: Any) -> Any:
    """``after_request`` of the HTML pages: a ``?lang=`` choice is kept for a year in a cookie."""
    chosen = request.args.get("lang")
    if chosen in offered():
        response.set_cookie("lang", chosen, max_age=365 * 24 * 3600, samesite="Lax")
    return response
