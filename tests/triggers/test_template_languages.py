"""Reviewed translations of the JMA templates: complete, checked when loaded, filled per language."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.models import Template
from hub.template_languages import TRANSLATED, fill_translation, phrasebook, read_translations, reviewed_texts
from hub.templating import SHIPPED, TemplateError, fill, read_template_file, template_files

JMA = {read_template_file(path)["code"]: read_template_file(path) for path in template_files([SHIPPED / "jma"])}
QUAKE = {
    "intensity": "震度６強", "origin_time": datetime(2008, 6, 13, 23, 43, tzinfo=UTC), "hypocentre": "岩手県内陸南部",
    "depth": "約8km", "magnitude": "M7.2", "tsunami": "この地震による津波の心配はありません。",
    "places": [{"name": "奥州市", "intensity": "震度６強"}, {"name": "金ケ崎町", "intensity": "震度５弱以上"},
               {"name": "一関市", "intensity": "震度６弱"}],
}


def _template(code: str) -> Template:
    record = JMA[code]
    return Template(**record, translations=read_translations(record))


def test_every_jma_template_has_reviewed_english_chinese_and_easy_japanese() -> None:
    for code, record in JMA.items():
        translations = read_translations(record)
        assert {"en", "zh", "ja-easy"} <= set(translations), code
        for language, texts in translations.items():
            assert all(texts[part].strip() for part in ("title", "body", "correction", "cancellation"))
            assert set(texts["channels"]) == set(record["channel_bodies"]), (code, language)


def test_the_ui_catalogs_beside_them_are_untouched() -> None:
    assert (TRANSLATED.parent / "en" / "LC_MESSAGES" / "messages.po").exists()
    assert (TRANSLATED.parent / "ja" / "LC_MESSAGES").is_dir()


def test_values_are_rendered_in_each_language() -> None:
    template = _template("jma-earthquake")
    texts = reviewed_texts(template, QUAKE)

    en = texts["en"]
    assert en.origin == "reviewed" and en.title == "Earthquake information (Seismic intensity 6 Upper)"
    assert "at about June 14, 8:43 AM (Japan time)" in en.body
    assert "奥州市 (Seismic intensity 6 Upper), 金ケ崎町 (Seismic intensity 5 Lower or higher (not yet reported))" \
        in en.body
    assert "Epicenter: 岩手県内陸南部 (depth about 8 km), M7.2" in en.body
    assert en.overrides["sms"].startswith("Earthquake at about 8:43 AM (Japan time).")
    assert texts["zh"].title == "地震信息（震度6强）" and "6月14日 8:43左右（日本时间）" in texts["zh"].body
    assert texts["ja-easy"].overrides["sms"].startswith("8時43分ごろ 大きい 地震が ありました。奥州市（震度6強）")
    # Lists are shortened in each language's words.
    assert "奥州市（震度6强）、金ケ崎町（震度5弱以上（数据尚未收到））等，另有1个市町村" in texts["zh"].overrides["x"]


def test_a_value_the_phrasebook_does_not_know_stays_as_jma_wrote_it() -> None:
    english = phrasebook("en")
    assert english.term("震度５弱") == "Seismic intensity 5 Lower"
    assert english.term("約120ミリ") == "about 120 mm" and english.term("１０ｍ超") == "over 10 m"
    assert english.term("新しい言い方") == "新しい言い方"


def test_a_translation_that_fails_falls_back_to_english_and_never_stops_japanese() -> None:
    template = _template("jma-tsunami")
    broken = dict(template.translations["zh"])
    broken["body"] = "{{ places | length - 'x' }}"  # fails at render time
    template.translations = {**template.translations, "zh": broken}
    places = [{"name": "岩手県", "kind": "津波警報", "height": "３ｍ"}]

    texts = reviewed_texts(template, {"kind": "津波警報", "places": places})

    assert texts["en"].origin == "reviewed"
    assert texts["zh"].origin == "fallback" and texts["zh"].title == "Tsunami Warning"
    assert "error" in (texts["zh"].error or "") and "英語" in (texts["zh"].error or "")
    assert "- 岩手県: Tsunami Warning; expected height 3 m" in texts["en"].body
    filled, error = fill_translation(broken, "zh", {"kind": "津波警報", "places": places})
    assert filled is None and error


def test_an_exercise_is_labelled_in_the_readers_words() -> None:
    texts = reviewed_texts(_template("jma-earthquake"), QUAKE, mode="exercise")
    assert texts["en"].title.startswith("[EXERCISE] ")
    assert texts["en"].body.startswith("[EXERCISE] This is a drill. It is not a real emergency.\n")
    assert texts["zh"].overrides["sms"].startswith("【演习】")
    assert texts["ja-easy"].body.startswith("【くんれん】これは 練習です。")


def _write(root: Path, language: str, text: str) -> None:
    (root / language).mkdir(parents=True, exist_ok=True)
    (root / language / "jma-volcano.yaml").write_text(text, encoding="utf-8")


GOOD = """title: "{{ volcano }}"
body: "{{ volcano }} level {{ level }}"
channels: {sms: "{{ volcano }}"}
correction: "c"
cancellation: "d"
"""


def test_a_translation_is_checked_against_its_japanese_template(tmp_path: Path) -> None:
    record = JMA["jma-volcano"]
    _write(tmp_path, "fr", GOOD)
    assert read_translations(record, tmp_path)["fr"]["body"] == "{{ volcano }} level {{ level }}"

    for bad, problem in (
        (GOOD.replace('correction: "c"\n', ""), "correction"),
        (GOOD.replace('channels: {sms: "{{ volcano }}"}\n', ""), "sms"),
        (GOOD.replace("{{ level }}", "{{ magnitude }}"), "magnitude"),
        (GOOD.replace("{{ level }}", "{{ level"), "書き方"),
        (GOOD + "colour: red\n", "colour"),
    ):
        _write(tmp_path, "fr", bad)
        with pytest.raises(TemplateError, match=problem):
            read_translations(record, tmp_path)


def test_a_quake_without_an_origin_time_never_says_about_nothing() -> None:
    """A report with no time in it (rare: no origin nor arrival time) reads as a sentence in every language."""
    template = _template("jma-earthquake")
    timeless = {**QUAKE, "origin_time": None}

    japanese = fill(template, timeless)
    texts = reviewed_texts(template, timeless)

    assert japanese.body.startswith("強い地震がありました。")
    assert japanese.overrides["sms"].startswith("地震。奥州市") and japanese.overrides["x"].startswith("地震がありました。")
    assert texts["en"].body.startswith("A strong earthquake occurred.")
    assert texts["ja-easy"].overrides["sms"].startswith("大きい 地震が ありました。")
    assert all("ごろ" not in text for text in (japanese.body, *japanese.overrides.values()))
