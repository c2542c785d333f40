"""Call-outs and the JMA status page as an officer sees them, in a real Chromium.

Screenshots go to the test's tmp dir (and to ``$HUB_SCREENSHOTS`` when set) to be looked at.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from hub.models.relay import Callout, CalloutState, CalloutTarget
from hub.runtime import Runtime
from sandbox import SandboxClient
from sandbox.staff import is_callout_contact, postback_choices
from tests.api.support import seed
from tests.relay.support import seed_staff
from tests.web.test_browser import _shoot, browser, sign_in  # noqa: F401  (the fixture)


def _fill_form(web: Any, base: str, mode: str, shots: Path | None = None) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    web.get(f"{base}/callouts")
    web.find_element(By.ID, "new-callout").click()
    radios = web.find_elements(By.CSS_SELECTOR, "input[name=mode]")
    assert len(radios) == 2 and not any(r.is_selected() for r in radios), "no default mode"
    web.find_element(By.CSS_SELECTOR, f"input[name=mode][value={mode}]").click()
    boxes = web.find_elements(By.CSS_SELECTOR, "input[name=departments]")
    assert [b.get_attribute("value") for b in boxes] == ["bousai"], "only the departments bousai1 may call"
    boxes[0].click()
    interval = web.find_element(By.ID, "interval")
    interval.clear()
    interval.send_keys("2m")
    cycles = web.find_element(By.ID, "cycles")
    cycles.clear()
    cycles.send_keys("2")
    if shots is not None:
        _shoot(web, shots, f"callout-form-{mode}")
    web.find_element(By.ID, "to-confirm").click()
    WebDriverWait(web, 10).until(lambda w: w.find_elements(By.ID, "callout-summary") or w.find_elements(By.ID, "problem"))



def _tally(web: Any, element_id: str) -> str:
    """A tally figure's text; the page's poll may replace the element between finding and reading it."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for _ in range(10):
        try:
            return str(web.find_element(By.ID, element_id).text)
        except StaleElementReferenceException:
            continue
    return str(web.find_element(By.ID, element_id).text)

def test_a_sender_starts_an_exercise_call_out_watches_answers_arrive_and_closes_it(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seed(app)
    seed_staff(runtime, 8)  # two per department are bousai: with the demo's staff, the exercise's participants
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")
    # Nothing started before the confirmation.
    _fill_form(web, base, "exercise", tmp_path)
    _shoot(web, tmp_path, "callout-confirm-exercise")
    summary = web.find_element(By.ID, "callout-summary")
    with runtime.session() as s:
        assert s.scalars(select(Callout)).first() is None, "the confirmation step starts nothing"
        bousai_staff = len(list(s.scalars(select(CalloutTarget))))  # none yet
    assert bousai_staff == 0
    assert "【訓練】" in web.find_element(By.ID, "mode-words").text
    assert "LINE" in web.find_element(By.ID, "chain").text and "2回" in web.find_element(By.ID, "chain").text
    rows = web.find_elements(By.CSS_SELECTOR, "#per-department tr td")
    assert rows[0].text == "防災危機管理課" and int(rows[1].text) >= 2
    expected = int(rows[1].text)
    assert f"対象 {expected} 人" in summary.text
    web.find_element(By.ID, "start-callout").click()

    WebDriverWait(web, 10).until(lambda w: "/relay/callouts/" in w.current_url)
    callout_id = int(web.current_url.rstrip("/").rsplit("/", 1)[1])
    assert _tally(web, "tally-total") == str(expected)
    assert _tally(web, "tally-answered") == "0"
    assert "訓練モード" in web.find_element(By.CSS_SELECTOR, ".banner-exercise").text
    assert web.find_element(By.LINK_TEXT, "呼び出し").is_displayed(), "the tally has the site navigation"
    _shoot(web, tmp_path, "callout-tally-started")
    with runtime.session() as s:
        callout = s.get(Callout, callout_id)
        assert callout is not None and callout.mode == "exercise" and callout.created_by == "web:bousai1"
        assert (callout.interval_seconds, callout.cycles) == (120, 2)

    # A staff member presses 無事 on the LINE message the call-out sent (the sandbox signs the
    # webhook post): the tally moves without a reload (the page polls).
    web.execute_script("window.__still_here = 'yes'")
    presses = [(item["to"], data) for item in sandbox_client.inbox("line") if is_callout_contact(item)
               for data in postback_choices(item) if data.split("|")[1:] == [str(callout_id), "safety", "safe"]]
    assert len(presses) == expected, "every exercise participant got the LINE step with its buttons"
    user, data = presses[0]
    pressed = sandbox_client.emit_line_event({"type": "postback", "postback": {"data": data},
                                              "source": {"type": "user", "userId": user}})
    assert pressed["status"] == 200, pressed
    WebDriverWait(web, 20).until(lambda w: _tally(w, "tally-answered") == "1")
    assert web.execute_script("return window.__still_here") == "yes", "updated in place, not reloaded"
    name_cell = web.find_element(By.CSS_SELECTOR, "#unreached tr:nth-child(2) td:nth-child(2)")
    assert name_cell.text.startswith("職員") and name_cell.value_of_css_property("text-align") in ("left", "start")
    count_cell = web.find_element(By.CSS_SELECTOR, "table.counts tr:nth-child(2) td:nth-child(2)")
    assert count_cell.text == str(expected) and count_cell.value_of_css_property("text-align") == "right"
    _shoot(web, tmp_path, "callout-tally-answered")

    # Closing: a button, a confirmation, then the call-out is closed.
    web.find_element(By.ID, "close-callout").click()
    WebDriverWait(web, 10).until(lambda w: "/close" in w.current_url)
    _shoot(web, tmp_path, "callout-close-confirm")
    with runtime.session() as s:
        assert s.get(Callout, callout_id).state == CalloutState.ACTIVE  # type: ignore[union-attr]
    web.find_element(By.ID, "confirm-close").click()
    WebDriverWait(web, 10).until(lambda w: "締め切りました" in w.page_source)
    assert _tally(web, "tally-state") == "締切"
    assert not web.find_elements(By.ID, "close-callout")
    with runtime.session() as s:
        closed = s.get(Callout, callout_id)
        assert closed is not None and closed.state == CalloutState.CLOSED
    _shoot(web, tmp_path, "callout-tally-closed")

    web.get(f"{base}/callouts")
    row = web.find_element(By.CSS_SELECTOR, f'tr[data-id="{callout_id}"]')
    assert "訓練" in row.text and f"1 / {expected}" in row.text and "締切" in row.text
    _shoot(web, tmp_path, "callout-list")


def test_a_live_call_out_looks_unlike_an_exercise_and_needs_the_extra_tick(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seed(app)
    seed_staff(runtime, 8)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")
    _fill_form(web, base, "exercise")
    exercise_button = web.find_element(By.ID, "start-callout")
    exercise_look = (exercise_button.text, exercise_button.value_of_css_property("background-color"),
                     web.find_element(By.TAG_NAME, "body").get_attribute("data-mode"))

    _fill_form(web, base, "actual")
    _shoot(web, tmp_path, "callout-confirm-actual")
    words = web.find_element(By.ID, "mode-words").text
    button = web.find_element(By.ID, "start-callout")
    actual_look = (button.text, button.value_of_css_property("background-color"),
                   web.find_element(By.TAG_NAME, "body").get_attribute("data-mode"))
    assert "本番" in words and "訓練" not in words
    assert web.find_element(By.CSS_SELECTOR, ".banner-actual").is_displayed()
    assert not web.find_elements(By.CSS_SELECTOR, ".banner-exercise")
    assert all(a != e for a, e in zip(actual_look, exercise_look, strict=True)), (actual_look, exercise_look)
    # Without the tick the browser refuses to submit (required); the server refuses too.
    button.click()
    assert "/callouts/new" in web.current_url and "対象" in web.page_source
    with runtime.session() as s:
        assert s.scalars(select(Callout)).first() is None
    web.find_element(By.CSS_SELECTOR, "input[name=confirm_actual]").click()
    web.find_element(By.ID, "start-callout").click()
    WebDriverWait(web, 10).until(lambda w: "/relay/callouts/" in w.current_url)
    assert web.find_element(By.CSS_SELECTOR, ".banner-actual").is_displayed()
    assert not web.find_elements(By.CSS_SELECTOR, "p.exercise")
    _shoot(web, tmp_path, "callout-tally-actual")
    with runtime.session() as s:
        started = s.scalars(select(Callout)).one()
        assert started.mode == "actual"
        staff = len(list(s.scalars(select(CalloutTarget).where(CalloutTarget.callout_id == started.id))))
    assert _tally(web, "tally-total") == str(staff)


def test_the_jma_page_shows_a_replayed_telegrams_decision_and_a_quarantined_ones_reason(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By

    from tests.triggers.support import RAIN_LEVEL4, replay

    seed(app)
    decided = replay(runtime, RAIN_LEVEL4)
    broken = replay(runtime, b"<Report><Control>not a telegram")
    assert decided.outcome == "ignored" and decided.reason and decided.telegram_id
    assert broken.outcome == "quarantined" and broken.error
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "viewer")  # a viewer may look: JMA's telegrams belong to no department
    web.find_element(By.LINK_TEXT, "気象庁").click()
    _shoot(web, tmp_path, "jma-status")
    row = web.find_element(By.CSS_SELECTOR, f'#telegrams tr[data-telegram="{decided.telegram_id}"]')
    assert "対象外" in row.text and decided.reason in row.text and "VPWW55" in row.text
    quarantine = web.find_element(By.ID, "quarantine").text
    assert broken.error[:40] in quarantine
    # Times in the console's one format, and headings over their words (left, as the cells).
    telegram_time = row.find_element(By.CSS_SELECTOR, "td:nth-child(2)").text
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", telegram_time)
    assert quarantine.splitlines()[1].startswith(telegram_time[:10])
    for heading in web.find_elements(By.CSS_SELECTOR, "#telegrams th, #quarantine th"):
        assert heading.value_of_css_property("text-align") in ("left", "start"), heading.text
    assert "無効" in web.find_element(By.ID, "jma-summary").text
