"""The operator console in a real Chromium: approve and reject, held automatic alerts, honest counts, 404.

Reuses the browser fixture of tests/web/test_browser.py; screenshots go to the test's tmp dir and to
``$HUB_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from hub.models import AuditLog, Message, MessageState
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import bearer, seed
from tests.web.test_browser import _shoot, browser, sign_in  # noqa: F401  (the fixture)


def _by() -> Any:
    from selenium.webdriver.common.by import By

    return By


def _wait(web: Any, until: Any, seconds: float = 15) -> Any:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The status page reloads itself when the state changes: an element can go stale under the check.
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(web, seconds, ignored_exceptions=ignored).until(until)


def _logout(web: Any) -> None:
    web.find_element(_by().CSS_SELECTOR, "header form button[type=submit]").click()
    _wait(web, lambda w: "/login" in w.current_url or "ログイン" in w.page_source)


def _state(runtime: Runtime, message_id: int) -> str:
    with runtime.session() as s:
        message = s.get(Message, message_id)
        assert message is not None
        return str(message.state)


def _waiting_message(app: Flask, title: str = "避難指示") -> int:
    created = app.test_client().post("/api/v1/messages", headers=bearer("bousai1"), json={
        "title": title, "body": "高台へ避難してください。", "channels": ["sms"], "audience": "residents",
        "mode": "actual"})
    assert created.status_code == 201 and created.json["state"] == "awaiting_approval"  # type: ignore[index]
    return int(created.json["message_id"])  # type: ignore[index]


def test_compose_then_a_second_person_approves_and_it_is_delivered(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    by = _by()
    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")
    web.get(f"{base}/compose")
    web.find_element(by.CSS_SELECTOR, 'input[name=mode][value="actual"]').click()
    web.find_element(by.ID, "title").send_keys("土砂災害警戒情報")
    web.find_element(by.ID, "body").send_keys("山沿いの方は避難してください。")
    web.find_element(by.CSS_SELECTOR, 'input[name=channels][value="sms"]').click()
    web.find_element(by.CSS_SELECTOR, '#audience option[value="residents"]').click()
    web.find_element(by.CSS_SELECTOR, 'button[name=step][value="confirm"]').click()
    _wait(web, lambda w: w.find_elements(by.NAME, "confirm_actual"))
    web.find_element(by.NAME, "confirm_actual").click()
    web.find_element(by.CSS_SELECTOR, 'button[name=step][value="send"]').click()
    _wait(web, lambda w: "/messages/" in w.current_url)
    message_id = int(web.current_url.rstrip("/").rsplit("/", 1)[1])
    assert _state(runtime, message_id) == MessageState.AWAITING_APPROVAL
    assert "作成者本人は承認できません" in web.page_source
    assert sandbox_client.inbox("sms") == []

    _logout(web)
    sign_in(web, base, "bousai2")
    web.get(f"{base}/")
    waiting = web.find_element(by.CSS_SELECTOR, "section.waiting")
    assert f"#{message_id} 土砂災害警戒情報" in waiting.text
    waiting.find_element(by.LINK_TEXT, f"#{message_id} 土砂災害警戒情報").click()
    _wait(web, lambda w: f"/messages/{message_id}" in w.current_url)
    plan = web.find_element(by.CSS_SELECTOR, '#plan tr[data-channel="sms"]')
    _shoot(web, tmp_path, "console-approve-plan")
    assert "山沿いの方は避難してください。" in plan.text, "the approver sees the text that goes out"
    reach = plan.find_element(by.CSS_SELECTOR, ".reach").text
    assert reach.startswith("最大 ") and int(reach.removeprefix("最大 ").removesuffix("件")) > 0

    web.find_element(by.CSS_SELECTOR, "section.waiting form button[type=submit]").click()
    _wait(web, lambda w: "承認しました" in w.page_source)
    # The page redraws itself when the send moves on; the notice stays, once.
    web.execute_script("window.hubReload()")
    _wait(web, lambda w: w.execute_script("return performance.getEntriesByType('navigation')[0].type") == "reload")
    assert [f.text for f in web.find_elements(by.CSS_SELECTOR, "#main > .flash")] == ["承認しました。配信を開始します"]
    _wait(web, lambda w: _state(runtime, message_id) == MessageState.DONE, 30)
    inbox = sandbox_client.inbox("sms")
    assert inbox and all("山沿いの方は避難してください。" in str(m) for m in inbox)
    # The status page reloads itself when the state changes: it ends on 完了 without a manual reload.
    _wait(web, lambda w: w.find_element(by.ID, "state").text == "完了", 20)
    assert re.fullmatch(r"\d\d:\d\d:\d\d", web.find_element(by.ID, "counts-updated").text), "集計時刻, to the second"
    _shoot(web, tmp_path, "console-approved-done")


def test_a_rejection_with_a_reason_shows_on_the_page_and_nothing_is_sent(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    by = _by()
    seed(app)
    message_id = _waiting_message(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    web.set_window_size(390, 844)
    sign_in(web, base, "bousai2")
    web.get(f"{base}/messages/{message_id}")
    reason = web.find_element(by.ID, "reject-reason")
    reason.send_keys("対象地域が違います。")
    button = web.find_element(by.CSS_SELECTOR, ".reject-form button[type=submit]")
    overflow = web.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "no sideways scrolling on a phone"
    _shoot(web, tmp_path, "console-reject-phone")
    button.click()
    _wait(web, lambda w: "却下しました" in w.page_source)
    rejected = web.find_element(by.ID, "rejected")
    _shoot(web, tmp_path, "console-rejected")
    assert "対象地域が違います。" in rejected.text and "bousai2" in rejected.text
    assert _state(runtime, message_id) == MessageState.WITHDRAWN
    assert not web.find_elements(by.CSS_SELECTOR, "section.waiting form")
    assert sandbox_client.inbox("sms") == []


def test_a_held_automatic_alert_counts_down_and_can_be_stopped(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    from tests.triggers.support import QUAKE_6PLUS, add_rules, prepare, replay
    from tests.triggers.test_safety import OSHU_RULE

    by = _by()
    prepare(runtime)
    seed(app)
    add_rules(runtime, {**OSHU_RULE, "hold_minutes": 10})
    held_id = replay(runtime, QUAKE_6PLUS).rules[0].message_id
    assert _state(runtime, held_id) == MessageState.SCHEDULED

    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "admin")
    web.get(f"{base}/")
    item = web.find_element(by.CSS_SELECTOR, f'#held li[data-message-id="{held_id}"]')
    countdown = item.find_element(by.CSS_SELECTOR, ".countdown")
    _wait(web, lambda w: countdown.text.startswith("送信まであと "))
    first = int(countdown.get_attribute("data-seconds"))
    assert 9 * 60 < first <= 10 * 60
    _wait(web, lambda w: int(countdown.get_attribute("data-seconds")) < first, 5)  # it ticks
    _shoot(web, tmp_path, "console-held")

    item.find_element(by.CSS_SELECTOR, "form.stop-form button[type=submit]").click()
    _wait(web, lambda w: "送信を止めました" in w.page_source)
    _shoot(web, tmp_path, "console-held-stopped")
    assert not web.find_elements(by.CSS_SELECTOR, f'#held li[data-message-id="{held_id}"]')
    assert _state(runtime, held_id) == MessageState.WITHDRAWN
    with runtime.session() as s:
        actors = s.scalars(select(AuditLog.actor).where(AuditLog.action == "message.withdraw")).all()
    assert "admin" in actors
    assert sandbox_client.inbox("sms") == [] and sandbox_client.inbox("line") == []


def test_a_message_that_reached_nobody_is_a_warning_not_done(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    """Exercise mode to an audience without one exercise participant: planned, done, and nobody got it."""
    by = _by()
    seed(app)
    with runtime.session() as s:
        from hub.models import Contact

        for contact in s.scalars(select(Contact)):
            contact.exercise_participant = False
    created = app.test_client().post("/api/v1/messages", headers=bearer("admin"), json={
        "title": "訓練：誰もいない", "body": "訓練です。", "channels": ["sms"], "audience": "residents",
        "mode": "exercise"})
    assert created.status_code == 201, created.json
    message_id = int(created.json["message_id"])  # type: ignore[index]
    assert _state(runtime, message_id) == MessageState.DONE

    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "admin")
    web.get(f"{base}/")
    item = web.find_element(by.CSS_SELECTOR, f'#history li[data-message-id="{message_id}"]')
    _shoot(web, tmp_path, "console-nobody")
    assert "誰にも届いていません" in item.text
    assert "完了" not in item.text


def test_an_unknown_page_answers_in_japanese_and_the_api_keeps_json(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    by = _by()
    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    web.get(f"{base}/no-such-page")
    _shoot(web, tmp_path, "console-404")
    assert web.find_element(by.TAG_NAME, "h1").text == "404"
    assert "ページが見つかりません" in web.find_element(by.TAG_NAME, "main").text
    assert "Not Found" not in web.page_source

    answer = app.test_client().get("/api/v1/no-such-thing", headers=bearer("admin"))
    assert answer.status_code == 404 and answer.is_json


def test_a_send_in_progress_updates_on_the_dashboard_without_a_reload(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    """Rows finish behind the page's back (as a worker would): the 送信中 line follows, then the page redraws."""
    from hub.models import Delivery, DeliveryState, Department, utcnow

    by = _by()
    seed(app)
    with runtime.session() as s:
        department = s.scalars(select(Department)).first()
        assert department is not None
        going = Message(title="給水所の開設", body="給水所を開設しました。", channels=["sms"], audience="residents",
                        mode="exercise", msg_type="alert", state=MessageState.QUEUED, planned_at=utcnow(),
                        department_id=department.id, meta={})
        s.add(going)
        s.flush()
        message_id = going.id
        s.add_all([Delivery(message_id=message_id, channel="sms", address=f"+8190000000{n}") for n in range(2)])

    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "admin")
    web.get(f"{base}/")
    line = web.find_element(by.CSS_SELECTOR, '#sending li.live span.chan[data-channel="sms"]')
    assert line.text.endswith("0/2")
    _shoot(web, tmp_path, "console-sending")

    with runtime.session() as s:
        first = s.scalars(select(Delivery).where(Delivery.message_id == message_id).order_by(Delivery.id)).first()
        assert first is not None
        first.state = DeliveryState.SENT
    _wait(web, lambda w: line.text.endswith("1/2"), 10)

    with runtime.session() as s:
        for row in s.scalars(select(Delivery).where(Delivery.message_id == message_id)):
            row.state = DeliveryState.DELIVERED
        finished = s.get(Message, message_id)
        assert finished is not None
        finished.state = MessageState.DONE
    # Finished: the page draws itself again; the message has left 送信中 and shows its counts in the history.
    _wait(web, lambda w: not w.find_elements(by.CSS_SELECTOR, "#sending"), 15)
    item = web.find_element(by.CSS_SELECTOR, f'#history li[data-message-id="{message_id}"]')
    assert item.find_element(by.CSS_SELECTOR, 'div[data-key="delivered"] dd').text == "2"
    _shoot(web, tmp_path, "console-sending-done")
