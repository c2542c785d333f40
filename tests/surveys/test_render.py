"""How each channel carries a resident survey's question: SMS says how to reply (and pays for it in
segments), LINE adds quick-reply buttons valid for the LINE API, e-mail each recipient's own answer
link, a call the question and its keys; X and the feeds say nothing of it (nobody could answer there)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from channels.base import Batch, Draft, Poll, Recipient
from channels.email import EmailChannel
from channels.line import LineChannel
from channels.text import sms_segments
from hub.config import Settings
from hub.residents.questions import choice_for, read_question
from sandbox import hub_settings
from sandbox.line_validate import validate_messages
from tests.channels.helpers import build
from tests.sandbox.contract_check import check_keys, load_spec, to_json_schema

SETTINGS = Settings(**hub_settings("http://127.0.0.1:9", 9))  # nothing listens: rendering only
POLL = Poll("避難していますか", (("1", "はい"), ("2", "いいえ")), message_id=42)
DRAFT = Draft(title="避難状況の確認", body="○○地区に避難指示を発令しています。安全な場所へ移動してください。")


def test_sms_appends_how_to_answer_and_counts_it_in_its_segments() -> None:
    sms = build("sms", SETTINGS)
    plain, asked = sms.render(DRAFT), sms.render(replace(DRAFT, poll=POLL))
    assert asked.text.endswith("避難していますか\n1:はい 2:いいえ を返信してください")
    assert asked.text.startswith(plain.text)
    assert asked.units == sms_segments(asked.text) == 2 > plain.units == 1  # 70 UCS-2 characters per one
    assert not asked.errors


def test_sms_drops_the_link_before_the_question_when_too_long() -> None:
    sms = build("sms", SETTINGS)
    long = replace(DRAFT, body="避難してください。" * 70, poll=POLL, link="https://city.example.jp/m/x")
    rendered = sms.render(long)
    assert "を返信してください" in rendered.text and "https://" not in rendered.text
    assert any("リンク" in w for w in rendered.warnings)


def test_english_sms_asks_for_the_number_in_english() -> None:
    rendered = build("sms", SETTINGS).render(replace(DRAFT, poll=POLL, language="en"))
    assert rendered.text.endswith("Reply with the number: 1:はい 2:いいえ")


def _schema(name: str) -> dict[str, Any]:
    spec = load_spec("line")
    schema: dict[str, Any] = to_json_schema(spec["components"]["schemas"][name], spec)
    return schema


def _flat(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema built with allOf (the spec's subtypes), as one object schema for the key check."""
    props: dict[str, Any] = dict(schema.get("properties") or {})
    for part in schema.get("allOf") or []:
        props.update(_flat(part).get("properties") or {})
    return {"type": "object", "properties": props}


def test_line_quick_reply_is_valid_for_the_line_api_and_the_same_for_every_recipient() -> None:
    line = build("line", SETTINGS)
    rendered = line.render(replace(DRAFT, poll=POLL))
    assert rendered.text.endswith("\n\n避難していますか")
    from linebot.v3.messaging import MulticastRequest

    messages = LineChannel.messages_for(rendered)
    body = MulticastRequest(to=["U" + "0" * 32, "U" + "1" * 32], messages=messages).to_dict()
    # The LINE OpenAPI contract: the request, the text message, its quick reply and every action.
    jsonschema.validate(body, _schema("MulticastRequest"))
    (message,) = body["messages"]
    jsonschema.validate(message, _schema("TextMessage"))
    # Key by key too (the spec leaves additionalProperties open); actions against their subtype.
    check_keys(_flat(_schema("TextMessage")), {k: v for k, v in message.items() if k != "quickReply"}, exact=False)
    items = message["quickReply"]["items"]
    jsonschema.validate(message["quickReply"], _schema("QuickReply"))
    for item in items:
        check_keys(_schema("QuickReplyItem"), {k: v for k, v in item.items() if k != "action"}, exact=False)
        jsonschema.validate(item["action"], _schema("PostbackAction"))
        check_keys(_flat(_schema("PostbackAction")), item["action"], exact=False)
    assert [(i["action"]["label"], i["action"]["data"], i["action"]["displayText"]) for i in items] == [
        ("はい", "ans:42:1", "1:はい"), ("いいえ", "ans:42:2", "2:いいえ")]
    assert validate_messages(body["messages"]) == []  # and the sandbox's own checks (label ≤ 20 …)
    items[0]["action"]["label"] = "あ" * 21
    assert validate_messages(body["messages"]) == [
        {"message": "Length must be between 1 and 20", "property": "messages[0].quickReply.items[0].action.label"}]


def test_line_without_a_question_is_the_plain_text_message() -> None:
    rendered = build("line", SETTINGS).render(DRAFT)
    (message,) = LineChannel.messages_for(rendered)
    assert message.quick_reply is None


def _email(poll: Poll | None, links: dict[int, dict[str, str]]) -> tuple[str, str]:
    channel = build("email", SETTINGS)
    assert isinstance(channel, EmailChannel)
    content = channel.render(replace(DRAFT, poll=poll))
    batch = Batch(message_id=42, batch_no=0, recipients=[Recipient(7, "a@example.jp", contact_id=3)],
                  contents={"ja": content}, links=links)
    built = channel.build(batch, batch.recipients[0], "bousai@city.example.jp")
    text = built.get_body(("plain",))
    html = built.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def test_email_carries_the_question_and_the_recipients_own_answer_link() -> None:
    url = "http://127.0.0.1:8000/r/a/abc.def"
    text, html = _email(POLL, {7: {"answer": url, "preferences": "http://x/r/p/1", "unsubscribe": "http://x/r/u/1"}})
    assert "【アンケート】避難していますか\n1: はい\n2: いいえ" in text
    assert f"回答はこちら: {url}\n\n--\n" in text, "the answer link, then the preferences and stop footer"
    assert f'<a href="{url}">アンケートに回答する</a>' in html and "避難していますか" in html
    assert html.index("アンケートに回答する") < html.index("http://x/r/u/1")


def test_email_to_an_address_without_a_contact_has_no_answer_link() -> None:
    text, html = _email(POLL, {})
    assert "避難していますか" in text and "回答はこちら" not in text and "/r/a/" not in html


def test_a_call_says_the_question_and_its_keys_after_the_message() -> None:
    voice = build("voice", SETTINGS)
    asked = voice.render(replace(DRAFT, poll=POLL))
    assert asked.text.endswith("安全な場所へ移動してください。\n避難していますか\nはいの方は1、いいえの方は2を押してください。")
    english = voice.render(replace(DRAFT, title="Evacuation check", body="Move to a safe place.", language="en",
                                   poll=Poll("Have you evacuated?", (("1", "Yes"), ("2", "No")), message_id=42)))
    assert english.text.endswith("Have you evacuated?\nFor Yes, press 1. For No, press 2.")
    assert english.meta["speech"].endswith("For Yes, press 1. For No, press 2.")
    easy = voice.render(replace(DRAFT, language="ja-easy", poll=Poll("ひなん しましたか", (("1", "はい"), ("2", "いいえ")))))
    assert easy.text.endswith("ひなん しましたか\nはい の ひとは 1、いいえ の ひとは 2 を おしてください。")


@pytest.mark.parametrize("name", ["x", "rss"])
def test_channels_nobody_can_answer_on_say_nothing_of_the_question(name: str) -> None:
    channel = build(name, SETTINGS)
    plain, asked = channel.render(DRAFT), channel.render(replace(DRAFT, poll=POLL))
    assert asked.text == plain.text and "避難していますか" not in asked.text


def test_a_question_is_read_from_labels_or_keyed_choices() -> None:
    question, problems = read_question({"text": " 避難していますか ", "choices": ["はい", {"key": "2", "label": "いいえ"}]})
    assert problems == []
    assert question == {"text": "避難していますか", "hours": 72,
                        "choices": [{"key": "1", "label": "はい"}, {"key": "2", "label": "いいえ"}]}


@pytest.mark.parametrize(("raw", "fragment"), [
    ({"text": "", "choices": ["はい", "いいえ"]}, "質問の文"),
    ({"text": "q", "choices": ["はい"]}, "2〜9"),
    ({"text": "q", "choices": [str(i) for i in range(10)]}, "2〜9"),
    ({"text": "q", "choices": ["はい", "はい"]}, "重複"),
    ({"text": "q", "choices": ["あ" * 21, "いいえ"]}, "20文字"),
    ({"text": "q", "choices": [{"key": "3", "label": "はい"}, "いいえ"]}, "1 から順"),
    ({"text": "q", "choices": ["はい", "いいえ"], "hours": 0}, "hours"),
    ({"text": "q", "choices": "はい,いいえ"}, "配列"),
    ("避難していますか", "形で"),
])
def test_a_question_that_cannot_be_asked_is_refused_with_a_reason(raw: Any, fragment: str) -> None:
    question, problems = read_question(raw)
    assert question is None and any(fragment in p for p in problems), problems


@pytest.mark.parametrize(("reply", "key"), [
    ("1", "1"), ("１", "1"), (" 2 ", "2"), ("2。", "2"), ("1:はい", "1"), ("１：はい", "1"), ("いいえ", "2"),
    ("3", None), ("はいはい", None), ("", None), ("停止", None),
])
def test_an_sms_reply_is_read_as_the_key_or_the_label(reply: str, key: str | None) -> None:
    question, _ = read_question({"text": "q", "choices": ["はい", "いいえ"]})
    assert question is not None
    assert choice_for(question, reply) == key
