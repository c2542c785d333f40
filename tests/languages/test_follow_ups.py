"""取消・訂正 from the message page reach the original's readers in their language: the prepared
cancellation is machine-translated as it goes (and still goes at once, without a second person);
a correction's new words are translated for review in the page's 「翻訳」 section, then sent."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models import Message
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import bearer, body, create_approved, csrf, login
from tests.languages.support import EN_PHONE, JA_PHONE, VI_LINE, three_languages
from tests.support.hubtools import wait_for

TITLE, BODY = "大雨警報が発表されました", "川に近づかないでください。"


def _sent(client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient, **fields: Any) -> int:
    town = three_languages(runtime)
    created = create_approved(client, title=TITLE, body=BODY, channels=["sms", "line"], audience=town.audience,
                              category="bousai", translate=True, **fields)
    wait_for(lambda: len(sandbox_client.inbox("sms", to=EN_PHONE)) == 1)
    return int(created["message_id"])


def _follow_up_of(runtime: Runtime, original: int) -> Message:
    with runtime.session() as s:
        follow = s.scalar(select(Message).where(Message.references_id == original))
        assert follow is not None
        s.expunge(follow)
        return follow


def _last(sandbox_client: SandboxClient, channel: str, to: str, count: int = 2) -> str:
    wait_for(lambda: len(sandbox_client.inbox(channel, to=to)) == count)
    return str(sandbox_client.inbox(channel, to=to)[-1]["text"])


def test_a_live_cancellation_goes_at_once_in_each_readers_language(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    original = _sent(client, runtime, sandbox_client, mode="actual")
    login(client, "bousai1")
    url = f"/messages/{original}/follow-up/cancel"
    page = client.get(url).get_data(as_text=True)
    languages = re.search(r'id="cancel-languages">(.*?)</p>', page, re.S)
    assert languages and "English" in languages.group(1) and "Tiếng Việt" in languages.group(1)
    assert "機械翻訳して届けます" in languages.group(1)

    sent = client.post(url, data={"csrf_token": csrf(client), "step": "send", "confirm_actual": "yes"})
    assert sent.status_code == 302, sent.get_data(as_text=True)
    follow = _follow_up_of(runtime, original)
    assert str(follow.state) != "awaiting_approval", "the prepared retraction waits for nobody"
    detail = body(client.get(f"/api/v1/messages/{follow.id}", headers=bearer()))
    assert {code: s["origin"] for code, s in detail["languages"].items()} == {"en": "machine", "vi": "machine"}
    english = _last(sandbox_client, "sms", EN_PHONE)
    assert english.startswith("【取消】[CANCELLED] A heavy rain warning has been issued\n[sandbox:en] "), english
    assert "Đã ban hành cảnh báo mưa lớn\n[sandbox:vi] " in _last(sandbox_client, "line", VI_LINE)
    assert "取り消します" in _last(sandbox_client, "sms", JA_PHONE)


def test_a_correction_is_translated_for_review_then_sent(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    original = _sent(client, runtime, sandbox_client, mode="exercise")
    login(client, "bousai1")
    url = f"/messages/{original}/follow-up/update"
    assert 'id="translate-button"' in client.get(url).get_data(as_text=True)
    correction = "避難所を開設しました。"
    page = client.post(url, data={"csrf_token": csrf(client), "step": "translate", "body": correction})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-language="en" data-origin="machine"' in html and "Evacuation shelters are open." in html
    assert 'data-language="vi" data-origin="machine"' in html
    with runtime.session() as s:
        assert s.scalar(select(Message).where(Message.references_id == original)) is None, "translating sends nothing"

    form: dict[str, Any] = {"csrf_token": csrf(client), "step": "send", "body": correction,
                            "text_langs": ["en", "vi"]}
    for code in ("en", "vi"):
        for key in ("title", "origin", "error", "machine"):
            found = re.search(rf'name="text_{code}_{key}" value="([^"]*)"', html)
            assert found, (code, key)
            form[f"text_{code}_{key}"] = found.group(1)
        form[f"text_{code}_body"] = re.search(rf'name="text_{code}_body"[^>]*>([^<]*)</textarea>', html).group(1)
    form["text_en_body"] = "Shelters are open at the north school."  # the operator's own English
    assert client.post(url, data=form).status_code == 302
    follow = _follow_up_of(runtime, original)
    detail = body(client.get(f"/api/v1/messages/{follow.id}", headers=bearer()))
    assert {code: s["origin"] for code, s in detail["languages"].items()} == {"en": "operator", "vi": "machine"}
    assert "Shelters are open at the north school." in _last(sandbox_client, "sms", EN_PHONE)
    assert "Đã mở nơi sơ tán." in _last(sandbox_client, "line", VI_LINE)
