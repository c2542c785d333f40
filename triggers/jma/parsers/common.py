"""Namespace-aware helpers shared by the family parsers, and the Control/Head parser."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import TelegramError
from ..events import Area, Hypocentre, InfoType, Magnitude, TelegramHead, TelegramStatus

JMX = "http://xml.kishou.go.jp/jmaxml1/"
HEAD = "http://xml.kishou.go.jp/jmaxml1/informationBasis1/"
SEISMOLOGY = "http://xml.kishou.go.jp/jmaxml1/body/seismology1/"
METEOROLOGY = "http://xml.kishou.go.jp/jmaxml1/body/meteorology1/"
VOLCANOLOGY = "http://xml.kishou.go.jp/jmaxml1/body/volcanology1/"
ELEMENT = "http://xml.kishou.go.jp/jmaxml1/elementBasis1/"

JST = timezone(timedelta(hours=9), "JST")

Element = Any  # lxml ships no type stubs in this environment


def path(ns: str, *steps: str) -> str:
    """ElementPath in Clark notation: every part of a telegram re-declares its default namespace."""
    return "/".join(f"{{{ns}}}{step}" for step in steps)


def text(element: Element | None, ns: str, *steps: str) -> str | None:
    """Stripped text of a descendant (or of ``element`` itself without steps); None when empty."""
    if element is None:
        return None
    node = element.find(path(ns, *steps)) if steps else element
    if node is None or node.text is None:
        return None
    value = node.text.strip()
    return value or None


def required_text(element: Element | None, ns: str, *steps: str) -> str:
    value = text(element, ns, *steps)
    if value is None:
        raise TelegramError(f"必須要素がありません (missing element: {'/'.join(steps)})")
    return value


def children(element: Element | None, ns: str, *steps: str) -> list[Element]:
    if element is None:
        return []
    return list(element.iterfind(path(ns, *steps)))


def child(element: Element | None, ns: str, *steps: str) -> Element | None:
    if element is None:
        return None
    return element.find(path(ns, *steps))


def parse_datetime(value: str, where: str) -> datetime:
    """ISO 8601 as JMA writes it; a missing offset is read as JST, where JMA's clocks live."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise TelegramError(f"日時の形式が不正です (bad datetime in {where}: {value[:40]!r})") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=JST)


def optional_datetime(value: str | None, where: str) -> datetime | None:
    return None if value is None else parse_datetime(value, where)


def area_of(element: Element | None, ns: str) -> Area | None:
    code, name = text(element, ns, "Code"), text(element, ns, "Name")
    if code is None and name is None:
        return None
    return Area(code=code or "", name=name or "")


def parse_head(root: Element, type_code: str | None) -> TelegramHead:
    if root.tag != f"{{{JMX}}}Report":
        raise TelegramError("気象庁防災情報XMLではありません (root element is not jmx:Report)")
    control = child(root, JMX, "Control")
    head = child(root, HEAD, "Head")
    if control is None or head is None:
        raise TelegramError("Control または Head がありません (missing Control/Head)")
    status_text = required_text(control, JMX, "Status")
    try:
        status = TelegramStatus(status_text)
    except ValueError:
        # Never guess: an unknown status must not be mistaken for 通常.
        raise TelegramError(f"未知の Status です (unknown Control/Status {status_text[:20]!r})") from None
    info_text = required_text(head, HEAD, "InfoType")
    try:
        info_type = InfoType(info_text)
    except ValueError:
        raise TelegramError(f"未知の InfoType です (unknown Head/InfoType {info_text[:20]!r})") from None
    report = parse_datetime(required_text(head, HEAD, "ReportDateTime"), "Head/ReportDateTime")
    serial = text(head, HEAD, "Serial")
    return TelegramHead(
        type_code=type_code,
        title=required_text(control, JMX, "Title"),
        head_title=text(head, HEAD, "Title") or "",
        status=status,
        editorial_office=required_text(control, JMX, "EditorialOffice"),
        publishing_office=text(control, JMX, "PublishingOffice") or "",
        control_datetime=optional_datetime(text(control, JMX, "DateTime"), "Control/DateTime"),
        info_type=info_type,
        info_kind=text(head, HEAD, "InfoKind") or "",
        info_kind_version=text(head, HEAD, "InfoKindVersion"),
        event_id=text(head, HEAD, "EventID"),
        serial=int(serial) if serial and serial.isascii() and serial.isdigit() else None,
        report_datetime=report,
        target_datetime=optional_datetime(text(head, HEAD, "TargetDateTime"), "Head/TargetDateTime"),
        headline=text(head, HEAD, "Headline", "Text") or "",
    )


def body(root: Element, ns: str) -> Element:
    found = child(root, ns, "Body")
    if found is None:
        raise TelegramError("Body がありません、または名前空間が想定と異なります (missing Body)")
    return found


# ISO 6709 as used by jmx_eb:Coordinate: 「+39.0+140.9-10000/」 (depth in metres, negative down).
_COORDINATE = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+)?/$")


def hypocentre_of(earthquake: Element | None, ns: str) -> Hypocentre | None:
    area = child(earthquake, ns, "Hypocenter", "Area")
    if area is None:
        return None
    latitude = longitude = depth = None
    coordinate = area.find(f"{{{ELEMENT}}}Coordinate")
    description = coordinate.get("description") if coordinate is not None else None
    raw = (coordinate.text or "").strip() if coordinate is not None else ""
    match = _COORDINATE.match(raw)
    if match:
        latitude, longitude = float(match.group(1)), float(match.group(2))
        if match.group(3) is not None:
            depth = abs(int(match.group(3))) / 1000
    return Hypocentre(
        name=text(area, ns, "Name") or "",
        code=text(area, ns, "Code"),
        latitude=latitude,
        longitude=longitude,
        depth_km=depth,
        description=description,
        detailed_name=text(area, ns, "DetailedName"),
    )


def magnitude_of(earthquake: Element | None) -> Magnitude | None:
    if earthquake is None:
        return None
    node = earthquake.find(f"{{{ELEMENT}}}Magnitude")
    if node is None:
        return None
    raw = (node.text or "").strip()
    try:
        value: float | None = float(raw)
    except ValueError:
        value = None
    if value is not None and not math.isfinite(value):  # NaN: 「Ｍ不明」 or 「Ｍ８を超える巨大地震」
        value = None
    description = node.get("description") or (f"M{raw}" if value is not None else "M不明")
    return Magnitude(text=description, value=value, type=node.get("type"))
