"""A survey's answer page in a real Chromium on a phone, as a resident who reads English opens it
from their e-mail: the page's words in English, the question and choices as the message asked them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask

from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import seed
from tests.surveys.support import OSHU, add_residents, send_survey, tally
from tests.web.test_browser import _shoot, browser, sign_in  # noqa: F401  (the fixture)
from tests.web.test_browser_console import _by, _wait

NO_SIDEWAYS = "return document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_an_english_reader_answers_in_english_on_a_phone(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    by = _by()
    seed(app)
    client = app.test_client()
    add_residents(runtime, [{"name": "Alice", "area": OSHU, "email": "alice@example.jp", "language": "en"}])
    message_id = send_survey(client, ["email"], translate=True,
                             question={"text": "避難していますか", "choices": ["はい", "いいえ", "自宅で安全に過ごしている"]})
    [mail] = sandbox_client.inbox("email", to="alice@example.jp")
    link = re.search(r"Answer here: (https?://\S+)", mail["text"])
    assert link, mail["text"]

    web = browser
    web.set_window_size(390, 844)
    web.get(link.group(1))
    assert web.find_element(by.TAG_NAME, "html").get_attribute("lang") == "en"
    assert web.find_element(by.TAG_NAME, "legend").text == "Have you evacuated?"
    labels = [e.text for e in web.find_elements(by.CSS_SELECTOR, "label.choice")]
    assert labels == ["1: Yes", "2: No", "3: Safe at home"]
    assert web.execute_script(NO_SIDEWAYS) <= 0, "no sideways scrolling on a phone"
    web.find_element(by.CSS_SELECTOR, 'input[name="choice"][value="3"]').click()
    web.find_element(by.CSS_SELECTOR, 'button[type="submit"]').click()
    _wait(web, lambda w: "Your answer was received. Thank you." in w.find_element(by.TAG_NAME, "body").text)
    _shoot(web, tmp_path, "survey-answer-english-phone")
    counts = {c["key"]: c["count"] for c in tally(client, message_id)["choices"]}
    assert counts == {"1": 0, "2": 0, "3": 1}

    # The officer's message page shows the question as each language's readers got it.
    web.set_window_size(1200, 1400)
    sign_in(web, runtime.settings.public_url.rstrip("/"), "admin")
    web.get(f"{runtime.settings.public_url.rstrip('/')}/messages/{message_id}")
    cell = web.find_element(by.CSS_SELECTOR, '#languages tr[data-language="en"] .question-translation')
    assert " ".join(cell.text.split()) == "Have you evacuated? 1:Yes 2:No 3:Safe at home"
    web.execute_script("arguments[0].scrollIntoView()", web.find_element(by.ID, "languages"))
    _shoot(web, tmp_path, "message-page-survey-languages")
