"""Rule kinds of the JMA source and their conditions, as stored in ``trigger_rules.conditions``.

Area codes stay per hazard family (JMA's 個別コード表): quake cities and warning areas are both
7-digit 市町村等 codes but different lists, quake regions are 3-digit, tsunami forecast areas
have their own codes, record-rain areas are 6-digit 府県予報区 codes, volcanoes their 火山コード.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from triggers.base import RuleError, RuleKind

from .codes import WARNING_KINDS, Intensity, TsunamiLevel, normalise_digits

KINDS: dict[str, RuleKind] = {
    "earthquake": RuleKind(
        "earthquake", "地震（震度）", frozenset({"observed"}), frozenset({"observed"})
    ),
    "tsunami": RuleKind(
        "tsunami", "津波警報・注意報",
        frozenset({"issued", "upgraded", "downgraded", "cleared"}), frozenset({"issued", "upgraded"}),
    ),
    "warning": RuleKind(
        "warning", "気象警報（危険度レベル）",
        frozenset({"issued", "upgraded", "downgraded", "cleared"}), frozenset({"issued", "upgraded"}),
    ),
    "landslide": RuleKind(
        "landslide", "土砂災害警戒情報", frozenset({"issued", "cleared"}), frozenset({"issued"})
    ),
    "record_rain": RuleKind(
        "record_rain", "記録的短時間大雨情報", frozenset({"observed"}), frozenset({"observed"})
    ),
    "volcano": RuleKind(
        "volcano", "噴火警報（噴火警戒レベル）",
        frozenset({"issued", "upgraded", "downgraded", "cleared"}), frozenset({"issued", "upgraded"}),
    ),
}

HAZARDS = frozenset(hazard for hazard, _ in WARNING_KINDS.values())
SCHEMES = ("r06", "legacy")
_TSUNAMI_NAMES = {
    "津波注意報": TsunamiLevel.ADVISORY, "注意報": TsunamiLevel.ADVISORY, "advisory": TsunamiLevel.ADVISORY,
    "津波警報": TsunamiLevel.WARNING, "警報": TsunamiLevel.WARNING, "warning": TsunamiLevel.WARNING,
    "大津波警報": TsunamiLevel.MAJOR_WARNING, "major_warning": TsunamiLevel.MAJOR_WARNING,
}
_CODE_LENGTHS = {"municipalities": (7,), "regions": (3,), "forecast_areas": (6,), "tsunami_areas": (3,)}


def parse_conditions(kind: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise what an operator wrote (「5弱」「震度５弱」「5-」 all work) and refuse the rest."""
    if kind not in KINDS:
        raise RuleError(f"「{kind}」は気象庁トリガーの種類にありません（使えるもの: {'、'.join(KINDS)}）")
    known = _ALLOWED[kind]
    unknown = sorted(set(raw) - known)
    if unknown:
        allowed = ", ".join(sorted(known))
        raise RuleError(f"{kind} に使えない項目があります: {', '.join(unknown)}（使えるもの: {allowed}）")
    out: dict[str, Any] = {}
    for key in sorted(known & _CODE_LENGTHS.keys()):
        if key in raw:
            out[key] = _codes(key, raw[key])
    for key in ("volcanoes",):
        if key in raw:
            out[key] = _codes(key, raw[key], lengths=(3,))
    if kind == "earthquake":
        out["min_intensity"] = _intensity(raw.get("min_intensity", "5-")).code
        _require_any(out, ("municipalities", "regions"), "震度の対象（municipalities か regions）")
    elif kind == "tsunami":
        out["min_kind"] = _tsunami(raw.get("min_kind", "津波注意報")).name.lower()
        _require_any(out, ("tsunami_areas",), "津波予報区（tsunami_areas）")
    elif kind == "warning":
        out["min_level"] = _level(raw.get("min_level", 3), 2, 5)
        out["hazards"] = _hazards(raw.get("hazards", []))
        scheme = str(raw.get("scheme", "r06"))
        if scheme not in SCHEMES:
            raise RuleError(f"scheme は {' か '.join(SCHEMES)} です（{scheme!r} は使えません）")
        out["scheme"] = scheme
        _require_any(out, ("municipalities",), "市町村等（municipalities）")
    elif kind == "landslide":
        _require_any(out, ("municipalities",), "市町村等（municipalities）")
    elif kind == "record_rain":
        _require_any(out, ("forecast_areas",), "府県予報区・細分区域（forecast_areas, 6桁）")
    elif kind == "volcano":
        out["min_level"] = _level(raw.get("min_level", 3), 1, 5)
        _require_any(out, ("volcanoes", "municipalities"), "火山（volcanoes）か市町村等（municipalities）")
    return out


_ALLOWED: dict[str, frozenset[str]] = {
    "earthquake": frozenset({"municipalities", "regions", "min_intensity"}),
    "tsunami": frozenset({"tsunami_areas", "min_kind"}),
    "warning": frozenset({"municipalities", "hazards", "min_level", "scheme"}),
    "landslide": frozenset({"municipalities"}),
    "record_rain": frozenset({"forecast_areas"}),
    "volcano": frozenset({"volcanoes", "municipalities", "min_level"}),
}


def _codes(key: str, value: Any, lengths: tuple[int, ...] | None = None) -> list[str]:
    items = [value] if isinstance(value, str | int) else list(value or [])
    lengths = lengths or _CODE_LENGTHS[key]
    codes: list[str] = []
    for item in items:
        code = normalise_digits(str(item)).strip()
        if not code.isdigit() or len(code) not in lengths:
            wanted = "／".join(f"{n}桁" for n in lengths)
            raise RuleError(f"{key} のコード {item!r} は{wanted}の数字で書いてください（先頭の0も必要です）")
        codes.append(code)
    return sorted(dict.fromkeys(codes))


def _intensity(value: Any) -> Intensity:
    found = Intensity.from_code(str(value))
    if found is None:
        raise RuleError(f"震度 {value!r} を読めません（例: 5弱, 5強, 6弱, 5-, 6+）")
    return found


def intensity_of(conditions: Mapping[str, Any]) -> Intensity:
    return _intensity(conditions.get("min_intensity", "5-"))


def _tsunami(value: Any) -> TsunamiLevel:
    text = str(value).strip()
    level = _TSUNAMI_NAMES.get(text) or _TSUNAMI_NAMES.get(text.lower())
    if level is None:
        raise RuleError(f"津波の種類 {value!r} を読めません（津波注意報／津波警報／大津波警報）")
    return level


def tsunami_of(conditions: Mapping[str, Any]) -> TsunamiLevel:
    return _tsunami(conditions.get("min_kind", "advisory"))


def _level(value: Any, low: int, high: int) -> int:
    text = normalise_digits(str(value))
    found = re.search(r"\d+", text)
    level = int(found.group()) if found else -1
    if not low <= level <= high:
        raise RuleError(f"レベル {value!r} は {low}〜{high} の数字で書いてください")
    return level


def _hazards(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else list(value or [])
    wrong = [str(item) for item in items if str(item) not in HAZARDS]
    if wrong:
        raise RuleError(f"現象 {', '.join(wrong)} は使えません（例: 大雨、土砂災害、洪水、高潮、暴風）")
    return sorted(dict.fromkeys(str(item) for item in items))


def _require_any(out: Mapping[str, Any], keys: tuple[str, ...], what: str) -> None:
    if not any(out.get(key) for key in keys):
        raise RuleError(f"{what}を1つ以上指定してください")
