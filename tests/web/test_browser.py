"""Pages as an officer sees them, in a real Chromium (Debian's chromium + chromium-driver).

Screenshots are written to the test's tmp dir (and to ``$HUB_SCREENSHOTS`` when set) to be looked at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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



def sign_in(web: Any, base: str, username: str, password: str | None = None) -> None:
    """Log in through the login form, as a person would; waits until the console is shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    web.get(f"{base}/login")
    web.find_element(By.ID, "username").send_keys(username)
    web.find_element(By.ID, "password").send_keys(password if password is not None else PASSWORDS[username])
    web.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(web, 10).until(lambda w: "/login" not in w.current_url)

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

    seed(app)
    sandbox_client.inject_fault("x", "timeout", count=1, delay=4.0)  # the post's answer is lost
    message_id = send(runtime, channels=["x", "email"])
    base = runtime.settings.public_url.rstrip("/")

    web = browser
    sign_in(web, base, "admin")

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


def test_the_approve_button_works_on_a_phone_sized_screen(
    app: Flask, runtime: Runtime, browser: object, tmp_path: Path
) -> None:
    """The approver is told on LINE and opens the link on a phone: the button fits and works there."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.api.support import bearer

    seed(app)
    created = app.test_client().post("/api/v1/messages", headers=bearer("bousai1"), json={
        "title": "避難指示", "body": "高台へ避難してください。", "channels": ["email"], "audience": "residents",
        "mode": "actual"})
    assert created.status_code == 201 and created.json["state"] == "awaiting_approval"  # type: ignore[index]
    message_id = created.json["message_id"]  # type: ignore[index]
    base = runtime.settings.public_url.rstrip("/")

    web = browser
    web.set_window_size(390, 844)  # type: ignore[attr-defined]
    sign_in(web, base, "bousai2")

    web.get(f"{base}/messages/{message_id}")  # type: ignore[attr-defined]
    button = web.find_element(By.CSS_SELECTOR, "section.waiting form button[type=submit]")  # type: ignore[attr-defined]
    viewport = web.execute_script("return document.documentElement.clientWidth")  # type: ignore[attr-defined]
    overflow = web.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    _shoot(web, tmp_path, "approve-phone")
    rect = button.rect
    assert viewport <= 420 and overflow <= 0, "no sideways scrolling on a phone"
    assert rect["x"] >= 0 and rect["x"] + rect["width"] <= viewport and rect["width"] >= viewport * 0.7
    assert rect["height"] >= 44, "a thumb-sized target"
    button.click()
    # page_source, not an element: the page is replaced under us by the redirect after the POST.
    WebDriverWait(web, 10).until(lambda w: "承認しました" in w.page_source)  # type: ignore[arg-type]
    with runtime.session() as s:
        from hub.models import Message

        approved = s.get(Message, message_id)
        assert approved is not None and approved.state != "awaiting_approval"


def test_an_officer_finds_a_recipient_by_the_number_as_people_write_it(
    app: Flask, runtime: Runtime, browser: object, tmp_path: Path
) -> None:
    """受信者の検索: typed as a resident said it on the phone, found, and written the same way."""
    from selenium.webdriver.common.by import By
    from sqlalchemy import select

    from hub.models import Contact, Delivery
    from tests.api.policy_support import create_approved

    seed(app)
    created = create_approved(app.test_client(), "bousai1", title="避難指示", body="高台へ避難してください。",
                              channels=["sms"], audience="residents", mode="actual", category=None)
    message_id = int(created["message_id"])
    with runtime.session() as s:
        name, address = next((n, a) for a, n in s.execute(
            select(Delivery.address, Contact.name).join(Contact, Contact.id == Delivery.contact_id)
            .where(Delivery.message_id == message_id).order_by(Delivery.id)) if n and a.startswith(("+8170", "+8180", "+8190")))
    national = f"0{address[3:5]}-{address[5:9]}-{address[9:]}"
    base = runtime.settings.public_url.rstrip("/")

    web = browser
    sign_in(web, base, "bousai1")
    web.get(f"{base}/messages/{message_id}")  # type: ignore[attr-defined]
    web.find_element(By.ID, "recipients-link").click()  # type: ignore[attr-defined]
    web.find_element(By.ID, "q").send_keys(national)  # type: ignore[attr-defined]
    web.find_element(By.CSS_SELECTOR, "form[role=search] button[type=submit]").click()  # type: ignore[attr-defined]
    rows = web.find_elements(By.CSS_SELECTOR, "#recipients tbody tr")  # type: ignore[attr-defined]
    _shoot(web, tmp_path, "recipients-by-number")
    assert len(rows) == 1 and name in rows[0].text
    cell = rows[0].find_element(By.CSS_SELECTOR, "td.address")
    assert cell.text == national, "written as it was typed, not +8190…"
    assert cell.value_of_css_property("text-align") in ("left", "start")
