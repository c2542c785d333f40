"""The one question a message may ask residents (「避難していますか 1:はい 2:いいえ」), as written.

It is kept in ``message.meta["question"]`` as ``{"text", "choices": [{"key", "label"}], "hours"}``:
the keys are the digits a resident replies by SMS (1–9, in order), the labels what a LINE button
shows (LINE allows 20 characters), ``hours`` how long answers are taken after the message went
out. Every front door (composer, API, CLI) reads its input through :func:`read_question`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from channels.base import Poll
from hub.models import Message, MessageState
from hub.models.base import utcnow

MIN_CHOICES, MAX_CHOICES = 2, 9
MAX_TEXT = 200
MAX_LABEL = 20  # a LINE quick-reply button's label
# A translated label may be longer (a machine translation often is): LINE cuts its button and
# lists the choices whole in the text, and the composer warns.
MAX_LOCAL_LABEL = 60
DEFAULT_HOURS = 72
MAX_HOURS = 24 * 30
# Channels a resident can answer on: SMS (reply), LINE (buttons), e-mail (their answer link), a
# call (the keypad). X and the feeds say nothing of the question: nobody could answer there.
ANSWERABLE_ON = ("sms", "line", "email", "voice")
ANSWERABLE_STATES = (MessageState.QUEUED, MessageState.DONE)


def N_(text: str) -> str:
    """Marks a problem text for pybabel (the English catalog translates it at the API boundary)."""
    return text


TOO_MANY = N_("選択肢は2〜9個です（返信する数字 1〜9）")  # MIN_CHOICES〜MAX_CHOICES


def read_question(raw: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """The question of untrusted input, as stored (None: the message asks nothing), and what is
    wrong with it.

    ``raw`` is ``{"text": "…", "choices": ["はい", "いいえ"], "hours": 72}``; a choice may also be
    ``{"key": "1", "label": "はい"}`` (keys must then be 1, 2, … in order, as a resident reads them).
    """
    if raw in (None, "", {}):
        return None, []
    if not isinstance(raw, Mapping):
        return None, ["質問は {\"text\": \"…\", \"choices\": [\"…\", …]} の形で指定してください"]
    problems: list[str] = []
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append(N_("質問の文を入力してください"))
        text = ""
    elif len(text.strip()) > MAX_TEXT:
        problems.append(N_("質問の文は200文字以内にしてください"))
    raw_choices = raw.get("choices")
    if not isinstance(raw_choices, list):
        return None, [*problems, N_("選択肢を2〜9個、配列で指定してください")]
    if len(raw_choices) > MAX_CHOICES * 4:  # read nothing of a huge list
        return None, [*problems, TOO_MANY]
    labels: list[str] = []
    for index, choice in enumerate(raw_choices, start=1):
        label = choice.get("label") if isinstance(choice, Mapping) else choice
        key = str(choice.get("key", index)) if isinstance(choice, Mapping) else str(index)
        if not isinstance(label, str) or not label.strip():
            problems.append(f"選択肢 {index} の文言がありません")
            continue
        if key != str(index):
            problems.append(f"選択肢の番号は 1 から順に付けてください（{index} 番目が「{key[:10]}」）")
        label = " ".join(label.split())
        if len(label) > MAX_LABEL:
            problems.append(f"選択肢「{label[:MAX_LABEL]}…」は{MAX_LABEL}文字以内にしてください（LINEのボタンの上限）")
        labels.append(label)
    if not MIN_CHOICES <= len(raw_choices) <= MAX_CHOICES:
        problems.append(TOO_MANY)
    if len(set(labels)) != len(labels):
        problems.append(N_("同じ選択肢が重複しています"))
    hours = raw.get("hours", DEFAULT_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_HOURS:
        problems.append(N_("回答の受付時間（hours）は1〜720の整数です"))
    if problems:
        return None, problems
    return {"text": text.strip(), "choices": [{"key": str(i), "label": label} for i, label in enumerate(labels, 1)],
            "hours": hours}, []


@dataclass(frozen=True)
class QuestionText:
    """The question in one more language: its text and its choices' labels, in the keys' order.

    The keys (the digits a resident replies) stay the same in every language, so an answer is one
    answer whatever language it came in. Kept in ``message.meta["languages"][code]["question"]``.
    """

    text: str
    choices: tuple[str, ...]

    def record(self) -> dict[str, Any]:
        return {"text": self.text, "choices": list(self.choices)}

    @classmethod
    def of(cls, raw: Any) -> QuestionText | None:
        """A stored (or carried) record read back as it is; None when there is none."""
        if not isinstance(raw, Mapping):
            return None
        return cls(text=str(raw.get("text") or ""), choices=tuple(str(c) for c in raw.get("choices") or ()))


def read_question_text(raw: Any, question: Mapping[str, Any] | None) -> tuple[QuestionText | None, list[str]]:
    """A language's question of untrusted input (``{"text": "…", "choices": ["…", …]}``), checked
    against the Japanese ``question`` as read by :func:`read_question`: one label per choice."""
    if raw in (None, "", {}):
        return None, []
    if question is None:
        return None, [N_("アンケートのない配信に、質問の訳文は付けられません")]
    if not isinstance(raw, Mapping) or not isinstance(raw.get("text"), str) or not isinstance(
            raw.get("choices"), list) or not all(isinstance(c, str) for c in raw["choices"]):
        return None, ["質問の訳文は {\"text\": \"…\", \"choices\": [\"…\", …]} の形で指定してください"]
    text = raw["text"].strip()
    labels = [" ".join(label.split()) for label in raw["choices"]]
    problems: list[str] = []
    if not text:
        problems.append(N_("質問の文を入力してください"))
    elif len(text) > MAX_TEXT:
        problems.append(N_("質問の文は200文字以内にしてください"))
    if len(labels) != len(question["choices"]) or not all(labels):
        problems.append(f"選択肢の訳文を{len(question['choices'])}個、順に入力してください")
    problems += [f"選択肢「{label[:MAX_LABEL]}…」は{MAX_LOCAL_LABEL}文字以内にしてください"
                 for label in labels if len(label) > MAX_LOCAL_LABEL]
    if problems:
        return None, problems
    return QuestionText(text=text, choices=tuple(labels)), []


def in_language(question: Mapping[str, Any], local: QuestionText | Mapping[str, Any] | None) -> dict[str, Any]:
    """``question`` (as stored) with its text and labels in another language where ``local`` has them."""
    if isinstance(local, Mapping):
        local = QuestionText.of(local)
    if local is None or not local.text or len(local.choices) != len(question["choices"]):
        return dict(question)
    labels = zip(question["choices"], local.choices, strict=True)
    return {**question, "text": local.text, "choices": [{"key": c["key"], "label": label} for c, label in labels]}


def language_state(message: Message, language: str) -> dict[str, Any]:
    """What the message stored of ``language`` (title, body, origin, question …); empty when it has none."""
    state = ((message.meta or {}).get("languages") or {}).get(language)
    return state if isinstance(state, dict) else {}


def question_for(message: Message, language: str) -> dict[str, Any] | None:
    """The message's question as readers of ``language`` read it (Japanese where it has no translation)."""
    question = stored_question(message)
    if question is None:
        return None
    return in_language(question, language_state(message, language).get("question"))


def questions_of(message: Message) -> Iterator[dict[str, Any]]:
    """The question in Japanese, then in every language it was sent in."""
    question = stored_question(message)
    if question is None:
        return
    yield question
    for state in ((message.meta or {}).get("languages") or {}).values():
        if isinstance(state, Mapping) and state.get("question"):
            yield in_language(question, state["question"])


def poll_from(question: Mapping[str, Any] | None, message_id: int | None = None) -> Poll | None:
    """A stored (or read) question as channels render it."""
    if not question:
        return None
    return Poll(text=str(question["text"]),
                choices=tuple((str(c["key"]), str(c["label"])) for c in question["choices"]),
                message_id=message_id)


def stored_question(message: Message) -> dict[str, Any] | None:
    question = (message.meta or {}).get("question")
    return question if isinstance(question, dict) and question.get("choices") else None


def poll_of(message: Message, language: str = "ja") -> Poll | None:
    return poll_from(question_for(message, language), message.id)


def opened_at(message: Message) -> datetime:
    # When it started going out: planning, else when it was due.
    when = message.planned_at or message.scheduled_at or message.created_at
    return when if when.tzinfo else when.replace(tzinfo=utcnow().tzinfo)


def closes_at(message: Message) -> datetime | None:
    question = stored_question(message)
    if question is None:
        return None
    closed = question.get("closed_at")
    if closed:
        return datetime.fromisoformat(str(closed))
    return opened_at(message) + timedelta(hours=int(question.get("hours") or DEFAULT_HOURS))


def is_open(message: Message, now: datetime | None = None) -> bool:
    """Whether answers are taken: it asks a question, is going or went out (not waiting, not
    withdrawn), and its window has not closed."""
    if stored_question(message) is None or message.state not in ANSWERABLE_STATES:
        return False
    end = closes_at(message)
    return end is not None and (now or utcnow()) < end


def choice_for(question: Mapping[str, Any], answer: str) -> str | None:
    """The key a resident meant by ``answer`` (「１」, 「1」, 「1:はい」, 「はい」, 「yes」 for 「Yes」), or None."""
    text = unicodedata.normalize("NFKC", answer).strip().strip("。.!！ ")
    keys = {str(c["key"]): str(c["key"]) for c in question["choices"]}
    labels = {unicodedata.normalize("NFKC", str(c["label"])).casefold(): str(c["key"]) for c in question["choices"]}
    if text in keys:
        return keys[text]
    if text.casefold() in labels:
        return labels[text.casefold()]
    head, sep, _rest = text.partition(":")
    if sep and head.strip() in keys:
        return keys[head.strip()]
    return None


def answer_key(message: Message, answer: str) -> str | None:
    """The key ``answer`` means in any language the question went out in (「2」, 「いいえ」, 「No」)."""
    return next((key for question in questions_of(message) if (key := choice_for(question, answer))), None)


def label_of(question: Mapping[str, Any], key: str) -> str:
    return next((str(c["label"]) for c in question["choices"] if str(c["key"]) == key), key)


def close_survey(message: Message, now: datetime | None = None) -> bool:
    """Stop taking answers now (the operator's 「受付を終了」); False when it was not open."""
    question = stored_question(message)
    if question is None or not is_open(message, now):
        return False
    message.meta = {**(message.meta or {}), "question": {**question, "closed_at": (now or utcnow()).isoformat()}}
    return True
