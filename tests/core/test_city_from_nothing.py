"""A city set up from nothing, with commands only: schema, first admin, departments with their sender
numbers, operators with roles, residents from CSV — then a live 防災 message from the sender's CLI waits for
the approver, and goes out under the department's own number once approved."""

from __future__ import annotations

import json
import time
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hub.models import Operator
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.accounts.support import audit_actions, invoke, login_form, one_time_password, post_form
from tests.api.support import csrf

SMS_SENDER = "+815011110001"
RESIDENTS = """external_id,kind,name,phone,email,categories,areas,consent
R1,resident,住民 一,+819011110001,r1@mail.example.jp,bousai,0321500,all
R2,resident,住民 二,+819011110002,,bousai,0321500,all
R3,resident,住民 三,+819011110003,r3@mail.example.jp,bousai,0321500,sms
"""


def _first_login(app: Flask, username: str, one_time: str, password: str) -> str:
    """Log in with the one-time password, choose a real one, then issue one's own API token."""
    browser: FlaskClient = app.test_client()
    assert login_form(browser, username, one_time).headers["Location"].endswith("/password")
    changed = post_form(browser, "/password", current_password=one_time, new_password=password,
                        confirm_password=password)
    assert changed.status_code == 302
    issued = browser.post("/api/v1/tokens", json={"name": "cli", "expires_in_days": 30},
                          headers={"X-CSRF-Token": csrf(browser)})
    assert issued.status_code == 201, issued.get_data(as_text=True)
    token: str = issued.json["token"]  # type: ignore[index]
    return token


def _ok(app: Flask, *args: str, token: str | None = None) -> str:
    result = invoke(app, *args, token=token)
    assert result.exit_code == 0, (args, result.output)
    return result.output


def test_a_city_from_nothing(app: Flask, runtime: Runtime, sandbox_client: SandboxClient, tmp_path: Path) -> None:
    _ok(app, "db", "upgrade")
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Operator)) == 0  # no default account

    admin = _first_login(app, "kanri", one_time_password(
        _ok(app, "admin", "bootstrap", "--username", "kanri", "--display-name", "防災 管理者")), "typhoon-season-2026")

    _ok(app, "admin", "department", "create", "bousai", "--name", "防災危機管理課", "--sms-sender", SMS_SENDER,
        "--voice-sender", SMS_SENDER, "--email-sender", "bousai@city.example.jp",
        "--email-sender-name", "○○市 防災危機管理課", token=admin)
    _ok(app, "admin", "category", "create", "bousai", "--name", "防災", token=admin)
    _ok(app, "admin", "area", "create", "0321500", "--name", "奥州市", token=admin)
    sender_otp = one_time_password(_ok(app, "admin", "operator", "create", "sender1", "--display-name", "防災 太郎",
                                       "--department", "bousai", "--role", "bousai=sender", token=admin))
    approver_otp = one_time_password(_ok(app, "admin", "operator", "create", "approver1", "--display-name",
                                         "防災 花子", "--department", "bousai", "--role", "bousai=approver",
                                         token=admin))
    sender = _first_login(app, "sender1", sender_otp, "river-level-watch-7")
    approver = _first_login(app, "approver1", approver_otp, "second-pair-of-eyes")

    csv_path = tmp_path / "residents.csv"
    csv_path.write_text(RESIDENTS, encoding="utf-8")
    imported = _ok(app, "contacts", "import", str(csv_path), "--json", token=admin)
    assert json.loads(imported)["created"] == 3

    sandbox_client.clear()
    sent = _ok(app, "send", "--title", "避難指示", "--body", "奥州市全域に避難指示。直ちに避難してください。",
               "--channels", "sms", "--audience", "category:bousai",  # no message category: it waits all the same
               "--department", "bousai", "--mode", "actual", "--json", token=sender)
    message = json.loads(sent)
    assert message["state"] == "awaiting_approval"
    assert sandbox_client.inbox("sms") == []  # nothing leaves before a second person looks

    # The sender cannot approve their own department's message; the approver can.
    assert app.test_client().post(f"/api/v1/messages/{message['message_id']}/approve",
                                  headers={"Authorization": f"Bearer {sender}"}).status_code == 403
    approved = app.test_client().post(f"/api/v1/messages/{message['message_id']}/approve",
                                      headers={"Authorization": f"Bearer {approver}"})
    assert approved.status_code == 200, approved.get_data(as_text=True)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = json.loads(_ok(app, "status", str(message["message_id"]), "--json", token=sender))
        if status["channels"]["sms"]["pending"] == 0:
            break
        time.sleep(0.2)
    assert status["state"] in ("queued", "done") and status["channels"]["sms"]["pending"] == 0
    inbox = sandbox_client.inbox("sms")
    assert sorted(i["to"] for i in inbox) == ["+819011110001", "+819011110002", "+819011110003"]
    assert {i["from"] for i in inbox} == {SMS_SENDER}  # the department's own identity
    assert all("避難指示" in i["text"] for i in inbox)

    actions = {b for _a, b, _d in audit_actions(app)}
    assert {"operator.create", "department.create", "category.create", "area.create", "operator.grant",
            "login.ok", "password.change", "token.issue", "message.create", "message.approve"} <= actions
