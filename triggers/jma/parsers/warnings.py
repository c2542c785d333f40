"""VPWW53/54 (legacy) and VPWW55–61 (R06, one hazard per telegram) 気象警報・注意報.

Only the 「気象警報・注意報（市町村等）」 block is read: it lists every municipality of the
prefecture with all kinds in effect (plus the ones just cleared), so it is a full snapshot.
The R06 samples use the same block type as the legacy telegrams; they add LastKind and
Property/SignificancyPart/Base/Significancy (「警戒レベル４相当」).
"""

from __future__ import annotations

import re

from ..codes import LEGACY_WARNING_TYPES, LEVEL_NONE, WARNING_TYPE_HAZARDS, normalise_digits, warning_kind
from ..errors import TelegramError
from ..events import TelegramHead, WarningArea, WarningKind, WarningSnapshot
from .common import METEOROLOGY, Element, area_of, body, child, children, text

MUNICIPAL_BLOCK = "気象警報・注意報（市町村等）"
_SIGNIFICANCY = re.compile(r"^警戒レベル([1-5])(相当)?$")


def parse(root: Element, head: TelegramHead) -> WarningSnapshot:
    content = body(root, METEOROLOGY)
    block = next(
        (w for w in children(content, METEOROLOGY, "Warning") if w.get("type") == MUNICIPAL_BLOCK),
        None,
    )
    if block is None:
        raise TelegramError(
            f"{head.type_code}: 市町村等の警報ブロックがありません (no {MUNICIPAL_BLOCK} block)"
        )
    areas = tuple(_area(item) for item in children(block, METEOROLOGY, "Item"))
    seen = {kind.hazard for area in areas for kind in area.kinds if kind.hazard}
    covered = WARNING_TYPE_HAZARDS.get(head.type_code or "", frozenset()) | seen
    scheme = "legacy" if head.type_code in LEGACY_WARNING_TYPES else "r06"
    return WarningSnapshot(scheme=scheme, hazards_covered=frozenset(covered), areas=areas)


def _area(item: Element) -> WarningArea:
    area = area_of(child(item, METEOROLOGY, "Area"), METEOROLOGY)
    if area is None:
        raise TelegramError("警報 Item に Area がありません (warning item without Area)")
    return WarningArea(
        area=area,
        kinds=tuple(_kind(kind) for kind in children(item, METEOROLOGY, "Kind")),
        change_status=text(item, METEOROLOGY, "ChangeStatus"),
    )


def _kind(kind: Element) -> WarningKind:
    code, name = text(kind, METEOROLOGY, "Code"), text(kind, METEOROLOGY, "Name")
    mapped = warning_kind(code, name)
    significancy = text(kind, METEOROLOGY, "Property", "SignificancyPart", "Base", "Significancy", "Name")
    found = _SIGNIFICANCY.match(normalise_digits(significancy)) if significancy else None
    return WarningKind(
        code=code,
        name=name,
        status=text(kind, METEOROLOGY, "Status") or "",
        hazard=mapped[0] if mapped else None,
        level=mapped[1] if mapped else LEVEL_NONE,
        last_kind_code=text(kind, METEOROLOGY, "LastKind", "Code"),
        last_kind_name=text(kind, METEOROLOGY, "LastKind", "Name"),
        significancy=significancy,
        significancy_level=int(found.group(1)) if found else None,
    )
