"""Quiet hours at every front door: a notice composed, approved or due at night waits for the
morning (from the API, the composer and the CLI alike); alerts, cancellations, corrections and
staff call-outs go at once. The clock is a hand-moved one; deliveries go through the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.compose.quiet import quiet_hours_for
from hub.compose.schedule import JST
from hub.config import Settings
from hub.dispatch.sweeper import sweep_once
from hub.dispatch.tasks import send_batch
from hub.models import AuditLog, Delivery, DeliveryState, Department, Message, MessageState
from hub.relay import clock as hub_clock
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import TOKENS, bearer, body, csrf, login, seed
from tests.relay.support import seed_staff, start, tick

NOTICE = {"title": "健診のお知らせ", "body": "12月5日は特定健診の日です。", "channels": ["sms", "line"],
          "audience": "staff", "mode": "exercise", "msg_type": "notice", "department": "kenko"}
MORNING_TEXT = "静かな時間帯（21:00〜8:00）のため、12月2日 8:00 に送信します"


def jst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=JST)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, quiet_hours="21:00-08:00")


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with hub_clock.using(ManualClock(jst(1, 23, 30))) as manual:
        assert isinstance(manual, ManualClock)
        yield manual


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app)
    with app.extensions["hub"].session() as s:
        # Drill participants, so exercise notices reach someone on SMS and LINE.
        from hub.models import Contact

        for contact in s.scalars(select(Contact).where(Contact.kind == "staff")):
            contact.exercise_participant = True
    return app.test_client()


def _message(runtime: Runtime, message_id: int) -> Message:
    with runtime.session() as s:
        message = s.get(Message, message_id)
        assert message is not None
        s.expunge(message)
        return message


def test_a_notice_sent_at_night_through_the_api_waits_until_the_window_ends(
    client: FlaskClient, runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    preview = body(client.post("/api/v1/messages/preview", json=NOTICE, headers=bearer()))
    assert preview["sends_at"]["text"] == MORNING_TEXT

    created = client.post("/api/v1/messages", json=NOTICE, headers=bearer())
    assert created.status_code == 201, created.get_data(as_text=True)
    message_id = body(created)["message_id"]
    detail = body(client.get(f"/api/v1/messages/{message_id}", headers=bearer()))
    assert detail["state"] == MessageState.SCHEDULED
    assert datetime.fromisoformat(detail["scheduled_at"]) == jst(2, 8, 0)
    assert detail["sends_at"] == {"window": "21:00-08:00", "at": jst(2, 8).astimezone(UTC).isoformat(),
                                  "text": MORNING_TEXT}

    clock.set(jst(2, 7, 59))
    sweep_once(runtime)
    assert not sandbox_client.inbox("sms") and not sandbox_client.inbox("line"), "sent inside the window"

    clock.set(jst(2, 8, 0))
    sweep_once(runtime)
    assert _message(runtime, message_id).state == MessageState.DONE
    assert sandbox_client.inbox("sms") and sandbox_client.inbox("line")


def test_the_composer_says_when_the_notice_will_go_and_the_message_page_repeats_it(
    client: FlaskClient, runtime: Runtime, clock: ManualClock
) -> None:
    login(client, "admin")
    form = {**NOTICE, "csrf_token": csrf(client), "step": "confirm"}
    confirm = client.post("/compose", data=form)
    assert confirm.status_code == 200
    assert MORNING_TEXT in confirm.get_data(as_text=True)
    sent = client.post("/compose", data={**form, "step": "send"})
    assert sent.status_code == 302
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert MORNING_TEXT in page
    english = client.get(sent.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert "Quiet hours (21:00〜8:00): this notice will be sent on Dec 2, 8:00" in english


def test_the_cli_holds_a_night_notice_too(app: Flask, client: FlaskClient, runtime: Runtime,
                                          clock: ManualClock) -> None:
    hub = HubContext()
    hub._app = app
    result = CliRunner().invoke(main, ["send", "--title", "健診のお知らせ", "--body", "12月5日は特定健診の日です。",
                                       "--channels", "sms", "--audience", "staff", "--mode", "exercise", "--notice",
                                       "--department", "kenko", "--json"],
                                obj=hub, env={TOKEN_ENV: TOKENS["admin"]})
    assert result.exit_code == 0, result.output
    with runtime.session() as s:
        message = s.scalars(select(Message).order_by(Message.id.desc())).first()
        assert message is not None
        assert (message.state, message.scheduled_at) == (MessageState.SCHEDULED, jst(2, 8).astimezone(UTC))


def test_a_live_notice_approved_at_night_waits_for_the_morning(
    client: FlaskClient, runtime: Runtime, clock: ManualClock
) -> None:
    clock.set(jst(1, 17, 0))
    live = {**NOTICE, "mode": "actual", "audience": "residents", "department": "bousai"}
    created = body(client.post("/api/v1/messages", json=live, headers=bearer()))
    assert created["state"] == MessageState.AWAITING_APPROVAL
    clock.set(jst(1, 22, 15))
    approved = body(client.post(f"/api/v1/messages/{created['message_id']}/approve", headers=bearer("bousai2")))
    assert approved["state"] == MessageState.SCHEDULED
    assert _message(runtime, created["message_id"]).scheduled_at == jst(2, 8).astimezone(UTC)


def test_an_alert_at_night_goes_at_once(client: FlaskClient, runtime: Runtime, clock: ManualClock,
                                        sandbox_client: SandboxClient) -> None:
    alert = {**NOTICE, "msg_type": "alert", "title": "避難指示", "department": "bousai"}
    sent = body(client.post("/api/v1/messages", json=alert, headers=bearer()))
    assert sent["state"] in (MessageState.QUEUED, MessageState.DONE)
    assert body(client.post("/api/v1/messages/preview", json=alert, headers=bearer()))["sends_at"] is None
    assert sandbox_client.inbox("sms")


@pytest.mark.parametrize("kind", ["cancel", "update"])
def test_a_cancellation_or_correction_of_a_notice_at_night_goes_at_once(
    kind: str, client: FlaskClient, runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    clock.set(jst(1, 10, 0))
    original = body(client.post("/api/v1/messages", json=NOTICE, headers=bearer()))
    assert _message(runtime, original["message_id"]).state == MessageState.DONE
    clock.set(jst(1, 23, 0))
    sandbox_client.clear()
    follow = body(client.post("/api/v1/messages", headers=bearer(), json={
        "msg_type": kind, "references": original["message_id"], "title": NOTICE["title"],
        "body": "日付に誤りがありました。12月6日です。" if kind == "update" else ""}))
    assert follow["state"] in (MessageState.QUEUED, MessageState.DONE)
    texts = [i["text"] for i in sandbox_client.inbox("sms")]
    assert texts and texts[0].startswith("【訓練】【取消】" if kind == "cancel" else "【訓練】【訂正】"), texts


def test_a_call_out_at_night_goes_at_once(runtime: Runtime, clock: ManualClock,
                                          sandbox_client: SandboxClient) -> None:
    person = seed_staff(runtime, 1)[0]
    start(runtime)
    tick(runtime)
    assert sandbox_client.inbox("line", to=person.line), "a staff call-out waited for the morning"


def test_a_scheduled_notice_found_due_at_night_is_not_sent_late(
    client: FlaskClient, runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    clock.set(jst(1, 15, 0))
    planned = {**NOTICE, "scheduled_at": jst(1, 20, 0).isoformat()}
    message_id = body(client.post("/api/v1/messages", json=planned, headers=bearer()))["message_id"]
    assert _message(runtime, message_id).scheduled_at == jst(1, 20).astimezone(UTC)
    clock.set(jst(1, 23, 40))  # the workers were down from 19:00 until now
    sweep_once(runtime)
    message = _message(runtime, message_id)
    assert (message.state, message.scheduled_at) == (MessageState.SCHEDULED, jst(2, 8).astimezone(UTC))
    assert not sandbox_client.inbox("sms")
    with runtime.session() as s:
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "message.quiet_hours"))


def test_each_department_keeps_its_own_window(client: FlaskClient, runtime: Runtime, clock: ManualClock) -> None:
    admin = bearer()
    assert client.patch("/api/v1/admin/departments/kenko", json={"quiet_hours": "none"},
                        headers=admin).status_code == 200
    assert client.patch("/api/v1/admin/departments/zei", json={"quiet_hours": "22:00-7:00"},
                        headers=admin).status_code == 200
    refused = client.patch("/api/v1/admin/departments/zei", json={"quiet_hours": "夜"}, headers=admin)
    assert refused.status_code == 422 and "quiet_hours" in body(refused)["error"]["problems"]
    with runtime.session() as s:
        depts = {d.code: d for d in s.scalars(select(Department))}
        assert quiet_hours_for(runtime.settings, depts["kenko"]) is None
        assert str(quiet_hours_for(runtime.settings, depts["zei"])) == "22:00-07:00"
        assert str(quiet_hours_for(runtime.settings, depts["bousai"])) == "21:00-08:00"  # the hub's
    kenko = body(client.post("/api/v1/messages", json=NOTICE, headers=admin))
    assert kenko["state"] != MessageState.SCHEDULED
    zei = body(client.post("/api/v1/messages", json={**NOTICE, "department": "zei"}, headers=admin))
    assert _message(runtime, zei["message_id"]).scheduled_at == jst(2, 7).astimezone(UTC)
    clock.set(jst(1, 21, 30))  # inside the hub's window, outside zei's
    zei_early = body(client.post("/api/v1/messages", json={**NOTICE, "department": "zei"}, headers=admin))
    assert zei_early["state"] != MessageState.SCHEDULED


def test_hub_admin_department_sets_and_clears_a_window(app: Flask, client: FlaskClient, runtime: Runtime) -> None:
    hub = HubContext()
    hub._app = app

    def edit(value: str) -> str:
        result = CliRunner().invoke(main, ["admin", "department", "edit", "zei", "--quiet-hours", value, "--json"],
                                    obj=hub, env={TOKEN_ENV: TOKENS["admin"]})
        assert result.exit_code == 0, result.output
        with runtime.session() as s:
            return str(s.scalar(select(Department.quiet_hours).where(Department.code == "zei")))

    assert edit("22:00-7:00") == "22:00-07:00"
    assert edit("NONE") == "none"
    assert edit("") == "None", "empty: the hub's window again"
    refused = CliRunner().invoke(main, ["admin", "department", "edit", "zei", "--quiet-hours", "21-8"],
                                 obj=hub, env={TOKEN_ENV: TOKENS["admin"]})
    assert refused.exit_code != 0 and "quiet_hours" in refused.output


def unsend(runtime: Runtime, message_id: int) -> list[int]:
    """Put the message's SMS rows back as not yet sent: the send was still going when the clock moved."""
    with runtime.session() as s:
        rows = list(s.scalars(select(Delivery).where(Delivery.message_id == message_id, Delivery.channel == "sms")))
        for row in rows:
            row.state, row.next_attempt_at, row.error, row.provider_id = DeliveryState.PENDING, None, None, None
            row.attempts, row.sent_at, row.delivered_at = 0, None, None
        message = s.get(Message, message_id)
        assert message is not None
        message.state = MessageState.QUEUED
        return sorted({row.batch_no for row in rows})


@pytest.mark.parametrize("msg_type", ["notice", "alert"])
def test_a_notice_still_sending_when_the_window_opens_stops_until_the_morning_an_alert_does_not(
    msg_type: str, client: FlaskClient, runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    clock.set(jst(1, 20, 50))
    sent = body(client.post("/api/v1/messages", json={**NOTICE, "msg_type": msg_type}, headers=bearer()))
    message_id = sent["message_id"]
    batches = unsend(runtime, message_id)
    sandbox_client.clear()

    clock.set(jst(1, 21, 5))
    for batch_no in batches:
        send_batch(message_id, "sms", batch_no)
    sweep_once(runtime)
    with runtime.session() as s:
        rows = list(s.scalars(select(Delivery).where(Delivery.message_id == message_id, Delivery.channel == "sms")))
    if msg_type == "alert":
        assert sandbox_client.inbox("sms") and all(r.state in ("sent", "delivered") for r in rows)
        return
    assert not sandbox_client.inbox("sms"), "a notice kept texting residents after 21:00"
    assert rows and all(r.state == DeliveryState.PENDING for r in rows)
    assert all(r.error == "お知らせを送らない時間帯（21:00〜8:00）のため、12月2日 8:00 に続きを送ります" for r in rows)
    # Due when the window ends: 10 h 55 min from now, by the wall clock the rows are read on.
    wait = min(r.next_attempt_at for r in rows if r.next_attempt_at) - datetime.now(UTC)
    assert 10.8 * 3600 < wait.total_seconds() <= 10.92 * 3600
    with runtime.session() as s:
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "message.quiet_hours_pause"))
    detail = body(client.get(f"/api/v1/messages/{message_id}", headers=bearer()))
    assert detail["sends_at"]["text"] == "静かな時間帯（21:00〜8:00）のため送信を止めています。12月2日 8:00 に続きを送ります"

    # The morning (the rows' wall-clock time is moved to match the hub's clock): the rest goes.
    clock.set(jst(2, 8, 0))
    with runtime.session() as s:
        for row in s.scalars(select(Delivery).where(Delivery.message_id == message_id, Delivery.channel == "sms")):
            row.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
    sweep_once(runtime)
    assert len(sandbox_client.inbox("sms")) == len(rows)
    assert _message(runtime, message_id).state == MessageState.DONE
