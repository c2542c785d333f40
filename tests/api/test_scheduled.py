"""Scheduled sends: listed for whoever may read them, withdrawn by a sender of their department
(audited), and a withdrawn one sends nothing when its time passes. A scheduled send is a row: a
hub started afresh (a restart) finds it and sends it when due."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.app import create_app
from hub.config import Settings
from hub.dispatch.sweeper import sweep_once
from hub.models import Delivery, Message, MessageState, utcnow
from hub.relay import clock as hub_clock
from hub.relay.clock import ManualClock
from sandbox import SandboxClient
from tests.api.policy_support import audit_actions, count, seed_operators
from tests.api.support import bearer, body, csrf, login


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with hub_clock.using(ManualClock(utcnow())) as manual:
        assert isinstance(manual, ManualClock)
        yield manual


@pytest.fixture
def team(client: FlaskClient, app: Flask) -> FlaskClient:
    seed_operators(app)
    return client


def _schedule(client: FlaskClient, who: str, department: str, hours: float = 2) -> int:
    when = (hub_clock.now() + timedelta(hours=hours)).isoformat()
    sent = client.post("/api/v1/messages", headers=bearer(who), json={
        "title": f"{department}の予約", "body": "予約送信のテストです。", "channels": ["email", "line"],
        "audience": "staff", "mode": "exercise", "department": department, "scheduled_at": when})
    assert sent.status_code == 201, sent.get_data(as_text=True)
    assert body(sent)["state"] == MessageState.SCHEDULED
    return int(body(sent)["message_id"])


def _listed(client: FlaskClient, who: str) -> dict[int, bool]:
    page = body(client.get("/api/v1/messages/scheduled", headers=bearer(who)))
    return {item["message_id"]: item["may_withdraw"] for item in page["items"]}


def test_the_list_follows_the_policy_and_only_a_departments_sender_withdraws(
    team: FlaskClient, app: Flask, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    bousai = _schedule(team, "bousai1", "bousai")
    kenko = _schedule(team, "kenko1", "kenko", hours=1)
    assert list(_listed(team, "admin")) == [kenko, bousai], "soonest first"
    assert _listed(team, "kenko1") == {kenko: True}
    assert _listed(team, "viewer") == {bousai: False}

    assert team.post(f"/api/v1/messages/{bousai}/withdraw", json={}, headers=bearer("viewer")).status_code == 403
    assert team.post(f"/api/v1/messages/{bousai}/withdraw", json={}, headers=bearer("kenko1")).status_code == 403
    withdrawn = team.post(f"/api/v1/messages/{bousai}/withdraw", json={"reason": "日程変更"},
                          headers=bearer("bousai1"))
    assert withdrawn.status_code == 200 and body(withdrawn)["state"] == MessageState.WITHDRAWN
    again = team.post(f"/api/v1/messages/{bousai}/withdraw", json={}, headers=bearer("bousai1"))
    assert again.status_code == 409
    [entry] = [a for a in audit_actions(app, "message.withdraw") if a.subject_id == str(bousai)]
    assert (entry.actor, entry.detail["reason"]) == ("bousai1", "日程変更")
    assert _listed(team, "admin") == {kenko: True}

    clock.advance(hours=3)  # both times have passed
    sweep_once(app.extensions["hub"])
    assert count(app, Delivery, Delivery.message_id == bousai) == 0, "a withdrawn send was planned"
    assert count(app, Message, Message.id == bousai, Message.state == MessageState.WITHDRAWN) == 1
    assert count(app, Message, Message.id == kenko, Message.state == MessageState.DONE) == 1
    assert {i["text"].splitlines()[0] for i in sandbox_client.inbox("line")} == {"【訓練】kenkoの予約"}


def test_the_console_lists_scheduled_sends_and_stops_one(team: FlaskClient, app: Flask, clock: ManualClock) -> None:
    bousai = _schedule(team, "bousai1", "bousai")
    login(team, "bousai1")
    page = team.get("/scheduled").get_data(as_text=True)
    assert f'data-message-id="{bousai}"' in page and "bousaiの予約" in page and "取り下げる" in page
    stopped = team.post(f"/messages/{bousai}/stop", data={"csrf_token": csrf(team), "next": "scheduled"})
    assert stopped.status_code == 302 and stopped.headers["Location"].endswith("/scheduled")
    after = team.get("/scheduled").get_data(as_text=True)
    assert "予約送信はありません" in after and f"#{bousai} の送信を止めました" in after


def test_a_scheduled_send_survives_a_restart(
    team: FlaskClient, app: Flask, settings: Settings, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    message_id = _schedule(team, "bousai1", "bousai", hours=1)
    restarted = create_app(settings)  # a new process: nothing but the database carries over
    with restarted.app_context():
        again = restarted.test_client()
        assert message_id in _listed(again, "admin")
        clock.advance(hours=1)
        sweep_once(restarted.extensions["hub"])
        assert count(restarted, Message, Message.id == message_id, Message.state == MessageState.DONE) == 1
    assert sandbox_client.inbox("line") and sandbox_client.inbox("email")
