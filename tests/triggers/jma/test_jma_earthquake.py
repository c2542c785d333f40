"""VXSE51/52/53: named expectations from real telegrams, and the earthquake conditions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from triggers.jma.codes import Intensity
from triggers.jma.conditions import (
    RuleScope,
    describes_same_incident,
    earthquake_matches,
    incident_key,
    is_update,
    supersedes,
    what_recipients_would_be_told,
)
from triggers.jma.events import (
    Cancellation,
    EarthquakeEvent,
    InfoType,
    ParsedTelegram,
    TelegramStatus,
)
from triggers.jma.parse import parse_telegram

Load = Callable[[str], ParsedTelegram]
SHINDO_6_PLUS = "official/32-35_06_03_240613_VXSE53.xml"
OSHU = "0321500"
KANEGASAKI = "0338100"  # 「震度５弱以上未入電」 without MaxInt
OKURA = "0636500"  # MaxInt 4 plus 「震度５弱以上未入電」
LIVE_SEQUENCE = (
    "live/20210217140808_0_VXSE51_010000.xml",
    "live/20210217140847_0_VXSE52_010000.xml",
    "live/20210217140958_0_VXSE53_010000.xml",
)


def _quake(parsed: ParsedTelegram) -> EarthquakeEvent:
    assert isinstance(parsed.event, EarthquakeEvent)
    return parsed.event


def test_vxse53_shindo_6_plus_oshu(telegram: Load) -> None:
    parsed = telegram(SHINDO_6_PLUS)
    event = _quake(parsed)
    assert parsed.head.type_code == "VXSE53"
    assert parsed.head.status is TelegramStatus.NORMAL
    assert parsed.head.event_id == "20080614084350"
    assert parsed.head.serial == 1
    assert parsed.head.report_datetime.utcoffset() == timedelta(hours=9)
    assert event.max_intensity is Intensity.SIX_UPPER
    assert event.magnitude is not None and event.magnitude.value == 7.0 and event.magnitude.text == "Ｍ７．０"
    assert event.hypocentre is not None
    assert (event.hypocentre.name, event.hypocentre.code, event.hypocentre.depth_km) == (
        "岩手県内陸南部",
        "213",
        10,
    )
    assert (event.hypocentre.latitude, event.hypocentre.longitude) == (39.0, 140.9)
    assert event.tsunami_comment == "この地震による津波の心配はありません。"
    oshu = next(city for city in event.cities if city.code == OSHU)
    assert (oshu.name, oshu.max_intensity, oshu.area_code, oshu.pref_code) == (
        "奥州市",
        Intensity.SIX_UPPER,
        "213",
        "03",
    )
    match = earthquake_matches(event, {OSHU}, set(), Intensity.FIVE_LOWER)
    assert match is not None
    assert [city.code for city in match.cities] == [OSHU]
    assert match.max_intensity is Intensity.SIX_UPPER
    assert match.told == frozenset({("city:0321500", "6+")})


def test_unreceived_city_counts_as_five_lower(telegram: Load) -> None:
    event = _quake(telegram(SHINDO_6_PLUS))
    kanegasaki = next(city for city in event.cities if city.code == KANEGASAKI)
    assert kanegasaki.max_intensity is None and kanegasaki.intensity_unreceived
    assert kanegasaki.effective_intensity is Intensity.FIVE_LOWER
    okura = next(city for city in event.cities if city.code == OKURA)
    assert okura.max_intensity is Intensity.FOUR and okura.effective_intensity is Intensity.FIVE_LOWER
    match = earthquake_matches(event, {KANEGASAKI, OKURA}, set(), Intensity.FIVE_LOWER)
    assert match is not None
    assert {city.code for city in match.cities} == {KANEGASAKI, OKURA}
    assert match.told == frozenset({("city:0338100", "5-以上"), ("city:0636500", "5-以上")})
    # Only "at least 5弱" is known, so a 5強 rule must wait for the real value.
    assert earthquake_matches(event, {KANEGASAKI}, set(), Intensity.FIVE_UPPER) is None


def test_below_threshold_and_other_towns_do_not_match(telegram: Load) -> None:
    event = _quake(telegram(SHINDO_6_PLUS))
    assert earthquake_matches(event, {OSHU}, set(), Intensity.SEVEN) is None
    assert earthquake_matches(event, {"4720100"}, set(), Intensity.ONE) is None  # 那覇市


def test_designated_city_code_matches_its_wards(telegram: Load) -> None:
    event = _quake(telegram(SHINDO_6_PLUS))
    match = earthquake_matches(event, {"0410000"}, set(), Intensity.FIVE_LOWER)  # 仙台市
    assert match is not None
    assert {city.name for city in match.cities} == {"仙台宮城野区", "仙台若林区", "仙台青葉区", "仙台泉区"}


def test_region_level_match_on_vxse51(telegram: Load) -> None:
    parsed = telegram("official/32-35_04_01_100831_VXSE51.xml")
    event = _quake(parsed)
    assert event.cities == () and event.hypocentre is None
    assert event.max_intensity is Intensity.FOUR
    match = earthquake_matches(event, {"4620300"}, {"771"}, Intensity.FOUR)
    assert match is not None and [area.name for area in match.areas] == ["鹿児島県大隅"]
    assert earthquake_matches(event, set(), {"770"}, Intensity.FOUR) is None


def test_exercise_vxse53_keeps_its_status(telegram: Load) -> None:
    parsed = telegram("official/32-35_01_03_240613_VXSE53.xml")
    assert parsed.head.status is TelegramStatus.EXERCISE
    assert not parsed.head.is_live
    assert _quake(parsed).max_intensity is Intensity.FIVE_LOWER


def test_foreign_quake_without_intensity(telegram: Load) -> None:
    event = _quake(telegram("official/32-35_01_03_100514_VXSE53.xml"))
    assert not event.has_intensity
    assert event.hypocentre is not None and event.hypocentre.detailed_name == "フィジー諸島"
    assert event.hypocentre.depth_km == 570
    assert event.magnitude is not None and event.magnitude.value == 7.1
    assert earthquake_matches(event, {OSHU}, {"213"}, Intensity.ONE) is None


def test_unknown_magnitude_is_none_with_text(telegram: Load) -> None:
    event = telegram("live/20231009064018_06274659_VTSE41.xml").event
    magnitude = getattr(event, "magnitude", None)
    assert magnitude is not None and magnitude.value is None and magnitude.text == "Ｍ不明"


def test_cancellation_keeps_head_and_text(telegram: Load) -> None:
    parsed = telegram("official/32-35_06_06_100915_VXSE53.xml")
    assert parsed.head.info_type is InfoType.CANCELLED
    assert parsed.event == Cancellation(text="先ほどの、震源・震度情報を取り消します。")
    assert describes_same_incident(parsed, telegram(SHINDO_6_PLUS))


def test_live_vxse51_52_53_are_one_incident(telegram: Load) -> None:
    sequence = [telegram(name) for name in LIVE_SEQUENCE]
    assert [t.head.type_code for t in sequence] == ["VXSE51", "VXSE52", "VXSE53"]
    assert {t.head.event_id for t in sequence} == {"20210217230627"}
    assert describes_same_incident(sequence[0], sequence[1])
    assert describes_same_incident(sequence[1], sequence[2])
    assert not describes_same_incident(sequence[0], telegram("live/20210217164825_0_VXSE51_010000.xml"))


def test_incident_survives_a_change_of_editorial_office(telegram: Load) -> None:
    flash = telegram("live/20210217164825_0_VXSE51_010000.xml")
    hypocentre = telegram("live/20210217164941_0_VXSE52_270000.xml")
    assert flash.head.editorial_office != hypocentre.head.editorial_office
    assert describes_same_incident(flash, hypocentre)
    assert incident_key(flash) == ("seismic", "通常", "20210218014649")


def test_exercise_and_live_are_never_one_incident(telegram: Load) -> None:
    live = telegram(SHINDO_6_PLUS)
    exercise = telegram("official/32-35_01_03_240613_VXSE53.xml")
    assert incident_key(live)[1] != incident_key(exercise)[1]


def test_told_changes_only_when_recipients_learn_something_new(telegram: Load) -> None:
    flash, _, detail = (telegram(name) for name in LIVE_SEQUENCE)
    region = next(iter(_quake(flash).areas))
    scope = RuleScope(region_codes=frozenset({region.code}), min_intensity=Intensity.ONE)
    told_flash = what_recipients_would_be_told(flash.event, scope)
    assert told_flash
    assert not is_update(told_flash, what_recipients_would_be_told(detail.event, scope))
    city = next(city for city in _quake(detail).cities if city.area_code == region.code)
    with_city = RuleScope(
        region_codes=scope.region_codes,
        municipality_codes=frozenset({city.code}),
        min_intensity=Intensity.ONE,
    )
    assert is_update(told_flash, what_recipients_would_be_told(detail.event, with_city))


def test_later_serials_update_only_when_matched_cities_change(telegram: Load) -> None:
    first, second, third = (telegram(f"official/32-35_06_0{n}_240613_VXSE53.xml") for n in (3, 4, 5))
    assert [t.head.serial for t in (first, second, third)] == [1, 2, 3]
    assert describes_same_incident(first, third)
    assert supersedes(second, first) and not supersedes(first, second)

    def told(parsed: ParsedTelegram, scope: RuleScope) -> frozenset[tuple[str, str]]:
        return what_recipients_would_be_told(parsed.event, scope)

    oshu = RuleScope(municipality_codes=frozenset({OSHU}))
    assert not is_update(told(first, oshu), told(second, oshu))
    # 金ケ崎町 stays 「未入電」 in Serial 2 and reports 5強 in Serial 3.
    kanegasaki = RuleScope(municipality_codes=frozenset({KANEGASAKI}))
    assert told(first, kanegasaki) == frozenset({("city:0338100", "5-以上")})
    assert not is_update(told(first, kanegasaki), told(second, kanegasaki))
    assert told(third, kanegasaki) == frozenset({("city:0338100", "5+")})
    # 野田村 is missing from Serial 1 and reports 震度４ in Serial 2: a new city crosses a 4 threshold.
    noda = RuleScope(municipality_codes=frozenset({"0350300"}), min_intensity=Intensity.FOUR)
    assert told(first, noda) == frozenset()
    assert is_update(told(first, noda), told(second, noda))


def test_correction_and_test_status_are_kept(raw_fixture: Callable[[str], bytes]) -> None:
    raw = raw_fixture(SHINDO_6_PLUS)
    corrected = parse_telegram(
        raw.replace("<InfoType>発表</InfoType>".encode(), "<InfoType>訂正</InfoType>".encode())
    )
    assert corrected.head.info_type is InfoType.CORRECTED
    assert _quake(corrected).max_intensity is Intensity.SIX_UPPER
    test = parse_telegram(raw.replace("<Status>通常</Status>".encode(), "<Status>試験</Status>".encode()))
    assert test.head.status is TelegramStatus.TEST and not test.head.is_live
