"""The composer's 「翻訳」 section: ask for translations, review and edit them, send them with the message."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import bearer, body, csrf, login
from tests.languages.support import three_languages


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert found, name
    return found.group(1)


def test_the_operator_reviews_edits_and_sends_the_translations(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    town = three_languages(runtime)
    assert login(client, "admin").status_code == 302
    form = {"title": "大雨警報が発表されました", "body": "川に近づかないでください。", "channels": ["sms", "line"],
            "audience": town.audience, "mode": "exercise", "msg_type": "alert", "csrf_token": csrf(client)}

    page = client.post("/compose", data={**form, "step": "translate", "add_languages": ["ko", "ja-easy"]})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="audience-languages"' in html
    for code, text in (("en", "A heavy rain warning has been issued"), ("vi", "Đã ban hành cảnh báo mưa lớn"),
                       ("ko", "호우 경보가 발령되었습니다")):
        assert f'data-language="{code}" data-origin="machine"' in html
        assert text in html
    assert "機械翻訳" in html
    # やさしい日本語 is offered empty, for a person to write: never machine-translated.
    assert 'name="text_ja-easy_body" rows="4" lang="ja"></textarea>' in html

    # The operator fixes the English body; Vietnamese and Korean are sent as the machine made them.
    texts = {}
    for code in ("en", "vi", "ko"):
        texts |= {f"text_{code}_{key}": _hidden(html, f"text_{code}_{key}") for key in ("origin", "error", "machine")}
        texts[f"text_{code}_title"] = _hidden(html, f"text_{code}_title")
        texts[f"text_{code}_body"] = re.search(rf'name="text_{code}_body"[^>]*>([^<]*)</textarea>', html).group(1)
    texts["text_en_body"] = "Stay away from rivers and canals."
    data = {**form, **texts, "text_langs": ["en", "vi", "ko"]}

    confirm = client.post("/compose", data={**data, "step": "confirm"}).get_data(as_text=True)
    assert "言語ごとの内容" in confirm and "Stay away from rivers and canals." in confirm
    assert "【訓練】[EXERCISE] A heavy rain warning has been issued" in confirm
    assert 'name="text_en_origin" value="operator"' in confirm  # the edit made it the operator's

    sent = client.post("/compose", data={**data, "step": "send"})
    assert sent.status_code == 302
    message_id = int(sent.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    detail = body(client.get(f"/api/v1/messages/{message_id}", headers=bearer()))
    assert {c: s["origin"] for c, s in detail["languages"].items()} == {
        "en": "operator", "vi": "machine", "ko": "machine"}
    page_html = client.get(f"/messages/{message_id}").get_data(as_text=True)
    assert "確認済み（担当者が入力・編集）" in page_html and 'id="languages"' in page_html


def test_a_forged_machine_mark_on_an_edit_is_not_believed(client: FlaskClient, runtime: Runtime) -> None:
    town = three_languages(runtime)
    assert login(client, "admin").status_code == 302
    form = {"title": "断水のお知らせ", "body": "本日は断水します。", "channels": ["sms"], "audience": town.audience,
            "mode": "exercise", "msg_type": "alert", "csrf_token": csrf(client), "text_langs": ["en"],
            "text_en_title": "Water", "text_en_body": "Written by hand.", "text_en_origin": "machine",
            "text_en_machine": "0" * 64}
    confirm = client.post("/compose", data={**form, "step": "confirm"}).get_data(as_text=True)
    assert 'name="text_en_origin" value="operator"' in confirm


def test_a_translation_longer_than_the_limit_is_cut_so_it_can_be_sent_back_unchanged(client: FlaskClient) -> None:
    # English is nearly always longer than the Japanese: a title at the 200-character limit came
    # back longer, and sending the reviewed texts back unchanged was refused (found by the API fuzzer).
    title, body_text = "大" * 200, "川に近づかないでください。"
    made = client.post("/api/v1/messages/translations", headers=bearer(), json={
        "title": title, "body": body_text, "channels": ["sms"], "mode": "exercise", "audience": "residents",
        "languages": ["en"]})
    assert made.status_code == 200, made.get_data(as_text=True)[:300]
    english = body(made)["texts"]["en"]
    assert english["origin"] == "machine", english["error"]
    assert len(english["title"]) == 200 and english["title"].endswith("…")
    sent = client.post("/api/v1/messages", headers=bearer(), json={
        "title": title, "body": body_text, "channels": ["sms"], "mode": "exercise", "audience": "residents",
        "texts": {"en": english}})
    assert sent.status_code == 201, sent.get_data(as_text=True)[:300]
