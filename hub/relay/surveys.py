"""Survey definitions: questions with Japanese labels, the built-in templates, and answer parsing.

A running call-out never reads the ``surveys`` tables again: it carries a snapshot (plain JSON)
taken when it started, so every helper below works on that snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models.relay import Survey, SurveyQuestion

KINDS = ("choice", "number", "text")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# A LINE buttons template carries at most 4 actions, each label at most 20 characters.
MAX_CHOICES = 4
MAX_CHOICE_LABEL = 20
MAX_QUESTION_LABEL = 100

Question = dict[str, Any]

_SAFETY: Question = {
    "key": "safety", "kind": "choice", "label": "あなたの安否を教えてください",
    "choices": [{"value": "safe", "label": "無事", "digit": "1"},
                {"value": "minor", "label": "軽傷", "digit": "2"},
                {"value": "serious", "label": "重傷", "digit": "3"}],
}
_ATTEND: Question = {
    "key": "attend", "kind": "choice", "label": "参集できますか",
    "choices": [{"value": "yes", "label": "可能", "digit": "1"},
                {"value": "no", "label": "不可", "digit": "2"}],
}
_ETA: Question = {
    "key": "eta", "kind": "number", "label": "何分で到着できますか",
    "options": {"min": 0, "max": 999, "unit": "分", "presets": [15, 30, 60, 90, 120]},
    "ask_if": {"attend": "yes"},
}
_NOTE: Question = {"key": "note", "kind": "text", "label": "現在地・連絡事項", "required": False}

BUILTIN: dict[str, dict[str, Any]] = {
    "anpi": {"title": "安否確認", "intro": "安否を回答してください。", "questions": [_SAFETY, _NOTE]},
    "sanshu": {"title": "参集確認", "intro": "参集できるか回答してください。",
               "questions": [_ATTEND, _ETA, _NOTE]},
    "anpi_sanshu": {"title": "安否・参集確認", "intro": "安否と参集の可否を回答してください。",
                    "questions": [_SAFETY, _ATTEND, _ETA, _NOTE]},
}


class SurveyError(ValueError):
    """A survey definition or an answer that cannot be used; the message is for the person."""


def ensure_builtin_surveys(session: Session) -> None:
    """Create the templates (安否確認, 参集確認, both) the first time anyone needs them."""
    existing = set(session.scalars(select(Survey.code).where(Survey.code.in_(list(BUILTIN)))))
    for code, spec in BUILTIN.items():
        if code not in existing:
            define_survey(session, {"code": code, **spec}, builtin=True)


def define_survey(session: Session, spec: Mapping[str, Any], builtin: bool = False) -> Survey:
    """Create or replace a survey from ``{"code", "title", "intro", "questions": [...]}``."""
    code = str(spec.get("code", "")).strip()
    if not KEY_RE.match(code):
        raise SurveyError(f"アンケートのコードは英小文字・数字・_ で指定してください: {code!r}")
    title = str(spec.get("title", "")).strip()
    if not title:
        raise SurveyError("アンケートの題名がありません")
    questions = [normalise_question(q) for q in spec.get("questions") or []]
    if not questions:
        raise SurveyError("質問が1つもありません")
    keys = [q["key"] for q in questions]
    if len(set(keys)) != len(keys):
        raise SurveyError("質問のキーが重複しています")
    for q in questions:
        unknown = set(q["ask_if"]) - set(keys[: keys.index(q["key"])])
        if unknown:
            raise SurveyError(f"質問 {q['key']} の条件はそれより前の質問を指してください: {sorted(unknown)}")
    survey = session.scalar(select(Survey).where(Survey.code == code))
    if survey is None:
        survey = Survey(code=code)
        session.add(survey)
    survey.title, survey.intro, survey.builtin = title, str(spec.get("intro", "")), builtin
    survey.questions = [
        SurveyQuestion(position=i, key=q["key"], kind=q["kind"], label=q["label"], choices=q["choices"],
                       options=q["options"], required=q["required"], ask_if=q["ask_if"])
        for i, q in enumerate(questions)
    ]
    session.flush()
    return survey


def normalise_question(raw: Mapping[str, Any]) -> Question:
    key, kind, label = str(raw.get("key", "")), str(raw.get("kind", "")), str(raw.get("label", "")).strip()
    if not KEY_RE.match(key):
        raise SurveyError(f"質問のキーは英小文字・数字・_ で指定してください: {key!r}")
    if kind not in KINDS:
        raise SurveyError(f"質問 {key} の種類は {', '.join(KINDS)} のいずれかです")
    if not label or len(label) > MAX_QUESTION_LABEL:
        raise SurveyError(f"質問 {key} の文言は1〜{MAX_QUESTION_LABEL}文字です")
    choices = [dict(c) for c in raw.get("choices") or []]
    if kind == "choice":
        if not 1 <= len(choices) <= MAX_CHOICES:
            raise SurveyError(f"質問 {key} の選択肢は1〜{MAX_CHOICES}個です（LINEのボタンの上限）")
        for i, choice in enumerate(choices):
            choice["value"] = str(choice.get("value") or f"c{i + 1}")
            choice["label"] = str(choice.get("label", "")).strip()
            choice["digit"] = str(choice.get("digit") or i + 1)
            if not choice["label"] or len(choice["label"]) > MAX_CHOICE_LABEL:
                raise SurveyError(f"質問 {key} の選択肢の文言は1〜{MAX_CHOICE_LABEL}文字です")
        if len({c["digit"] for c in choices}) != len(choices) or not all(
                re.fullmatch(r"[1-9]", c["digit"]) for c in choices):
            raise SurveyError(f"質問 {key} の選択肢には重複しない1〜9の番号が必要です（電話のボタン）")
    options = dict(raw.get("options") or {})
    if kind == "number":
        options = {"min": 0, "max": 999, "unit": "", "presets": [], **options}
    return {"key": key, "kind": kind, "label": label, "choices": choices if kind == "choice" else [],
            "options": options, "required": bool(raw.get("required", True)),
            "ask_if": {str(k): str(v) for k, v in (raw.get("ask_if") or {}).items()}}


def snapshot(survey: Survey) -> dict[str, Any]:
    return {
        "code": survey.code, "title": survey.title, "intro": survey.intro,
        "questions": [normalise_question({
            "key": q.key, "kind": q.kind, "label": q.label, "choices": q.choices, "options": q.options,
            "required": q.required, "ask_if": q.ask_if,
        }) for q in survey.questions],
    }


def questions(snap: Mapping[str, Any]) -> list[Question]:
    return list(snap.get("questions") or [])


def question(snap: Mapping[str, Any], key: str) -> Question | None:
    return next((q for q in questions(snap) if q["key"] == key), None)


def applies(q: Question, answers: Mapping[str, str]) -> bool:
    return all(answers.get(k) == v for k, v in q.get("ask_if", {}).items())


def next_question(snap: Mapping[str, Any], answers: Mapping[str, str], after: str | None = None,
                  kinds: tuple[str, ...] = KINDS) -> Question | None:
    """The first applicable, unanswered question of ``kinds`` (after ``after`` when given)."""
    items = questions(snap)
    if after is not None:
        keys = [q["key"] for q in items]
        items = items[keys.index(after) + 1:] if after in keys else items
    return next((q for q in items if q["kind"] in kinds and q["key"] not in answers and applies(q, answers)),
                None)


def parse_value(q: Question, raw: str) -> str:
    """The stored form of an answer, or SurveyError with a message for the person answering."""
    value = raw.strip()
    if q["kind"] == "choice":
        for choice in q["choices"]:
            if value in (choice["value"], choice["label"], choice["digit"]):
                return str(choice["value"])
        raise SurveyError(f"「{q['label']}」の選択肢から選んでください")
    if q["kind"] == "number":
        digits = value.rstrip("#").translate(str.maketrans("０１２３４５６７８９", "0123456789"))
        opts = q["options"]
        if not digits.isdigit() or not int(opts["min"]) <= int(digits) <= int(opts["max"]):
            raise SurveyError(f"「{q['label']}」は{opts['min']}〜{opts['max']}の数字で入力してください")
        return str(int(digits))
    if len(value) > 1000:
        raise SurveyError(f"「{q['label']}」は1000文字以内で入力してください")
    return value


def label_for(q: Question, value: str) -> str:
    if q["kind"] == "choice":
        return next((str(c["label"]) for c in q["choices"] if c["value"] == value), value)
    if q["kind"] == "number":
        return f"{value}{q['options'].get('unit', '')}"
    return value
