"""The composer's 「翻訳」 section: texts per language carried through the form, machine
translations asked for, and an edited machine translation becoming the operator's own.

Each language travels as ``text_<code>_title`` / ``_body`` / ``_origin`` / ``_error`` plus
``_machine``: a digest of the text as the translator made it, so an edit (origin ``operator``) is
told apart from an untouched machine translation (origin ``machine``) without trusting the page.
Per-channel texts per language are the API's (``texts.<code>.overrides``); the composer translates
the title and body.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

from channels.locale import bcp47
from hub.compose.messages import Composition, LocalText
from hub.residents.languages import EASY_JAPANESE, JAPANESE, LANGUAGES
from hub.residents.questions import QuestionText
from hub.runtime import Runtime
from hub.translate.fill import fill_missing, with_questions

ORIGIN_LABELS = {"machine": "機械翻訳", "reviewed": "確認済み", "operator": "確認済み（担当者が入力・編集）",
                 "fallback": "翻訳失敗"}
EDITABLE_ORIGINS = ("machine", "fallback")


def _norm(text: str) -> str:
    # A browser sends a textarea's line breaks as CRLF: an untouched text must still match.
    return text.replace("\r\n", "\n").strip()


def digest(secret: str, title: str, body: str, question: str = "", choices: str = "") -> str:
    """What the translator made, keyed with the hub's secret (the page cannot claim an edit is machine-made)."""
    made = "\n\0".join(_norm(part) for part in (title, body, question, choices))
    return hmac.new(secret.encode(), made.encode(), hashlib.sha256).hexdigest()


def _lines(choices: str) -> list[str]:
    return [line.strip() for line in choices.splitlines() if line.strip()]


def texts_from_form(form: MultiDict[str, str], secret: str) -> dict[str, dict[str, Any]]:
    """The ``texts`` of the composer's form, in the API's shape (hub.api.translations.read_texts)."""
    texts: dict[str, dict[str, Any]] = {}
    for code in form.getlist("text_langs"):
        if code not in LANGUAGES or code == JAPANESE or code in texts:
            continue
        title, body = _norm(form.get(f"text_{code}_title", "")), _norm(form.get(f"text_{code}_body", ""))
        # The survey's question and its choices (one a line), when the message asks one.
        question = _norm(form.get(f"text_{code}_question", ""))
        choices = "\n".join(_lines(form.get(f"text_{code}_choices", "")))
        origin = form.get(f"text_{code}_origin", "operator")
        error = form.get(f"text_{code}_error") or None
        made = form.get(f"text_{code}_machine", "")
        if origin not in ("operator", *EDITABLE_ORIGINS):
            origin = "operator"  # "reviewed" is a template's, never the page's word
        if origin in EDITABLE_ORIGINS and not hmac.compare_digest(made, digest(secret, title, body, question, choices)):
            origin, error = "operator", None  # a person changed it: theirs now, nothing failed
        texts[code] = {"title": title, "body": body, "origin": origin, "error": error,
                       **({"question": {"text": question, "choices": _lines(choices)}} if question or choices else {})}
    return texts


def form_texts(texts: Mapping[str, LocalText], secret: str) -> list[dict[str, Any]]:
    """Each language as the section shows it, in the order of LANGUAGES."""
    rows = []
    for code in LANGUAGES:
        t = texts.get(code)
        if t is None:
            continue
        question = t.question.text if t.question else ""
        choices = "\n".join(t.question.choices) if t.question else ""
        rows.append({"code": code, "name": LANGUAGES[code], "title": t.title, "body": t.body, "origin": t.origin,
                     "label": ORIGIN_LABELS.get(t.origin, t.origin), "error": t.error,
                     "question": question, "choices": choices,
                     "machine": digest(secret, t.title, t.body, question, choices)
                     if t.origin in EDITABLE_ORIGINS else ""})
    return rows


def local_texts(texts: Mapping[str, Mapping[str, Any]]) -> dict[str, LocalText]:
    # As the page carried them: shown again as they were, checked only when the message is read.
    return {code: LocalText(title=str(t.get("title") or ""), body=str(t.get("body") or ""),
                            origin=str(t.get("origin") or "operator"), error=t.get("error"),
                            question=QuestionText.of(t.get("question")))
            for code, t in texts.items()}


def translate_for_review(runtime: Runtime, comp: Composition, languages: list[str]) -> dict[str, dict[str, Any]]:
    """The section's texts after 「翻訳する」: the ones given, machine translations for the rest, and an
    empty やさしい日本語 to write (a person writes it, it is never translated; left empty, its readers get
    Japanese)."""
    # The composer reviews title and body; per-channel Japanese texts stay Japanese-only here.
    made = fill_missing(runtime, dataclasses.replace(comp, overrides={}), languages).texts
    made = with_questions(runtime, comp, made)
    texts = {code: {"title": t.title, "body": t.body, "origin": t.origin, "error": t.error,
                    **({"question": t.question.record()} if t.question else {})}
             for code, t in made.items()}
    if EASY_JAPANESE in languages and EASY_JAPANESE not in texts:
        texts[EASY_JAPANESE] = {"title": "", "body": "", "origin": "operator", "error": None}
    return texts


def language_choices() -> list[tuple[str, str]]:
    return [(code, name) for code, name in LANGUAGES.items() if code != JAPANESE]


def html_lang(code: str) -> str:
    """A BCP 47 tag for the page's lang attributes: やさしい日本語 is Japanese."""
    return bcp47(code)
