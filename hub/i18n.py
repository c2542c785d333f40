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


@cache
def catalog(locale: str) -> dict[str, str]:
    path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        po = read_po(fh, locale=locale)
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


def _select_locale() -> None:
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen not in SUPPORTED:
        chosen = request.accept_languages.best_match(SUPPORTED, default="ja")
    g.locale = chosen


def init_app(app: Flask) -> None:
    app.before_request(_select_locale)
    app.jinja_env.globals["_"] = gettext
    app.jinja_env.globals["current_locale"] = current_locale


def remember_language(response: Any) -> Any:
    """``after_request`` of the HTML pages: a ``?lang=`` choice is kept for a year in a cookie."""
    chosen = request.args.get("lang")
    if chosen in SUPPORTED:
        response.set_cookie("lang", chosen, max_age=365 * 24 * 3600, samesite="Lax")
    return response
