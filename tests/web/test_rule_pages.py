"""The rules and templates pages with the Flask test client: policy, validation, audit, the dry run."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hub.models import AuditLog, Message
from hub.models.triggers import TriggerRule, TriggerTelegram
from tests.api.support import csrf, login

FIXTURE = Path(__file__).parents[1] / "fixtures/jma/official/32-35_06_03_240613_VXSE53.xml"
OSHU_RULE = """name: 奥州市 震度5弱以上
when: earthquake
municipalities: ["0321500"]
min_intensity: 5弱
template: jma-earthquake
audience: all
channels: [sms, email]
"""


def test_a_non_admin_gets_403_on_every_rule_page(client: FlaskClient) -> None:
    assert login(client, "bousai1").status_code == 302
    assert client.get("/rules").status_code == 403
    assert client.get("/templates").status_code == 403
    assert client.post("/rules", data={"csrf_token": csrf(client), "rule": OSHU_RULE}).status_code == 403
    assert client.post("/rules/try", data={"csrf_token": csrf(client)}).status_code == 403
    assert "ルール" not in client.get("/").get_data(as_text=True).split("<main")[0]


def test_a_bad_rule_shows_the_validation_error_and_nothing_is_stored(client: FlaskClient, app: Flask) -> None:
    assert login(client, "admin").status_code == 302
    bad = client.post("/rules", data={"csrf_token": csrf(client),
                                      "rule": OSHU_RULE.replace("[sms, email]", "[sms, pigeon]")})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "ルール「奥州市 震度5弱以上」: チャネル pigeon は使えません" in html
    assert "pigeon" in html.split('id="f-rule"')[1], "what the admin typed stays in the form"
    with app.extensions["hub"].session() as s:
        assert s.scalar(select(func.count()).select_from(TriggerRule)) == 0


def test_create_disable_and_try_a_rule_is_audited_and_the_try_stores_nothing(
        client: FlaskClient, app: Flask) -> None:
    assert login(client, "admin").status_code == 302
    assert client.post("/rules", data={"csrf_token": csrf(client), "rule": OSHU_RULE}).status_code == 302
    with app.extensions["hub"].session() as s:
        rule = s.scalar(select(TriggerRule))
        assert rule is not None and rule.enabled and rule.conditions["municipalities"] == ["0321500"]
        rule_id = rule.id
        assert s.scalar(select(AuditLog).where(AuditLog.action == "rule.create")) is not None
    page = client.get(f"/rules/{rule_id}").get_data(as_text=True)
    assert "0321500" in page and "jma-earthquake" in page

    tried = client.post("/rules/try", data={"csrf_token": csrf(client),
                                            "telegram": (io.BytesIO(FIXTURE.read_bytes()), FIXTURE.name)},
                        content_type="multipart/form-data")
    html = tried.get_data(as_text=True)
    assert tried.status_code == 200 and 'data-outcome="matched"' in html and "一致" in html
    sms = html.split('data-channel="sms"')[1].split("</pre>")[0]
    assert "8時43分ごろ地震。奥州市（震度６強）。" in sms
    with app.extensions["hub"].session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0
        assert s.scalar(select(func.count()).select_from(TriggerTelegram)) == 0

    # The same telegram from the shipped samples: no file needed at 3 a.m.
    shipped = client.post("/rules/try", data={"csrf_token": csrf(client), "sample": FIXTURE.name})
    assert 'data-outcome="matched"' in shipped.get_data(as_text=True)
    assert client.post("/rules/try", data={"csrf_token": csrf(client), "sample": "../../etc/passwd"}
                       ).status_code == 400, "only the shipped files by name"

    off = client.post(f"/rules/{rule_id}/enabled", data={"csrf_token": csrf(client), "enabled": "no"})
    assert off.status_code == 302
    with app.extensions["hub"].session() as s:
        assert s.get(TriggerRule, rule_id).enabled is False  # type: ignore[union-attr]
        assert s.scalar(select(AuditLog).where(AuditLog.action == "rule.update")) is not None
    again = client.post("/rules/try", data={"csrf_token": csrf(client),
                                            "telegram": (io.BytesIO(FIXTURE.read_bytes()), FIXTURE.name)},
                        content_type="multipart/form-data")
    assert 'data-outcome="matched"' not in again.get_data(as_text=True), "a stopped rule does not match"


def test_an_unreadable_upload_is_shown_as_unreadable_and_not_quarantined(client: FlaskClient, app: Flask) -> None:
    assert login(client, "admin").status_code == 302
    tried = client.post("/rules/try", data={"csrf_token": csrf(client),
                                            "telegram": (io.BytesIO(b"<not-a-telegram/>"), "x.xml")},
                        content_type="multipart/form-data")
    assert tried.status_code == 200 and 'data-outcome="quarantined"' in tried.get_data(as_text=True)
    with app.extensions["hub"].session() as s:
        assert s.scalar(select(func.count()).select_from(TriggerTelegram)) == 0


def test_the_templates_page_and_the_dry_run_show_every_reviewed_language(client: FlaskClient) -> None:
    assert login(client, "admin").status_code == 302
    assert client.post("/rules", data={"csrf_token": csrf(client), "rule": OSHU_RULE}).status_code == 302

    row = client.get("/templates").get_data(as_text=True).split('data-code="jma-earthquake"')[1].split("</tr>")[0]
    assert "English, やさしい日本語, 中文（简体）" in row

    html = client.post("/rules/try", data={"csrf_token": csrf(client), "sample": FIXTURE.name}).get_data(as_text=True)
    english = html.split('data-channel="sms" data-language="en"')[1].split("</pre>")[0]
    assert "（English）" in english and "Earthquake at about 8:43 AM (Japan time). 奥州市 (Seismic intensity 6 Upper)" in english
    easy = html.split('data-channel="email" data-language="ja-easy"')[1].split("</pre>")[0]
    assert "大きい 地震が ありました" in easy
