"""A survey in the residents' languages: the question and its choices are translated with the
message (machine, through the sandbox's LibreTranslate, or written by the operator), each channel
asks in the reader's language, and an answer in any of them counts as the same choice."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from hub.models import Consent
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import bearer, body, create, csrf, login
from tests.surveys.support import (
    HANAMAKI,
    OSHU,
    add_residents,
    close_now,
    line_id,
    press,
    send_survey,
    tally,
    text_hub,
)

QUESTION = {"text": "避難していますか", "choices": ["はい", "いいえ", "自宅で安全に過ごしている"]}
EN_PHONE, JA_PHONE = "+819022220001", "+819022220002"
VI_LINE = line_id(0xA1)
EN_MAIL = "alice@example.jp"


def _town(runtime: Runtime) -> None:
    add_residents(runtime, [
        {"name": "Alice", "area": OSHU, "phone": EN_PHONE, "email": EN_MAIL, "language": "en"},
        {"name": "Lan", "area": HANAMAKI, "line": VI_LINE, "language": "vi"},
        {"name": "山田", "area": OSHU, "phone": JA_PHONE},
    ])


def _one(sandbox_client: SandboxClient, channel: str, to: str) -> dict[str, Any]:
    [item] = sandbox_client.inbox(channel, to=to)
    return item


def test_each_resident_is_asked_in_their_language_and_answers_in_it(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    _town(runtime)
    message_id = send_survey(client, ["sms", "line", "email"], question=QUESTION, translate=True)

    # SMS: the question and the choices in English, how to answer too; Japanese stays Japanese.
    en_sms = _one(sandbox_client, "sms", EN_PHONE)["text"]
    assert "\nHave you evacuated?\nReply with the number: 1:Yes 2:No 3:Safe at home\n" in en_sms, en_sms
    ja_sms = _one(sandbox_client, "sms", JA_PHONE)["text"]
    assert "\n避難していますか\n1:はい 2:いいえ 3:自宅で安全に過ごしている を返信してください" in ja_sms, ja_sms

    # LINE: Vietnamese buttons. The third label is longer than a button takes (20): the button is
    # cut, the message lists the choices whole, and the chat shows the whole label when pressed.
    line = _one(sandbox_client, "line", VI_LINE)
    assert line["text"].endswith("Bạn đã sơ tán chưa?\n1:Có 2:Không 3:Tôi đang ở nhà an toàn"), line["text"]
    [sent] = line["meta"]["messages"]
    actions = [item["action"] for item in sent["quickReply"]["items"]]
    assert [a["label"] for a in actions] == ["Có", "Không", "Tôi đang ở nhà an t…"]
    assert all(len(a["label"]) <= 20 for a in actions)
    assert actions[2]["displayText"] == "3:Tôi đang ở nhà an toàn"

    # E-mail: the question, the choices and the answer link's words in English.
    mail = _one(sandbox_client, "email", EN_MAIL)
    assert "[Survey] Have you evacuated?\n1: Yes\n2: No\n3: Safe at home" in mail["text"]
    link = re.search(r"Answer here: (https?://\S+)", mail["text"])
    assert link and ">Answer the survey</a>" in (mail["html"] or "")

    # The answer page, in English for an English reader, the question in English.
    path = "/r/a/" + link.group(1).rsplit("/r/a/", 1)[1]
    page = client.get(path).get_data(as_text=True)
    assert '<html lang="en">' in page and "Send my answer" in page
    assert "<legend>Have you evacuated?</legend>" in page and "3: Safe at home" in page
    assert '<p lang="en">Checking on evacuation</p>' in page

    # Answers: a typed English label, a Vietnamese button, a Japanese label — one tally.
    assert text_hub(sandbox_client, EN_PHONE, "no") == ["Thank you, your answer was received (2:No)."]
    press(sandbox_client, VI_LINE, "Tôi đang ở nhà an t…")
    assert text_hub(sandbox_client, JA_PHONE, "はい") == ["回答を受け付けました（1:はい）。ありがとうございました。"]
    counts = {c["key"]: c["count"] for c in tally(client, message_id)["choices"]}
    assert counts == {"1": 1, "2": 1, "3": 1}
    # A reply that is no choice is answered with the choices as the resident read them.
    assert text_hub(sandbox_client, EN_PHONE, "maybe") == [
        "Please reply with a number from 1 to 3 (1:Yes 2:No 3:Safe at home)"]

    detail = body(client.get(f"/api/v1/messages/{message_id}", headers=bearer()))
    assert detail["languages"]["en"]["question"] == {"text": "Have you evacuated?",
                                                     "choices": ["Yes", "No", "Safe at home"]}
    # The message page shows each language's question (what an approver checks).
    assert login(client, "admin").status_code == 302
    page = client.get(f"/messages/{message_id}").get_data(as_text=True)
    cell = re.search(r'<tr data-language="en".*?<td class="question-translation">(.*?)</td>', page, re.S)
    assert cell and " ".join(re.sub("<[^>]+>", " ", cell.group(1)).split()) == \
        "Have you evacuated? 1:Yes 2:No 3:Safe at home"


def test_the_operators_own_translation_of_the_question_is_sent(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    _town(runtime)
    texts = {"en": {"title": "Evacuation check", "body": "An evacuation order is in force.",
                    "question": {"text": "Are you in a shelter?", "choices": ["Yes", "No", "At home, safe"]}}}
    send_survey(client, ["sms"], question=QUESTION, texts=texts)
    en_sms = _one(sandbox_client, "sms", EN_PHONE)["text"]
    assert "\nAre you in a shelter?\nReply with the number: 1:Yes 2:No 3:At home, safe" in en_sms, en_sms
    assert text_hub(sandbox_client, EN_PHONE, "At home, safe") == [
        "Thank you, your answer was received (3:At home, safe)."]


def test_a_translated_question_that_does_not_match_is_refused(client: FlaskClient, runtime: Runtime) -> None:
    _town(runtime)
    en = {"title": "Evacuation check", "body": "An evacuation order is in force."}
    cases = [
        ({"text": "Are you safe?", "choices": ["Yes", "No"]}, QUESTION, "3個"),  # a label short
        ({"text": "Are you safe?", "choices": ["Yes", "No", "x" * 61]}, QUESTION, "60文字"),
        ({"text": "", "choices": ["Yes", "No", "Home"]}, QUESTION, "質問の文"),
        ({"text": "Are you safe?", "choices": "Yes"}, QUESTION, "の形で"),
        ({"text": "Are you safe?", "choices": ["Yes", "No"]}, None, "アンケートのない配信"),
    ]
    for local, question, fragment in cases:
        fields: dict[str, Any] = {"texts": {"en": {**en, "question": local}}, "channels": ["sms"]}
        if question:
            fields["question"] = question
        response = create(client, **fields)
        assert response.status_code == 400, (local, response.get_data(as_text=True))
        problems = body(response)["error"]["problems"]["texts.en.question"]
        assert any(fragment in p for p in problems), problems


def test_the_composer_translates_the_question_for_review(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    _town(runtime)
    assert login(client, "admin").status_code == 302
    form = {"title": "避難状況の確認", "body": "川に近づかないでください。", "channels": ["sms", "line"],
            "audience": "residents", "mode": "exercise", "msg_type": "alert", "category": "bousai",
            "question_text": QUESTION["text"], "question_choices": "\n".join(QUESTION["choices"]),
            "csrf_token": csrf(client)}
    # A drill reaches drill participants only (none here): the languages are added by hand.
    html = client.post("/compose", data={**form, "step": "translate", "add_languages": ["en", "vi"]}
                       ).get_data(as_text=True)
    assert 'id="text_en_question"' in html and 'value="Have you evacuated?"' in html
    choices = re.search(r'name="text_vi_choices"[^>]*>([^<]*)</textarea>', html)
    assert choices and choices.group(1) == "Có\nKhông\nTôi đang ở nhà an toàn"

    # The Vietnamese third label is too long for a LINE button: the operator is warned, and shortens it.
    fields: dict[str, Any] = {"text_langs": ["en", "vi"], "add_languages": ["en", "vi"]}
    for code in ("en", "vi"):
        for key in ("title", "question", "origin", "error", "machine"):
            found = re.search(rf'name="text_{code}_{key}" value="([^"]*)"', html)
            assert found, (code, key)
            fields[f"text_{code}_{key}"] = found.group(1)
        fields[f"text_{code}_body"] = re.search(rf'name="text_{code}_body"[^>]*>([^<]*)</textarea>', html).group(1)
        fields[f"text_{code}_choices"] = re.search(
            rf'name="text_{code}_choices"[^>]*>([^<]*)</textarea>', html).group(1)
    warned = client.post("/compose", data={**form, **fields, "step": "confirm"}).get_data(as_text=True)
    assert "LINEのボタンには選択肢の20文字までしか表示されません" in warned

    fields["text_vi_choices"] = "Có\nKhông\nỞ nhà, an toàn"
    confirm = client.post("/compose", data={**form, **fields, "step": "confirm"}).get_data(as_text=True)
    assert "Reply with the number: 1:Yes 2:No 3:Safe at home" in confirm  # English, as the machine made it
    assert 'name="text_vi_origin" value="operator"' in confirm  # the edit made it the operator's
    assert 'name="text_en_origin" value="machine"' in confirm
    sent = client.post("/compose", data={**form, **fields, "step": "send"})
    assert sent.status_code == 302
    message_id = int(sent.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    detail = body(client.get(f"/api/v1/messages/{message_id}", headers=bearer()))
    assert detail["languages"]["vi"]["question"]["choices"] == ["Có", "Không", "Ở nhà, an toàn"]
    assert {c: s["origin"] for c, s in detail["languages"].items()} == {"en": "machine", "vi": "operator"}


def test_a_resident_answers_on_the_call_with_the_keypad_in_their_language(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    people = add_residents(runtime, [
        {"name": "Alice", "area": OSHU, "phone": EN_PHONE, "language": "en"},
        {"name": "山田", "area": OSHU, "phone": JA_PHONE},
    ])
    with runtime.session() as s:  # they said yes to calls
        for person in people.values():
            s.add(Consent(contact_id=person.contact_id, channel="voice", source="test"))
    message_id = send_survey(client, ["voice"], question=QUESTION, translate=True)

    ja_call = _one(sandbox_client, "voice", JA_PHONE)
    assert "避難していますか" in ja_call["text"] and "はいの方は1、いいえの方は2" in ja_call["text"]
    assert "/callbacks/twilio/poll-answer?d=" in ja_call["meta"]["gather"]["action"]
    en_call = _one(sandbox_client, "voice", EN_PHONE)
    assert "Have you evacuated? For Yes, press 1. For No, press 2. For Safe at home, press 3." in en_call["text"]

    wrong = sandbox_client.press_digits(ja_call["provider_id"], "7")
    assert wrong["status"] == 200 and "<Gather" in wrong["body"] and "はいの方は1" in wrong["body"]
    answered = sandbox_client.press_digits(ja_call["provider_id"], "2")
    assert "回答を受け付けました。いいえ。" in answered["body"] and "<Hangup" in answered["body"]
    assert "Your answer, Safe at home, was received." in sandbox_client.press_digits(en_call["provider_id"], "3")["body"]
    summary = tally(client, message_id)
    assert {c["key"]: c["count"] for c in summary["choices"]} == {"1": 0, "2": 1, "3": 1}

    # Only a post Twilio signed, for that delivery's own call, counts.
    path = urlsplit(ja_call["meta"]["gather"]["action"])
    assert client.post(f"{path.path}?{path.query}", data={"Digits": "1"}).status_code == 403
    close_now(runtime, message_id)
    closed = sandbox_client.press_digits(ja_call["provider_id"], "1")
    assert "回答の受付は終了しました" in closed["body"]
    assert {c["key"]: c["count"] for c in tally(client, message_id)["choices"]} == {"1": 0, "2": 1, "3": 1}
