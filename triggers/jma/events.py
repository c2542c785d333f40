"""Typed, immutable results of parsing one JMA telegram.

Datetimes are timezone-aware and keep the offset JMA wrote (+09:00 for Head/Body times, UTC for
Control/DateTime). Codes stay strings: leading zeros matter (「0321500」「03」).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from .codes import (
    LEVEL_NONE,
    Intensity,
    LandslideKind,
    TsunamiLevel,
    tsunami_level,
)


class TelegramStatus(Enum):
    """Control/Status. Only NORMAL may reach real recipients (JMA's Control/Status)."""

    NORMAL = "通常"
    EXERCISE = "訓練"
    TEST = "試験"


class InfoType(Enum):
    """Head/InfoType."""

    ISSUED = "発表"
    CORRECTED = "訂正"
    CANCELLED = "取消"


class Change(Enum):
    """How one area's state moved compared with the previous telegram."""

    ISSUED = "issued"
    UPGRADED = "upgraded"
    DOWNGRADED = "downgraded"
    CLEARED = "cleared"
    UNCHANGED = "unchanged"


def change_between(old: int, new: int, threshold: int = 1) -> Change:
    """Classify a level step; levels below ``threshold`` count as "nothing in effect"."""
    was, now = old >= threshold, new >= threshold
    if not was and not now:
        return Change.UNCHANGED
    if not was:
        return Change.ISSUED
    if not now:
        return Change.CLEARED
    if new > old:
        return Change.UPGRADED
    return Change.DOWNGRADED if new < old else Change.UNCHANGED


@dataclass(frozen=True)
class TelegramHead:
    """Control + Head of any telegram."""

    type_code: str | None
    title: str  # Control/Title, the stable name of the telegram type
    head_title: str  # Head/Title, human wording (「宗谷地方大雨警報・注意報」)
    status: TelegramStatus
    editorial_office: str
    publishing_office: str
    control_datetime: datetime | None
    info_type: InfoType
    info_kind: str
    info_kind_version: str | None
    event_id: str | None
    serial: int | None
    report_datetime: datetime
    target_datetime: datetime | None
    headline: str

    @property
    def info_unit_key(self) -> tuple[str, str, str, str]:
        """Identity of an information unit; the newest ReportDateTime wins."""
        return (self.title, self.editorial_office, self.status.value, self.event_id or "")

    @property
    def is_live(self) -> bool:
        return self.status is TelegramStatus.NORMAL


@dataclass(frozen=True)
class Area:
    code: str
    name: str


# --- Earthquake (VXSE51/52/53) -----------------------------------------------------------------


@dataclass(frozen=True)
class Hypocentre:
    name: str
    code: str | None
    latitude: float | None
    longitude: float | None
    depth_km: float | None  # None = unknown; 0 = ごく浅い
    description: str | None  # JMA's own wording of the coordinate, e.g. 「北緯３９．０度…」
    detailed_name: str | None = None  # foreign quakes: 「フィジー諸島」


@dataclass(frozen=True)
class Magnitude:
    text: str  # description as JMA writes it: 「Ｍ７．０」「Ｍ不明」「Ｍ８を超える巨大地震」
    value: float | None  # None when JMA sends NaN
    type: str | None = None  # Mj, M, Mw …


@dataclass(frozen=True)
class AreaIntensity:
    """One 地震情報／細分区域 (3-digit code)."""

    code: str
    name: str
    pref_code: str
    pref_name: str
    max_intensity: Intensity | None
    intensity_unreceived: bool = False

    @property
    def effective_intensity(self) -> Intensity | None:
        return _effective(self.max_intensity, self.intensity_unreceived)


@dataclass(frozen=True)
class CityIntensity:
    """One 市町村等 (7-digit code) of VXSE53."""

    code: str
    name: str
    area_code: str
    pref_code: str
    max_intensity: Intensity | None
    intensity_unreceived: bool = False

    @property
    def effective_intensity(self) -> Intensity | None:
        """Intensity to compare with thresholds: 「震度５弱以上未入電」 counts as at least 5弱."""
        return _effective(self.max_intensity, self.intensity_unreceived)


def _effective(observed: Intensity | None, unreceived: bool) -> Intensity | None:
    if not unreceived:
        return observed
    return max(observed or Intensity.FIVE_LOWER, Intensity.FIVE_LOWER)


@dataclass(frozen=True)
class EarthquakeEvent:
    """VXSE51 (region intensities only), VXSE52 (hypocentre only) or VXSE53 (both, per city)."""

    origin_time: datetime | None
    arrival_time: datetime | None
    hypocentre: Hypocentre | None
    magnitude: Magnitude | None
    max_intensity: Intensity | None
    areas: tuple[AreaIntensity, ...] = ()
    cities: tuple[CityIntensity, ...] = ()
    forecast_comment: str | None = None
    forecast_comment_codes: tuple[str, ...] = ()
    var_comment: str | None = None
    free_comment: str | None = None

    @property
    def tsunami_comment(self) -> str | None:
        """The lines of ForecastComment about tsunami (「この地震による津波の心配はありません。」)."""
        if not self.forecast_comment:
            return None
        lines = [line for line in self.forecast_comment.splitlines() if "津波" in line]
        return "\n".join(lines) or None

    @property
    def has_intensity(self) -> bool:
        """False for VXSE52 and for foreign quakes reported as VXSE53 without Intensity."""
        return bool(self.areas or self.cities or self.max_intensity)


# --- Tsunami (VTSE41) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TsunamiKind:
    code: str
    name: str

    @property
    def level(self) -> TsunamiLevel:
        return tsunami_level(self.code, self.name)


@dataclass(frozen=True)
class TsunamiItem:
    area: Area  # 津波予報区
    kind: TsunamiKind
    last_kind: TsunamiKind | None
    first_arrival: datetime | None = None
    first_condition: str | None = None  # 「津波到達中と推測」「第１波の到達を確認」…
    max_height_text: str | None = None  # 「１ｍ」「巨大」「１０ｍ超」
    max_height_m: float | None = None
    max_height_condition: str | None = None  # 「重要」 or None

    @property
    def level(self) -> TsunamiLevel:
        return self.kind.level

    @property
    def last_level(self) -> TsunamiLevel:
        return self.last_kind.level if self.last_kind else TsunamiLevel.NONE

    def change(self, threshold: TsunamiLevel = TsunamiLevel.ADVISORY) -> Change:
        """Kind vs LastKind relative to a threshold: 注意報→予報 is CLEARED at ADVISORY."""
        return change_between(self.last_level, self.level, threshold)


@dataclass(frozen=True)
class TsunamiEvent:
    items: tuple[TsunamiItem, ...]
    origin_time: datetime | None = None
    hypocentre: Hypocentre | None = None
    magnitude: Magnitude | None = None
    warning_comment: str | None = None

    @property
    def highest_level(self) -> TsunamiLevel:
        return max((item.level for item in self.items), default=TsunamiLevel.NONE)


# --- Weather warnings (VPWW53/54 legacy, VPWW55–61 R06) ----------------------------------------------


@dataclass(frozen=True)
class WarningKind:
    code: str | None
    name: str | None
    status: str  # 発表 / 継続 / 解除 / 特別警報から警報 / 発表警報・注意報はなし …
    hazard: str | None  # None for 解除-only/unknown kinds
    level: int  # 2 注意報, 3 警報, 4 危険警報, 5 特別警報; 0 if unknown
    last_kind_code: str | None = None
    last_kind_name: str | None = None
    significancy: str | None = None  # R06: 「警戒レベル４相当」「注意報級」…
    significancy_level: int | None = None  # the number in 「警戒レベルＮ…」, if any

    @property
    def cleared(self) -> bool:
        return self.status == "解除"


@dataclass(frozen=True)
class WarningArea:
    area: Area
    kinds: tuple[WarningKind, ...]
    change_status: str | None = None  # 「警報・注意報種別に変化有」…

    @property
    def nothing_in_effect(self) -> bool:
        """The telegram says 「発表警報・注意報はなし」 for this area."""
        return any(kind.status == "発表警報・注意報はなし" for kind in self.kinds)

    def levels(self) -> dict[str, int]:
        """Hazard → level in effect (解除 kinds excluded); hazards absent are not in effect."""
        result: dict[str, int] = {}
        for kind in self.kinds:
            if kind.hazard and not kind.cleared and kind.level > LEVEL_NONE:
                result[kind.hazard] = max(kind.level, result.get(kind.hazard, LEVEL_NONE))
        return result


@dataclass(frozen=True)
class WarningSnapshot:
    """The full state of one prefecture (or one hazard of it, for R06) at report time."""

    scheme: str  # "legacy" (VPWW53/54) or "r06" (VPWW55–61); keep one state per scheme
    hazards_covered: frozenset[str]
    areas: tuple[WarningArea, ...]

    def area(self, code: str) -> WarningArea | None:
        return next((item for item in self.areas if item.area.code == code), None)


# --- Landslide alert, record rain, volcano ----------------------------------------------------------


@dataclass(frozen=True)
class LandslideArea:
    area: Area
    kind: LandslideKind
    status: str  # 発表 / 継続 / 解除 / なし

    @property
    def change(self) -> Change:
        if self.kind is LandslideKind.CLEARED:
            return Change.CLEARED
        if self.kind is LandslideKind.WARNING and self.status == "発表":
            return Change.ISSUED
        return Change.UNCHANGED


@dataclass(frozen=True)
class LandslideEvent:
    target_area: Area | None  # the prefecture (or 地方) the telegram covers
    areas: tuple[LandslideArea, ...]

    @property
    def active(self) -> tuple[LandslideArea, ...]:
        return tuple(item for item in self.areas if item.kind is LandslideKind.WARNING)


@dataclass(frozen=True)
class RainObservation:
    place: str  # 「札幌市中央区付近」
    amount_mm: int
    qualifier: str  # 「約」 or 「以上」


@dataclass(frozen=True)
class RecordRainEvent:
    text: str
    areas: tuple[Area, ...]  # 6-digit 府県予報区・細分区域 codes with 記録的短時間大雨情報
    observations: tuple[RainObservation, ...] = ()
    observed_at_text: str | None = None  # 「１９時４０分」


@dataclass(frozen=True)
class VolcanoMunicipality:
    area: Area
    kind_code: str | None
    kind_name: str | None


@dataclass(frozen=True)
class VolcanoEvent:
    volcano: Area  # code = Head/EventID = 火山コード
    level: int | None  # 噴火警戒レベル 1–5; None for volcanoes without the level system
    kind_code: str | None
    kind_name: str | None
    condition: str | None  # 引上げ / 引下げ / 継続 …
    last_level: int | None
    last_kind_name: str | None
    municipalities: tuple[VolcanoMunicipality, ...] = ()
    headline: str | None = None

    @property
    def raised(self) -> bool:
        return self.level is not None and (self.last_level is None or self.level > self.last_level)


# --- Non-events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cancellation:
    """A 取消 telegram: withdraw what the earlier telegram of the same unit triggered."""

    text: str


@dataclass(frozen=True)
class Ignored:
    """Recognised but deliberately not acted on (VXSE56, VPFD50, VPTW40, VXSE43 …)."""

    reason: str


Event = (
    EarthquakeEvent
    | TsunamiEvent
    | WarningSnapshot
    | LandslideEvent
    | RecordRainEvent
    | VolcanoEvent
    | Cancellation
    | Ignored
)


@dataclass(frozen=True)
class ParsedTelegram:
    head: TelegramHead
    event: Event
