"""VTSE41: the 2023-10-09 津波注意報 sequence and the 2011 upgrades, as the telegrams say."""

from __future__ import annotations

from collections.abc import Callable

from triggers.jma.codes import TsunamiLevel, tsunami_level
from triggers.jma.conditions import (
    describes_same_incident,
    is_update,
    tsunami_matches,
)
from triggers.jma.events import (
    Cancellation,
    Change,
    InfoType,
    ParsedTelegram,
    TelegramStatus,
    TsunamiEvent,
)

Load = Callable[[str], ParsedTelegram]
SEQUENCE = (
    "live/20231009064018_06274659_VTSE41.xml",
    "live/20231009072652_07314633_VTSE41.xml",
    "live/20231009074440_07748424_VTSE41.xml",
    "live/20231009075134_09107320_VTSE41.xml",
    "live/20231009082436_00085500_VTSE41.xml",
    "live/20231009120003_08446949_VTSE41.xml",
)
IZU, KOCHI, SOTOBO = "320", "610", "310"


def _tsunami(parsed: ParsedTelegram) -> TsunamiEvent:
    assert isinstance(parsed.event, TsunamiEvent)
    return parsed.event


def _changes(parsed: ParsedTelegram, threshold: TsunamiLevel = TsunamiLevel.ADVISORY) -> dict[str, Change]:
    return {
        item.area.code: change
        for item in _tsunami(parsed).items
        if (change := item.change(threshold)) is not Change.UNCHANGED
    }


def test_kind_ordering() -> None:
    assert tsunami_level("52", None) > tsunami_level("51", None) > tsunami_level("62", None)
    assert tsunami_level("62", None) > tsunami_level("71", None) > tsunami_level("00", None)
    assert tsunami_level("60", "津波注意報解除") is TsunamiLevel.NONE
    assert tsunami_level("99", "大津波警報：発表") is TsunamiLevel.MAJOR_WARNING


def test_2023_10_09_sequence(telegram: Load) -> None:
    sequence = [telegram(name) for name in SEQUENCE]
    assert {t.head.event_id for t in sequence} == {"20231009052500"}
    assert all(describes_same_incident(sequence[0], t) for t in sequence)
    assert _changes(sequence[0]) == {IZU: Change.ISSUED, "321": Change.ISSUED}
    assert _changes(sequence[1]) == {}
    assert _changes(sequence[1], TsunamiLevel.FORECAST)[SOTOBO] is Change.ISSUED
    assert _changes(sequence[2]) == {KOCHI: Change.ISSUED}
    assert _changes(sequence[3]) == {SOTOBO: Change.ISSUED, "311": Change.ISSUED}
    assert _changes(sequence[4]) == dict.fromkeys(("760", "770", "771", "772"), Change.ISSUED)
    final = _changes(sequence[5])
    assert set(final.values()) == {Change.CLEARED}
    assert {IZU, KOCHI, SOTOBO} <= set(final)
    assert _tsunami(sequence[5]).highest_level is TsunamiLevel.FORECAST


def test_first_item_details(telegram: Load) -> None:
    item = _tsunami(telegram(SEQUENCE[0])).items[0]
    assert (item.area.name, item.kind.code, item.last_kind and item.last_kind.code) == (
        "伊豆諸島",
        "62",
        "00",
    )
    assert item.first_condition == "津波到達中と推測"
    assert (item.max_height_text, item.max_height_m) == ("１ｍ", 1.0)


def test_rule_on_izu_follows_the_sequence(telegram: Load) -> None:
    told = []
    for name in SEQUENCE:
        match = tsunami_matches(_tsunami(telegram(name)), {IZU}, TsunamiLevel.ADVISORY)
        assert match is not None
        told.append(match.told)
    assert told[0] == frozenset({("tsunami:320", "ADVISORY")})
    assert not any(is_update(told[0], later) for later in told[1:5])
    assert told[5] == frozenset() and is_update(told[4], told[5])
    last = tsunami_matches(_tsunami(telegram(SEQUENCE[5])), {IZU}, TsunamiLevel.ADVISORY)
    assert last is not None and [change for _, change in last.changes] == [Change.CLEARED]


def test_no_match_outside_the_rule_areas(telegram: Load) -> None:
    assert tsunami_matches(_tsunami(telegram(SEQUENCE[0])), {"100"}, TsunamiLevel.FORECAST) is None


def test_2011_major_warning_upgrade(telegram: Load) -> None:
    event = _tsunami(telegram("official/32-39_11_06_250206_VTSE41.xml"))
    assert _changes(telegram("official/32-39_11_06_250206_VTSE41.xml")) == {"201": Change.UPGRADED}
    assert event.highest_level is TsunamiLevel.MAJOR_WARNING
    aomori = next(item for item in event.items if item.area.code == "201")
    assert (aomori.max_height_text, aomori.max_height_m) == ("巨大", None)
    assert aomori.first_arrival is not None and aomori.first_arrival.utcoffset() is not None
    match = tsunami_matches(event, {"201", "210"}, TsunamiLevel.WARNING)
    assert match is not None and match.highest is TsunamiLevel.MAJOR_WARNING


def test_exercise_and_cancellation(telegram: Load) -> None:
    assert telegram("official/32-39_12_02_250206_VTSE41.xml").head.status is TelegramStatus.EXERCISE
    cancelled = telegram("official/38-39_03_01_210805_VTSE41.xml")
    assert cancelled.head.info_type is InfoType.CANCELLED
    assert cancelled.event == Cancellation(text="先ほどの、津波注意報を取り消します。")


def test_telegram_naming_two_quakes_joins_both_incidents(telegram: Load) -> None:
    first = telegram("official/38-39_02_01_250206_VTSE41.xml")
    both = telegram("official/38-39_02_04_250206_VTSE41.xml")
    assert both.head.event_id == "20151114055157 20151114061750"
    assert describes_same_incident(first, both)
