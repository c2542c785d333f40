"""Automated voice calls through Twilio: the message is read aloud (TTS) twice.

For residents without a smartphone this is the channel that reaches them, so the spoken text
is prepared for the ear: no URLs, brackets turned into pauses, 〜 read as 「から」.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from twilio.twiml.voice_response import VoiceResponse

from channels.base import (
    Batch,
    Capability,
    DeliveryResult,
    Draft,
    Outcome,
    Question,
    Recipient,
    Rendered,
    SendEvent,
    prefix_for,
)
from channels.inbound import KeypadAnswer
from channels.text import URL_RE, join_nonempty, with_prefix
from channels.twilio import (
    TwilioChannel,
    TwilioConfig,
    e164,
    parse_phone,
)

if TYPE_CHECKING:
    from hub.config import Settings

TWIML_MAX = 4000  # Twilio's limit for the Twiml parameter of a call
GATHER_TIMEOUT = 10  # seconds Twilio waits for the first key
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]

# Spoken openings: the ear needs the words, not the 【】 marks of the written prefix.
SPOKEN_EXERCISE = "これは訓練です。"
SPOKEN_TEST = "これは試験です。"
SPOKEN_CANCEL = "先ほどのお知らせを取り消します。"
SPOKEN_UPDATE = "{label}のお知らせです。"
SPOKEN_REPEAT = "繰り返します。"
_SPOKEN_PREFIXES = {
    "訓練": SPOKEN_EXERCISE,
    "試験": SPOKEN_TEST,
    "取消": SPOKEN_CANCEL,
    "訂正": SPOKEN_UPDATE.format(label="訂正"),
    "続報": SPOKEN_UPDATE.format(label="続報"),
}
_LEADING_PREFIX_RE = re.compile(r"^【([^】]{1,8})】")

_BRACKET_RE = re.compile(r"[【〔［\[]([^】〕］\]]*)[】〕］\]]")
_SPOKEN_REPLACEMENTS = (
    ("〜", "から"),
    ("～", "から"),
    ("※", ""),
    ("＊", ""),
    ("→", "、"),
    ("・", "、"),
)


@dataclass(frozen=True)
class VoiceConfig(TwilioConfig):
    voice: str = "Polly.Mizuki"
    language: str = "ja-JP"
    pause_seconds: int = 2
    # No message body in the call resource: a call to the same number from the same sender
    # this recently is taken as ours, so keep the window short.
    reconcile_lookback_minutes: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> VoiceConfig:
        return cls(**cls.twilio_kwargs(settings, "voice"))


def spoken_text(text: str) -> str:
    """``text`` as it should be read aloud."""
    kept = []
    for line in text.splitlines():
        without = re.sub(r"[ 　]{2,}", " ", URL_RE.sub("", line)).strip(" 　:：")
        # "※詳細 https://…" without its URL is a dangling label: better not read at all.
        if without and (without == line.strip() or len(without) > 6):
            kept.append(without)
    text = "\n".join(kept)
    text = _BRACKET_RE.sub(lambda m: f"{m.group(1)}。" if m.group(1) else "", text)
    for old, new in _SPOKEN_REPLACEMENTS:
        text = text.replace(old, new)
    lines = [line.strip(" 　") for line in text.splitlines()]
    sentences = [line if line.endswith(("。", "！", "？", "、")) else line + "。" for line in lines if line]
    return re.sub(r"。{2,}", "。", "".join(sentences))


def speech_for_text(text: str, mode: str = "actual") -> str:
    """What to say for a written text that starts with the hub's prefixes (【訓練】【取消】…).

    Works from the text alone because the hub stores texts, not TwiML: a batch rebuilt from the
    database must still open with 「これは訓練です。」.
    """
    opening: list[str] = []
    rest = text
    while match := _LEADING_PREFIX_RE.match(rest):
        spoken = _SPOKEN_PREFIXES.get(match.group(1))
        if spoken is None:
            break  # a heading such as 【避難指示】: read as part of the message
        opening.append(spoken)
        rest = rest[match.end() :]
    if mode == "exercise" and SPOKEN_EXERCISE not in opening:
        opening.insert(0, SPOKEN_EXERCISE)
    return "".join(opening) + spoken_text(rest)


class VoiceChannel(TwilioChannel):
    name = "voice"
    label = "音声電話"
    capabilities = Capability.PERSONAL | Capability.STATUS_CALLBACKS | Capability.RECONCILE
    config_class = VoiceConfig
    batch_size = 20
    max_chars = 600  # about a minute and a half read twice; longer calls lose the listener
    address_field = "phone"
    sender_field = "voice_sender"
    final_statuses: ClassVar[dict[str, Outcome]] = {
        "completed": Outcome.DELIVERED, "busy": Outcome.FAILED, "no-answer": Outcome.FAILED,
        "failed": Outcome.FAILED, "canceled": Outcome.FAILED}
    status_field = "CallStatus"
    sid_field = "CallSid"

    @staticmethod
    def keypad_answer(form: Mapping[str, str]) -> KeypadAnswer:
        """What Twilio posts to a ``<Gather>``'s action."""
        return KeypadAnswer(digits=form.get("Digits", ""), called=form.get("To", ""))
    config: VoiceConfig

    def render(self, draft: Draft) -> Rendered:
        prefix = prefix_for(draft)
        text = with_prefix(prefix, draft.override or join_nonempty(draft.title, draft.body))
        # The opening is spoken before the message and again before the repeat, so a listener
        # who picks up late still hears that it is an exercise.
        speech = speech_for_text(text, draft.mode)
        twiml = self.twiml(speech)
        errors, warnings = [], []
        if len(twiml) > TWIML_MAX:
            errors.append(
                f"音声の原稿が長すぎます（TwiML {len(twiml)}文字、上限{TWIML_MAX}文字）。"
                "本文を短くしてください"
            )
        elif self.max_chars is not None and len(speech) > self.max_chars:
            warnings.append(
                f"読み上げが長くなります（{len(speech)}文字）。要点だけにすると聞き取りやすくなります"
            )
        if draft.link:
            warnings.append("音声ではリンクは読み上げません")
        return Rendered(
            subject=None,
            text=text,
            warnings=tuple(warnings),
            errors=tuple(errors),
            units=1,
            meta={"twiml": twiml, "speech": speech},
        )

    def question_twiml(self, content: Rendered) -> str:
        """Say ``content.text``, then ask ``meta["question"]`` with a ``<Gather>`` (or hang up)."""
        response = VoiceResponse()
        say = {"language": self.config.language, "voice": self.config.voice}
        question = content.meta.get("question")
        if not isinstance(question, Question):
            response.say(content.text, **say)
            response.hangup()
            return str(response.to_xml())
        if question.keypad_digits > 1:
            gather = response.gather(finish_on_key="#", num_digits=question.keypad_digits,
                                     action=question.answer_url, method="POST", timeout=GATHER_TIMEOUT)
        else:
            gather = response.gather(num_digits=1, action=question.answer_url, method="POST", timeout=GATHER_TIMEOUT)
        gather.say(content.text + question.spoken, **say)
        if question.no_input:
            response.say(question.no_input, **say)
        return str(response.to_xml())

    def reply(self, content: Rendered) -> str:
        """The answer to a keypad post: the next question, or the closing words."""
        return self.question_twiml(content)

    def twiml(self, speech: str) -> str:
        response = VoiceResponse()
        response.say(speech, language=self.config.language, voice=self.config.voice)
        response.pause(length=self.config.pause_seconds)
        response.say(SPOKEN_REPEAT + speech, language=self.config.language, voice=self.config.voice)
        return str(response.to_xml())

    def check_address(self, address: str) -> str | None:
        return None if parse_phone(address) is not None else "invalid_address"

    def _send(self, batch: Batch) -> Iterable[SendEvent]:
        sender, client = self.sender_for(batch), self.async_client()

        async def call(recipient: Recipient) -> Any:
            content = batch.content_for(recipient)
            if "question" in content.meta:
                twiml = self.question_twiml(content)
            else:
                twiml = content.meta.get("twiml") or self.twiml(speech_for_text(content.text, batch.mode))
            status_url = content.meta.get("status_callback", self.callback_url("call-status", recipient.delivery_id))
            return await client.calls.create_async(
                to=e164(recipient.address), from_=sender, twiml=twiml,
                **({"status_callback": status_url, "status_callback_event": CALL_EVENTS} if status_url else {}),
            )

        yield from self._send_each(batch, "invalid_address", call)

    def reconcile(self, recipients: Sequence[Recipient], batch: Batch) -> list[DeliveryResult]:
        """A call to the same number from the same sender within the (short) lookback."""
        sender, since = self.sender_for(batch), self.lookback()
        return self._reconcile_by_listing(
            recipients, "発信",
            lambda r: self.client().calls.list(to=e164(r.address), from_=sender, start_time_after=since,
                                               limit=50),
            lambda r, c: c.to == e164(r.address) and (c.date_created is None or c.date_created >= since),
        )
