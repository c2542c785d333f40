"""The languages a resident may choose, by the code stored in ``contacts.language``.

やさしい日本語 (plain Japanese, for readers still learning it) is a language of its own: its texts
are written for it, never machine-translated from Japanese.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

JAPANESE = "ja"
EASY_JAPANESE = "ja-easy"

# Code → the language's own name, as a resident choosing it reads it.
LANGUAGES: dict[str, str] = {
    JAPANESE: "日本語",
    EASY_JAPANESE: "やさしい日本語",
    "en": "English",
    "zh": "中文（简体）",
    "ko": "한국어",
    "vi": "Tiếng Việt",
    "pt": "Português",
    "es": "Español",
    "tl": "Tagalog",
    "ne": "नेपाली",
    "id": "Bahasa Indonesia",
    "th": "ไทย",
}


def is_known(code: str) -> bool:
    return code in LANGUAGES


class NamedForResidents(Protocol):
    """A category or an area: the city's Japanese ``name`` and its ``names`` in other languages."""

    @property
    def name(self) -> str: ...

    @property
    def names(self) -> Mapping[str, str] | None: ...


def reading_order(language: str) -> tuple[str, ...]:
    """The names a reader of ``language`` is given, best first, before the Japanese one.

    English comes second for every foreign language: the residents' pages and LINE steps speak
    English to them already, so an English name reads better than a Japanese one. やさしい日本語 falls
    back to Japanese, never to English.
    """
    if language == EASY_JAPANESE:
        return (EASY_JAPANESE,)
    if language.startswith(JAPANESE):
        return ()
    return tuple(dict.fromkeys((language, "en")))


def name_for(row: NamedForResidents, language: str) -> str:
    return name_and_language(row, language)[0]


def name_and_language(row: NamedForResidents, language: str) -> tuple[str, str]:
    """The name a reader of ``language`` is given, and the language it is written in."""
    names = row.names or {}
    for code in reading_order(language):
        if names.get(code):
            return names[code], code
    return row.name, JAPANESE
