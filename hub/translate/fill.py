"""Giving a composition the languages its readers need: machine translation, or the marked fallback.

Which languages a message gets (docs/residents.md): the distinct languages of the active contacts
its audience reaches (drill participants only for an exercise), plus any the operator adds. The
Japanese title and body are the message itself; やさしい日本語 is written by a person, never
machine-translated, so a message without it reaches those readers in Japanese.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.compose.audience import Audience, contact_ids_query
from hub.compose.messages import Composition, LocalText
from hub.models import Contact, Mode
from hub.residents.languages import EASY_JAPANESE, JAPANESE, LANGUAGES
from hub.residents.questions import MAX_LOCAL_LABEL, QuestionText, read_question
from hub.residents.questions import MAX_TEXT as MAX_QUESTION
from hub.runtime import Runtime
from hub.translate.fallback import fallback_line, with_fallback_line
from hub.translate.providers import TranslationFailed, translate

# Languages translated at once: a handful of requests, each waiting on the translator.
PARALLEL = 4
NEVER_MACHINE = frozenset({JAPANESE, EASY_JAPANESE})


def audience_languages(session: Session, comp: Composition, extra: Iterable[str] = ()) -> list[str]:
    """The languages ``comp`` needs besides Japanese, in the order of LANGUAGES."""
    ids = contact_ids_query(Audience.parse(comp.audience))
    query = select(Contact.language).distinct().where(Contact.id.in_(ids))
    if comp.mode != Mode.ACTUAL:
        query = query.where(Contact.exercise_participant.is_(True))
    wanted = set(session.scalars(query)) | set(extra)
    return [code for code in LANGUAGES if code in wanted and code != JAPANESE]


# What a text under review may hold (the API's and the composer's limits). A translation is often
# longer than the Japanese (English nearly always): one over the limit would be refused when the
# officer sends it back unchanged, so it is cut, with "…", for the officer to see and shorten.
TITLE_MAX, TEXT_MAX = 200, 10_000


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def fitted(text: LocalText) -> LocalText:
    question = text.question and QuestionText(
        text=_fit(text.question.text, MAX_QUESTION),
        choices=tuple(_fit(c, MAX_LOCAL_LABEL) for c in text.question.choices))
    return dataclasses.replace(text, title=_fit(text.title, TITLE_MAX), body=_fit(text.body, TEXT_MAX),
                               overrides={ch: _fit(v, TEXT_MAX) for ch, v in text.overrides.items()},
                               question=question)


def machine_text(runtime: Runtime, comp: Composition, language: str) -> LocalText:
    """``comp`` translated into ``language``; the Japanese with the fixed line when that fails."""
    settings = runtime.settings
    question = read_question(comp.question)[0]
    try:
        title = translate(settings, comp.title, target=language) if comp.title else ""
        body = translate(settings, comp.body, target=language) if comp.body else ""
        overrides = {ch: translate(settings, text, target=language) for ch, text in comp.overrides.items()}
        # A survey is translated whole (its question and every label) or not at all.
        local_question = machine_question(runtime, question, language) if question else None
    except TranslationFailed as exc:
        return fallback_text(comp, language, str(exc))
    return LocalText(title=title, body=body, origin="machine", overrides=overrides, question=local_question)


def machine_question(runtime: Runtime, question: Mapping[str, Any], language: str) -> QuestionText:
    """A survey's question and every label in ``language``: whole, or :class:`TranslationFailed`."""
    settings = runtime.settings
    return QuestionText(
        text=translate(settings, str(question["text"]), target=language),
        choices=tuple(" ".join(translate(settings, str(c["label"]), target=language).split())
                      for c in question["choices"]))


def with_questions(runtime: Runtime, comp: Composition, texts: Mapping[str, LocalText]) -> dict[str, LocalText]:
    """``texts`` where each language the machine can translate has the survey's question too: a
    question added after the texts were translated or written (the operator reviews it, as the rest)."""
    question = read_question(comp.question)[0]
    out = dict(texts)
    if question is None:
        return out
    for code, local in texts.items():
        if local.question is None and code not in NEVER_MACHINE and local.origin != "fallback":
            # Not translated: its readers get the Japanese question, as the section shows (no fields filled).
            with contextlib.suppress(TranslationFailed):
                out[code] = dataclasses.replace(local, question=machine_question(runtime, question, code))
    return out


def fallback_text(comp: Composition, language: str, why: str) -> LocalText:
    # The title stays as written (a subject line takes no notice); the body opens with the line.
    return LocalText(
        title=comp.title, body=with_fallback_line(language, comp.body) if comp.body else fallback_line(language),
        origin="fallback",
        overrides={ch: with_fallback_line(language, text) for ch, text in comp.overrides.items()}, error=why)


def fill_missing(runtime: Runtime, comp: Composition, languages: Sequence[str],
                 deadline: float | None = None) -> Composition:
    """``comp`` with a text for every language of ``languages`` it lacks (Japanese and やさしい日本語 excepted).

    ``deadline``: seconds for all of them together (an alert does not wait for a slow translator);
    a language not translated by then gets the fallback text, and its translation is abandoned.
    """
    missing = [code for code in dict.fromkeys(languages)
               if code in LANGUAGES and code not in NEVER_MACHINE and code not in comp.texts]
    if not missing:
        return comp
    pool = ThreadPoolExecutor(max_workers=min(PARALLEL, len(missing)), thread_name_prefix="translate")
    try:
        futures = {code: pool.submit(machine_text, runtime, comp, code) for code in missing}
        done, _ = wait(futures.values(), timeout=deadline)
        late = f"翻訳が{deadline:g}秒以内に終わりませんでした" if deadline is not None else ""
        made = {code: fitted(future.result() if future in done else fallback_text(comp, code, late))
                for code, future in futures.items()}
    finally:
        pool.shutdown(wait=deadline is None, cancel_futures=True)
    return dataclasses.replace(comp, texts={**comp.texts, **made})
