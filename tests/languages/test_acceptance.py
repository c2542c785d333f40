"""A message in Japanese, machine-translated into English and Vietnamese through the sandbox's
LibreTranslate, reaches each resident in their language on every channel; a translator failure
still sends the message (Japanese after a fixed line) and the operator sees why."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from hub.models import AuditLog
from hub.runtime import Runtime
from hub.translate.fallback import ENGLISH_LINE
from sandbox import SandboxClient
from tests.api.support import bearer, body, create_approved, login
from tests.languages.support import EN_PHONE, JA_LINE, JA_PHONE, VI_LINE, VI_PHONE, three_languages
from tests.support.hubtools import wait_for

TITLE, BODY = "大雨警報が発表されました", "川に近づかないでください。"
PREFIX = "/api/v1"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def _send(client: FlaskClient, runtime: Runtime, **fields: Any) -> int:
    town = three_languages(runtime)
    created = create_approved(client, title=TITLE, body=BODY, channels=["sms", "line", "voice", "rss"],
                              audience=town.audience, category="bousai", translate=True, **fields)
    return int(created["message_id"])


def _one(sandbox_client: SandboxClient, channel: str, to: str) -> dict[str, Any]:
    wait_for(lambda: len(sandbox_client.inbox(channel, to=to)) == 1)
    [item] = sandbox_client.inbox(channel, to=to)
    return item


def test_each_resident_reads_the_message_in_their_language(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    message_id = _send(client, runtime)

    en_sms = _one(sandbox_client, "sms", EN_PHONE)
    assert en_sms["text"].startswith("A heavy rain warning has been issued\nPlease stay away from rivers.")
    # Plain English travels as GSM-7: 160 characters a segment instead of 70.
    assert (en_sms["meta"]["encoding"], en_sms["meta"]["num_segments"]) == ("GSM-7", 1)
    ja_sms = _one(sandbox_client, "sms", JA_PHONE)
    assert ja_sms["text"].startswith(f"{TITLE}\n{BODY}") and ja_sms["meta"]["encoding"] == "UCS-2"

    assert _one(sandbox_client, "line", VI_LINE)["text"].startswith("Đã ban hành cảnh báo mưa lớn\nXin đừng")
    assert _one(sandbox_client, "line", JA_LINE)["text"].startswith(TITLE)

    # Each call speaks its resident's language with a voice for it.
    calls = {to: _one(sandbox_client, "voice", to) for to in (EN_PHONE, VI_PHONE, JA_PHONE)}
    assert calls[EN_PHONE]["meta"]["languages"] == ["en-US"]
    assert "Please stay away from rivers." in calls[EN_PHONE]["text"]
    assert calls[VI_PHONE]["meta"]["languages"] == ["vi-VN"]
    assert calls[JA_PHONE]["meta"]["languages"] == ["ja-JP"]

    detail = body(client.get(f"{PREFIX}/messages/{message_id}", headers=bearer()))
    assert {code: s["origin"] for code, s in detail["languages"].items()} == {"en": "machine", "vi": "machine"}

    # The link in the English SMS opens the public page in English.
    link = en_sms["text"].rsplit("\n", 1)[1]
    assert link.endswith("?lang=en")
    url = urlsplit(link)
    public = client.get(f"{url.path}?{url.query}").get_data(as_text=True)
    assert 'lang="en">Please stay away from rivers.' in public and 'id="message-languages"' in public

    # The feeds per language; CAP carries every language, one <info> each.
    english = client.get("/feeds/all.atom?lang=en").get_data(as_text=True)
    assert "A heavy rain warning has been issued" in english and 'xml:lang="en"' in english
    # The feed's own title in words its readers read (English for every language but Japanese).
    assert "<title>Disaster and city information (All)</title>" in english
    # …and the category by the name the city gave it in the feed's language (tests/residents/test_names_in_languages.py).
    assert "<title>Disaster and city information (Thiên tai)</title>" in client.get(
        "/feeds/bousai.atom?lang=vi").get_data(as_text=True)
    japanese = client.get("/feeds/all.atom").get_data(as_text=True)
    assert TITLE in japanese and "<title>防災・行政情報（すべて）</title>" in japanese
    drills = client.get("/feeds/exercise.atom?lang=en").get_data(as_text=True)
    assert "<title>【訓練】Disaster and city information (exercises and tests)</title>" in drills
    assert "Đã ban hành" in client.get("/feeds/bousai.rss?lang=vi").get_data(as_text=True)
    assert client.get("/feeds/all.atom?lang=xx").status_code == 404
    cap = etree.fromstring(client.get(f"/feeds/cap/{message_id}.xml").data)
    infos = {i.findtext(f"{CAP}language"): i.findtext(f"{CAP}headline") for i in cap.iter(f"{CAP}info")}
    assert infos == {"ja-JP": TITLE, "en": "A heavy rain warning has been issued",
                     "vi": "Đã ban hành cảnh báo mưa lớn"}


def test_a_translator_failure_still_sends_and_is_shown(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    sandbox_client.inject_fault("translate", "500", count=0, match="en")
    message_id = _send(client, runtime)

    en_sms = _one(sandbox_client, "sms", EN_PHONE)
    assert en_sms["text"].startswith(f"{TITLE}\n{ENGLISH_LINE}\n{BODY}")
    assert _one(sandbox_client, "line", VI_LINE)["text"].startswith("Đã ban hành")  # Vietnamese was translated
    call = _one(sandbox_client, "voice", EN_PHONE)
    assert call["meta"]["languages"] == ["en-US", "ja-JP"]  # the notice in English, the text in Japanese

    detail = body(client.get(f"{PREFIX}/messages/{message_id}", headers=bearer()))
    en = detail["languages"]["en"]
    assert en["origin"] == "fallback" and "ERR_INTERNAL_SERVER_ERROR" in en["error"]
    with runtime.session() as s:
        [entry] = s.scalars(select(AuditLog).where(AuditLog.action == "message.translation_failed",
                                                   AuditLog.subject_id == str(message_id)))
        assert "ERR_INTERNAL_SERVER_ERROR" in entry.detail["languages"]["en"]

    assert login(client, "admin").status_code == 302
    page = client.get(f"/messages/{message_id}").get_data(as_text=True)
    assert "翻訳失敗" in page and "ERR_INTERNAL_SERVER_ERROR" in page and "機械翻訳" in page


def test_the_approver_sees_every_language(client: FlaskClient, runtime: Runtime) -> None:
    town = three_languages(runtime)
    created = client.post(f"{PREFIX}/messages", headers=bearer("bousai1"), json={
        "title": TITLE, "body": BODY, "channels": ["sms", "line"], "audience": town.audience, "mode": "actual",
        "category": "bousai", "translate": True})
    message_id = body(created)["message_id"]
    assert body(created)["state"] == "awaiting_approval"
    assert login(client, "bousai2").status_code == 302
    page = client.get(f"/messages/{message_id}").get_data(as_text=True)
    assert 'id="approve-languages"' in page
    plan = page.split('id="plan"', 1)[1].split("</table>", 1)[0]
    assert "A heavy rain warning has been issued" in plan and "Đã ban hành cảnh báo mưa lớn" in plan
    assert "機械翻訳" in plan


def test_a_cancellation_reaches_each_reader_in_their_language(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    message_id = _send(client, runtime)
    _one(sandbox_client, "sms", EN_PHONE)
    sandbox_client.clear()
    cancelled = client.post(f"{PREFIX}/messages", headers=bearer(), json={
        "msg_type": "cancel", "references": message_id, "mode": "actual", "translate": True})
    assert cancelled.status_code == 201, cancelled.get_data(as_text=True)
    assert _one(sandbox_client, "sms", EN_PHONE)["text"].startswith(
        "【取消】[CANCELLED] A heavy rain warning has been issued")
    assert _one(sandbox_client, "line", VI_LINE)["text"].startswith("【取消】[HỦY] Đã ban hành cảnh báo mưa lớn")
    assert _one(sandbox_client, "sms", JA_PHONE)["text"].startswith(f"【取消】{TITLE}")
