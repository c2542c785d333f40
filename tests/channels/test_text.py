from __future__ import annotations

import pytest

from channels.text import (
    ELLIPSIS,
    shorten,
    sms_encoding,
    sms_info,
    sms_segments,
    with_prefix,
    x_fits,
    x_weighted_length,
)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (660, 10)],
)
def test_ucs2_segments_are_70_single_67_split(length: int, segments: int) -> None:
    text = "あ" * length
    assert sms_encoding(text) == "UCS-2"
    assert sms_segments(text) == segments


@pytest.mark.parametrize(("length", "segments"), [(160, 1), (161, 2), (306, 2), (307, 3)])
def test_gsm7_ascii_segments_are_160_single_153_split(length: int, segments: int) -> None:
    text = "a" * length
    assert sms_encoding(text) == "GSM-7"
    assert sms_segments(text) == segments


def test_gsm7_extension_characters_take_two_septets() -> None:
    assert sms_encoding("price: 5€ [ok]") == "GSM-7"
    assert sms_segments("€" * 80) == 1
    assert sms_segments("€" * 81) == 2
    assert sms_info("€" * 80)["units"] == 160


def test_one_japanese_character_makes_the_whole_text_ucs2() -> None:
    assert sms_segments("a" * 70) == 1
    assert sms_segments("a" * 70 + "あ") == 2


def test_emoji_takes_two_ucs2_units() -> None:
    assert sms_info("😀" * 35)["units"] == 70
    assert sms_segments("😀" * 35) == 1
    assert sms_segments("😀" * 36) == 2


def test_x_weights_cjk_two_and_urls_23() -> None:
    assert x_weighted_length("あ" * 140) == 280
    assert x_fits("あ" * 140)
    assert not x_fits("あ" * 141)
    assert x_weighted_length("abc") == 3
    assert x_weighted_length("【訓練】") == 8
    assert x_weighted_length("https://example.jp/" + "a" * 100) == 23
    assert x_weighted_length("詳細 https://example.jp/a?b=c") == 4 + 1 + 23


def test_shorten_keeps_the_limit_and_ends_with_ellipsis() -> None:
    text = "これは長い文章です。" * 20
    short = shorten(text, 50)
    assert len(short) <= 50
    assert short.endswith(ELLIPSIS)


def test_shorten_prefers_a_sentence_end() -> None:
    text = "避難所を開設しました。" + "詳細は市のホームページをご覧ください" * 3
    assert shorten(text, 14) == "避難所を開設しました。" + ELLIPSIS
    # ...but not when that would throw away most of what fits
    assert shorten(text, 30).startswith("避難所を開設しました。詳細は")


def test_shorten_never_cuts_inside_a_url() -> None:
    text = "お知らせ" * 10 + " https://example.jp/very/long/path " + "続き" * 50
    short = shorten(text, 140, x_weighted_length)
    assert x_weighted_length(short) <= 140
    assert "https://example.jp/very/long/path" in short or "https://" not in short


def test_shorten_leaves_short_text_alone() -> None:
    assert shorten("短い", 10) == "短い"


def test_with_prefix_is_not_doubled() -> None:
    assert with_prefix("【訓練】", "地震") == "【訓練】地震"
    assert with_prefix("【訓練】", "【訓練】地震") == "【訓練】地震"
    assert with_prefix("", "地震") == "地震"
