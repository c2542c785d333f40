"""VTSE41 津波警報・注意報・予報: the per-area forecast items (observations are not used)."""

from __future__ import annotations

import math

from ..errors import TelegramError
from ..events import TelegramHead, TsunamiEvent, TsunamiItem, TsunamiKind
from .common import (
    ELEMENT,
    SEISMOLOGY,
    Element,
    area_of,
    body,
    child,
    children,
    hypocentre_of,
    magnitude_of,
    optional_datetime,
    text,
)


def parse(root: Element, head: TelegramHead) -> TsunamiEvent:
    content = body(root, SEISMOLOGY)
    forecast = child(content, SEISMOLOGY, "Tsunami", "Forecast")
    if forecast is None:
        raise TelegramError("VTSE41: Body/Tsunami/Forecast がありません (missing Forecast)")
    earthquake = child(content, SEISMOLOGY, "Earthquake")
    return TsunamiEvent(
        items=tuple(_item(item) for item in children(forecast, SEISMOLOGY, "Item")),
        origin_time=optional_datetime(text(earthquake, SEISMOLOGY, "OriginTime"), "OriginTime"),
        hypocentre=hypocentre_of(earthquake, SEISMOLOGY),
        magnitude=magnitude_of(earthquake),
        warning_comment=text(content, SEISMOLOGY, "Comments", "WarningComment", "Text"),
    )


def _kind(element: Element | None) -> TsunamiKind | None:
    code, name = text(element, SEISMOLOGY, "Code"), text(element, SEISMOLOGY, "Name")
    if code is None and name is None:
        return None
    return TsunamiKind(code=code or "", name=name or "")


def _item(item: Element) -> TsunamiItem:
    area = area_of(child(item, SEISMOLOGY, "Area"), SEISMOLOGY)
    kind = _kind(child(item, SEISMOLOGY, "Category", "Kind"))
    if area is None or kind is None:
        raise TelegramError("VTSE41: Item に Area または Kind がありません (item without Area/Kind)")
    first = child(item, SEISMOLOGY, "FirstHeight")
    height = child(item, SEISMOLOGY, "MaxHeight")
    height_node = height.find(f"{{{ELEMENT}}}TsunamiHeight") if height is not None else None
    metres: float | None = None
    height_text: str | None = None
    if height_node is not None:
        height_text = height_node.get("description") or None
        try:
            metres = float((height_node.text or "").strip())
        except ValueError:
            metres = None
        if metres is not None and not math.isfinite(metres):  # NaN with 「巨大」「高い」
            metres = None
    return TsunamiItem(
        area=area,
        kind=kind,
        last_kind=_kind(child(item, SEISMOLOGY, "Category", "LastKind")),
        first_arrival=optional_datetime(text(first, SEISMOLOGY, "ArrivalTime"), "FirstHeight/ArrivalTime"),
        first_condition=text(first, SEISMOLOGY, "Condition"),
        max_height_text=height_text,
        max_height_m=metres,
        max_height_condition=text(height, SEISMOLOGY, "Condition"),
    )
