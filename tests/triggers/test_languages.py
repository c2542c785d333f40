"""A JMA telegram reaches residents in their own language with the template's reviewed texts (出典：気象庁).

Through the sandbox: the real VXSE53 of the 2008 岩手・宮城内陸地震 fires the shipped jma-earthquake
template, and each resident's phone, mailbox and LINE get English, Chinese, やさしい日本語 or Japanese.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from hub.models import Area, Category, Consent, Contact, Message, Template
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.triggers.support import OSHU, QUAKE_6PLUS, QUAKE_CANCELLED, QUAKE_EXERCISE, add_rules, prepare, raw, replay
from triggers.jma.parse import parse_telegram

QUAKE_RULE = {"when": "earthquake", "min_intensity": "5弱", "template": "jma-earthquake",
              "channels": ["sms", "email", "line"]}


@dataclass(frozen=True)
class Resident:
    language: str
    phone: str
    email: str
    line: str


RESIDENTS = {
    language: Resident(language, f"+8190{12340000 + n}", f"{language}@mail.example.jp", f"U{n:032x}")
    for n, language in enumerate(("en", "zh", "ja-easy", "ja"), start=1)
}


def _residents(runtime: Runtime, area_code: str, others: Sequence[Resident] = ()) -> None:
    """One resident per language in ``area_code`` (and ``others``), on SMS, e-mail and LINE, taking
    part in drills."""
    with runtime.session() as session:
        area = session.scalar(select(Area).where(Area.code == area_code))
        if area is None:
            area = Area(code=area_code, name="奥州市", family="municipality")
            session.add(area)
        bousai = session.scalar(select(Category).where(Category.code == "bousai"))
        for resident in (*RESIDENTS.values(), *others):
            contact = Contact(name=f"住民 {resident.language}", language=resident.language, phone=resident.phone,
                              email=resident.email, line_user_id=resident.line, exercise_participant=True,
                              areas=[area], categories=[bousai] if bousai else [])
            contact.consents = [Consent(channel=ch, source="test") for ch in ("sms", "email", "line")]
            session.add(contact)
        session.commit()


def _received(sandbox_client: SandboxClient, resident: Resident) -> dict[str, str]:
    """What reached this resident, by channel (e-mail: subject and text)."""
    got: dict[str, str] = {}
    for channel, address in (("sms", resident.phone), ("email", resident.email), ("line", resident.line)):
        items = sandbox_client.inbox(channel, to=address)
        assert len(items) == 1, (channel, resident.language, items)
        got[channel] = items[0]["text"]
        if channel == "email":
            got["subject"] = items[0]["subject"] or ""
    return got


VIETNAMESE = Resident("vi", "+819012349999", "vi@mail.example.jp", "U" + "9" * 32)


def _oshu(runtime: Runtime, with_vietnamese: bool = False) -> Resident:
    """The residents of 奥州市 (a Vietnamese one too if asked) under a 震度5弱 rule for the city."""
    prepare(runtime, residents=0, staff=0)
    _residents(runtime, OSHU, [VIETNAMESE] if with_vietnamese else [])
    add_rules(runtime, {**QUAKE_RULE, "name": "奥州市", "municipalities": [OSHU], "audience": f"area:{OSHU}"})
    return VIETNAMESE


def _languages(runtime: Runtime, message_id: int | None) -> dict[str, Any]:
    """The languages a message records: each one's origin (reviewed, machine, fallback) and error."""
    assert message_id is not None, "the rule sent nothing"
    with runtime.session() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return dict((message.meta or {})["languages"])


def test_a_quake_alert_reaches_each_resident_in_their_language(
    runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    _oshu(runtime)

    decision = replay(runtime, QUAKE_6PLUS)

    (outcome,) = decision.rules
    languages = _languages(runtime, outcome.message_id)
    assert {lang: v["origin"] for lang, v in languages.items()} == {
        "en": "reviewed", "zh": "reviewed", "ja-easy": "reviewed"}

    en = _received(sandbox_client, RESIDENTS["en"])
    assert en["sms"].startswith("Earthquake at about 8:43 AM (Japan time). 奥州市 (Seismic intensity 6 Upper)")
    assert "There is no risk of a tsunami from this earthquake." in en["sms"]
    assert en["subject"] == "Earthquake information (Seismic intensity 6 Upper)"
    assert "A strong earthquake occurred at about June 14, 8:43 AM (Japan time)." in en["email"]
    assert "Epicenter: 岩手県内陸南部" in en["line"]

    zh = _received(sandbox_client, RESIDENTS["zh"])
    assert zh["sms"].startswith("8:43左右发生地震。奥州市（震度6强）")
    assert zh["subject"] == "地震信息（震度6强）"
    assert "请首先确保自身安全" in zh["email"] and "此次地震不会引发海啸。" in zh["line"]

    easy = _received(sandbox_client, RESIDENTS["ja-easy"])
    assert easy["sms"].startswith("8時43分ごろ 大きい 地震が ありました。奥州市（震度6強）")
    assert easy["subject"] == "大きい 地震が ありました（震度6強）"
    assert "自分の 体を 守って ください" in easy["line"] and "この 地震で 津波は 来ません。" in easy["email"]

    ja = _received(sandbox_client, RESIDENTS["ja"])
    assert ja["sms"].startswith("8時43分ごろ地震。奥州市（震度６強）")
    assert ja["subject"] == "地震情報（震度６強）"
    assert "まず身の安全を確保してください" in ja["email"]

    # JMA withdraws it: each resident gets the prepared cancellation in their language.
    sandbox_client.clear()
    replay(runtime, QUAKE_CANCELLED)

    assert "is cancelled, because the Japan Meteorological Agency (JMA) withdrew it" in \
        _received(sandbox_client, RESIDENTS["en"])["sms"]
    assert "由于日本气象厅撤销了该信息" in _received(sandbox_client, RESIDENTS["zh"])["sms"]
    easy_cancel = _received(sandbox_client, RESIDENTS["ja-easy"])
    assert easy_cancel["sms"].startswith("【取消】") and "取り消します" in easy_cancel["sms"]
    assert "気象庁が情報を取り消したため取り消します" in _received(sandbox_client, RESIDENTS["ja"])["sms"]


def test_an_exercise_is_marked_in_every_language(runtime: Runtime, sandbox_client: SandboxClient) -> None:
    telegram = parse_telegram(raw(QUAKE_EXERCISE))
    cities = [city.code for city in telegram.event.cities]  # type: ignore[union-attr]
    prepare(runtime, residents=0, staff=0)
    _residents(runtime, cities[0])
    add_rules(runtime, {**QUAKE_RULE, "name": "訓練の地域", "municipalities": cities, "min_intensity": "1",
                        "audience": f"area:{cities[0]}"})

    decision = replay(runtime, QUAKE_EXERCISE)

    assert decision.status == "exercise"
    labels = {"en": "[EXERCISE]", "zh": "【演习】", "ja-easy": "【くんれん】", "ja": ""}
    for language, resident in RESIDENTS.items():
        got = _received(sandbox_client, resident)
        for channel in ("sms", "line", "subject"):
            # 【訓練】 always first, whatever the language; then the reader's own word for it.
            assert got[channel].startswith("【訓練】" + labels[language]), (language, channel, got[channel])
        assert got["email"].startswith("【訓練】"), language
    english = _received(sandbox_client, RESIDENTS["en"])
    assert "This is a drill. It is not a real emergency." in english["email"]
    assert "これは 練習です。本当の 災害では ありません。" in _received(sandbox_client, RESIDENTS["ja-easy"])["line"]


def test_a_broken_translation_never_stops_the_alert(runtime: Runtime, sandbox_client: SandboxClient) -> None:
    _oshu(runtime)
    with runtime.session() as session:
        template = session.scalar(select(Template).where(Template.code == "jma-earthquake"))
        assert template is not None
        broken = {**template.translations["zh"], "body": "{{ places | length / 0 }}"}
        template.translations = {**template.translations, "zh": broken}
        session.commit()

    (outcome,) = replay(runtime, QUAKE_6PLUS).rules

    assert outcome.action == "alert"
    zh = _languages(runtime, outcome.message_id)["zh"]
    assert zh["origin"] == "fallback" and "ZeroDivisionError" in zh["error"]
    # The Chinese reader gets the reviewed English text; everybody else is untouched.
    assert _received(sandbox_client, RESIDENTS["zh"])["sms"].startswith("Earthquake at about 8:43 AM")
    assert _received(sandbox_client, RESIDENTS["ja"])["sms"].startswith("8時43分ごろ地震。奥州市（震度６強）")
    assert _received(sandbox_client, RESIDENTS["ja-easy"])["sms"].startswith("8時43分ごろ 大きい 地震が")


def test_a_language_without_a_reviewed_text_gets_a_marked_machine_translation(
    runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    vi = _oshu(runtime, with_vietnamese=True)

    (outcome,) = replay(runtime, QUAKE_6PLUS).rules

    languages = _languages(runtime, outcome.message_id)
    assert languages["vi"]["origin"] == "machine"
    assert {languages[code]["origin"] for code in ("en", "zh", "ja-easy")} == {"reviewed"}
    # The sandbox's translator marks what it made up; a real LibreTranslate would write Vietnamese.
    assert _received(sandbox_client, vi)["sms"].startswith("[sandbox:vi]")


def test_when_machine_translation_fails_the_alert_goes_with_the_reviewed_english(
    runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    vi = _oshu(runtime, with_vietnamese=True)
    sandbox_client.inject_fault("translate", "500", count=0)

    (outcome,) = replay(runtime, QUAKE_6PLUS).rules

    assert outcome.action == "alert"
    vi_state = _languages(runtime, outcome.message_id)["vi"]
    assert vi_state["origin"] == "fallback" and vi_state["error"]
    assert _received(sandbox_client, vi)["sms"].startswith("Earthquake at about 8:43 AM")
    assert _received(sandbox_client, RESIDENTS["ja"])["sms"].startswith("8時43分ごろ地震。")


def test_a_slow_translator_does_not_hold_the_alert(runtime: Runtime, sandbox_client: SandboxClient) -> None:
    vi = _oshu(runtime, with_vietnamese=True)
    # Slower than HUB_TRIGGER_TRANSLATE_SECONDS (3 s), though within the translator's own timeout.
    sandbox_client.inject_fault("translate", "timeout", count=0, delay=8.0)

    (outcome,) = replay(runtime, QUAKE_6PLUS).rules

    vi_state = _languages(runtime, outcome.message_id)["vi"]
    assert vi_state["origin"] == "fallback" and "3秒以内" in vi_state["error"]
    assert _received(sandbox_client, vi)["sms"].startswith("Earthquake at about 8:43 AM")
