"""The console's dashboard without a browser: the 取消 chain both ways, and who may stop a held alert."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient

from hub.models import Message, MessageState, utcnow
from hub.runtime import Runtime
from tests.api.support import bearer, login


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_a_cancelled_message_is_marked_and_linked_both_ways(client: FlaskClient, app: Flask) -> None:
    sent = client.post("/api/v1/messages", headers=bearer("admin"), json={
        "title": "断水のお知らせ", "body": "本日断水します。", "channels": ["email"], "audience": "residents",
        "mode": "exercise"})
    assert sent.status_code == 201, sent.json
    original = sent.json["message_id"]  # type: ignore[index]
    cancel = client.post("/api/v1/messages", headers=bearer("admin"), json={
        "title": "断水のお知らせ（取消）", "body": "先ほどのお知らせは誤りです。", "channels": ["email"],
        "audience": "residents", "mode": "exercise", "msg_type": "cancel", "references": original})
    assert cancel.status_code == 201, cancel.json
    follow_up = cancel.json["message_id"]  # type: ignore[index]

    login(client, "admin")
    page = client.get("/").get_data(as_text=True)
    item = re.search(rf'<li class="mode-exercise" data-message-id="{original}">(.*?)</li>', page, re.S)
    assert item and "badge-cancelled" in item.group(1)
    assert f'href="/messages/{follow_up}"' in item.group(1), "the original links to its 取消"
    later = re.search(rf'<li class="mode-exercise" data-message-id="{follow_up}">(.*?)</li>', page, re.S)
    assert later and f'class="original" href="/messages/{original}"' in later.group(1), "and back"
    assert "badge-cancelled" not in later.group(1)


def test_only_a_sender_of_the_department_may_stop_a_held_alert(client: FlaskClient, runtime: Runtime) -> None:
    with runtime.session() as s:
        from sqlalchemy import select

        from hub.models import Department

        # The viewer's own department (see tests/api/support.py), named: a bare first() is whichever
        # row PostgreSQL reads first, after earlier tests' deletes not always 防災.
        department = s.scalars(select(Department).where(Department.code == "bousai")).one()
        held = Message(title="自動：大雨", body="警戒", channels=["email"], audience="residents", mode="exercise",
                       msg_type="alert", state=MessageState.SCHEDULED, source="trigger:jma:1",
                       scheduled_at=utcnow() + timedelta(minutes=5), department_id=department.id, meta={})
        s.add(held)
        s.flush()
        held_id = held.id

    login(client, "viewer")
    page = client.get("/").get_data(as_text=True)
    assert f"#{held_id} 自動：大雨" in page and "送信を止める" not in page, "a viewer sees it, without the button"
    refused = client.post(f"/messages/{held_id}/stop", data={"csrf_token": _csrf(page)})
    assert refused.status_code == 403 and "この操作を行う権限がありません" in refused.get_data(as_text=True)
    with runtime.session() as s:
        still = s.get(Message, held_id)
        assert still is not None and still.state == MessageState.SCHEDULED


def test_the_counts_say_when_they_were_made_before_the_first_refresh(client: FlaskClient) -> None:
    """The status table's caption gives the time (in Japan) its counts were made, already in the
    page: an officer reading it before the first refresh knows how fresh the numbers are."""
    sent = client.post("/api/v1/messages", headers=bearer("admin"), json={
        "title": "断水のお知らせ", "body": "本日断水します。", "channels": ["email"], "audience": "residents",
        "mode": "exercise"})
    assert sent.status_code == 201, sent.json
    before = utcnow()
    login(client, "admin")
    page = client.get(f"/messages/{sent.json['message_id']}").get_data(as_text=True)  # type: ignore[index]
    caption = re.search(r'<caption[^>]*>集計時刻 <time id="counts-updated" datetime="([^"]+)">(\d\d:\d\d:\d\d)</time>',
                        page)
    assert caption, "the caption names the time"
    counted = datetime.fromisoformat(caption.group(1))
    assert abs(counted - before) < timedelta(minutes=1)
    assert caption.group(2) == counted.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M:%S")
