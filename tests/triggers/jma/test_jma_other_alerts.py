"""VXWW50 土砂災害警戒情報, VPOA50 記録的短時間大雨情報, VFVO50 噴火警報・予報, ignored types."""

from __future__ import annotations

from collections.abc import Callable

from triggers.jma.codes import LandslideKind
from triggers.jma.conditions import (
    RuleScope,
    describes_same_incident,
    is_update,
    landslide_matches,
    record_rain_matches,
    volcano_matches,
    what_recipients_would_be_told,
)
from triggers.jma.events import (
    Change,
    Ignored,
    LandslideEvent,
    ParsedTelegram,
    RecordRainEvent,
    VolcanoEvent,
)

Load = Callable[[str], ParsedTelegram]
MATSUMAE, ODAWARA = "0133100", "1420600"


def _landslide(parsed: ParsedTelegram) -> LandslideEvent:
    assert isinstance(parsed.event, LandslideEvent)
    return parsed.event


def test_vxww50_issued_then_cleared(telegram: Load) -> None:
    issued = telegram("official/17_02_01_190529_VXWW50.xml")
    cleared = telegram("official/17_02_03_190529_VXWW50.xml")
    assert (issued.head.serial, cleared.head.serial) == (1, 3)
    assert describes_same_incident(issued, cleared)
    event = _landslide(issued)
    assert event.target_area is not None and event.target_area.code == "017000"
    first = landslide_matches(event, {MATSUMAE})
    assert first is not None and [a.area.name for a in first.issued] == ["松前町"]
    assert first.told == frozenset({("landslide:0133100", "警戒")})
    last = landslide_matches(_landslide(cleared), {MATSUMAE})
    assert last is not None and [a.area.code for a in last.cleared] == [MATSUMAE]
    assert last.cleared[0].change is Change.CLEARED and last.told == frozenset()
    assert is_update(first.told, last.told)
    assert landslide_matches(event, {"0120200"}) is None  # 函館市: なし


def test_vxww50_kanagawa_sequence(telegram: Load) -> None:
    names = [f"official/17_04_0{n}_250630_VXWW50.xml" for n in (1, 2, 3)]
    matches = [landslide_matches(_landslide(telegram(name)), {ODAWARA}) for name in names]
    assert [m is not None for m in matches] == [True, True, True]
    assert matches[0] is not None and matches[0].issued and not matches[0].continuing
    assert matches[1] is not None and matches[1].continuing and not matches[1].issued
    assert matches[2] is not None and matches[2].cleared
    areas = _landslide(telegram(names[2])).areas
    assert {a.kind for a in areas} == {LandslideKind.NONE, LandslideKind.CLEARED}


def test_vpoa50_areas_and_amounts(telegram: Load) -> None:
    event = telegram("official/18_03_01_190412_VPOA50.xml").event
    assert isinstance(event, RecordRainEvent)
    assert [a.code for a in event.areas] == ["016010", "016030"]  # 空知地方 has kind なし
    assert [(o.place, o.amount_mm, o.qualifier) for o in event.observations] == [
        ("札幌市中央区付近", 100, "約"),
        ("小樽市付近", 90, "約"),
    ]
    assert event.observed_at_text == "19時40分"
    assert record_rain_matches(event, {"016010"}) is not None
    assert record_rain_matches(event, {"016020"}) is None


def test_vpoa50_prefecture_wide_area_and_over_amount(telegram: Load) -> None:
    event = telegram("official/18_02_01_111226_VPOA50.xml").event
    assert isinstance(event, RecordRainEvent)
    assert [a.code for a in event.areas] == ["260000"]
    assert ("舞鶴市西部付近", 120, "以上") in [
        (o.place, o.amount_mm, o.qualifier) for o in event.observations
    ]
    match = record_rain_matches(event, {"261000"})  # 京都府南部 lies in 京都府
    assert match is not None and match.told


def test_vfvo50_level_raise(telegram: Load) -> None:
    parsed = telegram("official/45_01_01_200522_VFVO50.xml")
    event = parsed.event
    assert isinstance(event, VolcanoEvent)
    assert (event.volcano.code, event.volcano.name, parsed.head.event_id) == ("306", "浅間山", "306")
    assert (event.level, event.last_level, event.condition, event.raised) == (3, 1, "引上げ", True)
    assert {m.area.code for m in event.municipalities} == {"1042500", "2020800", "2032100", "2032300"}
    by_town = volcano_matches(event, 3, municipality_codes={"2032100"})
    assert by_town is not None and [m.area.name for m in by_town.municipalities] == ["長野県軽井沢町"]
    assert volcano_matches(event, 3, volcano_codes={"306"}) is not None
    assert volcano_matches(event, 4, volcano_codes={"306"}) is None
    assert volcano_matches(event, 1, volcano_codes={"315"}) is None


def test_vfvo50_level_5_and_lowering(telegram: Load) -> None:
    hakone = telegram("official/45_02_01_200522_VFVO50.xml").event
    assert isinstance(hakone, VolcanoEvent) and hakone.level == 5 and hakone.volcano.code == "315"
    kusatsu = telegram("official/45_03_01_200731_VFVO50.xml").event
    assert isinstance(kusatsu, VolcanoEvent)
    assert (kusatsu.level, kusatsu.last_level, kusatsu.raised) == (1, 2, False)
    scope = RuleScope(volcano_codes=frozenset({"315"}), min_volcano_level=4)
    assert what_recipients_would_be_told(hakone, scope) == frozenset({("volcano:315", "レベル5")})


def test_unsupported_types_are_ignored_with_a_reason(telegram: Load) -> None:
    for name in (
        "official/32-35_09_01_191111_VXSE56.xml",
        "official/24_04_01_100806_VPFD50.xml",
        "official/09_01_01_091210_VPTW40.xml",
        "live/20240116184225_02245216_VXSE43.xml",
        "official/24_09_01_100806_VPFD50.xml",  # 訂正 of an ignored type
        "official/74_03_02_220318_VXSE56.xml",  # 取消 of an ignored type
    ):
        event = telegram(name).event
        assert isinstance(event, Ignored) and "not used" in event.reason
