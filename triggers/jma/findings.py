"""One telegram seen through one rule: what changed at the rule's threshold, and the template values.

Matching itself lives in :mod:`triggers.jma.conditions` (pure, tested against the real
telegrams); this module turns a match into a :class:`~triggers.base.Finding` the engine can
act on, and names the values templates may use (docs/triggers.md, "Template variables").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from triggers.base import Finding, RuleSpec, Told

from .codes import Intensity, municipality_in
from .conditions import earthquake_matches, landslide_matches, record_rain_matches, tsunami_matches
from .events import (
    AreaIntensity,
    Change,
    CityIntensity,
    EarthquakeEvent,
    Event,
    LandslideEvent,
    RecordRainEvent,
    TsunamiEvent,
    TsunamiItem,
    VolcanoEvent,
    WarningSnapshot,
    change_between,
)
from .rules import intensity_of, tsunami_of
from .warning_state import Transition

_TSUNAMI_NAMES = {4: "大津波警報", 3: "津波警報", 2: "津波注意報", 1: "津波予報", 0: "なし"}
_LEVEL_NAMES = {2: "注意報", 3: "警報", 4: "危険警報", 5: "特別警報"}


@dataclass(frozen=True)
class WarningPrepared:
    """Transitions of one warning snapshot against the stored state (computed once per telegram)."""

    transitions: tuple[Transition, ...]


def evaluate(rule: RuleSpec, event: Event, prepared: object) -> Finding | None:
    c = rule.conditions
    if rule.kind == "earthquake" and isinstance(event, EarthquakeEvent):
        return _earthquake(event, c)
    if rule.kind == "tsunami" and isinstance(event, TsunamiEvent):
        return _tsunami(rule, event, c)
    if rule.kind == "warning" and isinstance(event, WarningSnapshot):
        return _warning(rule, event, prepared if isinstance(prepared, WarningPrepared) else None, c)
    if rule.kind == "landslide" and isinstance(event, LandslideEvent):
        return _landslide(rule, event, c)
    if rule.kind == "record_rain" and isinstance(event, RecordRainEvent):
        return _record_rain(event, c)
    if rule.kind == "volcano" and isinstance(event, VolcanoEvent):
        return _volcano(rule, event, c)
    return None


def _changes(values: Iterable[Change]) -> frozenset[str]:
    return frozenset(change.value for change in values) - {Change.UNCHANGED.value}


# --- Earthquake ------------------------------------------------------------------------------------


def _label(item: CityIntensity | AreaIntensity) -> str:
    effective = item.effective_intensity
    if effective is None:
        return "不明"
    lower_bound = item.intensity_unreceived and (item.max_intensity is None or item.max_intensity < effective)
    return f"{effective.label}以上" if lower_bound else effective.label


def _earthquake(event: EarthquakeEvent, c: Mapping[str, Any]) -> Finding | None:
    match = earthquake_matches(event, c.get("municipalities", ()), c.get("regions", ()), intensity_of(c))
    if match is None:
        return None
    items: list[CityIntensity | AreaIntensity] = [*match.cities, *match.areas]
    items.sort(key=lambda item: -(item.effective_intensity or 0))
    places = [{"name": item.name, "code": item.code, "intensity": _label(item)} for item in items]
    strongest = items[0] if items else None
    hypo = event.hypocentre
    variables: dict[str, Any] = {
        "intensity": _label(strongest) if strongest else match.max_intensity.label,
        "max_intensity": event.max_intensity.label if event.max_intensity else match.max_intensity.label,
        "places": places,
        "area_names": [place["name"] for place in places],
        "origin_time": event.origin_time or event.arrival_time,
        "hypocentre": (hypo.detailed_name or hypo.name) if hypo else "",
        "depth": _depth(hypo.depth_km) if hypo else "",
        "magnitude": _magnitude(event),
        "tsunami": event.tsunami_comment or "",
        "threshold": Intensity(match.threshold).label,
    }
    return Finding(changes=frozenset({"observed"}), active=True, told=match.told, variables=variables)


def _depth(depth_km: float | None) -> str:
    if depth_km is None:
        return ""
    return "ごく浅い" if depth_km == 0 else f"約{int(depth_km)}km"


def _magnitude(event: EarthquakeEvent) -> str:
    if event.magnitude is None:
        return ""
    if event.magnitude.value is None:
        return event.magnitude.text.replace("Ｍ", "M")
    return f"M{event.magnitude.value:.1f}"


# --- Tsunami -----------------------------------------------------------------------------------------


def _tsunami_place(item: TsunamiItem) -> dict[str, Any]:
    return {
        "name": item.area.name,
        "code": item.area.code,
        "kind": item.kind.name,
        "height": item.max_height_text or "",
        "arrival": item.first_arrival or item.first_condition or "",
    }


def _tsunami(rule: RuleSpec, event: TsunamiEvent, c: Mapping[str, Any]) -> Finding | None:
    minimum = tsunami_of(c)
    match = tsunami_matches(event, c.get("tsunami_areas", ()), minimum)
    if match is None:
        return None
    cleared = [item for item, change in match.changes if change is Change.CLEARED]
    told: Told = match.told
    if rule.clearing:
        told = frozenset((f"cleared:tsunami:{item.area.code}", item.kind.code) for item in cleared)
    variables: dict[str, Any] = {
        "kind": _TSUNAMI_NAMES[int(match.highest)],
        "kind_name": (cleared[0].last_kind.name if rule.clearing and cleared and cleared[0].last_kind
                      else _TSUNAMI_NAMES[int(match.highest)]),
        "places": [_tsunami_place(item) for item in sorted(match.in_effect, key=lambda i: -i.level)],
        "cleared_places": [_tsunami_place(item) for item in cleared],
        "area_names": [item.area.name for item in match.in_effect] or [item.area.name for item in cleared],
        "origin_time": event.origin_time,
        "hypocentre": event.hypocentre.name if event.hypocentre else "",
        "magnitude": f"M{event.magnitude.value:.1f}" if event.magnitude and event.magnitude.value else "",
        "threshold": _TSUNAMI_NAMES[int(minimum)],
    }
    changes = _changes(change for _, change in match.changes)
    return Finding(changes=changes, active=bool(match.in_effect), told=told, variables=variables)


# --- Warnings -----------------------------------------------------------------------------------------


def _warning(rule: RuleSpec, event: WarningSnapshot, prepared: WarningPrepared | None,
             c: Mapping[str, Any]) -> Finding | None:
    if event.scheme != c.get("scheme", "r06"):
        return None
    wanted = frozenset(c.get("municipalities", ()))
    hazards = frozenset(c.get("hazards") or event.hazards_covered) & event.hazards_covered
    listed = [area for area in event.areas if municipality_in(area.area.code, wanted)]
    if not hazards or not listed:
        return None
    minimum = int(c.get("min_level", 3))
    transitions = prepared.transitions if prepared else ()
    mine = [t for t in transitions if t.hazard in hazards and municipality_in(t.area.code, wanted)]
    stepped = [(t, change_between(t.old_level, t.new_level, minimum)) for t in mine]
    # A clearing the telegram does not state means the hub missed a telegram: corrected silently.
    stepped = [(t, ch) for t, ch in stepped
               if ch is not Change.UNCHANGED and (t.explicit or ch is not Change.CLEARED)]
    current: list[dict[str, Any]] = [
        {"name": area.area.name, "code": area.area.code, "hazard": kind.hazard, "level": kind.level,
         "kind": kind.name or "", "significancy": kind.significancy or ""}
        for area in listed for kind in area.kinds
        if kind.hazard in hazards and not kind.cleared and kind.level >= minimum
        and kind.level == area.levels().get(kind.hazard or "")
    ]
    cleared: list[dict[str, Any]] = [
        {"name": t.area.name, "code": t.area.code, "hazard": t.hazard, "level": t.old_level,
         "kind": t.kind_name or "", "significancy": ""}
        for t, change in stepped if change is Change.CLEARED
    ]
    if rule.clearing:
        told = frozenset((f"cleared:warning:{item['code']}", str(item["hazard"])) for item in cleared)
    else:
        told = frozenset((f"warning:{item['code']}", f"{item['hazard']}:{item['level']}") for item in current)
    shown = current or cleared
    top = max(shown, key=lambda item: int(item["level"]), default=None)
    variables: dict[str, Any] = {
        "places": current,
        "cleared_places": cleared,
        "area_names": list(dict.fromkeys(str(item["name"]) for item in shown)),
        "hazard": "・".join(dict.fromkeys(str(item["hazard"]) for item in shown)),
        "level": int(top["level"]) if top else minimum,
        "level_name": _LEVEL_NAMES.get(int(top["level"]) if top else minimum, ""),
        "kind_name": str(top["kind"]) if top else "",
        "threshold": minimum,
    }
    return Finding(changes=_changes(ch for _, ch in stepped), active=bool(current), told=told,
                   variables=variables)


# --- Landslide, record rain, volcano ---------------------------------------------------------------


def _landslide(rule: RuleSpec, event: LandslideEvent, c: Mapping[str, Any]) -> Finding | None:
    match = landslide_matches(event, c.get("municipalities", ()))
    if match is None:
        return None
    changes = {Change.ISSUED} if match.issued else set()
    if match.cleared:
        changes.add(Change.CLEARED)
    active_areas = [item.area.name for item in (*match.issued, *match.continuing)]
    cleared = [item.area.name for item in match.cleared]
    told = match.told
    if rule.clearing:
        told = frozenset((f"cleared:landslide:{item.area.code}", "解除") for item in match.cleared)
    variables: dict[str, Any] = {
        "area_names": active_areas or cleared,
        "cleared_names": cleared,
        "kind_name": "土砂災害警戒情報",
        "target": event.target_area.name if event.target_area else "",
    }
    return Finding(changes=_changes(changes), active=bool(active_areas), told=told, variables=variables)


def _record_rain(event: RecordRainEvent, c: Mapping[str, Any]) -> Finding | None:
    match = record_rain_matches(event, c.get("forecast_areas", ()))
    if match is None:
        return None
    variables: dict[str, Any] = {
        "area_names": [area.name for area in match.areas],
        "places": [{"name": obs.place, "amount": f"{obs.qualifier}{obs.amount_mm}ミリ"}
                   for obs in match.observations],
        "observed_at": match.observed_at_text or "",
        "text": event.text,
    }
    return Finding(changes=frozenset({"observed"}), active=True, told=match.told, variables=variables)


def _volcano(rule: RuleSpec, event: VolcanoEvent, c: Mapping[str, Any]) -> Finding | None:
    towns = frozenset(c.get("municipalities", ()))
    mine = [item for item in event.municipalities if municipality_in(item.area.code, towns)]
    if event.volcano.code not in frozenset(c.get("volcanoes", ())) and not mine:
        return None
    if event.level is None:
        return None  # volcanoes without 噴火警戒レベル cannot be compared with a level rule
    minimum = int(c.get("min_level", 3))
    change = change_between(event.last_level or 0, event.level, minimum)
    told: Told = frozenset({(f"volcano:{event.volcano.code}", f"レベル{event.level}")})
    if rule.clearing:
        told = frozenset({(f"cleared:volcano:{event.volcano.code}", f"レベル{event.level}")})
    variables: dict[str, Any] = {
        "volcano": event.volcano.name,
        "level": event.level,
        "last_level": event.last_level or "",
        "kind_name": event.kind_name or "",
        "area_names": [item.area.name for item in mine] or [event.volcano.name],
    }
    return Finding(changes=_changes([change]), active=event.level >= minimum, told=told, variables=variables)
