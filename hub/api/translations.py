"""Texts per language in the API: reading ``texts`` from a message body, and machine translations
for the operator to review before sending (``POST /api/v1/messages/translations``).

A text's ``origin`` says what it is: ``operator`` (written or edited by a person), ``reviewed`` (a
template's reviewed translation), ``machine`` (machine translation, shown as such) or ``fallback``
(translation failed: the Japanese text after a fixed line; ``error`` says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from hub.api import api_bp
from hub.api.auth import current_principal
from hub.api.common import ApiError, json_body, runtime
from hub.compose.messages import Composition, LocalText
from hub.i18n import gettext as _
from hub.policy import may_send_somewhere
from hub.residents.languages import EASY_JAPANESE, JAPANESE, LANGUAGES
from hub.translate.fill import TEXT_MAX, TITLE_MAX, audience_languages, fill_missing
from hub.translate.providers import translator_ready

ORIGINS = ("operator", "reviewed", "machine", "fallback")
MAX_TITLE, MAX_TEXT, MAX_ERROR = TITLE_MAX, TEXT_MAX, 500


def _string(item: Mapping[str, Any], key: str, limit: int, where: str, problems: dict[str, list[str]]) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.setdefault(where, []).append(_("{key} は文字列で指定してください").format(key=key))
        return ""
    if len(value) > limit:
        problems.setdefault(where, []).append(_("{key} は {max} 文字以内にしてください").format(key=key, max=limit))
        return value[:limit]
    return value


def read_texts(raw: Any, channels: tuple[str, ...], problems: dict[str, list[str]]) -> dict[str, LocalText]:
    """``texts`` of a message body: language code → {title, body, origin, error, overrides}."""
    if raw is None or raw == {}:
        return {}
    if not isinstance(raw, dict):
        problems.setdefault("texts", []).append(_("言語コードと文の組で指定してください"))
        return {}
    texts: dict[str, LocalText] = {}
    for code, item in raw.items():
        where = f"texts.{code}"
        if code == JAPANESE or code not in LANGUAGES:
            problems.setdefault("texts", []).append(_("言語「{code}」には文を付けられません").format(code=code))
            continue
        if not isinstance(item, dict):
            problems.setdefault(where, []).append(_("title と body を持つオブジェクトで指定してください"))
            continue
        title = _string(item, "title", MAX_TITLE, where, problems).strip()
        body = _string(item, "body", MAX_TEXT, where, problems).strip()
        error = _string(item, "error", MAX_ERROR, where, problems).strip() or None
        origin = item.get("origin") or "operator"
        if origin not in ORIGINS:
            problems.setdefault(where, []).append(_("origin は次のいずれかです: {values}").format(
                values=", ".join(ORIGINS)))
            continue
        if origin in ("machine", "fallback") and code == EASY_JAPANESE:
            problems.setdefault(where, []).append(_("やさしい日本語は機械翻訳しません。人が書いた文を入れてください"))
            continue
        overrides = item.get("overrides") or {}
        if not isinstance(overrides, dict) or not all(
                ch in channels and isinstance(v, str) and len(v) <= MAX_TEXT for ch, v in overrides.items()):
            problems.setdefault(where, []).append(_("overrides はチャネル名と本文の組で指定してください"))
            continue
        if title or body:  # an empty language is one not given: its readers get Japanese
            texts[code] = LocalText(title=title, body=body, origin=origin, error=error,
                                    overrides={ch: v for ch, v in overrides.items() if v.strip()})
    return texts


def read_languages(raw: Any, problems: dict[str, list[str]]) -> list[str]:
    """Languages the operator adds to those of the audience."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(c, str) and c in LANGUAGES for c in raw):
        problems.setdefault("languages", []).append(_("言語コードのリストで指定してください: {values}").format(
            values=", ".join(LANGUAGES)))
        return []
    return [c for c in dict.fromkeys(raw) if c != JAPANESE]


def texts_json(texts: Mapping[str, LocalText]) -> dict[str, dict[str, Any]]:
    return {code: {"title": t.title, "body": t.body, "origin": t.origin, "error": t.error,
                   "overrides": dict(t.overrides), "name": LANGUAGES.get(code, code),
                   **({"question": t.question.record()} if t.question else {})}
            for code, t in texts.items()}


def translated(comp: Composition, extra: list[str]) -> tuple[list[str], Composition]:
    """The languages ``comp`` needs, and ``comp`` with a machine text (or the fallback) for each it lacks."""
    rt = runtime()
    with rt.session() as s:
        languages = audience_languages(s, comp, extra)
    return languages, fill_missing(rt, comp, languages)


@api_bp.post("/messages/translations")
def translations_endpoint() -> ResponseReturnValue:
    """Machine translations of a message not yet sent, for review: nothing is stored or sent."""
    from hub.api.composing import read_composition

    principal = current_principal()
    if not may_send_somewhere(principal):
        raise ApiError(403, "forbidden", _("メッセージを送信する権限がありません"))
    data = json_body()
    with runtime().session() as s:
        comp, problems = read_composition(s, data, principal)
    if "texts" in problems or "languages" in problems or "audience" in problems:
        raise ApiError(400, "invalid_message", _("入力内容に問題があります"),
                       problems={k: v for k, v in problems.items() if k.startswith(("texts", "languages", "audience"))})
    if not comp.title and not comp.body:
        raise ApiError(400, "invalid_message", _("件名か本文を入力してください"))
    problems = {}
    extra = read_languages(data.get("languages"), problems)
    languages, filled = translated(comp, extra)
    settings = runtime().settings
    return jsonify(translator=settings.translator if translator_ready(settings) else "none",
                   languages=languages, texts=texts_json(filled.texts))
