"""What a call-out says on each channel: LINE buttons, spoken prompts, the e-mail and the SMS.

Exercise call-outs open every written text with 【訓練】 and every call with 「これは訓練です。」,
at the very start (a 'this is a test' buried mid-text has gone out as live before).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from channels.base import EXERCISE_PREFIX, Choice, Question, Rendered
from hub.models.base import MAX_INT_ID
from hub.relay import surveys

SPOKEN_EXERCISE = "これは訓練です。"
NO_KEY_PRESSED = "入力が確認できませんでした。のちほど、あらためてご連絡します。"


class Framed(Protocol):
    """The parts of a call-out every text is built from."""

    @property
    def callout_id(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def snapshot(self) -> dict[str, Any]: ...
    @property
    def sender_name(self) -> str | None: ...


@dataclass(frozen=True)
class Frame:
    callout_id: int
    mode: str
    title: str
    snapshot: dict[str, Any]
    sender_name: str | None = None


def exercise_prefix(mode: str) -> str:
    return EXERCISE_PREFIX if mode == "exercise" else ""


def postback_data(callout_id: int, key: str, value: str) -> str:
    # LINE caps postback data at 300 characters; ids, a key and a short value stay far below.
    return f"relay|{callout_id}|{key}|{value}"[:300]


def parse_postback(data: str) -> tuple[int, str, str] | None:
    parts = data.split("|", 3)
    # ASCII digits only ("²".isdigit() is true, int("²") fails), and an id the database can hold.
    if len(parts) != 4 or parts[0] != "relay" or not (parts[1].isascii() and parts[1].isdigit()) \
            or len(parts[1]) > 10 or int(parts[1]) > MAX_INT_ID:
        return None
    return int(parts[1]), parts[2], parts[3]


def _from(frame: Framed) -> str:
    return f"{frame.sender_name}からの連絡です。" if frame.sender_name else ""


def opening_text(frame: Framed, link: str) -> str:
    prefix = exercise_prefix(frame.mode)
    return "\n".join(p for p in (
        f"{prefix}{frame.title}", _from(frame), str(frame.snapshot.get("intro", "")),
        "下のボタンで回答してください。", f"まとめて回答・連絡事項の入力はこちら（ログイン不要）:\n{link}",
    ) if p)


def ask(frame: Framed, question: surveys.Question, link: str = "", answer_url: str | None = None) -> Question:
    """A survey question as the channels ask it: buttons on LINE, the keypad on a call."""
    prefix = exercise_prefix(frame.mode)
    text = f"{prefix}{question['label']}"
    if question["kind"] == "choice":
        return Question(text=text, spoken=voice_prompt(question), answer_url=answer_url, no_input=NO_KEY_PRESSED,
                        choices=tuple(Choice(c["label"], postback_data(frame.callout_id, question["key"], c["value"]))
                                      for c in question["choices"]))
    unit = question["options"].get("unit", "")
    hint = f"\n（下のボタンから選ぶか、こちらで入力: {link}）" if link else ""
    return Question(text=text + hint, spoken=voice_prompt(question), answer_url=answer_url, no_input=NO_KEY_PRESSED,
                    keypad_digits=4,
                    suggestions=tuple(Choice(f"{n}{unit}", postback_data(frame.callout_id, question["key"], str(n)))
                                      for n in question["options"].get("presets", [])))


def line_content(frame: Framed, question: surveys.Question | None, link: str, opening: bool) -> Rendered:
    """The opening text (first contact only) and the question's buttons."""
    prefix = exercise_prefix(frame.mode)
    text = opening_text(frame, link) if opening else ""
    if question is None:
        return Rendered(subject=None, text=text or f"{prefix}回答はこちらからお願いします: {link}")
    return Rendered(subject=None, text=text, meta={"question": ask(frame, question, link)})


def line_closing_text(frame: Framed, answers: Mapping[str, str], link: str) -> str:
    prefix = exercise_prefix(frame.mode)
    lines = [f"{prefix}回答を受け付けました。ありがとうございました。"]
    for q in surveys.questions(frame.snapshot):
        if q["key"] in answers:
            lines.append(f"・{q['label']}: {surveys.label_for(q, answers[q['key']])}")
    pending = surveys.next_question(frame.snapshot, answers, kinds=("text",))
    if pending is not None:
        lines.append(f"{pending['label']}があれば、こちらから入力してください: {link}")
    else:
        lines.append(f"回答の変更はこちら: {link}")
    return "\n".join(lines)


def voice_prompt(question: surveys.Question) -> str:
    if question["kind"] == "choice":
        options = "、".join(f"{c['label']}の方は{c['digit']}を" for c in question["choices"])
        return f"{question['label']}。{options}、押してください。"
    return f"{question['label']}。数字を入力し、最後にシャープを押してください。"


def voice_content(frame: Framed, question: surveys.Question | None, answer_url: str, opening: bool,
                  preface: str = "") -> Rendered:
    """What a call says: the opening (first question only), then the question with its keys, or thanks."""
    spoken = preface
    if opening:
        spoken = (SPOKEN_EXERCISE if frame.mode == "exercise" else "") + (
            f"{frame.sender_name}から、" if frame.sender_name else "") + (
            f"{frame.title}のお願いです。{frame.snapshot.get('intro', '')}") + spoken
    if question is None:
        return Rendered(subject=None, text=spoken + "ご回答ありがとうございました。", meta={"question": None})
    return Rendered(subject=None, text=spoken, meta={"question": ask(frame, question, answer_url=answer_url)})


def mail_text(frame: Framed, link: str) -> str:
    prefix = exercise_prefix(frame.mode)
    parts = [f"{prefix}{frame.title}", _from(frame), str(frame.snapshot.get("intro", "")),
             "下のリンクから回答してください（ログイン不要・あなた専用のリンクです）。", link,
             "質問: " + " / ".join(q["label"] for q in surveys.questions(frame.snapshot)),
             "LINEまたは電話で回答済みの場合、このメールへの対応は不要です。"]
    return "\n\n".join(p for p in parts if p) + "\n"


def mail_html(frame: Framed, link: str) -> str:
    prefix = exercise_prefix(frame.mode)
    href = html.escape(link, quote=True)
    title = html.escape(f"{prefix}{frame.title}")
    return (
        f'<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8"><title>{title}</title></head><body>'
        f'<h1 style="font-size:1.2em">{title}</h1><p>{html.escape(_from(frame))}</p>'
        f"<p>{html.escape(str(frame.snapshot.get('intro', '')))}</p>"
        f'<p><a href="{href}" style="font-size:1.3em">回答する（ログイン不要）</a></p>'
        f"<p>{html.escape(link)}</p></body></html>\n"
    )


def sms_text(frame: Framed, link: str) -> str:
    prefix = exercise_prefix(frame.mode)
    return f"{prefix}{frame.title}\n{frame.snapshot.get('intro', '')}\n回答: {link}"
