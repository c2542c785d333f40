"""VXWW50 土砂災害警戒情報: per municipality 警戒 (3) / 解除 (1) / なし (0)."""

from __future__ import annotations

from ..codes import LandslideKind
from ..errors import TelegramError
from ..events import LandslideArea, LandslideEvent, TelegramHead
from .common import METEOROLOGY, Element, area_of, body, child, children, text

BLOCK = "土砂災害警戒情報"


def parse(root: Element, head: TelegramHead) -> LandslideEvent:
    content = body(root, METEOROLOGY)
    block = next((w for w in children(content, METEOROLOGY, "Warning") if w.get("type") == BLOCK), None)
    if block is None:
        raise TelegramError("VXWW50: 土砂災害警戒情報ブロックがありません (no Warning block)")
    return LandslideEvent(
        target_area=area_of(child(content, METEOROLOGY, "TargetArea"), METEOROLOGY),
        areas=tuple(_area(item) for item in children(block, METEOROLOGY, "Item")),
    )


def _area(item: Element) -> LandslideArea:
    area = area_of(child(item, METEOROLOGY, "Area"), METEOROLOGY)
    code = text(item, METEOROLOGY, "Kind", "Code")
    if area is None:
        raise TelegramError("VXWW50: Item に Area がありません (item without Area)")
    try:
        kind = LandslideKind(code or "0")
    except ValueError:
        raise TelegramError(f"VXWW50: 未知の Kind コードです (unknown kind code {code!r})") from None
    return LandslideArea(area=area, kind=kind, status=text(item, METEOROLOGY, "Kind", "Status") or "")
