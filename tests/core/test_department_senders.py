"""Each department's own sender: two departments' notices leave from their two numbers and
addresses, name their department on LINE, X and the feed, and the delivery record and the export
say which sender carried each row — after a failover, the second gateway's."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from hub.config import Settings
from hub.dispatch.sweeper import sweep
from hub.models import Contact, Delivery, Department
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import bearer, body, seed
from tests.support.hubtools import rows

KENKO = ("kenko", "健康推進課", "+815011110002", "kenko@city.example.jp")
ZEI = ("zei", "税務課", "+815011110003", "zei@city.example.jp")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app)
    with app.extensions["hub"].session() as s:
        s.execute(update(Contact).where(Contact.kind == "staff").values(exercise_participant=True))
    return app.test_client()


def _notice(client: FlaskClient, department: str, channels: list[str], audience: str = "staff") -> int:
    sent = client.post("/api/v1/messages", headers=bearer(), json={
        "title": "納期限のお知らせ" if department == "zei" else "健診のお知らせ",
        "body": "詳しくは市のホームページをご覧ください。", "channels": channels, "audience": audience,
        "mode": "exercise", "msg_type": "notice", "department": department})
    assert sent.status_code == 201, sent.get_data(as_text=True)
    return int(body(sent)["message_id"])


def _export(client: FlaskClient, message_id: int) -> list[dict[str, str]]:
    raw = client.get(f"/api/v1/messages/{message_id}/deliveries.csv", headers=bearer()).get_data(as_text=True)
    # The CSV guards cells against spreadsheet formulas: "+81…" is written "'+81…".
    return [{k: v.removeprefix("'") for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(raw.lstrip("\ufeff")))]


def test_two_departments_notices_leave_from_their_own_numbers_and_the_export_says_so(
    client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    sent = {code: _notice(client, code, ["sms", "voice", "email", "line"]) for code in ("kenko", "zei")}
    for code in ("kenko", "zei"):  # the public channels carry only what is for the public
        _notice(client, code, ["x", "rss"], audience="residents")
    inbox_sms, inbox_mail = sandbox_client.inbox("sms"), sandbox_client.inbox("email")
    assert {i["from"] for i in sandbox_client.inbox("voice")} == {KENKO[2], ZEI[2]}, "calls from each number"
    for code, name, number, address in (KENKO, ZEI):
        texts = {i["text"] for i in inbox_sms if i["from"] == number}
        assert texts and all(t.startswith("【訓練】" + ("納期限" if code == "zei" else "健診")) for t in texts), \
            f"{name}'s SMS did not leave from {number}"
        mails = [i for i in inbox_mail if i["from"] == address]
        assert mails and all(f"○○市 {name}" in i["meta"]["header_from"] for i in mails)
        assert all(name in i["text"] for i in mails), "the e-mail text names the department"
        exported = _export(client, sent[code])
        assert {(r["channel"], r["sender"]) for r in exported if r["channel"] in ("sms", "voice", "email")} == {
            ("sms", number), ("voice", number), ("email", address)}
        assert {r["gateway"] for r in exported if r["channel"] == "sms"} == {"twilio"}
        with runtime.session() as s:
            line = s.scalars(select(Delivery).where(Delivery.message_id == sent[code],
                                                    Delivery.channel == "line")).first()
            assert line is not None and line.sender is None, "LINE has no sender of its own"
    assert {i["from"] for i in inbox_sms} == {KENKO[2], ZEI[2]}

    line_texts = [i["text"] for i in sandbox_client.inbox("line")]
    assert any(t.rstrip().endswith("（健康推進課）") or "（健康推進課）\n" in t for t in line_texts)
    assert any("（税務課）" in t for t in line_texts)
    assert any("（税務課）" in i["text"] for i in sandbox_client.inbox("x"))
    feed = client.get("/feeds/exercise.atom").get_data(as_text=True)  # drills have their own feed
    assert "（健康推進課）" in feed and "（税務課）" in feed


def test_an_alert_is_not_signed(client: FlaskClient, sandbox_client: SandboxClient) -> None:
    sent = client.post("/api/v1/messages", headers=bearer(), json={
        "title": "避難指示", "body": "直ちに避難してください。", "channels": ["line"], "audience": "staff",
        "mode": "exercise", "department": "bousai"})
    assert sent.status_code == 201
    assert all("（防災危機管理課）" not in i["text"] for i in sandbox_client.inbox("line"))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, public_url="http://127.0.0.1:9", sms_failover_gateway="auto",
                   sms_breaker_failures=1, sms_breaker_cooldown_seconds=300.0)


@pytest.fixture
def quiet_karaden(sandbox_client: SandboxClient) -> Iterator[None]:
    sandbox_client.set_karaden_callback_url(None)
    yield


def test_after_a_failover_the_record_shows_the_second_gateway_and_its_sender(
    client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient, quiet_karaden: None
) -> None:
    with runtime.session() as s:
        s.execute(update(Department).where(Department.code == "kenko").values(karaden_service_id=77))
    sandbox_client.inject_fault("sms", "500", count=0)  # Twilio answers every request with a 500
    message_id = _notice(client, "kenko", ["sms"])
    deadline = time.monotonic() + 30
    while any(r.state not in ("sent", "delivered", "failed") for r in rows(runtime, message_id, "sms")):
        assert time.monotonic() < deadline, "the failover did not settle"
        time.sleep(0.4)
        sweep()
    assert {(r.gateway, r.sender) for r in rows(runtime, message_id, "sms")} == {("karaden", "77")}
    assert {i["from"] for i in sandbox_client.inbox("sms")} == {"karaden:service:77"}
    assert {(r["gateway"], r["sender"]) for r in _export(client, message_id)} == {("karaden", "77")}


def test_a_sender_on_a_long_municipal_domain_is_recorded_whole(
    client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    # The Message-ID is the provider id of an e-mail; with a long city domain it passes 64
    # characters, which PostgreSQL refused to store, failing the whole batch after it was sent.
    sender = "zeimu-ka@tax-office.city.higashimatsushima-example.miyagi.lg.jp"
    with runtime.session() as s:
        s.execute(update(Department).where(Department.code == "zei").values(email_sender=sender))
    message_id = _notice(client, "zei", ["email"])
    mails = sandbox_client.inbox("email")
    assert mails and {m["meta"]["mail_from"] for m in mails} == {sender}
    with runtime.session() as s:
        got = s.execute(select(Delivery.state, Delivery.provider_id).where(Delivery.message_id == message_id)).all()
    assert got and {state for state, _ in got} == {"sent"}
    assert {pid for _, pid in got} == {m["provider_id"] for m in mails}
    assert all(len(pid) > 64 for _, pid in got)
