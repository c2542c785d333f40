"""Code tables: intensities, areas (wards, split municipalities), type detection."""

from __future__ import annotations

import pytest

from triggers.jma.codes import Intensity, areas_overlap, city_of_ward, municipality_in, volcano_level
from triggers.jma.parse import type_code_for_title


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5-", Intensity.FIVE_LOWER),
        ("6+", Intensity.SIX_UPPER),
        ("4 ", Intensity.FOUR),
        ("震度５弱", Intensity.FIVE_LOWER),
        ("震度７", Intensity.SEVEN),
        ("５強", Intensity.FIVE_UPPER),
        ("震度５弱以上未入電", None),
        ("", None),
        (None, None),
    ],
)
def test_intensity_parsing(text: str | None, expected: Intensity | None) -> None:
    assert Intensity.from_code(text) is expected


def test_intensity_order_and_labels() -> None:
    assert Intensity.FIVE_UPPER > Intensity.FIVE_LOWER > Intensity.FOUR
    assert (Intensity.SIX_LOWER.code, Intensity.SIX_LOWER.label) == ("6-", "震度６弱")


def test_wards_and_split_municipalities() -> None:
    assert city_of_ward("0410100") == "0410000"  # 仙台青葉区 → 仙台市
    assert city_of_ward("2712800") == "2710000"  # 大阪市中央区 → 大阪市
    assert city_of_ward("2714100") == "2714000"  # 堺市堺区 → 堺市
    assert city_of_ward("1310100") is None  # 千代田区 is a 特別区, a municipality of its own
    assert city_of_ward("0321500") is None
    assert municipality_in("0410100", {"0410000"})  # quake ward vs city rule
    assert municipality_in("0410000", {"0410100"})  # warning for the city vs ward rule
    assert municipality_in("1410011", {"1410000"})  # 横浜市北部 (split) vs city rule
    assert not municipality_in("0410100", {"0410200"})  # two different wards
    assert not areas_overlap("1410011", "1410012")
    assert areas_overlap("1410011", "1410100")  # ward vs split part: unknown, so alert


def test_titles_map_to_type_codes() -> None:
    assert type_code_for_title("震源・震度に関する情報") == "VXSE53"
    assert type_code_for_title("気象警報・注意報（Ｒ０６）（大雨）") == "VPWW55"
    assert type_code_for_title("気象警報・注意報（Ｒ０６）（土砂）") == "VPWW56"
    assert type_code_for_title("気象警報・注意報（Ｒ０６）（土砂災害）") == "VPWW56"
    assert type_code_for_title("津波警報・注意報・予報a") == "VTSE41"
    assert type_code_for_title("未知の情報") is None


def test_volcano_levels() -> None:
    assert volcano_level("13", "レベル３（入山規制）") == 3
    assert volcano_level(None, "レベル５（避難）") == 5
    assert volcano_level("05", "噴火予報") is None
