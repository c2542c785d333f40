"""VFVO50 噴火警報・予報: the volcano (Head/EventID = 火山コード), its level, municipalities."""

from __future__ import annotations

from ..codes import volcano_level
from ..errors import TelegramError
from ..events import Area, TelegramHead, VolcanoEvent, VolcanoMunicipality
from .common import VOLCANOLOGY, Element, area_of, body, child, children, text

_VOLCANO_BLOCK = "噴火警報・予報（対象火山）"
_MUNICIPAL_BLOCK = "噴火警報・予報（対象市町村等）"


def _block(content: Element, kind: str) -> Element | None:
    return next((b for b in children(content, VOLCANOLOGY, "VolcanoInfo") if b.get("type") == kind), None)


def parse(root: Element, head: TelegramHead) -> VolcanoEvent:
    content = body(root, VOLCANOLOGY)
    item = child(_block(content, _VOLCANO_BLOCK), VOLCANOLOGY, "Item")
    if item is None:
        raise TelegramError("VFVO50: 対象火山がありません (no target volcano)")
    volcano = area_of(child(item, VOLCANOLOGY, "Areas", "Area"), VOLCANOLOGY) or Area(head.event_id or "", "")
    kind_code, kind_name = text(item, VOLCANOLOGY, "Kind", "Code"), text(item, VOLCANOLOGY, "Kind", "Name")
    last_code = text(item, VOLCANOLOGY, "LastKind", "Code")
    last_name = text(item, VOLCANOLOGY, "LastKind", "Name")
    municipalities = [
        VolcanoMunicipality(
            area=area,
            kind_code=text(entry, VOLCANOLOGY, "Kind", "Code"),
            kind_name=text(entry, VOLCANOLOGY, "Kind", "Name"),
        )
        for entry in children(_block(content, _MUNICIPAL_BLOCK), VOLCANOLOGY, "Item")
        for node in children(entry, VOLCANOLOGY, "Areas", "Area")
        if (area := area_of(node, VOLCANOLOGY)) is not None
    ]
    return VolcanoEvent(
        volcano=volcano,
        level=volcano_level(kind_code, kind_name),
        kind_code=kind_code,
        kind_name=kind_name,
        condition=text(item, VOLCANOLOGY, "Kind", "Condition"),
        last_level=volcano_level(last_code, last_name),
        last_kind_name=last_name,
        municipalities=tuple(municipalities),
        headline=text(content, VOLCANOLOGY, "VolcanoInfoContent", "VolcanoHeadline") or head.headline or None,
    )
