"""A resident survey asked on a call: how the question is said and answered with the keypad.

Residents without a smartphone (often the oldest, the ones a 安否確認 most needs to reach) hear
the message on the phone; the question follows it and they answer with one key. The words are
fixed lines per language, written for the ear (never machine-translated: they are what a caller
hears exactly when nothing else can be checked). A language missing here gets English.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.base import Poll
from channels.locale import is_japanese


@dataclass(frozen=True)
class KeypadWords:
    press: str  # one choice: {label}, {key}
    joiner: str
    tail: str  # after the choices
    thanks: str  # the answer was recorded: {label}
    closed: str  # the survey takes no more answers
    no_answer: str  # said before hanging up when no key was pressed


JAPANESE = KeypadWords(press="{label}の方は{key}", joiner="、", tail="を押してください。",
                       thanks="回答を受け付けました。{label}。ありがとうございました。",
                       closed="このアンケートの回答の受付は終了しました。",
                       no_answer="回答が確認できませんでした。お電話を終わります。")
# やさしい日本語: short words, spaces between them, kana for what a learner may not read.
EASY_JAPANESE = KeypadWords(press="{label} の ひとは {key}", joiner="、", tail=" を おしてください。",
                            thanks="こたえを うけとりました。{label}。ありがとうございました。",
                            closed="この しつもんの こたえは、もう うけとりません。",
                            no_answer="こたえが ありませんでした。でんわを きります。")
ENGLISH = KeypadWords(press="For {label}, press {key}.", joiner=" ", tail="",
                      thanks="Your answer, {label}, was received. Thank you.",
                      closed="This survey no longer takes answers.",
                      no_answer="No answer was received. Goodbye.")
WORDS: dict[str, KeypadWords] = {
    "en": ENGLISH,
    "zh": KeypadWords(press="{label}请按{key}。", joiner="", tail="", thanks="已收到您的回答：{label}。谢谢。",
                      closed="本次调查已停止受理回答。", no_answer="没有收到回答。再见。"),
    "ko": KeypadWords(press="{label}: {key}번을 누르십시오.", joiner=" ", tail="",
                      thanks="응답 {label}이(가) 접수되었습니다. 감사합니다.", closed="이 설문은 응답을 받지 않습니다.",
                      no_answer="응답이 없었습니다. 전화를 끊겠습니다."),
    "vi": KeypadWords(press="{label}, bấm phím {key}.", joiner=" ", tail="",
                      thanks="Đã ghi nhận câu trả lời: {label}. Xin cảm ơn.",
                      closed="Khảo sát này không còn nhận câu trả lời.",
                      no_answer="Không nhận được câu trả lời. Xin tạm biệt."),
    "pt": KeypadWords(press="Para {label}, tecle {key}.", joiner=" ", tail="",
                      thanks="Sua resposta, {label}, foi registrada. Obrigado.",
                      closed="Esta pesquisa não recebe mais respostas.",
                      no_answer="Nenhuma resposta foi recebida. Até logo."),
    "es": KeypadWords(press="Para {label}, pulse {key}.", joiner=" ", tail="",
                      thanks="Su respuesta, {label}, ha sido registrada. Gracias.",
                      closed="Esta encuesta ya no recibe respuestas.",
                      no_answer="No se recibió ninguna respuesta. Adiós."),
}


def words_for(language: str) -> KeypadWords:
    if language == "ja-easy":
        return EASY_JAPANESE
    return JAPANESE if is_japanese(language) else WORDS.get(language, ENGLISH)


def spoken_poll(poll: Poll, language: str = "ja") -> str:
    """The question and which key answers what, as a call says it after the message."""
    words = words_for(language)
    keys = words.joiner.join(words.press.format(label=label, key=key) for key, label in poll.choices)
    return f"{poll.text}\n{keys}{words.tail}"
