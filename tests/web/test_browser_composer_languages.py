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


def _drill_in_three_languages(app: Flask, runtime: Runtime, web: Any, title: str, channel: str) -> Any:
    """The composer, signed in, with a drill to the three-language town on ``channel`` written."""
    by = _by()
    seed(app)
    three_languages(runtime)
    base = runtime.settings.public_url.rstrip("/")
    sign_in(web, base, "bousai1")
    web.get(f"{base}/compose")
    web.find_element(by.CSS_SELECTOR, 'input[name=mode][value="exercise"]').click()
    web.find_element(by.ID, "title").send_keys(title)
    web.find_element(by.ID, "body").send_keys("川に近づかないでください。")
    web.find_element(by.CSS_SELECTOR, f'input[name=channels][value="{channel}"]').click()
    Select(web.find_element(by.ID, "audience")).select_by_value(f"area:{AREA}")
    return web


def test_translations_are_reviewed_in_the_composer(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    by = _by()
    web = _drill_in_three_languages(app, runtime, browser, "大雨警報が発表されました", "sms")
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


def test_a_surveys_question_is_translated_and_reviewed_in_the_composer(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    by = _by()
    web = _drill_in_three_languages(app, runtime, browser, "避難状況の確認", "line")
    web.find_element(by.CSS_SELECTOR, "#survey-section summary").click()
    web.find_element(by.ID, "question_text").send_keys("避難していますか")
    web.find_element(by.ID, "question_choices").send_keys("はい\nいいえ\n自宅で安全に過ごしている")
    web.find_element(by.ID, "translate-button").click()

    _wait(web, lambda w: bool(w.find_elements(by.ID, "text_vi_choices")))
    assert web.find_element(by.ID, "text_vi_question").get_attribute("value") == "Bạn đã sơ tán chưa?"
    choices = web.find_element(by.ID, "text_vi_choices")
    assert choices.get_attribute("value") == "Có\nKhông\nTôi đang ở nhà an toàn"

    def vietnamese_line(w: Any) -> str:
        found = w.find_elements(by.CSS_SELECTOR, '#previews article[lang="vi"]')
        return str(found[0].text) if found else ""

    # Too long for a LINE button: the preview lists the choices whole under the question, and warns.
    _wait(web, lambda w: "1:Có 2:Không 3:Tôi đang ở nhà an toàn" in vietnamese_line(w))
    assert "LINEのボタンには選択肢の20文字までしか表示されません" in vietnamese_line(web)
    choices.clear()
    choices.send_keys("Có\nKhông\nỞ nhà, an toàn")
    _wait(web, lambda w: "Bạn đã sơ tán chưa?" in vietnamese_line(w) and "1:Có" not in vietnamese_line(w))
    edited = web.find_element(by.CSS_SELECTOR, '.translation[data-language="vi"] .badge-origin').text
    assert edited == "確認済み（担当者が入力・編集）"
    _wait(web, lambda w: w.find_element(by.CSS_SELECTOR, '#previews h3[data-language="vi"]').text.endswith(
        "確認済み（担当者が入力・編集）"))
    web.execute_script("arguments[0].scrollIntoView()", web.find_element(by.ID, "text_vi_question"))
    _shoot(web, tmp_path, "composer-survey-translated")
