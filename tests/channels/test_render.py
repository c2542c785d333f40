"""What each channel makes of a draft, before anything is sent."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest
from lxml import etree

from channels import registry
from channels.base import EXERCISE_PREFIX, Channel, Draft
from channels.email import EmailChannel
from channels.text import x_weighted_length
from channels.voice import VoiceChannel
from hub.config import Settings
from sandbox import hub_settings

from .helpers import build

SETTINGS = Settings(**hub_settings("http://127.0.0.1:9", 9))  # nothing listens: rendering only
NAMES = ["sms", "voice", "email", "line", "x", "rss"]


def channel(name: str) -> Channel:
    return build(name, SETTINGS)


def exercise(**kw: object) -> Draft:
    base: dict[str, object] = {
        "title": "地震情報",
        "body": "震度５強の地震がありました。",
        "mode": "exercise",
    }
    base.update(kw)
    return Draft(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NAMES)
def test_exercise_prefix_comes_first_in_every_channel(name: str) -> None:
    for draft in (exercise(), exercise(override="避難してください"), exercise(msg_type="update")):
        rendered = channel(name).render(draft)
        assert rendered.text.startswith(EXERCISE_PREFIX), (name, rendered.text)
        assert rendered.text.count(EXERCISE_PREFIX) == 1
        assert not rendered.errors


@pytest.mark.parametrize("name", NAMES)
def test_exercise_prefix_survives_a_text_that_must_be_shortened(name: str) -> None:
    rendered = channel(name).render(exercise(body="長い本文。" * 2000))
    assert rendered.text.startswith(EXERCISE_PREFIX)


def test_exercise_prefix_in_email_subject_and_voice_twiml() -> None:
    mail = channel("email").render(exercise())
    assert mail.subject == "【訓練】地震情報"
    voice = channel("voice").render(exercise())
    root = etree.fromstring(voice.meta["twiml"].encode())
    says = root.findall("Say")
    assert len(says) == 2  # read twice
    assert root.find("Pause") is not None
    assert says[0].text.startswith("これは訓練です。")
    assert says[1].text.startswith("繰り返します。これは訓練です。")
    assert says[0].get("language") == "ja-JP"


def test_sms_segments_and_660_cap() -> None:
    sms = channel("sms")
    assert sms.render(Draft(title="", body="", override="あ" * 70)).units == 1
    assert sms.render(Draft(title="", body="", override="あ" * 71)).units == 2
    ok = sms.render(Draft(title="", body="", override="あ" * 660))
    assert not ok.errors and ok.units == 10
    too_long = sms.render(Draft(title="", body="", override="あ" * 661))
    assert too_long.errors == ("SMSは660文字までです（現在661文字）",)


def test_sms_ascii_uses_gsm7() -> None:
    sms = channel("sms")
    assert sms.render(Draft(title="", body="", override="a" * 160)).units == 1
    assert sms.render(Draft(title="", body="", override="a" * 161)).units == 2


def test_sms_drops_a_link_that_does_not_fit_and_says_so() -> None:
    sms = channel("sms")
    fits = sms.render(Draft(title="停電", body="復旧しました", link="https://city.example.jp/a"))
    assert fits.text == "停電\n復旧しました\nhttps://city.example.jp/a"
    full = sms.render(Draft(title="停電", body="あ" * 650, link="https://city.example.jp/a"))
    assert "https://" not in full.text
    assert full.warnings


def test_x_140_wide_characters_fit_141_are_shortened_with_a_warning() -> None:
    x = channel("x")
    fits = x.render(Draft(title="", body="", override="あ" * 140))
    assert fits.text == "あ" * 140 and not fits.warnings
    cut = x.render(Draft(title="", body="", override="あ" * 141))
    assert x_weighted_length(cut.text) <= 280
    assert cut.text.endswith("…")
    assert cut.warnings and not cut.errors


def test_x_link_counts_23_and_is_kept_when_the_text_is_cut() -> None:
    x = channel("x")
    link = "https://city.example.jp/" + "a" * 80
    rendered = x.render(exercise(body="お知らせです。" * 50, link=link))
    assert rendered.text.endswith("\n" + link)
    assert x_weighted_length(rendered.text) <= 280
    assert rendered.text.startswith(EXERCISE_PREFIX)
    assert rendered.meta["weighted_length"] == x_weighted_length(rendered.text)


def test_line_5000_characters() -> None:
    line = channel("line")
    assert not line.render(Draft(title="", body="", override="あ" * 5000)).errors
    assert line.render(Draft(title="", body="", override="あ" * 5001)).errors == (
        "LINEは5000文字までです（現在5001文字）",
    )


def test_email_html_is_escaped_and_sender_name_is_kept() -> None:
    mail = EmailChannel(EmailChannel.config_class()).render(
        Draft(
            title="<b>件名</b>",
            body="1 < 2 & 3\n次の行",
            link="https://e.jp/?a=1&b=2",
            sender_name="危機管理課",
        )
    )
    assert mail.html is not None
    assert "<b>件名</b>" not in mail.html and "&lt;b&gt;件名&lt;/b&gt;" in mail.html
    assert "1 &lt; 2 &amp; 3<br>次の行" in mail.html
    assert 'href="https://e.jp/?a=1&amp;b=2"' in mail.html
    assert mail.meta["from_name"] == "危機管理課"
    assert mail.text.startswith("<b>件名</b>")


def test_voice_speech_drops_urls_and_reads_brackets() -> None:
    voice = VoiceChannel(VoiceChannel.config_class())
    rendered = voice.render(
        Draft(title="【避難指示】", body="9時〜10時 https://e.jp/x を参照", link="https://e.jp")
    )
    speech = rendered.meta["speech"]
    assert "http" not in speech and "【" not in speech
    assert speech.startswith("避難指示。")
    assert "9時から10時" in speech
    assert "音声ではリンクは読み上げません" in rendered.warnings


def test_cancel_and_update_prefixes_follow_the_exercise_prefix() -> None:
    sms = channel("sms")
    assert sms.render(exercise(msg_type="cancel")).text.startswith("【訓練】【取消】")
    assert sms.render(Draft(title="t", body="b", msg_type="update")).text.startswith("【訂正】")
    assert (
        channel("voice")
        .render(exercise(msg_type="cancel"))
        .meta["speech"]
        .startswith("これは訓練です。先ほどのお知らせを取り消します。")
    )


@pytest.mark.parametrize(
    ("address", "sms", "voice"),
    [
        ("+819012345678", None, None),
        ("+818012345678", None, None),
        ("+817012345678", None, None),
        ("090-1234-5678", None, None),
        ("+81312345678", "not_mobile", None),  # Tokyo landline: a call, not an SMS
        ("+812012345678", "not_mobile", None),  # 020: M2M
        ("+81120123456", "not_mobile", None),  # toll free
        ("garbage", "invalid_address", "invalid_address"),
        ("+8190", "invalid_address", "invalid_address"),
    ],
)
def test_phone_addresses(address: str, sms: str | None, voice: str | None) -> None:
    assert channel("sms").check_address(address) == sms
    assert channel("voice").check_address(address) == voice


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        (
            "email",
            # Non-ASCII addresses are valid: they go out with SMTPUTF8 (tests/channels/test_email_tls.py).
            ["taro@example.jp", "a.b+c@mail.city.example.jp", "foo..bar.@docomo.ne.jp", "太郎@example.jp",
             "山田@例え.jp"],
            ["", "taro", "taro@", "@example.jp", "taro@example", "a b@example.jp", "太郎 @example.jp",
             "太郎@例え", "<太郎>@example.jp"],
        ),
        ("line", ["U" + "0123456789abcdef" * 2], ["", "U123", "C" + "0" * 32, "u" + "0" * 32]),
        ("x", ["x:@city_official", "x:city"], ["", "@city", "x:@", "x:@has space"]),
        ("rss", ["rss:all", "rss:bousai"], ["", "rss:", "all", "rss:a b"]),
    ],
)
def test_addresses(name: str, good: list[str], bad: list[str]) -> None:
    ch = channel(name)
    for address in good:
        assert ch.check_address(address) is None, address
    for address in bad:
        assert ch.check_address(address) == "invalid_address", address


def test_registry_finds_every_channel_and_configures_the_sandbox() -> None:
    found = registry.available()
    assert set(NAMES) <= set(found)
    for name in NAMES:
        ch = channel(name)
        assert ch.name == name
        assert re.search(r"[ぁ-んァ-ン一-龥]|SMS|LINE", ch.label)
        if name != "rss":
            assert ch.config.sandbox is True
        masked = ch.config.masked()
        for f in fields(ch.config):
            if f.metadata.get("secret") and getattr(ch.config, f.name):
                assert masked[f.name] == "********"
    secret = {f.name for f in fields(channel("sms").config) if f.metadata.get("secret")}
    assert secret == {"auth_token", "karaden_api_token", "karaden_callback_secret"}
    assert {f.name for f in fields(channel("line").config) if f.metadata.get("secret")} == {
        "access_token",
        "channel_secret",
    }


def test_registry_uses_live_credentials_when_given() -> None:
    live = Settings(twilio_account_sid="AC" + "1" * 32, twilio_auth_token="tok", smtp_host="smtp.example.jp")
    sms = build("sms", live)
    assert sms.config.sandbox is False
    assert sms.config.base_url is None  # type: ignore[attr-defined]
    assert build("email", live).config.host == "smtp.example.jp"  # type: ignore[attr-defined]
    assert build("line", live).config.sandbox is True


def test_registry_unknown_channel_says_what_exists() -> None:
    with pytest.raises(registry.UnknownChannel) as info:
        registry.build("fax", SETTINGS)
    assert "fax" in str(info.value) and "sms" in str(info.value)
