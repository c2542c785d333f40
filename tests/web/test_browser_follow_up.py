"""取消 from the message page in a real Chromium: preview per channel with counts, then the SMS goes out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask

from hub.models import MessageState
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import bearer, seed
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
