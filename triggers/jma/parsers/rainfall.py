"""VPOA50 記録的短時間大雨情報: areas are structured; places and amounts only live in the text."""

from __future__ import annotations

import re

from ..codes import normalise_digits
from ..errors import TelegramError
from ..events import Area, RainObservation, RecordRainEvent, TelegramHead
from .common import METEOROLOGY, Element, area_of, body, child, children, text

BLOCK = "記録的短時間大雨情報（発表細分）"
_ISSUED_CODE = "1"
# 「札幌市中央区付近で約１００ミリ」「舞鶴市西部付近で１２０ミリ以上」, after NFKC.
_OBSERVATION = re.compile(r"^(?P<place>.+?)で(?P<about>約)?(?P<mm>\d+)ミリ(?P<over>以上)?$")
_OBSERVED_AT = re.compile(r"^(\d{1,2}時\d{1,2}分)")


def parse(root: Element, head: TelegramHead) -> RecordRainEvent:
    content = body(root, METEOROLOGY)
    block = next((w for w in children(content, METEOROLOGY, "Warning") if w.get("type") == BLOCK), None)
    if block is None:
        raise TelegramError("VPOA50: 発表細分ブロックがありません (no Warning block)")
    areas: list[Area] = []
    for item in children(block, METEOROLOGY, "Item"):
        area = area_of(child(item, METEOROLOGY, "Area"), METEOROLOGY)
        if area is not None and text(item, METEOROLOGY, "Kind", "Code") == _ISSUED_CODE:
            areas.append(area)
    observations: list[RainObservation] = []
    observed_at: str | None = None
    for line in (normalise_digits(raw).strip() for raw in head.headline.splitlines()):
        found = _OBSERVATION.match(line)
        if found:
            observations.append(
                RainObservation(
                    place=found.group("place"),
                    amount_mm=int(found.group("mm")),
                    qualifier="以上" if found.group("over") else "約",
                )
            )
        elif observed_at is None and (at := _OBSERVED_AT.match(line)):
            observed_at = at.group(1)
    return RecordRainEvent(
        text=head.headline,
        areas=tuple(areas),
        observations=tuple(observations),
        observed_at_text=observed_at,
    )
