"""The languages a resident may choose, by the code stored in ``contacts.language``.

やさしい日本語 (plain Japanese, for readers still learning it) is a language of its own: its texts
are written for it, never machine-translated from Japanese.
"""

from __future__ import annotations

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
