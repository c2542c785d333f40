"""The composer's live preview in a real Chromium shows what a voice call will say, not only the text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from hub.runtime import Runtime
from tests.api.support import seed
from tests.web.test_browser import _shoot, browser, sign_in  # noqa: F401  (the fixture)
from tests.web.test_browser_console import _by, _wait


def test_the_voice_preview_shows_the_spoken_text(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    by = _by()
    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")
    web.get(f"{base}/compose")
    web.find_element(by.CSS_SELECTOR, 'input[name=mode][value="exercise"]').click()
    web.find_element(by.ID, "title").send_keys("津波注意報")
    web.find_element(by.ID, "body").send_keys("海岸から離れてください。")
    web.find_element(by.CSS_SELECTOR, 'input[name=channels][value="voice"]').click()

    def spoken(w: Any) -> str:
        found = w.find_elements(by.CSS_SELECTOR, "#previews pre.speech")
        return str(found[0].text) if found else ""

    _wait(web, lambda w: "海岸から離れてください。" in spoken(w) and "これは訓練です" in spoken(w))
    _shoot(web, tmp_path, "composer-voice-spoken")
    assert "読み上げる内容" in web.find_element(by.ID, "previews").text
