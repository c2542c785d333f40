"""Code tables of 防災情報XML that the hub needs to reason about telegrams.

Source: JMA's 個別コード表 (xml.kishou.go.jp 技術資料:
「警報等情報要素／気象警報・注意報」「警報等情報要素／津波警報・注意報・予報」「噴火警戒レベル」),
cross-checked against the official samples in tests/fixtures/jma/official.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum, IntEnum


def normalise_digits(text: str) -> str:
    """Turn full-width digits and signs (「５」「＋」) into ASCII; telegram text mixes both."""
    return unicodedata.normalize("NFKC", text)


# --- Seismic intensity -------------------------------------------------------------------------


class Intensity(IntEnum):
    """JMA seismic intensity (震度), ordered so ``>=`` compares strength."""

    ONE = 1
    TWO = 2
    THREE = 3
    FOUR = 4
    FIVE_LOWER = 5
    FIVE_UPPER = 6
    SIX_LOWER = 7
    SIX_UPPER = 8
    SEVEN = 9

    @property
    def code(self) -> str:
        """The value used in ``MaxInt`` elements: ``1 2 3 4 5- 5+ 6- 6+ 7``."""
        return _INTENSITY_CODE[self]

    @property
    def label(self) -> str:
        """Japanese wording as JMA writes it, e.g. 「震度５弱」."""
        return _INTENSITY_LABEL[self]

    @classmethod
    def from_code(cls, code: str | None) -> Intensity | None:
        """Parse ``5-``, ``5弱``, 「震度５弱」 …; None for empty or unknown text."""
        if not code:
            return None
        text = normalise_digits(code).strip().removeprefix("震度").replace("弱", "-").replace("強", "+")
        return _INTENSITY_BY_CODE.get(text)


_INTENSITY_CODE = {
    Intensity.ONE: "1",
    Intensity.TWO: "2",
    Intensity.THREE: "3",
    Intensity.FOUR: "4",
    Intensity.FIVE_LOWER: "5-",
    Intensity.FIVE_UPPER: "5+",
    Intensity.SIX_LOWER: "6-",
    Intensity.SIX_UPPER: "6+",
    Intensity.SEVEN: "7",
}
_INTENSITY_BY_CODE = {code: level for level, code in _INTENSITY_CODE.items()}
_INTENSITY_LABEL = {
    Intensity.ONE: "震度１",
    Intensity.TWO: "震度２",
    Intensity.THREE: "震度３",
    Intensity.FOUR: "震度４",
    Intensity.FIVE_LOWER: "震度５弱",
    Intensity.FIVE_UPPER: "震度５強",
    Intensity.SIX_LOWER: "震度６弱",
    Intensity.SIX_UPPER: "震度６強",
    Intensity.SEVEN: "震度７",
}

# A City with this Condition and no (or a lower) MaxInt has a station that measured at least 5弱
# but whose value has not arrived yet: rules must treat it as ≥ 5弱.
INTENSITY_UNRECEIVED = "震度５弱以上未入電"


# --- Tsunami ------------------------------------------------------------------------------------


class TsunamiLevel(IntEnum):
    """Ordering of tsunami kinds: 大津波警報 > 津波警報 > 津波注意報 > 予報 > none/cleared."""

    NONE = 0
    FORECAST = 1
    ADVISORY = 2
    WARNING = 3
    MAJOR_WARNING = 4


TSUNAMI_KIND_LEVELS: dict[str, TsunamiLevel] = {
    "00": TsunamiLevel.NONE,  # 津波なし
    "50": TsunamiLevel.NONE,  # 警報解除
    "60": TsunamiLevel.NONE,  # 津波注意報解除
    "51": TsunamiLevel.WARNING,
    "52": TsunamiLevel.MAJOR_WARNING,
    "53": TsunamiLevel.MAJOR_WARNING,  # 大津波警報：発表 (first issue; 52 afterwards)
    "62": TsunamiLevel.ADVISORY,
    "71": TsunamiLevel.FORECAST,
    "72": TsunamiLevel.FORECAST,
    "73": TsunamiLevel.FORECAST,
}


def tsunami_level(code: str | None, name: str | None) -> TsunamiLevel:
    """Level of a tsunami Kind; the name is only consulted for codes outside the table."""
    if code and code in TSUNAMI_KIND_LEVELS:
        return TSUNAMI_KIND_LEVELS[code]
    text = name or ""
    if not text or "解除" in text or "なし" in text:
        return TsunamiLevel.NONE
    if "大津波警報" in text:
        return TsunamiLevel.MAJOR_WARNING
    if "津波警報" in text:
        return TsunamiLevel.WARNING
    if "注意報" in text:
        return TsunamiLevel.ADVISORY
    return TsunamiLevel.FORECAST if "予報" in text else TsunamiLevel.NONE


# --- Weather warnings ---------------------------------------------------------------------------

HEAVY_RAIN = "大雨"
LANDSLIDE = "土砂災害"
FLOOD = "洪水"
STORM_SURGE = "高潮"
STORM = "暴風"
SNOWSTORM = "暴風雪"
HIGH_WAVES = "波浪"
HEAVY_SNOW = "大雪"
OTHER = "その他"

LEVEL_NONE = 0
LEVEL_ADVISORY = 2  # 注意報
LEVEL_WARNING = 3  # 警報
LEVEL_DANGER = 4  # 危険警報 (R06 only)
LEVEL_EMERGENCY = 5  # 特別警報

# Kind code → (hazard, level). One table serves legacy VPWW53/54 and R06 VPWW55–61: R06 kept the
# legacy codes and added 29/39/43/48/49. 強風注意報 and 風雪注意報 are the advisory step of the
# 暴風 and 暴風雪 hazards, so 強風注意報 → 暴風警報 is an upgrade rather than a new hazard.
WARNING_KINDS: dict[str, tuple[str, int]] = {
    "02": (SNOWSTORM, LEVEL_WARNING),
    "03": (HEAVY_RAIN, LEVEL_WARNING),
    "04": (FLOOD, LEVEL_WARNING),
    "05": (STORM, LEVEL_WARNING),
    "06": (HEAVY_SNOW, LEVEL_WARNING),
    "07": (HIGH_WAVES, LEVEL_WARNING),
    "08": (STORM_SURGE, LEVEL_WARNING),
    "09": (LANDSLIDE, LEVEL_WARNING),
    "10": (HEAVY_RAIN, LEVEL_ADVISORY),
    "12": (HEAVY_SNOW, LEVEL_ADVISORY),
    "13": (SNOWSTORM, LEVEL_ADVISORY),
    "14": ("雷", LEVEL_ADVISORY),
    "15": (STORM, LEVEL_ADVISORY),
    "16": (HIGH_WAVES, LEVEL_ADVISORY),
    "17": ("融雪", LEVEL_ADVISORY),
    "18": (FLOOD, LEVEL_ADVISORY),
    "19": (STORM_SURGE, LEVEL_ADVISORY),
    "20": ("濃霧", LEVEL_ADVISORY),
    "21": ("乾燥", LEVEL_ADVISORY),
    "22": ("なだれ", LEVEL_ADVISORY),
    "23": ("低温", LEVEL_ADVISORY),
    "24": ("霜", LEVEL_ADVISORY),
    "25": ("着氷", LEVEL_ADVISORY),
    "26": ("着雪", LEVEL_ADVISORY),
    "27": (OTHER, LEVEL_ADVISORY),
    "29": (LANDSLIDE, LEVEL_ADVISORY),
    "32": (SNOWSTORM, LEVEL_EMERGENCY),
    "33": (HEAVY_RAIN, LEVEL_EMERGENCY),
    "35": (STORM, LEVEL_EMERGENCY),
    "36": (HEAVY_SNOW, LEVEL_EMERGENCY),
    "37": (HIGH_WAVES, LEVEL_EMERGENCY),
    "38": (STORM_SURGE, LEVEL_EMERGENCY),
    "39": (LANDSLIDE, LEVEL_EMERGENCY),
    "43": (HEAVY_RAIN, LEVEL_DANGER),
    "48": (STORM_SURGE, LEVEL_DANGER),
    "49": (LANDSLIDE, LEVEL_DANGER),
}

# Longest first, so 「暴風雪」 is not read as 「暴風」 and 「風雪」 not as anything shorter.
_HAZARD_WORDS: tuple[tuple[str, str], ...] = (
    ("土砂災害", LANDSLIDE),
    ("暴風雪", SNOWSTORM),
    ("風雪", SNOWSTORM),
    ("暴風", STORM),
    ("強風", STORM),
    ("大雨", HEAVY_RAIN),
    ("洪水", FLOOD),
    ("高潮", STORM_SURGE),
    ("波浪", HIGH_WAVES),
    ("大雪", HEAVY_SNOW),
    ("なだれ", "なだれ"),
    ("融雪", "融雪"),
    ("濃霧", "濃霧"),
    ("乾燥", "乾燥"),
    ("低温", "低温"),
    ("着氷", "着氷"),
    ("着雪", "着雪"),
    ("雷", "雷"),
    ("霜", "霜"),
)
_LEVEL_IN_NAME = re.compile(r"レベル([1-5])")


def warning_kind(code: str | None, name: str | None) -> tuple[str, int] | None:
    """(hazard, level) of a warning Kind, or None for 解除 (00) and unrecognisable kinds.

    Codes are authoritative; names are only a fallback for codes JMA may add later.
    """
    if code and code in WARNING_KINDS:
        return WARNING_KINDS[code]
    text = normalise_digits(name or "")
    if not text or text == "解除":
        return None
    hazard = next((h for word, h in _HAZARD_WORDS if word in text), None)
    if hazard is None:
        return None
    found = _LEVEL_IN_NAME.search(text)
    if found:
        return hazard, int(found.group(1))
    for word, level in (("特別警報", LEVEL_EMERGENCY), ("危険警報", LEVEL_DANGER), ("警報", LEVEL_WARNING)):
        if word in text:
            return hazard, level
    return (hazard, LEVEL_ADVISORY) if "注意報" in text else None


def level_from_status_origin(status: str) -> int | None:
    """Level a kind came from, read from Status like 「特別警報から警報」; None if not a step down."""
    origin, sep, _ = status.partition("から")
    if not sep:
        return None
    for word, level in (("特別警報", LEVEL_EMERGENCY), ("危険警報", LEVEL_DANGER), ("警報", LEVEL_WARNING)):
        if origin.endswith(word):
            return level
    return LEVEL_ADVISORY if origin.endswith("注意報") else None


LEGACY_WARNING_TYPES = frozenset({"VPWW53", "VPWW54"})
_LEGACY_HAZARDS = frozenset(hazard for hazard, _ in WARNING_KINDS.values()) - {LANDSLIDE}

# Hazards each telegram type is the full authority for. R06 splits one prefecture's state over
# seven telegrams, so a 大雨 telegram says nothing about 暴風 and must not clear it.
WARNING_TYPE_HAZARDS: dict[str, frozenset[str]] = {
    "VPWW53": _LEGACY_HAZARDS,
    "VPWW54": _LEGACY_HAZARDS,
    "VPWW55": frozenset({HEAVY_RAIN}),
    "VPWW56": frozenset({LANDSLIDE}),
    "VPWW57": frozenset({STORM_SURGE}),
    "VPWW58": frozenset({STORM, SNOWSTORM}),
    "VPWW59": frozenset({HIGH_WAVES}),
    "VPWW60": frozenset({HEAVY_SNOW}),
    "VPWW61": frozenset({"雷", "融雪", "濃霧", "乾燥", "なだれ", "低温", "霜", "着氷", "着雪", OTHER}),
}

# Kind/Status words that state a change in the telegram itself (as opposed to 継続).
WARNING_STATUS_ISSUED = "発表"
WARNING_STATUS_CLEARED = "解除"
WARNING_STATUS_CONTINUED = "継続"
WARNING_STATUS_NOTHING = "発表警報・注意報はなし"


# --- Landslide alert (VXWW50) ---------------------------------------------------------------------


class LandslideKind(Enum):
    """Kind codes of 土砂災害警戒情報 per municipality."""

    NONE = "0"
    CLEARED = "1"
    WARNING = "3"


# --- Volcano (VFVO50) -----------------------------------------------------------------------------

# 噴火警戒レベル codes 11–15 = レベル１–５. Volcanoes without the level system use other codes
# (噴火警報（居住地域） etc.), for which the hub reports no level.
VOLCANO_LEVEL_CODES = {"11": 1, "12": 2, "13": 3, "14": 4, "15": 5}


def volcano_level(code: str | None, name: str | None) -> int | None:
    if code and code in VOLCANO_LEVEL_CODES:
        return VOLCANO_LEVEL_CODES[code]
    found = _LEVEL_IN_NAME.search(normalise_digits(name or ""))
    return int(found.group(1)) if found else None


# --- Areas ----------------------------------------------------------------------------------------

# 政令指定都市 (5-digit 全国地方公共団体コード). Earthquake telegrams report their wards
# (仙台青葉区 0410100), warnings report the city (JMA's 個別コード表).
DESIGNATED_CITIES = frozenset(
    {
        "01100", "04100", "11100", "12100", "14100", "14130", "14150", "15100", "22100", "22130",
        "23100", "26100", "27100", "27140", "28100", "33100", "34100", "40100", "40130", "43100",
    }
)  # fmt: skip
_MAX_WARDS = 30  # 大阪市 has 24 wards (27102–27128); the next designated city is ≥ 10 codes away.


def city_of_ward(code: str) -> str | None:
    """7-digit code of the designated city a ward belongs to, or None if ``code`` is not a ward."""
    if len(code) != 7 or not code.isdigit() or code[5:] != "00":
        return None
    five = int(code[:5])
    for offset in range(1, _MAX_WARDS):
        candidate = f"{five - offset:05d}"
        if candidate[:2] != code[:2]:
            return None
        if candidate in DESIGNATED_CITIES:
            return candidate + "00"
    return None


def municipality_root(code: str) -> str:
    """The whole municipality an area code belongs to (ward → city, 横浜市北部 1410011 → 1410000)."""
    base = code[:5] + "00" if len(code) == 7 else code
    return city_of_ward(base) or base


def areas_overlap(a: str, b: str) -> bool:
    """Whether two 7-digit 市町村等 codes can describe the same place.

    A whole municipality overlaps its wards and split parts. Two different wards (or two split
    parts) do not. A ward against a split part (仙台青葉区 vs a 「仙台市東部」-style area) is
    answered True: without JMA's area table membership is unknown, and a missed alert is worse
    than an extra one.
    """
    if a == b:
        return True
    root = municipality_root(a)
    if root != municipality_root(b):
        return False
    if root in (a, b):
        return True
    return (a[5:] != "00") != (b[5:] != "00")


def municipality_in(code: str, wanted: frozenset[str] | set[str]) -> bool:
    """True if ``code`` is wanted directly, as part of a wanted municipality, or contains one."""
    return code in wanted or any(areas_overlap(code, other) for other in wanted)
