"""Issue 11's pages in a real Chromium: choosing an everyday notice in the composer, and the
dashboard's alarm when no delivery worker is alive."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hub.app import create_app
from hub.config import Settings
from hub.dispatch.lanes import LANES
from hub.health.heartbeat import Heartbeat
from hub.models import Message, MsgType, utcnow
from hub.relay.clock import ManualClock, using
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import seed
from tests.support.live import LiveServer
from tests.web.test_browser import _shoot, browser, sign_in  # noqa: F401  (the fixture)
from tests.web.test_browser_console import _by, _wait


def test_an_everyday_notice_is_chosen_as_a_card_and_marked_on_its_page(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    by = _by()
    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")
    web.get(f"{base}/compose")
    alert = web.find_element(by.CSS_SELECTOR, 'input[name=msg_type][value="alert"]')
    assert alert.is_selected(), "緊急・防災情報 unless the author says otherwise"
    notice = web.find_element(by.XPATH, '//label[input[@name="msg_type"][@value="notice"]]')
    notice.click()
    web.execute_script("arguments[0].scrollIntoView()", notice.find_element(by.XPATH, "ancestor::fieldset"))
    _shoot(web, tmp_path, "composer-notice")
    web.find_element(by.CSS_SELECTOR, 'input[name=mode][value="exercise"]').click()
    web.find_element(by.ID, "title").send_keys("健診のお知らせ")
    web.find_element(by.ID, "body").send_keys("来週から特定健診が始まります。")
    web.find_element(by.CSS_SELECTOR, 'input[name=channels][value="email"]').click()
    web.find_element(by.CSS_SELECTOR, '#audience option[value="staff"]').click()
    web.find_element(by.CSS_SELECTOR, 'button[name=step][value="confirm"]').click()
    _wait(web, lambda w: w.find_elements(by.CSS_SELECTOR, 'button[name=step][value="send"]'))
    web.find_element(by.CSS_SELECTOR, 'button[name=step][value="send"]').click()
    _wait(web, lambda w: "/messages/" in w.current_url)

    message_id = int(web.current_url.rstrip("/").rsplit("/", 1)[1])
    with runtime.session() as s:
        message = s.get(Message, message_id)
        assert message is not None and message.msg_type == MsgType.NOTICE
    badges = [b.text for b in web.find_elements(by.CSS_SELECTOR, ".badge-state")]
    assert "お知らせ" in badges, badges
    _shoot(web, tmp_path, "message-notice")
    assert sandbox_client.inbox("email"), "the exercise notice reached the drill participants"


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with using(ManualClock(utcnow())) as manual:
        assert isinstance(manual, ManualClock)
        yield manual


def test_the_dashboard_alarms_when_no_worker_is_alive_and_clears_when_one_beats(
    settings: Settings, browser: Any, tmp_path: Path, clock: ManualClock  # noqa: F811
) -> None:
    by = _by()
    # Tasks go to a broker no worker reads: a dead engine (the page checks itself, no thread behind it).
    app = create_app(replace(settings, tasks_eager=False, watchdog_in_web=False))
    base = settings.public_url.rstrip("/")
    server = LiveServer(app, int(base.rsplit(":", 1)[1])).start()
    try:
        with app.app_context():
            seed(app)
        rt: Runtime = app.extensions["hub"]
        web = browser
        sign_in(web, base, "admin")
        assert not web.find_elements(by.ID, "engine-alarm"), "a starting fleet gets a moment"

        clock.advance(seconds=61)
        web.get(f"{base}/")
        banner = web.find_element(by.ID, "engine-alarm")
        assert banner.is_displayed() and "稼働中の配信ワーカーがありません" in banner.text
        _shoot(web, tmp_path, "dashboard-engine-alarm")

        with app.app_context():
            Heartbeat("celery@node1", LANES).start(rt)
        web.get(f"{base}/")
        assert not web.find_elements(by.ID, "engine-alarm")
    finally:
        server.stop()
