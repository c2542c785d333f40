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
    Poll,
    Question,
    Recipient,
    Rendered,
    SendEvent,
    prefix_for,
)
from channels.inbound import KeypadAnswer
from channels.keypad import spoken_poll, words_for
from channels.locale import SAY_VOICES, is_japanese, marks_for
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
    "くんれん": "",  # やさしい日本語's written mark after 【訓練】: 「これは訓練です。」 is said already
}
_LEADING_PREFIX_RE = re.compile(r"^【([^】]{1,8})】")

# In another language's call a Japanese line (the text after a failed translation's notice) is read
# by the Japanese voice. Japanese: a line with kana, or with kanji unless the call is in Chinese.
_KANA_RE = re.compile(r"[\u3040-\u30ff]")
_KANJI_RE = re.compile(r"[\u4e00-\u9fff]")


def is_japanese_line(line: str, language: str) -> bool:
    return bool(_KANA_RE.search(line) or (language != "zh" and _KANJI_RE.search(line)))
_SENTENCE_END = (".", "!", "?", "。", "！", "？", ":", "：")

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


def spoken_text(text: str, language: str = "ja") -> str:
    """``text`` as it should be read aloud (in ``language``: Japanese unless told otherwise)."""
    kept = []
    for line in text.splitlines():
        without = re.sub(r"[ 　]{2,}", " ", URL_RE.sub("", line)).strip(" 　:：")
        # "※詳細 https://…" without its URL is a dangling label: better not read at all.
        if without and (without == line.strip() or len(without) > 6):
            kept.append(without)
    if not is_japanese(language):
        return _spoken_other(kept, language)
    text = "\n".join(kept)
    text = _BRACKET_RE.sub(lambda m: f"{m.group(1)}。" if m.group(1) else "", text)
    for old, new in _SPOKEN_REPLACEMENTS:
        text = text.replace(old, new)
    lines = [line.strip(" 　") for line in text.splitlines()]
    sentences = [line if line.endswith(("。", "！", "？", "、")) else line + "。" for line in lines if line]
    return re.sub(r"。{2,}", "。", "".join(sentences))


def _spoken_other(lines: list[str], language: str) -> str:
    """Lines of another language: each a sentence of its own, one per line (each line may be read by
    another voice, see :meth:`VoiceChannel.say_parts`); Japanese lines are read as Japanese."""
    out = []
    for line in lines:
        if is_japanese_line(line, language):
            out.append(spoken_text(line))
            continue
        line = _BRACKET_RE.sub(lambda m: f"{m.group(1)}." if m.group(1) else "", line).strip()
        if line:
            out.append(line if line.endswith(_SENTENCE_END) else line + ".")
    return "\n".join(out)


def speech_for_text(text: str, mode: str = "actual", language: str = "ja") -> str:
    """What to say for a written text that starts with the hub's prefixes (【訓練】【取消】…).

    Works from the text alone because the hub stores texts, not TwiML: a batch rebuilt from the
    database must still open with 「これは訓練です。」 (or the recipient language's "This is a drill.").
    """
    if not is_japanese(language):
        return _speech_other(text, mode, language)
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


def _speech_other(text: str, mode: str, language: str) -> str:
    marks = marks_for(language)
    # The hub's Japanese marks come first, the language's own word after each: say each once.
    written = (("【訓練】", marks.spoken_drill), ("【試験】", marks.spoken_test), (marks.drill, marks.spoken_drill),
               (marks.test, marks.spoken_test), ("【取消】", marks.spoken_cancel), (marks.cancel, marks.spoken_cancel),
               ("【訂正】", marks.spoken_correction), (marks.correction, marks.spoken_correction),
               ("【続報】", marks.spoken_update), (marks.update, marks.spoken_update))
    opening: list[str] = []
    rest, found = text, True
    while found:
        found = False
        for mark, spoken in written:
            if rest.startswith(mark):
                rest, found = rest[len(mark):], True
                if spoken not in opening:
                    opening.append(spoken)
    if mode == "exercise" and marks.spoken_drill not in opening:
        opening.insert(0, marks.spoken_drill)
    return "\n".join([" ".join(opening), spoken_text(rest, language)] if opening else [spoken_text(rest, language)])


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
        if draft.poll is not None:
            # A survey: the question and its keys after the message (the call then waits for a key).
            text = join_nonempty(text, spoken_poll(draft.poll, draft.language))
        # The opening is spoken before the message and again before the repeat, so a listener
        # who picks up late still hears that it is an exercise.
        speech = speech_for_text(text, draft.mode, draft.language)
        twiml = self.twiml(speech, draft.language)
        errors, warnings = [], []
        if not self.speaks(draft.language):
            errors.append(f"この言語（{draft.language}）を読み上げる音声がありません。音声電話は日本語で届きます")
        elif len(twiml) > TWIML_MAX:
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

    def speaks(self, language: str) -> bool:
        return is_japanese(language) or language in SAY_VOICES

    def say_for(self, language: str) -> dict[str, str]:
        """The ``<Say>`` attributes for ``language`` (Japanese: the configured voice)."""
        if is_japanese(language) or language not in SAY_VOICES:
            return {"language": self.config.language, "voice": self.config.voice}
        code, voice = SAY_VOICES[language]
        return {"language": code, "voice": voice}

    def say_parts(self, speech: str, language: str) -> list[tuple[str, dict[str, str]]]:
        """``speech`` cut into runs for one voice each: in another language's call, lines with kana
        are Japanese (the text after a failed translation's notice) and get the Japanese voice."""
        if is_japanese(language):
            return [(speech, self.say_for(language))]
        parts: list[tuple[str, dict[str, str]]] = []
        for line in speech.splitlines():
            say = self.say_for("ja" if is_japanese_line(line, language) else language)
            if parts and parts[-1][1] == say:
                parts[-1] = (f"{parts[-1][0]} {line}", say)
            else:
                parts.append((line, say))
        return parts

    def question_twiml(self, content: Rendered, language: str = "ja") -> str:
        """Say ``content.text``, then ask ``meta["question"]`` with a ``<Gather>`` (or hang up)."""
        response = VoiceResponse()
        say = self.say_for(language)
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

    def poll_twiml(self, speech: str, poll: Poll, language: str, answer_url: str) -> str:
        """The message (its last lines the question and the keys) with the keypad open, the question
        once more if no key was pressed, then goodbye."""
        response = VoiceResponse()
        first = response.gather(num_digits=1, action=answer_url, method="POST", timeout=GATHER_TIMEOUT)
        for text, say in self.say_parts(speech, language):
            first.say(text, **say)
        again = response.gather(num_digits=1, action=answer_url, method="POST", timeout=GATHER_TIMEOUT)
        again.say(spoken_text(spoken_poll(poll, language), language), **self.say_for(language))
        response.say(words_for(language).no_answer, **self.say_for(language))
        return str(response.to_xml())

    def poll_reply(self, said: str, language: str, ask_again: tuple[Poll, str] | None = None) -> str:
        """The answer to a survey's key: ``said``, then the keypad again (a key that is no choice)
        or goodbye."""
        response = VoiceResponse()
        say = self.say_for(language)
        if ask_again is None:
            response.say(said, **say)
            response.hangup()
            return str(response.to_xml())
        poll, answer_url = ask_again
        gather = response.gather(num_digits=1, action=answer_url, method="POST", timeout=GATHER_TIMEOUT)
        gather.say(f"{said} {spoken_text(spoken_poll(poll, language), language)}".strip(), **say)
        response.say(words_for(language).no_answer, **say)
        return str(response.to_xml())

    def reply(self, content: Rendered) -> str:
        """The answer to a keypad post: the next question, or the closing words."""
        return self.question_twiml(content)

    def twiml(self, speech: str, language: str = "ja") -> str:
        response = VoiceResponse()
        parts = self.say_parts(speech, language)
        for text, say in parts:
            response.say(text, **say)
        response.pause(length=self.config.pause_seconds)
        if is_japanese(language):
            response.say(SPOKEN_REPEAT + speech, **self.say_for(language))
        else:
            response.say(marks_for(language).spoken_repeat, **self.say_for(language))
            for text, say in parts:
                response.say(text, **say)
        return str(response.to_xml())

    def check_address(self, address: str) -> str | None:
        return None if parse_phone(address) is not None else "invalid_address"

    def _send(self, batch: Batch) -> Iterable[SendEvent]:
        sender, client = self.sender_for(batch), self.async_client()

        async def call(recipient: Recipient) -> Any:
            content, language = batch.content_for(recipient), batch.language_for(recipient)
            poll = content.meta.get("poll")
            if "question" in content.meta:
                twiml = self.question_twiml(content, language)
            elif isinstance(poll, Poll) and recipient.contact_id is not None:
                # A resident survey: their key goes to their own delivery row.
                twiml = self.poll_twiml(speech_for_text(content.text, batch.mode, language), poll, language,
                                        self.callback_url("poll-answer", recipient.delivery_id))
            else:
                twiml = content.meta.get("twiml") or self.twiml(
                    speech_for_text(content.text, batch.mode, language), language)
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
