"""The console page: upload → check (every bad row, real rows as sent, the cost) → confirm → the send's
page, where what has not gone can be cancelled; CSRF like every form."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hub.models import CsvSend
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from tests.api.support import csrf, login, seed
from tests.notices.support import HEADER, csv_bytes, mobile

FILE = csv_bytes([HEADER, f"{mobile(1)},山田 花子,2026-12-02 14:30,all", f"{mobile(2)},,2026-12-02 9:00,all"])


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app)
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    return client


def _form(client: FlaskClient, **extra: Any) -> dict[str, Any]:
    return {"csrf_token": csrf(client), "title": "健診のご案内", "body": "{{氏名}}様 {{予約日時}}に健診があります。",
            "channels": "sms", "mode": "actual", "category": "kenko", **extra}


def _hidden(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))


def test_upload_check_confirm(client: FlaskClient, runtime: Runtime, clock: ManualClock) -> None:
    assert client.get("/notices/csv").status_code == 200
    checked = client.post("/notices/csv", data=_form(client, step="check", file=(io.BytesIO(FILE), "kenshin.csv")),
                          content_type="multipart/form-data")
    page = checked.get_data(as_text=True)
    assert checked.status_code == 200, page
    assert 'data-line="3"' in page and "氏名" in page
    assert "山田 花子様 2026-12-02 14:30に健診があります。" in page and "概算 3.3円" in page
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(CsvSend)) == 0
    assert 'data-mode="actual"' in page and 'id="confirm-actual"' in page, "a live send looks live"
    carried = {k: v for k, v in _hidden(page).items() if k != "csrf_token"}
    unticked = client.post("/notices/csv", data={**carried, "channels": "sms", "skip_bad": "1",
                                                  "csrf_token": csrf(client)})
    assert unticked.status_code == 200 and "実配信であることの確認にチェックしてください" in unticked.get_data(as_text=True)
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(CsvSend)) == 0, "a live send goes only with the tick"
    confirmed = client.post("/notices/csv", data={**carried, "channels": "sms", "skip_bad": "1",
                                                  "confirm_actual": "yes", "csrf_token": csrf(client)})
    assert confirmed.status_code == 303, confirmed.get_data(as_text=True)
    shown = client.get(confirmed.headers["Location"]).get_data(as_text=True)
    assert 'data-state="awaiting_approval"' in shown
    send_id = confirmed.headers["Location"].rsplit("/", 1)[1]
    message_id = re.search(r'data-message="(\d+)"', shown)
    assert message_id is not None
    message_page = client.get(f"/messages/{message_id.group(1)}").get_data(as_text=True)
    assert f'href="/notices/csv/{send_id}" id="csv-send-link"' in message_page
    assert "{{氏名}}様" in message_page  # the stored body is the template
    assert 'id="approve-all"' not in shown  # never by its creator
    approver = client.application.test_client()
    assert login(approver, "bousai2").status_code == 302
    assert 'id="approve-all"' in approver.get(f"/notices/csv/{send_id}").get_data(as_text=True)
    cancelled = client.post(f"/notices/csv/{send_id}/cancel", data={"csrf_token": csrf(client)})
    assert cancelled.status_code == 303
    assert 'data-state="withdrawn"' in client.get(f"/notices/csv/{send_id}").get_data(as_text=True)


def test_a_second_person_approves_the_whole_send(client: FlaskClient, clock: ManualClock) -> None:
    checked = client.post("/notices/csv", data=_form(client, step="check", file=(io.BytesIO(FILE), "kenshin.csv")),
                          content_type="multipart/form-data").get_data(as_text=True)
    carried = {k: v for k, v in _hidden(checked).items() if k != "csrf_token"}
    location = client.post("/notices/csv", data={**carried, "channels": "sms", "skip_bad": "1",
                                                 "confirm_actual": "yes", "csrf_token": csrf(client)}).headers["Location"]
    approver = client.application.test_client()
    assert login(approver, "bousai2").status_code == 302
    approved = approver.post(f"{location}/approve", data={"csrf_token": csrf(approver)})
    assert approved.status_code == 303
    page = approver.get(location).get_data(as_text=True)
    assert "awaiting_approval" not in page and 'id="approve-all"' not in page


def test_a_changed_file_or_no_csrf_is_refused(client: FlaskClient, clock: ManualClock) -> None:
    no_csrf = client.post("/notices/csv", data={"title": "t", "file": (io.BytesIO(FILE), "a.csv")},
                          content_type="multipart/form-data")
    assert no_csrf.status_code == 400
    forged = client.post("/notices/csv", data=_form(client, step="confirm", file_b64="cGhvbmUK",
                                                    file_sha256="0" * 64))
    assert forged.status_code == 400
    public = client.post("/notices/csv", data=_form(client, step="check", channels="x",
                                                    file=(io.BytesIO(FILE), "a.csv")),
                         content_type="multipart/form-data")
    assert public.status_code == 422 and "公開のチャネル" in public.get_data(as_text=True)


def test_the_page_in_english(client: FlaskClient) -> None:
    page = client.get("/notices/csv?lang=en").get_data(as_text=True)
    assert "Personalised send (CSV)" in page and "A personal text is never posted on X" in page
