"""What a call-out says on each channel: LINE buttons, spoken prompts, the e-mail and the SMS.

Exercise call-outs open every written text with 【訓練】 and every call with 「これは訓練です。」,
at the very start (a 'this is a test' buried mid-text has gone out as live before).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from twilio.twiml.voice_response import VoiceResponse

from channels.base import EXERCISE_PREFIX
from hub.relay import surveys

LANGUAGE = "ja-JP"
SPOKEN_EXERCISE = "これは訓練です。"
LINE_BUTTON_TEXT_MAX = 160  # a buttons template without title or image
LINE_ALT_TEXT_MAX = 400
VOICE_TIMEOUT_SECONDS = 10


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
    if len(parts) != 4 or parts[0] != "relay" or not parts[1].isdigit():
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


def line_question_messages(frame: Framed, question: surveys.Question | None, link: str,
                           opening: bool) -> list[Any]:
    """Up to two LINE messages: the opening text (first contact only) and the question's buttons."""
    from linebot.v3.messaging import (
        ButtonsTemplate,
        PostbackAction,
        QuickReply,
        QuickReplyItem,
        TemplateMessage,
        TextMessage,
    )

    prefix = exercise_prefix(frame.mode)
    messages: list[Any] = [TextMessage(text=opening_text(frame, link))] if opening else []
    if question is None:
        return messages or [TextMessage(text=f"{prefix}回答はこちらからお願いします: {link}")]
    text = f"{prefix}{question['label']}"
    if question["kind"] == "choice":
        actions = [PostbackAction(label=c["label"], display_text=c["label"],
                                  data=postback_data(frame.callout_id, question["key"], c["value"]))
                   for c in question["choices"]]
        template = ButtonsTemplate(text=text[:LINE_BUTTON_TEXT_MAX], actions=actions)
        messages.append(TemplateMessage(alt_text=text[:LINE_ALT_TEXT_MAX], template=template))
    else:
        unit = question["options"].get("unit", "")
        items = [QuickReplyItem(action=PostbackAction(
            label=f"{n}{unit}", display_text=f"{n}{unit}",
            data=postback_data(frame.callout_id, question["key"], str(n))))
            for n in question["options"].get("presets", [])[:13]]
        hint = f"\n（下のボタンから選ぶか、こちらで入力: {link}）"
        messages.append(TextMessage(text=text + hint, quick_reply=QuickReply(items=items) if items else None))
    return messages


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


def voice_twiml(frame: Framed, question: surveys.Question | None, action: str, opening: bool,
                voice: str = "Polly.Mizuki", preface: str = "") -> str:
    """TwiML for one question: ``<Say>`` inside a ``<Gather>`` whose action records the digits."""
    spoken = preface
    if opening:
        spoken = (SPOKEN_EXERCISE if frame.mode == "exercise" else "") + (
            f"{frame.sender_name}から、" if frame.sender_name else "") + (
            f"{frame.title}のお願いです。{frame.snapshot.get('intro', '')}") + spoken
    response = VoiceResponse()
    if question is None:
        response.say(spoken + "ご回答ありがとうございました。", language=LANGUAGE, voice=voice)
        response.hangup()
        return str(response.to_xml())
    if question["kind"] == "choice":
        gather = response.gather(num_digits=1, action=action, method="POST", timeout=VOICE_TIMEOUT_SECONDS)
    else:
        gather = response.gather(finish_on_key="#", num_digits=4, action=action, method="POST",
                                 timeout=VOICE_TIMEOUT_SECONDS)
    gather.say(spoken + voice_prompt(question), language=LANGUAGE, voice=voice)
    response.say("入力が確認できませんでした。のちほど、あらためてご連絡します。",
                 language=LANGUAGE, voice=voice)
    return str(response.to_xml())


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
