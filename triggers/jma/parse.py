"""Entry point: bytes of one telegram → :class:`ParsedTelegram`, or :class:`TelegramError`."""

from __future__ import annotations

from collections.abc import Callable

from .errors import TelegramError
from .events import Cancellation, Event, Ignored, InfoType, ParsedTelegram, TelegramHead
from .parsers import common, earthquake, landslide, rainfall, tsunami, volcano, warnings
from .safe_xml import DEFAULT_MAX_BYTES, parse_xml

# Control/Title → type code. Control/Title is fixed per telegram type (Head/Title varies).
# Both spellings of the R06 土砂災害 title occur in JMA's own samples.
TITLE_TYPE_CODES: dict[str, str] = {
    "震度速報": "VXSE51",
    "震源に関する情報": "VXSE52",
    "震源・震度に関する情報": "VXSE53",
    "地震の活動状況等に関する情報": "VXSE56",
    "地震回数に関する情報": "VXSE60",
    "顕著な地震の震源要素更新のお知らせ": "VXSE61",
    "長周期地震動に関する観測情報": "VXSE62",
    "緊急地震速報（警報）": "VXSE43",
    "緊急地震速報（予報）": "VXSE44",
    "緊急地震速報（地震動予報）": "VXSE45",
    "津波警報・注意報・予報a": "VTSE41",
    "津波情報a": "VTSE51",
    "沖合の津波観測に関する情報": "VTSE52",
    "気象特別警報・警報・注意報": "VPWW53",
    "気象警報・注意報（Ｈ２７）": "VPWW54",
    "気象警報・注意報（Ｒ０６）（大雨）": "VPWW55",
    "気象警報・注意報（Ｒ０６）（土砂災害）": "VPWW56",
    "気象警報・注意報（Ｒ０６）（土砂）": "VPWW56",
    "気象警報・注意報（Ｒ０６）（高潮）": "VPWW57",
    "気象警報・注意報（Ｒ０６）（暴風）": "VPWW58",
    "気象警報・注意報（Ｒ０６）（波浪）": "VPWW59",
    "気象警報・注意報（Ｒ０６）（大雪）": "VPWW60",
    "気象警報・注意報（Ｒ０６）（その他注意報）": "VPWW61",
    "土砂災害警戒情報": "VXWW50",
    "記録的短時間大雨情報": "VPOA50",
    "噴火警報・予報": "VFVO50",
    "府県天気予報": "VPFD50",
}

Parser = Callable[[common.Element, TelegramHead], Event]

PARSERS: dict[str, Parser] = {
    "VXSE51": earthquake.parse,
    "VXSE52": earthquake.parse,
    "VXSE53": earthquake.parse,
    "VTSE41": tsunami.parse,
    **{f"VPWW{number}": warnings.parse for number in range(53, 62)},
    "VXWW50": landslide.parse,
    "VPOA50": rainfall.parse,
    "VFVO50": volcano.parse,
}

SUPPORTED_TYPES = frozenset(PARSERS)


def type_code_for_title(title: str) -> str | None:
    """Type code from Control/Title alone (works without the feed URL)."""
    return TITLE_TYPE_CODES.get(title.strip())


def parse_telegram(
    raw: bytes, *, type_code: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedTelegram:
    """Parse one telegram.

    ``type_code`` is the hint from the feed URL; the code derived from Control/Title wins when the
    title is known, because it describes the document actually received.
    """
    root = parse_xml(raw, max_bytes=max_bytes)
    try:
        return _parse_root(root, type_code)
    except TelegramError:
        raise
    except (ValueError, TypeError, AttributeError, LookupError, ArithmeticError) as exc:
        # A structure our parsers did not anticipate is still bad input, not a crash of the poller.
        # ArithmeticError: numbers beyond a float (a 400-digit depth overflowed; found by fuzzing).
        raise TelegramError(
            f"電文の構造を解釈できません (unexpected structure: {type(exc).__name__})"
        ) from exc


def _parse_root(root: common.Element, type_code: str | None) -> ParsedTelegram:
    title = common.text(root, common.JMX, "Control", "Title") or ""
    head = common.parse_head(root, type_code_for_title(title) or type_code)
    parser = PARSERS.get(head.type_code or "")
    if parser is None:
        label = head.type_code or "unknown type"
        return ParsedTelegram(head, Ignored(f"{label} 「{head.title}」 is not used by the hub"))
    if head.info_type is InfoType.CANCELLED:
        namespace = _body_namespace(root)
        body = common.child(root, namespace, "Body")
        return ParsedTelegram(head, Cancellation(common.text(body, namespace, "Text") or ""))
    return ParsedTelegram(head, parser(root, head))


def _body_namespace(root: common.Element) -> str:
    for ns in (common.SEISMOLOGY, common.METEOROLOGY, common.VOLCANOLOGY):
        if common.child(root, ns, "Body") is not None:
            return ns
    return common.SEISMOLOGY
