"""The API: check a file (every bad row, the preview, the cost), send it, see it, cancel what waits;
every answer matches the OpenAPI document."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder, TestResponse

from hub.relay.clock import ManualClock
from sandbox import SandboxClient
from tests.api.support import bearer, seed
from tests.notices.support import HEADER, csv_bytes, mobile
from tests.support.openapi import hub_api

URL = "/api/v1/csv-sends"
FILE = csv_bytes([HEADER, f"{mobile(1)},山田 花子,2026-12-02 14:30,all", "03-3581-0001,佐藤 一郎,2026-12-02 9:00,all"])
API = hub_api()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app)
    return app.test_client()


def _post(client: FlaskClient, data: bytes = FILE, **fields: str) -> TestResponse:
    form: dict[str, Any] = {"title": "健診のご案内", "body": "{{氏名}}様 {{予約日時}}に健診があります。",
                            "channels": "sms", "mode": "actual", "category": "kenko", **fields,
                            "file": (io.BytesIO(data), "kenshin.csv")}
    response = client.post(URL, data=form, headers=bearer(), content_type="multipart/form-data")
    route = EnvironBuilder(method="POST", path=response.request.path).get_request()
    API.validate_response(WerkzeugOpenAPIRequest(route), WerkzeugOpenAPIResponse(response))
    return response


def test_check_then_send(client: FlaskClient, sandbox_client: SandboxClient, clock: ManualClock) -> None:
    checked = _post(client)
    assert checked.status_code == 200, checked.get_json()
    preview = checked.get_json()["preview"]
    assert [e["line"] for e in preview["errors"]] == [3]
    assert preview["channels"]["sms"]["samples"][0]["text"] == \
        "健診のご案内\n山田 花子様 2026-12-02 14:30に健診があります。"
    assert preview["estimated_cost_yen"] == pytest.approx(3.3)
    assert checked.get_json()["csv_send_id"] is None

    refused = _post(client, confirm="true")
    assert refused.status_code == 422  # bad rows, and the operator did not choose to skip them
    sandbox_client.clear()
    created = _post(client, confirm="true", skip_bad="true")
    assert created.status_code == 201, created.get_json()
    [message] = created.get_json()["messages"]
    assert message["state"] == "awaiting_approval"  # a live send to residents: a second person looks
    send_id = created.get_json()["csv_send_id"]
    assert client.post(f"{URL}/{send_id}/approve", headers=bearer()).status_code == 409  # not by its creator
    approved = client.post(f"{URL}/{send_id}/approve", headers=bearer("bousai2"))
    assert approved.status_code == 200, approved.get_json()
    route = EnvironBuilder(method="POST", path=approved.request.path).get_request()
    API.validate_response(WerkzeugOpenAPIRequest(route), WerkzeugOpenAPIResponse(approved))
    [item] = sandbox_client.inbox(channel="sms")
    assert item["text"] == "健診のご案内\n山田 花子様 2026-12-02 14:30に健診があります。"

    shown = client.get(f"{URL}/{send_id}", headers=bearer())
    assert shown.status_code == 200 and shown.get_json()["rows"] == 1


def test_cancel_reminders_before_they_leave(client: FlaskClient, clock: ManualClock) -> None:
    created = _post(client, confirm="true", skip_bad="true", reminder="day_before@10:00", date_column="予約日時")
    assert created.status_code == 201
    send_id = created.get_json()["csv_send_id"]
    cancelled = client.post(f"{URL}/{send_id}/cancel", headers=bearer(), json={})
    assert cancelled.status_code == 200
    assert cancelled.get_json()["withdrawn"] == 1
    assert [m["state"] for m in cancelled.get_json()["messages"]] == ["withdrawn"]


@pytest.mark.parametrize(("fields", "status", "field"), [
    ({"mode": ""}, 400, "mode"),
    ({"channels": "x"}, 422, "channels"),
    ({"reminder": "tomorrow", "date_column": "予約日時"}, 422, "reminder"),
    ({"body": "{{住所}}"}, 422, "body"),
])
def test_refusals(client: FlaskClient, clock: ManualClock, fields: dict[str, str], status: int, field: str) -> None:
    response = _post(client, **fields)
    assert response.status_code == status, response.get_json()
    assert field in response.get_json()["error"]["problems"]


def test_a_file_is_required(client: FlaskClient) -> None:
    response = client.post(URL, data={"title": "t"}, headers=bearer(), content_type="multipart/form-data")
    assert response.status_code == 415
    assert client.get(f"{URL}/999999", headers=bearer()).status_code == 404


def test_the_composer_refuses_a_personal_audience(client: FlaskClient) -> None:
    response = client.post("/api/v1/messages", headers=bearer(), json={
        "title": "t", "body": "b", "channels": ["sms"], "audience": "personal:1", "mode": "actual"})
    assert response.status_code in (400, 422)
    assert "audience" in response.get_json()["error"]["problems"]
