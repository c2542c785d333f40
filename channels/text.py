"""Length rules shared by the channels: SMS segments, X weighted length, shortening Japanese text.

Everything here is pure and fast: the composer calls it on every keystroke to show segment
counts and what would be cut.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

ELLIPSIS = "…"

# GSM 03.38 default alphabet. A text made only of these characters travels as GSM-7; the
# extension characters are sent as ESC + character and so take two septets.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
SMS_MAX_CHARS = 660  # Japanese carriers join long SMS up to 全角660–670; stay on the safe side

X_MAX_WEIGHT = 280
X_URL_WEIGHT = 23
URL_RE = re.compile(r"https?://[^\s<>\"'「」『』（）()【】、。]+", re.IGNORECASE)
# twitter-text v3: these code point ranges weigh 1, everything else (kana, kanji, 【】, emoji) 2.
_X_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))

# Where a cut reads naturally in Japanese, best first.
_SENTENCE_ENDS = "。！？!?\n"
_SOFT_BREAKS = "、，,　 ）」』】)"


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def sms_encoding(text: str) -> str:
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def _sms_units(text: str, gsm: bool) -> list[int]:
    if gsm:
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    # UCS-2 on the wire is UTF-16: a character outside the BMP (most emoji) takes two units.
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def _fill(units: Iterable[int], capacity: int) -> int:
    """Segments needed when a character's units may not be split across two segments."""
    segments, used = 1, 0
    for size in units:
        if used + size > capacity:
            segments += 1
            used = 0
        used += size
    return segments


def sms_segments(text: str) -> int:
    """Number of SMS segments (billing units) ``text`` is sent as."""
    if not text:
        return 1
    gsm = is_gsm7(text)
    units = _sms_units(text, gsm)
    single, part = (GSM7_SINGLE, GSM7_PART) if gsm else (UCS2_SINGLE, UCS2_PART)
    if sum(units) <= single:
        return 1
    return _fill(units, part)


def sms_info(text: str) -> dict[str, int | str]:
    """What the composer shows next to an SMS text."""
    gsm = is_gsm7(text)
    segments = sms_segments(text)
    if gsm:
        per_segment = GSM7_PART if segments > 1 else GSM7_SINGLE
    else:
        per_segment = UCS2_PART if segments > 1 else UCS2_SINGLE
    return {
        "encoding": "GSM-7" if gsm else "UCS-2",
        "chars": len(text),
        "units": sum(_sms_units(text, gsm)),
        "segments": segments,
        "per_segment": per_segment,
    }


def _x_char_weight(c: str) -> int:
    cp = ord(c)
    return 1 if any(lo <= cp <= hi for lo, hi in _X_LIGHT_RANGES) else 2


def x_weighted_length(text: str) -> int:
    """Weighted length as X counts it: most CJK characters weigh 2, every URL 23."""
    text = unicodedata.normalize("NFC", text)
    total, pos = 0, 0
    for match in URL_RE.finditer(text):
        total += sum(_x_char_weight(c) for c in text[pos : match.start()]) + X_URL_WEIGHT
        pos = match.end()
    return total + sum(_x_char_weight(c) for c in text[pos:])


def x_fits(text: str, limit: int = X_MAX_WEIGHT) -> bool:
    return x_weighted_length(text) <= limit


def _protected_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in URL_RE.finditer(text)]


def shorten(
    text: str,
    limit: int,
    measure: Callable[[str], int] = len,
    ellipsis: str = ELLIPSIS,
) -> str:
    """Cut ``text`` so that ``measure(result) <= limit``, ending with 「…」.

    Prefers the end of a sentence, then a comma or closing bracket, if that keeps most of the
    text; never cuts inside a URL (a broken link is worse than a shorter text).
    """
    if measure(text) <= limit:
        return text
    budget = limit - measure(ellipsis)
    if budget <= 0:
        return ellipsis if measure(ellipsis) <= limit else ""
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits: measure is monotonic in the prefix length
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    cut = lo
    for start, end in _protected_spans(text):
        if start < cut < end:
            cut = start
    cut = _natural_cut(text, cut)
    return text[:cut].rstrip(" 　\n、，,") + ellipsis


def _natural_cut(text: str, cut: int) -> int:
    # Only back off to a natural break if it keeps at least 70% of what fits; otherwise a
    # hard cut keeps more information.
    floor = int(cut * 0.7)
    for breaks in (_SENTENCE_ENDS, _SOFT_BREAKS):
        for i in range(cut, floor, -1):
            if text[i - 1] in breaks:
                return i
    return cut


def with_prefix(prefix: str, text: str) -> str:
    """``text`` starting with ``prefix`` exactly once (the officer may have typed it already).

    A text may also carry the prefix's later marks already (a translated template writes its own
    "[EXERCISE] " after which the channel's 【訓練】 comes): only the marks missing in front are added.
    """
    if not prefix or text.startswith(prefix):
        return text
    for cut in range(1, len(prefix)):
        # Only at a mark's boundary: after 】 or after a mark's closing space.
        if prefix[cut - 1] in "】 " and text.startswith(prefix[cut:]):
            return prefix[:cut] + text
    return prefix + text


def join_nonempty(*parts: str | None, sep: str = "\n") -> str:
    return sep.join(p for p in parts if p)


def signature(name: str | None) -> str | None:
    """The sending department on channels that all speak as the city's one account (LINE, X, feeds):
    「（健康づくり課）」, short so the text loses little room. None: the message is not signed."""
    return f"（{name}）" if name else None
