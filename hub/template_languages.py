"""Reviewed translations of the prepared templates, and filling them in each language.

A translator writes ``translations/templates/<language>/<code>.yaml`` beside the Japanese template
(title, body, per-channel texts, correction, cancellation) with the same Jinja variables. Values
from JMA arrive in Japanese (「震度６強」「津波警報」); each language's ``_phrasebook.yaml`` holds the
reviewed words for them (the ``term`` filter, also used by ``listing``), its time format (``jst``)
and its exercise label. Place names stay as JMA gives them: residents find them on signs and maps.

A translation that fails to render never stops the Japanese message: the language falls back to
the English text (marked as such), or to Japanese when English fails too.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache, partial
from pathlib import Path
from typing import Any

import yaml
from jinja2.sandbox import SandboxedEnvironment

from hub.compose.messages import LocalText
from hub.models import Template
from hub.templating import (
    DEFAULT_TIME_FORMAT,
    FilledTemplate,
    ListStyle,
    TemplateError,
    environment,
    jst,
    listing,
    read_fields,
    used_variables,
)
from hub.templating import render_text as _render

log = logging.getLogger(__name__)

TRANSLATED = Path(__file__).resolve().parent.parent / "translations" / "templates"
PHRASEBOOK = "_phrasebook.yaml"
FALLBACK = "en"  # the text a failed translation falls back to (the issue: "Japanese + the English text")
_PARTS = ("title", "body", "correction", "cancellation")
_FIELDS = {"code", "language", "reviewed", *_PARTS, "channels"}
# Values every trigger message has, whether or not the Japanese text uses them (hub triggers).
COMMON_VARIABLES = frozenset({"headline", "title", "report_time", "type_code", "exercise", "area_names",
                              "cancel_reason"})


@dataclass(frozen=True)
class Phrasebook:
    """One language's words for what templates do not write themselves."""

    language: str
    time_format: str = DEFAULT_TIME_FORMAT
    time_locale: str = "ja"
    exercise_label: str = ""  # before an exercise's title and short texts, after the channel's 【訓練】
    exercise_note: str = ""  # the first line of an exercise's body
    list_style: ListStyle = field(default_factory=ListStyle)
    terms: Mapping[str, str] = field(default_factory=dict)  # JMA's word (NFKC) → this language's
    patterns: tuple[tuple[re.Pattern[str], str], ...] = ()  # e.g. 約(\d+)km → about \1 km

    def term(self, value: Any) -> str:
        """JMA's value in this language; a value the phrasebook does not know stays as JMA wrote it."""
        text = "" if value is None else str(value)
        key = unicodedata.normalize("NFKC", text).strip()
        if key in self.terms:
            return self.terms[key]
        for pattern, replacement in self.patterns:
            if pattern.fullmatch(key):
                return pattern.sub(replacement, key)
        return text


def _phrasebook_file(path: Path, language: str) -> Phrasebook:
    if not path.exists():
        return Phrasebook(language=language)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        patterns = tuple((re.compile(str(p)), str(r)) for p, r in (data.get("patterns") or {}).items())
    except (OSError, yaml.YAMLError, re.error) as exc:
        raise TemplateError(f"{path}: 読み込めません（{exc}）") from None
    lists = data.get("lists") or {}
    terms = {unicodedata.normalize("NFKC", str(k)).strip(): str(v) for k, v in (data.get("terms") or {}).items()}
    book = Phrasebook(
        language=language, time_format=str(data.get("time_format") or DEFAULT_TIME_FORMAT),
        time_locale=str(data.get("time_locale") or "ja"), exercise_label=str(data.get("exercise_label") or ""),
        exercise_note=str(data.get("exercise_note") or ""),
        terms=terms, patterns=patterns,
    )
    style = ListStyle(separator=str(lists.get("separator", "、")),
                      more=str(lists.get("more", "{names}ほか{rest}{unit}")),
                      pair=str(lists.get("pair", "{name}（{value}）")), unit=str(lists.get("unit", "か所")),
                      more_one=lists.get("more_one"),
                      term=book.term)
    return replace(book, list_style=style)


@cache
def phrasebook(language: str, root: Path = TRANSLATED) -> Phrasebook:
    return _phrasebook_file(root / language / PHRASEBOOK, language)


@cache
def language_environment(language: str, root: Path = TRANSLATED) -> SandboxedEnvironment:
    """The Japanese template environment with this language's ``jst``, ``listing``, ``areas`` and ``term``."""
    book = phrasebook(language, root)
    env = environment()
    style = book.list_style
    env.filters["jst"] = lambda value, pattern=book.time_format: jst(value, pattern, book.time_locale)
    env.filters["listing"] = partial(listing, style=style)
    env.filters["areas"] = lambda items, limit=5, max_chars=None: listing(items, limit, max_chars=max_chars,
                                                                          style=style)
    env.filters["term"] = book.term
    return env


def reviewed_languages(root: Path = TRANSLATED) -> list[str]:
    """Languages with a directory of reviewed template texts (the UI catalogs' en/ and ja/ hold none)."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.y*ml")))


# --- Reading ---------------------------------------------------------------------------------------------


def read_translation_file(path: Path, template: Mapping[str, Any], language: str,
                          root: Path = TRANSLATED) -> dict[str, Any]:
    """One reviewed translation, checked against its Japanese template before anything is stored.

    It must have every part the Japanese has (a correction and a cancellation too, and a text for
    each channel the Japanese shortens for) and use only values the Japanese template can get.
    """
    data = read_fields(path, _FIELDS, "翻訳")
    if str(data.get("code", template["code"])) != template["code"]:
        raise TemplateError(f"{path}: code がファイル名（{template['code']}）と違います")
    for key in _PARTS:
        if not str(data.get(key) or "").strip():
            raise TemplateError(f"{path}: 「{key}」が必要です（日本語のテンプレートと同じ項目を訳してください）")
    channels = data.get("channels") or {}
    if not isinstance(channels, dict):
        raise TemplateError(f"{path}: channels はチャネル名: 本文 の形式で書いてください")
    missing = sorted(set(template.get("channel_bodies") or {}) - set(channels))
    if missing:
        raise TemplateError(f"{path}: チャネル {', '.join(missing)} の訳がありません")
    env = language_environment(language, root)
    used = used_variables(path, [data[key] for key in _PARTS] + list(channels.values()), env)
    foreign = sorted(used - set(template.get("variables") or ()) - COMMON_VARIABLES)
    if foreign:
        raise TemplateError(f"{path}: 日本語のテンプレートにない値を使っています: {', '.join(foreign)}")
    return {**{key: str(data[key]) for key in _PARTS}, "channels": {str(k): str(v) for k, v in channels.items()},
            "reviewed": str(data.get("reviewed") or "")}


def read_translations(template: Mapping[str, Any], root: Path = TRANSLATED) -> dict[str, dict[str, Any]]:
    """Every reviewed translation of ``template`` (by its code), by language."""
    found: dict[str, dict[str, Any]] = {}
    for language in reviewed_languages(root):
        path = root / language / f"{template['code']}.yaml"
        if path.exists():
            found[language] = read_translation_file(path, template, language, root)
    return found


# --- Filling ---------------------------------------------------------------------------------------------


def fill_translation(texts: Mapping[str, Any], language: str, variables: Mapping[str, Any],
                     part: str = "body") -> tuple[FilledTemplate | None, str | None]:
    """One language's filled text, or None and why it could not be used."""
    env = language_environment(language)
    title, problems = _render(str(texts.get("title") or ""), variables, env)
    overrides: dict[str, str] = {}
    if part == "body":
        body, more = _render(str(texts.get("body") or ""), variables, env)
        for channel, source in sorted((texts.get("channels") or {}).items()):
            overrides[channel], extra = _render(str(source), variables, env)
            more += extra
    else:
        body, more = _render(str(texts.get(part) or ""), variables, env)
    problems += more
    errors = [p for p in problems if p.startswith("error:")]
    if errors or not title or not body or not all(overrides.values()):
        return None, "; ".join(errors) or "訳文が空になりました"
    return FilledTemplate(title=title, body=body, overrides=overrides, missing=tuple(sorted(set(problems)))), None


def reviewed_texts(template: Template, variables: Mapping[str, Any], part: str = "body",
                   mode: str = "actual") -> dict[str, LocalText]:
    """``Composition.texts`` for every reviewed language of ``template`` (origin ``reviewed``).

    A language whose text fails carries the English text instead (origin ``fallback``, with the
    error), or is left out — its recipients then get Japanese, which is never held back.
    """
    filled: dict[str, FilledTemplate] = {}
    failed: dict[str, str] = {}
    for language, texts in sorted((template.translations or {}).items()):
        result, error = fill_translation(texts, language, variables, part)
        if result is None:
            log.error("template %s: the %s text failed (%s)", template.code, language, error)
            failed[language] = error or ""
        else:
            if result.missing:
                log.warning("template %s (%s) used values the event lacks: %s", template.code, language,
                            result.missing)
            filled[language] = result
    out = {language: _local(language, result, "reviewed", mode) for language, result in filled.items()}
    for language, error in failed.items():
        if FALLBACK in filled:
            out[language] = _local(FALLBACK, filled[FALLBACK], "fallback", mode,
                                   error=f"確認済みの訳文を作れませんでした（{error}）。英語の文面を送ります")
    return out


def _local(language: str, filled: FilledTemplate, origin: str, mode: str, error: str | None = None) -> LocalText:
    book = phrasebook(language)
    if mode != "exercise" or not book.exercise_label:
        return LocalText(title=filled.title, body=filled.body, origin=origin, overrides=dict(filled.overrides),
                         error=error)
    # The channel puts 【訓練】 first in every language; the label says it in the reader's words.
    label, note = book.exercise_label, book.exercise_note or book.exercise_label
    return LocalText(title=f"{label}{filled.title}", body=f"{note}\n{filled.body}", origin=origin,
                     overrides={ch: f"{label}{text}" for ch, text in filled.overrides.items()}, error=error)
