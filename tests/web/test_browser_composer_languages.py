"""The composer's 「翻訳」 section in a real Chromium: translate, review, and see each language as
every channel renders it (the English SMS in GSM-7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from selenium.webdriver.support.ui import Select

from hub.runtime import Runtime
from tests.api.support import seed
from tests.languages.support import AREA, three_languages
from tests.web.test_browser import _shoot, browser, sign_in  # noqa: F401  (the fixture)
from tests.web.test_browser_console import _by, _wait


def test_translations_are_reviewed_in_the_composer(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    by = _by()
    seed(app)
    three_languages(runtime)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")
    web.get(f"{base}/compose")
    web.find_element(by.CSS_SELECTOR, 'input[name=mode][value="exercise"]').click()
    web.find_element(by.ID, "title").send_keys("大雨警報が発表されました")
    web.find_element(by.ID, "body").send_keys("川に近づかないでください。")
    web.find_element(by.CSS_SELECTOR, 'input[name=channels][value="sms"]').click()
    Select(web.find_element(by.ID, "audience")).select_by_value(f"area:{AREA}")
    web.find_element(by.ID, "translate-button").click()

    _wait(web, lambda w: bool(w.find_elements(by.CSS_SELECTOR, '.translation[data-language="vi"]')))
    english = web.find_element(by.ID, "text_en_body")
    assert english.get_attribute("value") == "Please stay away from rivers."
    assert "機械翻訳" in web.find_element(by.ID, "translations").text

    def english_preview(w: Any) -> str:
        found = w.find_elements(by.CSS_SELECTOR, '#previews article[lang="en"]')
        return str(found[0].text) if found else ""

    _wait(web, lambda w: "【訓練】[EXERCISE] A heavy rain warning has been issued" in english_preview(w))
    english.clear()
    english.send_keys("Stay away from rivers.")
    _wait(web, lambda w: "Stay away from rivers." in english_preview(w))
    edited = web.find_element(by.CSS_SELECTOR, '.translation[data-language="en"] .badge-origin').text
    assert edited == "確認済み（担当者が入力・編集）"
    _shoot(web, tmp_path, "composer-translations")
