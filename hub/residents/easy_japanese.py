"""やさしい日本語 checker: what makes a text hard for a resident still learning Japanese.

The rules (docs/residents.md「やさしい日本語」) follow the Hirosaki University guideline for
disaster information: short sentences, few kanji, no double negatives, no 尊敬語・謙譲語, few
loanwords. Each finding names its place in the text and says in plain Japanese what to change,
so the composer can show it next to the words. The checker flags; a person decides.

Kanji: those taught in grades 1–3 of primary school (data/kyoiku_kanji_1-3.txt, MEXT's table)
and the few disaster words residents learn to read (data/disaster_words.txt). Any other kanji
word is fine when its reading follows it in brackets: 「避難（ひなん）」.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
# A sentence may have at most this many characters, not counting spaces (分かち書き) and
# readings in brackets: two lines on a phone screen. A value the hub fills in counts as one.
MAX_SENTENCE = 40

KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff々]")
# 「避難（ひなん）」: a reading in hiragana right after a kanji word.
READING = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff々]+)[（(]([ぁ-ゖー\s\u3000]+)[）)]")
KATAKANA = re.compile(r"[ァ-ヺー]{2,}")
SENTENCE_END = re.compile(r"[。！？!?\n]")
SPACE = re.compile(r"[\s\u3000]")
TEMPLATE_VALUE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)

_NEG = r"(?:な[いくか]|ありません|ません)"
DOUBLE_NEGATIVES = tuple(re.compile(p) for p in (
    r"ない(?:わけ|こと|はず)(?:で)?(?:は|も)?" + _NEG,
    r"ないとは(?:限ら|かぎら|言え|いえ)",
    r"なく(?:は|も)" + _NEG,
    r"ない(?:で)?は(?:いられ|すま)",
    r"ざるを(?:得|え)",
    r"な(?:けれ|くて|きゃ)(?:ば|は)?(?:なら|いけ)",
    r"ないと(?:いけ|だめ|なら)",
    r"ずには(?:いられ|おかな|すまな)",
))
RESPECTFUL = tuple(re.compile(p) for p in (
    r"いらっしゃ", r"おっしゃ", r"召し上が", r"ご覧", r"なさ(?:る|い|って|れ|いま)", r"くださいませ",
    r"お越し", r"お[\u3040-\u309f\u4e00-\u9fff]{1,4}にな(?:る|り|って|れ)",
    r"[おご][\u4e00-\u9fff]{1,3}(?:ください|願い|下さい)",
))
HUMBLE = tuple(re.compile(p) for p in (
    r"申し", r"いたし(?:ます|まし|ません)", r"参り", r"伺", r"拝見", r"存じ", r"おり(?:ます|まし|ません)",
    r"させていただ", r"差し上げ",
))

MESSAGES = {
    "long_sentence": "文が 長いです（{length}文字）。1つの 文は {limit}文字までに して ください。"
                     "文を 2つに 分けて ください。",
    "hard_kanji": "「{text}」には 小学校3年までに 習わない 漢字が あります。ひらがなで 書くか、"
                  "すぐ 後ろに（ふりがな）を 書いて ください。",
    "double_negative": "「{text}」は 二重否定です。意味が 分かりにくいです。"
                       "「〜します」「〜して ください」の ように 言いきって ください。",
    "respectful": "「{text}」は 尊敬語です。「〜です」「〜ます」「〜て ください」で 書いて ください。",
    "humble": "「{text}」は 謙譲語です。「〜です」「〜ます」で 書いて ください。",
    "katakana": "「{text}」は カタカナの 言葉（外来語）です。英語と 意味や 発音が ちがう ことが あります。"
                "やさしい 日本語の 言葉に 言いかえて ください。",
}


@dataclass(frozen=True)
class Finding:
    rule: str  # long_sentence | hard_kanji | double_negative | respectful | humble | katakana
    start: int  # character offsets in the checked text
    end: int
    text: str
    message: str  # in Japanese, for the person writing

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lines(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@cache
def allowed_kanji() -> frozenset[str]:
    return frozenset("".join(_lines("kyoiku_kanji_1-3.txt")))


@cache
def disaster_words() -> tuple[str, ...]:
    return tuple(sorted(_lines("disaster_words.txt"), key=len, reverse=True))  # longest first


@cache
def katakana_words() -> frozenset[str]:
    return frozenset(_lines("katakana_words.txt"))


def check(text: str, values: Iterable[tuple[int, int, int]] = ()) -> list[Finding]:
    """Every finding in ``text``, in order of position.

    ``values``: spans ``(start, end, counted)`` the hub fills in (a template's ``{{ … }}``): not
    checked, and counted as ``counted`` characters in a sentence's length.
    """
    spans = sorted(values)
    skip = _covered(spans)
    findings = [*_long_sentences(text, spans, skip), *_hard_kanji(text, skip), *_katakana(text, skip)]
    compact, where = _compact(text, skip)
    for rule, patterns in (("double_negative", DOUBLE_NEGATIVES), ("respectful", RESPECTFUL),
                           ("humble", HUMBLE)):
        for pattern in patterns:
            for match in pattern.finditer(compact):
                start, end = where[match.start()], where[match.end() - 1] + 1
                findings.append(_finding(rule, text, start, end))
    return sorted(set(findings), key=lambda f: (f.start, f.end, f.rule))


def check_template(source: str) -> list[Finding]:
    """A template's text: JMA's values (``{{ … }}``) count as one character; tags as none."""
    values = [(m.start(), m.end(), 1 if m.group().startswith("{{") else 0) for m in TEMPLATE_VALUE.finditer(source)]
    return check(source, values)


def _finding(rule: str, text: str, start: int, end: int, **extra: Any) -> Finding:
    fragment = text[start:end]
    return Finding(rule, start, end, fragment,
                   MESSAGES[rule].format(text=fragment, limit=MAX_SENTENCE, **extra))


def _covered(spans: list[tuple[int, int, int]]) -> set[int]:
    return {i for start, end, _ in spans for i in range(start, end)}


def _compact(text: str, skip: set[int]) -> tuple[str, list[int]]:
    """The text without spaces and filled-in values, and where each character came from."""
    where = [i for i, ch in enumerate(text) if i not in skip and not SPACE.match(ch)]
    return "".join(text[i] for i in where), where


def _sentences(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for match in SENTENCE_END.finditer(text):
        yield start, match.end()
        start = match.end()
    if start < len(text):
        yield start, len(text)


def _long_sentences(text: str, spans: list[tuple[int, int, int]], skip: set[int]) -> Iterator[Finding]:
    readings = {i for m in READING.finditer(text) for i in range(m.end(1), m.end())}
    for start, end in _sentences(text):
        counted = sum(1 for i in range(start, end)
                      if i not in skip and i not in readings and not SPACE.match(text[i])
                      and not SENTENCE_END.match(text[i]))
        counted += sum(weight for s, _e, weight in spans if start <= s < end)
        if counted > MAX_SENTENCE:
            stripped_end = end - 1 if text[end - 1:end] == "\n" else end
            yield _finding("long_sentence", text, start, stripped_end, length=counted)


def _hard_kanji(text: str, skip: set[int]) -> Iterator[Finding]:
    fine: set[int] = set(skip)
    for word in disaster_words():
        for match in re.finditer(re.escape(word), text):
            fine.update(range(match.start(), match.end()))
    for match in READING.finditer(text):
        fine.update(range(match.start(1), match.end(1)))
    allowed = allowed_kanji()
    start: int | None = None
    for i, ch in enumerate([*text, ""]):  # "" closes a run at the end
        hard = bool(ch) and KANJI.match(ch) is not None and i not in fine and ch not in allowed
        if hard and start is None:
            start = i
        elif not hard and start is not None:
            yield _finding("hard_kanji", text, start, i)  # each run of hard kanji, e.g. 緊急 in 指定緊急避難場所
            start = None


def _katakana(text: str, skip: set[int]) -> Iterator[Finding]:
    allowed = katakana_words()
    for match in KATAKANA.finditer(text):
        if match.group() not in allowed and not any(i in skip for i in range(match.start(), match.end())):
            yield _finding("katakana", text, match.start(), match.end())
