"""取消 and 訂正 from the message page in a real Chromium: preview per channel with counts, then the SMS goes
out; a correction translated for the original's readers, reviewed and edited in the page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask

from hub.models import MessageState
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import bearer, seed
from tests.languages.support import EN_PHONE, JA_PHONE, three_languages
from tests.web.test_browser import _shoot, browser, sign_in  # noqa: F401  (the fixture)
from tests.web.test_browser_console import _by, _state, _wait


def _delivered_live_message(app: Flask, runtime: Runtime) -> int:
    client = app.test_client()
    created = client.post("/api/v1/messages", headers=bearer("bousai1"), json={
        "title": "避難指示", "body": "高台へ避難してください。", "channels": ["sms"], "audience": "residents",
        "mode": "actual"})
    assert created.status_code == 201, created.json
    message_id = int(created.json["message_id"])  # type: ignore[index]
    if created.json["state"] == "awaiting_approval":  # type: ignore[index]
        approved = client.post(f"/api/v1/messages/{message_id}/approve", headers=bearer("bousai2"))
        assert approved.status_code == 200, approved.json
    deadline = time.monotonic() + 30
    while _state(runtime, message_id) != MessageState.DONE:
        assert time.monotonic() < deadline, _state(runtime, message_id)
        time.sleep(0.2)
    return message_id


def test_cancel_a_delivered_live_message_from_its_page(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    by = _by()
    seed(app)
    message_id = _delivered_live_message(app, runtime)
    sent = len(sandbox_client.inbox("sms"))
    assert sent > 0
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")
    web.get(f"{base}/messages/{message_id}")
    assert not web.find_elements(by.ID, "cancelled-marker")
    web.find_element(by.ID, "cancel-button").click()
    _wait(web, lambda w: w.find_elements(by.ID, "follow-up-plan"))
    row = web.find_element(by.CSS_SELECTOR, '#follow-up-plan tr[data-channel="sms"]')
    _shoot(web, tmp_path, "follow-up-cancel-confirm")
    assert row.find_element(by.CSS_SELECTOR, ".reach").text == f"{sent}件", "as many as received the original"
    assert "取消" in row.text
    assert sandbox_client.inbox("sms")[sent:] == [], "nothing goes before the confirmation"
    web.find_element(by.ID, "confirm-actual").click()
    web.find_element(by.ID, "follow-up-send").click()
    _wait(web, lambda w: "/follow-up/" not in w.current_url)
    cancel_id = int(web.current_url.rstrip("/").rsplit("/", 1)[1])
    assert cancel_id != message_id
    _wait(web, lambda w: _state(runtime, cancel_id) == MessageState.DONE, 30)
    new = sandbox_client.inbox("sms")[sent:]
    assert len(new) == sent and all("取消" in str(m) for m in new), new
    web.get(f"{base}/messages/{message_id}")
    assert web.find_element(by.ID, "cancelled-marker").text == "取消済み"
    _shoot(web, tmp_path, "follow-up-original-cancelled")


def test_a_correction_is_translated_and_reviewed_in_the_page(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    by = _by()
    seed(app)
    town = three_languages(runtime)
    created = app.test_client().post("/api/v1/messages", headers=bearer("bousai1"), json={
        "title": "大雨警報が発表されました", "body": "川に近づかないでください。", "channels": ["sms"],
        "audience": town.audience, "mode": "exercise"})
    assert created.status_code == 201, created.json
    message_id = int(created.json["message_id"])  # type: ignore[index]
    _wait(browser, lambda w: _state(runtime, message_id) == MessageState.DONE, 30)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")
    web.get(f"{base}/messages/{message_id}")
    web.find_element(by.ID, "correct-button").click()
    _wait(web, lambda w: w.find_elements(by.ID, "translate-button"))
    text = web.find_element(by.ID, "body")
    text.clear()
    text.send_keys("避難所を開設しました。")
    web.find_element(by.ID, "translate-button").click()
    _wait(web, lambda w: w.find_elements(by.CSS_SELECTOR, '.translation[data-language="en"]'))
    _shoot(web, tmp_path, "follow-up-correction-translated")
    english = web.find_element(by.ID, "text_en_body")
    assert english.get_attribute("value") == "Evacuation shelters are open."
    english.clear()
    english.send_keys("Shelters are open at the north school.")
    web.find_element(by.ID, "follow-up-send").click()
    _wait(web, lambda w: "/follow-up/" not in w.current_url)
    _wait(web, lambda w: any("north school" in m["text"] for m in sandbox_client.inbox("sms", to=EN_PHONE)), 30)
    japanese = [m["text"] for m in sandbox_client.inbox("sms", to=JA_PHONE)]
    assert len(japanese) == 2 and "避難所を開設しました。" in japanese[-1]
