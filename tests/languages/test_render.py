"""Each channel renders the recipient's language: marks, SMS encoding, the call's voice, e-mail, CAP."""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from channels.base import Batch, Draft, Recipient, Rendered, prefix_for
from channels.email import EmailChannel, EmailConfig
from channels.feeds import FeedEntry, Translation, cap_alert
from channels.sms import SmsChannel, SmsConfig
from channels.text import with_prefix
from channels.voice import VoiceChannel, VoiceConfig, speech_for_text

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def test_the_drill_mark_stays_first_in_every_language_with_the_languages_own_word() -> None:
    assert prefix_for(Draft("t", "b", mode="exercise")) == "【訓練】"
    assert prefix_for(Draft("t", "b", mode="exercise", language="ja-easy")) == "【訓練】【くんれん】"
    assert prefix_for(Draft("t", "b", mode="exercise", language="zh")) == "【訓練】【演习】"
    assert prefix_for(Draft("t", "b", mode="exercise", language="en")) == "【訓練】[EXERCISE] "
    assert prefix_for(Draft("t", "b", mode="exercise", language="vi")) == "【訓練】[DIỄN TẬP] "
    assert prefix_for(Draft("t", "b", mode="test", language="ne")) == "【試験】[TEST] "  # English where none is written
    assert prefix_for(Draft("t", "b", msg_type="cancel", language="en")) == "【取消】[CANCELLED] "
    assert prefix_for(Draft("t", "b", msg_type="update", update_label="続報", language="pt")) == "【続報】[ATUALIZAÇÃO] "
    assert prefix_for(Draft("t", "b", msg_type="update", update_label="第2報", language="en")) == "【第2報】"
    assert prefix_for(Draft("t", "b", msg_type="update", language="ja")) == "【訂正】"


def test_a_translated_templates_own_mark_is_not_repeated() -> None:
    sms = SmsChannel(SmsConfig())
    drill = sms.render(Draft("[EXERCISE] Earthquake", "[EXERCISE] This is a drill.", mode="exercise", language="en"))
    assert drill.text.startswith("【訓練】[EXERCISE] Earthquake\n")
    assert with_prefix("【訓練】【取消】", "【取消】地震") == "【訓練】【取消】地震"
    assert with_prefix("【訓練】", "訓練】地震") == "【訓練】訓練】地震"  # only whole marks count


def test_sms_segments_are_counted_by_each_languages_encoding() -> None:
    sms = SmsChannel(SmsConfig())
    english = sms.render(Draft("Heavy rain warning", "Please stay away from rivers. " * 4, language="en"))
    assert (english.meta["encoding"], english.units) == ("GSM-7", 1)  # 148 characters: one GSM-7 segment
    vietnamese = sms.render(Draft("Cảnh báo mưa lớn", "Xin đừng đến gần sông.", language="vi"))
    assert vietnamese.meta["encoding"] == "UCS-2"  # ư, đ, ả … are outside GSM-7
    drill = sms.render(Draft("Heavy rain warning", "Stay away from rivers.", mode="exercise", language="en"))
    assert drill.text.startswith("【訓練】[EXERCISE] ") and drill.meta["encoding"] == "UCS-2"


def test_a_call_speaks_the_recipients_language() -> None:
    voice = VoiceChannel(VoiceConfig())
    english = voice.render(Draft("Heavy rain", "Stay away from rivers.\nhttps://city.example/m/x", mode="exercise",
                                 language="en"))
    twiml = etree.fromstring(english.meta["twiml"].encode())
    says = [(s.get("language"), s.text) for s in twiml.iter("Say")]
    assert says[0] == ("en-US", "This is a drill. Heavy rain. Stay away from rivers.")
    assert ("en-US", "Repeating.") in says
    easy = voice.render(Draft("おおあめ", "かわに ちかづかないで ください。", language="ja-easy"))
    assert {s.get("language") for s in etree.fromstring(easy.meta["twiml"].encode()).iter("Say")} == {"ja-JP"}
    # No voice for the language: the call goes in Japanese (the stored text is refused for voice).
    assert voice.render(Draft("t", "b", language="ne")).errors


def test_a_stored_call_text_is_spoken_in_the_recipients_language() -> None:
    # A batch rebuilt from the database has only the text: the language comes from the recipient.
    batch = Batch(message_id=1, batch_no=1, recipients=[Recipient(1, "+819011110001", "en"),
                                                        Recipient(2, "+819011110002", "th")],
                  contents={"ja": Rendered(None, "【訓練】大雨"), "en": Rendered(None, "【訓練】[EXERCISE] Heavy rain")})
    assert batch.language_for(batch.recipients[0]) == "en"
    assert batch.language_for(batch.recipients[1]) == "ja"  # no Thai text: Japanese
    speech = speech_for_text(batch.content_for(batch.recipients[0]).text, "exercise", "en")
    assert speech == "This is a drill.\nHeavy rain."
    assert speech_for_text("【訓練】大雨", "exercise", "ja") == "これは訓練です。大雨。"
    cancelled = speech_for_text("【訓練】[EXERCISE] 【取消】[CANCELLED] Heavy rain", "exercise", "en")
    assert cancelled == "This is a drill. The previous message is cancelled.\nHeavy rain."


def test_email_in_english_is_labelled_english() -> None:
    email = EmailChannel(EmailConfig())
    rendered = email.render(Draft("Heavy rain", "Stay away from rivers.", link="https://city.example/m/x?lang=en",
                                  language="en"))
    assert "More information: https://city.example/m/x?lang=en" in rendered.text
    assert rendered.html is not None and '<html lang="en">' in rendered.html
    batch = Batch(message_id=1, batch_no=1, recipients=[Recipient(1, "alice@example.com", "en")],
                  contents={"ja": Rendered("大雨", "大雨"), "en": rendered})
    built = email.build(batch, batch.recipients[0], "bousai@city.example.jp")
    assert built["Content-Language"] == "en" and built["Subject"] == "Heavy rain"


def test_a_cap_alert_carries_one_info_per_language() -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    entry = FeedEntry(message_id=1, title="大雨警報", text="川に近づかないでください。", mode="exercise",
                      msg_type="alert", published=now, updated=now,
                      translations=[Translation("en", "Heavy rain warning", "Stay away from rivers."),
                                    Translation("zh", "大雨警报", "请不要靠近河流。")])
    infos = list(etree.fromstring(cap_alert(entry)).iter(f"{CAP}info"))
    assert [i.findtext(f"{CAP}language") for i in infos] == ["ja-JP", "en", "zh-CN"]
    assert infos[1].findtext(f"{CAP}headline") == "【訓練】Heavy rain warning"
    assert infos[1].findtext(f"{CAP}description") == "Stay away from rivers."
