"""A correction of a CSV send speaks to each person as the send did: its {{列}} are filled with that
person's own row (the file's columns), never sent with their braces."""

from __future__ import annotations

import html

import pytest
from flask import Flask
from sqlalchemy import select

from hub.compose.corrections import follow_up
from hub.compose.messages import ComposeError, LocalText, approve
from hub.dispatch.tasks import release
from hub.models import Message, MessageState
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import csrf, login, seed
from tests.notices.support import HEADER, csv_bytes, mobile, request, send
from tests.support.hubtools import second_person

ROWS = [HEADER, f"{mobile(1)},山田 花子,2026-12-02 14:30,all", f"{mobile(2)},佐藤 一郎,2026-12-03 9:00,all"]
FIX = "{{氏名}}様 ご予約の{{予約日時}}は、開始が30分遅れます。"


def _correct(runtime: Runtime, message_id: int, body: str, **fields: object) -> int:
    with runtime.session() as s:
        fix = follow_up(s, runtime, message_id, kind="correction", body=body, actor="test", **fields)
        if fix.state == MessageState.AWAITING_APPROVAL:  # new words: a second person, as for the send
            approve(s, fix, second_person(s), runtime.settings)
        fix_id, state = fix.id, fix.state
    release(fix_id, state)
    return fix_id


def test_a_correction_is_filled_with_each_persons_own_values(
        runtime: Runtime, sandbox_client: SandboxClient, clock: ManualClock) -> None:
    sandbox_client.clear()
    _send_id, [message_id] = send(runtime, request(csv_bytes(ROWS)))
    fix_id = _correct(runtime, message_id, FIX)
    texts = {i["to"]: i["text"] for i in sandbox_client.inbox(channel="sms")[2:]}
    assert texts == {
        "+819012340001": "【訂正】健診のご案内\n山田 花子様 ご予約の2026-12-02 14:30は、開始が30分遅れます。",
        "+819012340002": "【訂正】健診のご案内\n佐藤 一郎様 ご予約の2026-12-03 9:00は、開始が30分遅れます。",
    }
    with runtime.session() as s:
        fix = s.get(Message, fix_id)
        assert fix is not None and fix.references_id == message_id


def test_a_column_the_file_lacks_or_a_translation_is_refused(
        runtime: Runtime, sandbox_client: SandboxClient, clock: ManualClock) -> None:
    _send_id, [message_id] = send(runtime, request(csv_bytes(ROWS)))
    with pytest.raises(ComposeError) as lacks:
        _correct(runtime, message_id, "{{住所}}の方へ")
    assert "住所" in str(lacks.value.problems)
    with pytest.raises(ComposeError) as translated:
        _correct(runtime, message_id, FIX, texts={"en": LocalText(title="Check-up", body="{{氏名}}: delayed")})
    assert "翻訳" in str(translated.value.problems)


def test_the_correction_page_shows_the_first_persons_text_and_sends_each_their_own(
        app: Flask, runtime: Runtime, sandbox_client: SandboxClient, clock: ManualClock) -> None:
    seed(app)
    web = app.test_client()
    assert login(web, "admin").status_code == 302
    sandbox_client.clear()
    _send_id, [message_id] = send(runtime, request(csv_bytes(ROWS)))
    page = web.get(f"/messages/{message_id}/follow-up/update").get_data(as_text=True)
    # The page starts from the send's words: shown filled with the file's first row, never with braces.
    assert "山田 花子様 2026-12-02 14:30に健診のご予約があります。" in html.unescape(page)
    assert "一人ひとりの値で送ります" in html.unescape(page)
    form = {"csrf_token": csrf(web), "body": FIX, "step": "send", "confirm_actual": "yes"}
    assert web.post(f"/messages/{message_id}/follow-up/update", data=form).status_code == 302
    with runtime.session() as s:
        fix = s.scalar(select(Message).where(Message.references_id == message_id))
        assert fix is not None and fix.state == MessageState.AWAITING_APPROVAL
        approve(s, fix, second_person(s), runtime.settings)
        fix_id, state = fix.id, fix.state
    release(fix_id, state)
    assert sorted(i["text"] for i in sandbox_client.inbox(channel="sms")[2:]) == [
        "【訂正】健診のご案内\n佐藤 一郎様 ご予約の2026-12-03 9:00は、開始が30分遅れます。",
        "【訂正】健診のご案内\n山田 花子様 ご予約の2026-12-02 14:30は、開始が30分遅れます。"]
