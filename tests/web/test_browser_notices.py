"""Issue 13's pages in a real Chromium: the composer says a night notice will go at 8:00 (live,
on the confirmation and on the message page), and the scheduled list withdraws it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hub.compose.schedule import JST
from hub.config import Settings
from hub.dispatch.tasks import send_batch
from hub.models import Message, MessageState
from hub.relay.clock import ManualClock, using
from hub.runtime import Runtime
from tests.api.support import bearer, body, seed
from tests.compose.test_notices_at_night import NOTICE, unsend
from tests.web.test_browser import _shoot, browser, sign_in  # noqa: F401  (the fixture)
from tests.web.test_browser_console import _by, _wait

MORNING = "静かな時間帯（21:00〜8:00）のため、12月2日 8:00 に送信します"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, quiet_hours="21:00-08:00")


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with using(ManualClock(datetime(2026, 12, 1, 23, 30, tzinfo=JST))) as manual:
        assert isinstance(manual, ManualClock)
        yield manual


def test_the_composer_says_a_night_notice_goes_at_eight_and_the_scheduled_list_withdraws_it(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path, clock: ManualClock  # noqa: F811
) -> None:
    by = _by()
    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")
    web.get(f"{base}/compose")
    web.find_element(by.XPATH, '//label[input[@name="msg_type"][@value="notice"]]').click()
    web.find_element(by.CSS_SELECTOR, 'input[name=mode][value="exercise"]').click()
    web.find_element(by.ID, "title").send_keys("健診のお知らせ")
    web.find_element(by.ID, "body").send_keys("12月5日は特定健診の日です。")
    web.find_element(by.CSS_SELECTOR, 'input[name=channels][value="line"]').click()
    web.find_element(by.CSS_SELECTOR, '#audience option[value="staff"]').click()
    live = web.find_element(by.ID, "sends-at")
    _wait(web, lambda w: live.is_displayed() and live.text == MORNING)
    web.execute_script("arguments[0].scrollIntoView({block: 'center'})", live)
    _shoot(web, tmp_path, "composer-quiet-hours")
    line_preview = web.find_element(by.CSS_SELECTOR, "#previews pre").text
    assert "（防災危機管理課）" in line_preview, "the preview shows the department's name on LINE"

    web.find_element(by.CSS_SELECTOR, 'button[name=step][value="confirm"]').click()
    _wait(web, lambda w: w.find_elements(by.CSS_SELECTOR, 'button[name=step][value="send"]'))
    assert web.find_element(by.ID, "sends-at").text == MORNING
    _shoot(web, tmp_path, "confirm-quiet-hours")
    web.find_element(by.CSS_SELECTOR, 'button[name=step][value="send"]').click()
    _wait(web, lambda w: "/messages/" in w.current_url)
    message_id = int(web.current_url.rstrip("/").rsplit("/", 1)[1])
    assert web.find_element(by.ID, "sends-at").text == MORNING
    _shoot(web, tmp_path, "message-quiet-hours")

    web.find_element(by.ID, "nav-scheduled").click()
    _wait(web, lambda w: "/scheduled" in w.current_url)
    row = web.find_element(by.CSS_SELECTOR, f'tr[data-message-id="{message_id}"]')
    assert "健診のお知らせ" in row.text and MORNING in row.text and "2026-12-02 08:00" in row.text
    _shoot(web, tmp_path, "scheduled-list")
    row.find_element(by.CSS_SELECTOR, "button.danger").click()
    _wait(web, lambda w: w.find_elements(by.ID, "none"))
    _shoot(web, tmp_path, "scheduled-withdrawn")
    with runtime.session() as s:
        message = s.get(Message, message_id)
        assert message is not None and message.state == MessageState.WITHDRAWN


def test_a_notice_stopped_by_the_quiet_hours_says_so_on_its_page(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path, clock: ManualClock  # noqa: F811
) -> None:
    by = _by()
    seed(app)
    client = app.test_client()
    clock.set(datetime(2026, 12, 1, 20, 50, tzinfo=JST))
    sent = body(client.post("/api/v1/messages", json={**NOTICE, "department": "bousai"}, headers=bearer()))
    message_id = sent["message_id"]
    batches = unsend(runtime, message_id)  # still going when the window opens
    clock.set(datetime(2026, 12, 1, 21, 5, tzinfo=JST))
    for batch_no in batches:
        send_batch(message_id, "sms", batch_no)

    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")
    web.get(f"{base}/messages/{message_id}")
    paused = "静かな時間帯（21:00〜8:00）のため送信を止めています。12月2日 8:00 に続きを送ります"
    _wait(web, lambda w: w.find_element(by.ID, "sends-at").text == paused)
    web.execute_script("arguments[0].scrollIntoView({block: 'center'})", web.find_element(by.ID, "sends-at"))
    _shoot(web, tmp_path, "message-night-pause")
    web.get(f"{base}/messages/{message_id}?lang=en")
    _wait(web, lambda w: w.find_element(by.ID, "sends-at").text
          == "Quiet hours (21:00〜8:00): sending has stopped; the rest goes on Dec 2, 8:00")
