"""What a resident reads when the machine translation of a message failed: one fixed line in
their language (English where we have none written), then the Japanese text.

The message must still go out, and a reader who cannot read Japanese must at least know it is the
city speaking and why the text is Japanese. These lines are written and checked by people, never
machine-translated: they are what is sent exactly when the translator is not working.
"""

from __future__ import annotations

from hub.residents.languages import JAPANESE

ENGLISH_LINE = "Important information from the city. Machine translation failed; the Japanese text follows."

# Language code → the line in that language. A language missing here gets ENGLISH_LINE.
FALLBACK_LINES: dict[str, str] = {
    "en": ENGLISH_LINE,
    "zh": "这是来自市政府的重要信息。机器翻译失败，以下是日语原文。",
    "ko": "시에서 보내는 중요한 정보입니다. 기계 번역에 실패하여 아래에 일본어 원문을 보냅니다.",
    "vi": "Thông tin quan trọng từ thành phố. Dịch máy không thành công; dưới đây là bản tiếng Nhật.",
    "pt": "Informação importante da prefeitura. A tradução automática falhou; segue o texto em japonês.",
    "es": ("Información importante del ayuntamiento. La traducción automática falló; "
           "a continuación, el texto en japonés."),
    "id": "Informasi penting dari pemerintah kota. Terjemahan mesin gagal; berikut teks dalam bahasa Jepang.",
}


def fallback_line(language: str) -> str:
    return FALLBACK_LINES.get(language, ENGLISH_LINE)


def with_fallback_line(language: str, japanese: str) -> str:
    """The Japanese ``japanese`` text with the fixed line before it (nothing to add to an empty text)."""
    if language == JAPANESE or not japanese.strip():
        return japanese
    return f"{fallback_line(language)}\n{japanese}"
