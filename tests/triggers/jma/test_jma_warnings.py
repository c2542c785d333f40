"""Weather warnings: snapshots and transitions on real legacy (VPWW53/54) and R06 (VPWW55–61) telegrams."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from triggers.jma.codes import HEAVY_RAIN, STORM, warning_kind
from triggers.jma.conditions import RuleScope, what_recipients_would_be_told
from triggers.jma.events import Change, ParsedTelegram, WarningSnapshot
from triggers.jma.parse import parse_telegram
from triggers.jma.warning_state import Transition, warning_transitions

Load = Callable[[str], ParsedTelegram]
Raw = Callable[[str], bytes]
LEVEL4 = "official/15_16_03_241226_VPWW55.xml"  # 稚内市 レベル４大雨危険警報 発表 (LastKind レベル３)
SHIMANE_R06 = "official/15_17_01_241226_VPWW55.xml"  # 隠岐の島町 レベル２大雨注意報 解除
WAKKANAI, OKINOSHIMA, YAMATOKORIYAMA, NARA = "0121400", "3252800", "2920300", "2920100"
NARA_SEQUENCE = [
    "official/15_08_01_130412_VPWW53.xml",
    "official/15_08_02_130412_VPWW53.xml",
    "official/15_08_03_160628_VPWW53.xml",
    "official/15_08_04_160628_VPWW53.xml",
    "official/15_08_05_130412_VPWW53.xml",
]
METEOROLOGY = "http://xml.kishou.go.jp/jmaxml1/body/meteorology1/"


def _snapshot(parsed: ParsedTelegram) -> WarningSnapshot:
    assert isinstance(parsed.event, WarningSnapshot)
    return parsed.event


def _steps(transitions: list[Transition]) -> list[tuple[str, str, int, int, Change, bool]]:
    return [(t.area.code, t.hazard, t.old_level, t.new_level, t.kind, t.explicit) for t in transitions]


def _derive_wakkanai(raw: bytes, status: str | None) -> bytes:
    """The level-4 sample with 稚内市's kind set to ``status`` (None: the kind removed)."""
    root = etree.fromstring(raw)
    ns = {"m": METEOROLOGY}
    block = root.find(".//m:Warning[@type='気象警報・注意報（市町村等）']", ns)
    item = next(
        i for i in block.iterfind("m:Item", ns) if i.findtext("m:Area/m:Code", namespaces=ns) == WAKKANAI
    )
    kind = item.find("m:Kind", ns)
    if status is None:
        item.remove(kind)
    else:
        kind.find("m:Status", ns).text = status
        kind.find("m:LastKind/m:Code", ns).text = "43"
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def test_r06_snapshot_structure(telegram: Load) -> None:
    parsed = telegram(LEVEL4)
    snapshot = _snapshot(parsed)
    assert parsed.head.type_code == "VPWW55" and parsed.head.event_id is None
    assert snapshot.scheme == "r06" and snapshot.hazards_covered == frozenset({HEAVY_RAIN})
    area = snapshot.area(WAKKANAI)
    assert area is not None and area.area.name == "稚内市"
    (kind,) = area.kinds
    assert (kind.code, kind.status, kind.hazard, kind.level) == ("43", "発表", HEAVY_RAIN, 4)
    assert (kind.last_kind_code, kind.significancy, kind.significancy_level) == ("03", "警戒レベル４相当", 4)
    assert area.change_status == "警報・注意報種別に変化有"


def test_level4_issue_and_clear(telegram: Load, raw_fixture: Raw) -> None:
    transitions, state = warning_transitions({}, _snapshot(telegram(LEVEL4)), {WAKKANAI})
    assert _steps(transitions) == [(WAKKANAI, HEAVY_RAIN, 3, 4, Change.UPGRADED, True)]
    assert transitions[0].kind_name == "レベル４大雨危険警報"
    assert state[(WAKKANAI, HEAVY_RAIN)] == 4
    known_clear = {(WAKKANAI, HEAVY_RAIN): 0}
    transitions, _ = warning_transitions(known_clear, _snapshot(telegram(LEVEL4)), {WAKKANAI})
    assert _steps(transitions) == [(WAKKANAI, HEAVY_RAIN, 0, 4, Change.ISSUED, True)]
    # JMA publishes no 解除 sample for 稚内市: derive one from the real telegram.
    cleared = parse_telegram(_derive_wakkanai(raw_fixture(LEVEL4), "解除"))
    transitions, state = warning_transitions(state, _snapshot(cleared), {WAKKANAI})
    assert _steps(transitions) == [(WAKKANAI, HEAVY_RAIN, 4, 0, Change.CLEARED, True)]
    assert state[(WAKKANAI, HEAVY_RAIN)] == 0


def test_real_r06_clear_sample(telegram: Load) -> None:
    snapshot = _snapshot(telegram(SHIMANE_R06))
    transitions, _ = warning_transitions({}, snapshot, {OKINOSHIMA})
    assert _steps(transitions) == [(OKINOSHIMA, HEAVY_RAIN, 2, 0, Change.CLEARED, True)]
    assert transitions[0].kind_name == "レベル２大雨注意報"
    transitions, _ = warning_transitions({(OKINOSHIMA, HEAVY_RAIN): 2}, snapshot, {OKINOSHIMA})
    assert [t.kind for t in transitions] == [Change.CLEARED]


def test_missing_hazard_is_cleared_only_implicitly(telegram: Load, raw_fixture: Raw) -> None:
    state = {(WAKKANAI, HEAVY_RAIN): 4}
    silent = parse_telegram(_derive_wakkanai(raw_fixture(LEVEL4), None))
    transitions, new_state = warning_transitions(state, _snapshot(silent), {WAKKANAI})
    assert _steps(transitions) == [(WAKKANAI, HEAVY_RAIN, 4, 0, Change.CLEARED, False)]
    assert new_state[(WAKKANAI, HEAVY_RAIN)] == 0


def test_r06_hazard_telegram_leaves_other_hazards_alone(telegram: Load) -> None:
    state = {(WAKKANAI, STORM): 3, ("0100000", HEAVY_RAIN): 3}
    transitions, new_state = warning_transitions(state, _snapshot(telegram(LEVEL4)))
    assert new_state[(WAKKANAI, STORM)] == 3
    assert new_state[("0100000", HEAVY_RAIN)] == 3  # not listed in this telegram
    assert all(t.hazard == HEAVY_RAIN for t in transitions)


def test_other_r06_hazards(telegram: Load) -> None:
    storm, _ = warning_transitions({}, _snapshot(telegram("official/15_16_04_241226_VPWW58.xml")), {WAKKANAI})
    assert _steps(storm) == [(WAKKANAI, STORM, 2, 3, Change.UPGRADED, True)]
    other, _ = warning_transitions({}, _snapshot(telegram("official/15_16_07_241226_VPWW61.xml")), {WAKKANAI})
    assert _steps(other) == [(WAKKANAI, "雷", 0, 2, Change.ISSUED, True)]
    landslide = _snapshot(telegram("official/15_17_01_250630_VPWW56.xml"))
    unnan = landslide.area("3220900")
    assert unnan is not None and unnan.levels() == {"土砂災害": 4}


def test_legacy_special_warning_sequence(telegram: Load) -> None:
    state: dict[tuple[str, str], int] = {}
    steps = []
    for name in NARA_SEQUENCE:
        transitions, state = warning_transitions(state, _snapshot(telegram(name)), {YAMATOKORIYAMA})
        steps.append({(t.hazard, t.old_level, t.new_level, t.kind) for t in transitions})
    assert steps[0] == set()  # first sight: all 継続, nothing to announce
    assert steps[1] == {("大雨", 2, 5, Change.UPGRADED), ("洪水", 2, 3, Change.UPGRADED)}
    assert steps[2] == {("大雨", 5, 2, Change.DOWNGRADED), ("洪水", 3, 2, Change.DOWNGRADED)}
    assert steps[3] == {
        ("大雨", 2, 0, Change.CLEARED),
        ("洪水", 2, 0, Change.CLEARED),
        ("雷", 2, 0, Change.CLEARED),
        (STORM, 2, 0, Change.CLEARED),
    }
    assert steps[4] == set()  # 「発表警報・注意報はなし」 repeats a state already known


def test_legacy_catch_up_after_missed_telegrams(telegram: Load) -> None:
    _, state = warning_transitions({}, _snapshot(telegram(NARA_SEQUENCE[1])), {NARA})
    transitions, _ = warning_transitions(state, _snapshot(telegram(NARA_SEQUENCE[4])), {NARA})
    by_hazard = {t.hazard: t for t in transitions}
    assert by_hazard["大雨"].kind is Change.CLEARED and by_hazard["大雨"].explicit  # 解除 in the telegram
    assert by_hazard["雷"].kind is Change.CLEARED and not by_hazard["雷"].explicit  # silently gone


def test_legacy_and_r06_are_separate_schemes(telegram: Load) -> None:
    legacy = _snapshot(telegram("official/15_17_01_250123_VPWW54.xml"))
    assert legacy.scheme == "legacy" and "土砂災害" not in legacy.hazards_covered
    assert _snapshot(telegram(SHIMANE_R06)).scheme == "r06"


def test_special_warning_codes_are_level_5() -> None:
    for code, hazard in {"33": "大雨", "35": "暴風", "36": "大雪", "37": "波浪", "38": "高潮"}.items():
        assert warning_kind(code, None) == (hazard, 5)
    assert warning_kind("03", None) == ("大雨", 3) and warning_kind("10", None) == ("大雨", 2)
    assert warning_kind("99", "レベル５土砂災害特別警報") == ("土砂災害", 5)
    assert warning_kind("00", "解除") is None


def test_told_for_warning_rules(telegram: Load) -> None:
    scope = RuleScope(municipality_codes=frozenset({WAKKANAI}), min_warning_level=4)
    assert what_recipients_would_be_told(telegram(LEVEL4).event, scope) == frozenset(
        {("warning:0121400", "大雨:4")}
    )
