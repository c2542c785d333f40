"""Rules in a real Chromium: an admin adds a rule, tries a VXSE53 telegram against it, sees the SMS text."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from hub.models import Message
from hub.models.triggers import TriggerTelegram
from hub.runtime import Runtime
from tests.api.support import seed
from tests.web.test_browser import _shoot, browser, sign_in  # noqa: F401  (the fixture)
from tests.web.test_rule_pages import FIXTURE
from tests.web.test_rule_pages import OSHU_RULE as RULE


def _counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.session() as s:
        return (s.scalar(select(func.count()).select_from(Message)) or 0,
                s.scalar(select(func.count()).select_from(TriggerTelegram)) or 0)


def test_an_admin_tries_a_quake_telegram_against_a_rule_and_nothing_is_stored(
        app: Flask, runtime: Runtime, browser: object, tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "admin")

    web.find_element(By.ID, "nav-rules").click()  # type: ignore[attr-defined]
    WebDriverWait(web, 10).until(lambda w: w.current_url.endswith("/rules"))  # type: ignore[arg-type]
    area = web.find_element(By.ID, "f-rule")  # type: ignore[attr-defined]
    area.clear()
    area.send_keys(RULE)
    web.find_element(By.CSS_SELECTOR, "#rule-form button[type=submit]").click()  # type: ignore[attr-defined]
    WebDriverWait(web, 10).until(  # type: ignore[arg-type]
        lambda w: w.find_elements(By.CSS_SELECTOR, 'tr[data-rule="奥州市 震度5弱以上"]'))
    assert "追加しました: 奥州市 震度5弱以上" in web.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]

    before = _counts(runtime)
    web.find_element(By.ID, "f-telegram").send_keys(str(FIXTURE.resolve()))  # type: ignore[attr-defined]
    web.find_element(By.CSS_SELECTOR, "#try-form button[type=submit]").click()  # type: ignore[attr-defined]
    WebDriverWait(web, 15).until(lambda w: w.find_elements(By.ID, "trial-outcome"))  # type: ignore[arg-type]
    web.find_element(By.ID, "trial").location_once_scrolled_into_view  # type: ignore[attr-defined]  # noqa: B018
    _shoot(web, tmp_path, "rules-try")
    assert web.find_element(By.ID, "trial-outcome").text.startswith("一致")  # type: ignore[attr-defined]
    sms = web.find_element(By.CSS_SELECTOR, '.trial-body[data-channel="sms"] pre').text  # type: ignore[attr-defined]
    assert sms.startswith("8時43分ごろ地震。奥州市（震度６強）。")
    assert _counts(runtime) == before == (0, 0), "trying a rule stores no message and no telegram"
