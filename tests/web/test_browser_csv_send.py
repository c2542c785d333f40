"""差し込み送信 (CSV) in a real Chromium on a phone-sized screen: choose the file, mode and channels,
check (bad rows, real texts, the live look), tick 実配信, send; the send waits for a second person."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from hub.models import CsvSend, MessageState
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import seed
from tests.notices.support import HEADER, csv_bytes, mobile
from tests.web.test_browser import _shoot, browser, sign_in  # noqa: F401  (the fixture)
from tests.web.test_browser_console import _by, _wait

NO_SIDEWAYS = "return document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_a_live_csv_send_on_a_phone(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    by = _by()
    seed(app)
    upload = tmp_path / "kenshin.csv"
    upload.write_bytes(csv_bytes([HEADER, f"{mobile(1)},山田 花子,2026-12-02 14:30,all", "090-12,欠番,2026-12-02 9:00,all"]))
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    web.set_window_size(390, 844)
    sign_in(web, base, "bousai1")
    web.get(f"{base}/notices/csv")
    web.find_element(by.ID, "file").send_keys(str(upload))
    web.find_element(by.CSS_SELECTOR, 'input[name="mode"][value="actual"]').click()
    web.find_element(by.ID, "title").send_keys("健診のご案内")
    web.find_element(by.ID, "body").send_keys("{{氏名}}様 {{予約日時}}に健診があります。")
    assert web.execute_script(NO_SIDEWAYS) <= 0, "no sideways scrolling on a phone"
    _shoot(web, tmp_path, "csv-send-phone-form")
    web.find_element(by.ID, "check").click()

    _wait(web, lambda w: w.find_elements(by.ID, "csv-preview"))
    assert web.find_element(by.TAG_NAME, "body").get_attribute("data-mode") == "actual"
    assert web.find_element(by.CSS_SELECTOR, ".banner-actual").is_displayed(), "the live look, as in the composer"
    assert web.find_element(by.ID, "bad-rows").text == "1"
    assert "山田 花子様 2026-12-02 14:30に健診があります。" in web.find_element(by.CSS_SELECTOR, ".csv-sample").text
    assert web.execute_script(NO_SIDEWAYS) <= 0
    web.execute_script("arguments[0].scrollIntoView({block: 'end'})", web.find_element(by.ID, "confirm"))
    _shoot(web, tmp_path, "csv-send-phone-check")
    web.find_element(by.ID, "skip-bad").click()
    web.find_element(by.ID, "confirm").click()  # without the live tick: checked again, nothing stored
    _wait(web, lambda w: "実配信であることの確認にチェックしてください" in w.page_source)
    with runtime.session() as s:
        assert s.scalar(select(CsvSend)) is None
    web.find_element(by.ID, "skip-bad").click()
    web.find_element(by.ID, "confirm-actual").click()
    web.find_element(by.ID, "confirm").click()
    _wait(web, lambda w: "/notices/csv/" in w.current_url)
    web.execute_script("arguments[0].scrollIntoView()", web.find_element(by.ID, "csv-messages"))
    _shoot(web, tmp_path, "csv-send-phone-sent")
    assert web.find_element(by.TAG_NAME, "body").get_attribute("data-mode") == "actual", "still looks live"
    [row] = web.find_elements(by.CSS_SELECTOR, f'#csv-messages tr[data-state="{MessageState.AWAITING_APPROVAL}"]')
    assert "承認待ち" in row.text, "the state in words, not its code"
    assert web.execute_script(NO_SIDEWAYS) <= 0
    assert sandbox_client.inbox("sms") == [], "a live send waits for the second person"
