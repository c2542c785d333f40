"""Pure matching logic the rule engine calls: event + rule scope → what matched, or None.

Nothing here touches a database, a clock or the network. Every match result has a ``told``
property: the facts recipients of the rule would be told, as a frozenset of
(area key, value) pairs. Within one incident a later telegram deserves an update message only if
``is_update(previous_told, current_told)`` — e.g. VXSE53 Serial 2 repeating Serial 1 does not,
a new city crossing the threshold does, and a tsunami advisory being cleared does (the set
shrinks; the engine decides whether to send a 解除 follow-up).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from .codes import (
    LEGACY_WARNING_TYPES,
    LEVEL_WARNING,
    Intensity,
    LandslideKind,
    TsunamiLevel,
    municipality_in,
)
from .events import (
    Area,
    AreaIntensity,
    Change,
    CityIntensity,
    EarthquakeEvent,
    Event,
    LandslideArea,
    LandslideEvent,
    ParsedTelegram,
    RainObservation,
    RecordRainEvent,
    TsunamiEvent,
    TsunamiItem,
    VolcanoEvent,
    VolcanoMunicipality,
    WarningSnapshot,
)
from .warning_state import Transition, warning_transitions

__all__ = [
    "EarthquakeMatch",
    "LandslideMatch",
    "RecordRainMatch",
    "RuleScope",
    "Transition",
    "TsunamiMatch",
    "VolcanoMatch",
    "WarningMatch",
    "describes_same_incident",
    "earthquake_matches",
    "evaluate",
    "incident_key",
    "is_update",
    "landslide_matches",
    "record_rain_matches",
    "supersedes",
    "tsunami_matches",
    "volcano_matches",
    "warning_levels",
    "warning_transitions",
    "what_recipients_would_be_told",
]

Told = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class RuleScope:
    """Where and how strongly a rule listens. Code lists are per hazard family (JMA's 個別コード表)."""

    municipality_codes: frozenset[str] = frozenset()  # 7-digit 市町村等 (quake cities, warnings, …)
    region_codes: frozenset[str] = frozenset()  # 3-digit 地震情報／細分区域 (VXSE51/53 areas)
    tsunami_area_codes: frozenset[str] = frozenset()  # 津波予報区
    forecast_area_codes: frozenset[str] = frozenset()  # 6-digit 府県予報区・細分区域 (VPOA50)
    volcano_codes: frozenset[str] = frozenset()
    min_intensity: Intensity = Intensity.FIVE_LOWER
    min_tsunami: TsunamiLevel = TsunamiLevel.ADVISORY
    min_warning_level: int = LEVEL_WARNING
    hazards: frozenset[str] = frozenset()  # empty = every hazard
    min_volcano_level: int = 3


# --- Earthquake ---------------------------------------------------------------------------------


def _intensity_label(item: CityIntensity | AreaIntensity) -> str:
    effective = item.effective_intensity
    if effective is None:
        return "?"
    lower_bound = item.intensity_unreceived and (item.max_intensity is None or item.max_intensity < effective)
    return f"{effective.code}以上" if lower_bound else effective.code


@dataclass(frozen=True)
class EarthquakeMatch:
    threshold: Intensity
    max_intensity: Intensity
    cities: tuple[CityIntensity, ...] = ()
    areas: tuple[AreaIntensity, ...] = ()

    @property
    def told(self) -> Told:
        cities = {(f"city:{city.code}", _intensity_label(city)) for city in self.cities}
        return frozenset(cities | {(f"region:{area.code}", _intensity_label(area)) for area in self.areas})


def earthquake_matches(
    event: EarthquakeEvent,
    municipality_codes: Collection[str],
    region_codes: Collection[str],
    threshold: Intensity,
) -> EarthquakeMatch | None:
    """Cities (VXSE53) and regions (VXSE51 early, VXSE53 too) at or above ``threshold``.

    「震度５弱以上未入電」 counts as 5弱: it matches thresholds up to 5弱, not 5強 and above,
    until the real value arrives in a later Serial. A designated city's code matches its wards.
    """
    cities_wanted = frozenset(municipality_codes)
    regions_wanted = frozenset(region_codes)
    cities = tuple(
        city
        for city in event.cities
        if (value := city.effective_intensity) is not None
        and value >= threshold
        and municipality_in(city.code, cities_wanted)
    )
    areas = tuple(
        area
        for area in event.areas
        if (value := area.effective_intensity) is not None
        and value >= threshold
        and area.code in regions_wanted
    )
    values = [city.effective_intensity for city in cities] + [area.effective_intensity for area in areas]
    strongest = max((value for value in values if value is not None), default=None)
    if strongest is None:
        return None
    return EarthquakeMatch(threshold=threshold, max_intensity=strongest, cities=cities, areas=areas)


# --- Tsunami ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TsunamiMatch:
    min_kind: TsunamiLevel
    in_effect: tuple[TsunamiItem, ...]  # areas at or above min_kind now
    changes: tuple[tuple[TsunamiItem, Change], ...]  # issued/upgraded/downgraded/cleared vs LastKind

    @property
    def highest(self) -> TsunamiLevel:
        return max((item.level for item in self.in_effect), default=TsunamiLevel.NONE)

    @property
    def told(self) -> Told:
        return frozenset((f"tsunami:{item.area.code}", item.level.name) for item in self.in_effect)


def tsunami_matches(
    event: TsunamiEvent, forecast_area_codes: Collection[str], min_kind: TsunamiLevel
) -> TsunamiMatch | None:
    """Forecast areas at or above ``min_kind`` and areas whose kind crossed it in this telegram."""
    wanted = frozenset(forecast_area_codes)
    mine = [item for item in event.items if item.area.code in wanted]
    in_effect = tuple(item for item in mine if item.level >= min_kind)
    changes = tuple(
        (item, change) for item in mine if (change := item.change(min_kind)) is not Change.UNCHANGED
    )
    if not in_effect and not changes:
        return None
    return TsunamiMatch(min_kind=min_kind, in_effect=in_effect, changes=changes)


# --- Weather warnings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WarningMatch:
    levels: tuple[tuple[Area, str, int], ...]  # (area, hazard, level) at or above the minimum

    @property
    def told(self) -> Told:
        return frozenset((f"warning:{area.code}", f"{hazard}:{level}") for area, hazard, level in self.levels)


def warning_levels(
    snapshot: WarningSnapshot, area_codes: Collection[str], min_level: int, hazards: Collection[str] = ()
) -> WarningMatch | None:
    """Current levels in the snapshot; use :func:`warning_transitions` to decide *when* to send."""
    wanted, only = frozenset(area_codes), frozenset(hazards)
    levels = tuple(
        (item.area, hazard, level)
        for item in snapshot.areas
        if municipality_in(item.area.code, wanted)
        for hazard, level in sorted(item.levels().items())
        if level >= min_level and (not only or hazard in only)
    )
    return WarningMatch(levels=levels) if levels else None


# --- Landslide, record rain, volcano --------------------------------------------------------------


@dataclass(frozen=True)
class LandslideMatch:
    issued: tuple[LandslideArea, ...]
    continuing: tuple[LandslideArea, ...]
    cleared: tuple[LandslideArea, ...]

    @property
    def told(self) -> Told:
        return frozenset((f"landslide:{item.area.code}", "警戒") for item in (*self.issued, *self.continuing))


def landslide_matches(event: LandslideEvent, municipality_codes: Collection[str]) -> LandslideMatch | None:
    wanted = frozenset(municipality_codes)
    mine = [item for item in event.areas if municipality_in(item.area.code, wanted)]
    issued = tuple(item for item in mine if item.change is Change.ISSUED)
    continuing = tuple(item for item in mine if item.kind is LandslideKind.WARNING and item not in issued)
    cleared = tuple(item for item in mine if item.change is Change.CLEARED)
    if not (issued or continuing or cleared):
        return None
    return LandslideMatch(issued=issued, continuing=continuing, cleared=cleared)


@dataclass(frozen=True)
class RecordRainMatch:
    areas: tuple[Area, ...]
    observations: tuple[RainObservation, ...]
    observed_at_text: str | None

    @property
    def told(self) -> Told:
        # Every VPOA50 reports a new observation, so its time and places are part of the news.
        stamp = self.observed_at_text or ""
        facts = {(f"rain:{area.code}", stamp) for area in self.areas}
        facts |= {(f"rain:{obs.place}", f"{stamp}:{obs.amount_mm}") for obs in self.observations}
        return frozenset(facts)


def _forecast_area_overlaps(code: str, wanted: frozenset[str]) -> bool:
    """Equal codes, or one side is a whole prefecture (「260000」) containing the other."""
    if code in wanted:
        return True
    return any(
        code[:2] == other[:2] and (code.endswith("0000") or other.endswith("0000")) for other in wanted
    )


def record_rain_matches(
    event: RecordRainEvent, forecast_area_codes: Collection[str]
) -> RecordRainMatch | None:
    wanted = frozenset(forecast_area_codes)
    areas = tuple(area for area in event.areas if _forecast_area_overlaps(area.code, wanted))
    if not areas:
        return None
    return RecordRainMatch(
        areas=areas, observations=event.observations, observed_at_text=event.observed_at_text
    )


@dataclass(frozen=True)
class VolcanoMatch:
    volcano: Area
    level: int
    raised: bool
    municipalities: tuple[VolcanoMunicipality, ...]

    @property
    def told(self) -> Told:
        return frozenset({(f"volcano:{self.volcano.code}", f"レベル{self.level}")})


def volcano_matches(
    event: VolcanoEvent,
    min_level: int,
    volcano_codes: Collection[str] = (),
    municipality_codes: Collection[str] = (),
) -> VolcanoMatch | None:
    """Level ≥ ``min_level`` for a wanted volcano or a volcano whose targets include a wanted town."""
    if event.level is None or event.level < min_level:
        return None
    towns = frozenset(municipality_codes)
    mine = tuple(item for item in event.municipalities if municipality_in(item.area.code, towns))
    if event.volcano.code not in frozenset(volcano_codes) and not mine:
        return None
    return VolcanoMatch(volcano=event.volcano, level=event.level, raised=event.raised, municipalities=mine)


# --- Dispatch, told keys, incidents -----------------------------------------------------------------

Match = EarthquakeMatch | TsunamiMatch | WarningMatch | LandslideMatch | RecordRainMatch | VolcanoMatch


def evaluate(event: Event, scope: RuleScope) -> Match | None:
    """Apply the matcher for the event's family; Cancellation and Ignored never match."""
    if isinstance(event, EarthquakeEvent):
        return earthquake_matches(event, scope.municipality_codes, scope.region_codes, scope.min_intensity)
    if isinstance(event, TsunamiEvent):
        return tsunami_matches(event, scope.tsunami_area_codes, scope.min_tsunami)
    if isinstance(event, WarningSnapshot):
        return warning_levels(event, scope.municipality_codes, scope.min_warning_level, scope.hazards)
    if isinstance(event, LandslideEvent):
        return landslide_matches(event, scope.municipality_codes)
    if isinstance(event, RecordRainEvent):
        return record_rain_matches(event, scope.forecast_area_codes)
    if isinstance(event, VolcanoEvent):
        return volcano_matches(event, scope.min_volcano_level, scope.volcano_codes, scope.municipality_codes)
    return None


def what_recipients_would_be_told(event: Event, scope: RuleScope) -> Told:
    """The facts a rule with ``scope`` would announce for ``event`` (empty: nothing to announce)."""
    match = evaluate(event, scope)
    return match.told if match is not None else frozenset()


def is_update(previous: Told, current: Told) -> bool:
    """Whether a later telegram of the same incident changes what recipients were told."""
    return previous != current


# VXSE51/52/53 and VTSE41 of one quake share Head/EventID but may come from different offices
# (本庁 and 大阪管区気象台 alternate in the live captures), so the office is not part of the key.
_SEISMIC_TYPES = frozenset({"VXSE43", "VXSE44", "VXSE45", "VXSE51", "VXSE52", "VXSE53", "VTSE41"})


def _event_ids(telegram: ParsedTelegram) -> frozenset[str]:
    # A tsunami caused by several quakes lists their EventIDs separated by spaces.
    return frozenset((telegram.head.event_id or "").split())


def incident_key(telegram: ParsedTelegram) -> tuple[str, ...]:
    """Key shared by the telegrams of one incident (a quake, a volcano, a prefecture's warnings).

    For a telegram naming several quakes the earliest EventID is used; :func:`describes_same_incident`
    also links telegrams that share any of their EventIDs.
    """
    head = telegram.head
    status = head.status.value
    ids = sorted(_event_ids(telegram))
    if head.type_code in _SEISMIC_TYPES and ids:
        return ("seismic", status, ids[0])
    if head.type_code == "VFVO50" and ids:
        return ("volcano", status, ids[0])
    if head.type_code in LEGACY_WARNING_TYPES:
        # VPWW53 and VPWW54 are twins carrying the same state.
        return ("warnings-legacy", status, head.editorial_office, head.head_title)
    family = head.type_code or head.title
    return (family, status, head.editorial_office, head.event_id or head.head_title)


def describes_same_incident(a: ParsedTelegram, b: ParsedTelegram) -> bool:
    """True for e.g. VXSE51 → VXSE52 → VXSE53 (→ VTSE41, 取消) of one EventID."""
    key_a, key_b = incident_key(a), incident_key(b)
    if key_a == key_b:
        return True
    seismic = key_a[0] == key_b[0] == "seismic" and key_a[1] == key_b[1]
    return seismic and bool(_event_ids(a) & _event_ids(b))


def supersedes(newer: ParsedTelegram, older: ParsedTelegram) -> bool:
    """Whether ``newer`` replaces ``older`` within one information unit (newest ReportDateTime wins)."""
    if newer.head.info_unit_key != older.head.info_unit_key:
        return False
    if newer.head.report_datetime != older.head.report_datetime:
        return newer.head.report_datetime > older.head.report_datetime
    return (newer.head.serial or 0) > (older.head.serial or 0)
