"""The やさしい日本語 checker: every shipped ja-easy template passes it, and it flags what makes a text hard."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hub.residents.easy_japanese import MAX_SENTENCE, allowed_kanji, check, check_template
from hub.template_languages import TRANSLATED

EASY = sorted((TRANSLATED / "ja-easy").glob("jma-*.yaml"))


def _parts(path: Path) -> dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    parts = {key: data[key] for key in ("title", "body", "correction", "cancellation")}
    return {**parts, **{f"channels.{ch}": text for ch, text in data["channels"].items()}}


def test_the_kanji_list_is_grades_one_to_three() -> None:
    assert len(allowed_kanji()) == 80 + 160 + 200
    assert {"地", "川", "安", "全"} <= allowed_kanji() and not {"避", "難", "震", "危"} & allowed_kanji()


@pytest.mark.parametrize("path", EASY, ids=lambda p: p.stem)
def test_every_easy_japanese_template_passes_the_checker(path: Path) -> None:
    findings = {part: check_template(text) for part, text in _parts(path).items()}
    # No documented exceptions are needed today: the list of disaster words covers 地震・避難・警報….
    assert {part: [(f.rule, f.text) for f in found] for part, found in findings.items() if found} == {}


def test_the_easy_japanese_words_for_jma_values_pass_the_checker() -> None:
    book = yaml.safe_load((TRANSLATED / "ja-easy" / "_phrasebook.yaml").read_text(encoding="utf-8"))
    words = [*book["terms"].values(), *book["patterns"].values(), book["exercise_note"]]
    assert {word: [(f.rule, f.text) for f in check(word)] for word in words if check(word)} == {}


def test_the_six_jma_templates_are_written_in_easy_japanese() -> None:
    assert {p.stem for p in EASY} == {"jma-earthquake", "jma-tsunami", "jma-evacuation-level4", "jma-record-rain",
                                     "jma-volcano", "jma-cleared"}


def test_a_typical_official_sentence_is_flagged_with_positions() -> None:
    text = "本日午後3時頃、気象庁より大雨特別警報が発表されましたので、速やかに指定緊急避難場所へ避難されるよう申し上げます。"
    findings = check(text)
    rules = {f.rule for f in findings}
    assert {"long_sentence", "hard_kanji", "humble"} <= rules
    long = next(f for f in findings if f.rule == "long_sentence")
    assert (long.start, long.end) == (0, len(text)) and f"{MAX_SENTENCE}文字" in long.message
    hard = [f.text for f in findings if f.rule == "hard_kanji"]
    assert hard == ["頃", "緊"]  # 急 and 速 are taught in grade 3; 気象庁 and 避難 are disaster words
    humble = next(f for f in findings if f.rule == "humble")
    assert text[humble.start:humble.end] == humble.text == "申し" and "謙譲語" in humble.message


def test_double_negatives_honorifics_and_loanwords_are_flagged() -> None:
    text = "避難所へ お越しください。マスクを 持って 行かないわけでは ありません。ご注意ください。"
    found = {(f.rule, f.text) for f in check(text)}
    assert ("respectful", "お越し") in found and ("respectful", "ご注意ください") in found
    assert ("double_negative", "ないわけでは ありません") in found
    assert ("katakana", "マスク") in found
    assert all("避難所" not in f.text for f in check(text))


def test_a_reading_in_brackets_makes_a_hard_word_fine() -> None:
    assert [f.text for f in check("緊急の 知らせです。")] == ["緊"]
    assert check("緊急（きんきゅう）の 知らせです。") == []
    # Readings and spaces do not count toward a sentence's length.
    sentence = "あ" * MAX_SENTENCE + "。"
    assert check(sentence) == [] and [f.rule for f in check("い" + sentence)] == ["long_sentence"]
    assert check(" ".join(sentence)) == []


def test_template_values_are_not_checked_and_count_as_one_character() -> None:
    source = "{{ area_names | areas(5) }}で " + "あ" * (MAX_SENTENCE - 2) + "。{% if x %}危{% endif %}"
    assert [f.rule for f in check_template(source)] == ["hard_kanji"]
    assert check("{{ 緊急 }}") != [] and check_template("{{ 緊急 }}") == []


def test_japanese_templates_are_not_easy_japanese() -> None:
    source = yaml.safe_load((TRANSLATED.parent.parent / "templates" / "jma" / "evacuation_level4.yaml").read_text("utf-8"))
    rules = {f.rule for f in check_template(source["body"])}
    assert {"hard_kanji", "long_sentence"} <= rules
