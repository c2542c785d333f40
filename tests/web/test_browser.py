"""Pages as an officer sees them, in a real Chromium (Debian's chromium + chromium-driver).

Screenshots are written to the test's tmp dir (and to ``$HUB_SCREENSHOTS`` when set) to be looked at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import PASSWORDS, seed
from tests.support.hubtools import send
from tests.support.services import in_ci


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if in_ci():
            pytest.fail("chromium and chromium-driver are not installed; .ci/run installs them")
        pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1200,1400", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    options.add_argument("--lang=ja")  # an officer's browser in Japan; the page follows Accept-Language
    options.add_experimental_option("prefs", {"intl.accept_languages": "ja"})
    web = webdriver.Chrome(service=Service(driver), options=options)
    web.set_page_load_timeout(30)
    yield web
    web.quit()


def _shoot(web: object, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    web.save_screenshot(str(path))  # type: ignore[attr-defined]
    if os.environ.get("HUB_SCREENSHOTS"):
        Path(os.environ["HUB_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["HUB_SCREENSHOTS"]) / path.name)


def test_a_message_with_recipients_in_doubt_says_check_not_done(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seed(app)
    sandbox_client.inject_fault("x", "timeout", count=1, delay=4.0)  # the post's answer is lost
    message_id = send(runtime, channels=["x", "email"])
    base = runtime.settings.public_url.rstrip("/")

    web = browser
    web.get(f"{base}/login")  # type: ignore[attr-defined]
    web.find_element(By.ID, "username").send_keys("admin")  # type: ignore[attr-defined]
    web.find_element(By.ID, "password").send_keys(PASSWORDS["admin"])  # type: ignore[attr-defined]
    web.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()  # type: ignore[attr-defined]
    WebDriverWait(web, 10).until(lambda w: "/login" not in w.current_url)  # type: ignore[arg-type]

    web.get(f"{base}/messages/{message_id}")  # type: ignore[attr-defined]
    state = web.find_element(By.ID, "state").text  # type: ignore[attr-defined]
    notice = web.find_element(By.ID, "unknown-notice")  # type: ignore[attr-defined]
    _shoot(web, tmp_path, "message-unknown")
    assert state == "要確認：結果不明 1件", "a message with a recipient in doubt is never shown as 完了"
    assert notice.is_displayed() and "送信結果が不明な宛先が 1件あります" in notice.text
    unknown_cell = web.find_element(By.CSS_SELECTOR, 'tr[data-channel="x"] td[data-key="unknown"]')  # type: ignore[attr-defined]
    assert unknown_cell.text == "1"

    web.get(f"{base}/")  # type: ignore[attr-defined]
    _shoot(web, tmp_path, "dashboard-unknown")
    assert "要確認：結果不明 1件" in web.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
