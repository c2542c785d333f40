"""Seeding and request helpers shared by tests/api and tests/web."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from hub.accounts import issue_token
from hub.demo.seed import DEMO_PASSWORDS, DEMO_TOKEN, _demo_hash, seed_demo
from hub.models import Membership, Operator, Role

# admin (ADMIN) and bousai2 (APPROVER) can approve; bousai1 only sends; viewer only reads.
TOKENS = {"admin": DEMO_TOKEN, "bousai1": "sender-token", "bousai2": "approver-token",
          "viewer": "viewer-token"}
PASSWORDS = {**DEMO_PASSWORDS, "viewer": "viewer-password"}


def seed(app: Flask, residents: int = 12, staff: int = 3) -> None:
    with app.extensions["hub"].session() as s:
        seed_demo(s, residents=residents, staff=staff)
        s.flush()
        if s.scalar(select(Operator).where(Operator.username == "viewer")) is None:
            bousai = s.scalar(select(Operator.department_id).where(Operator.username == "admin"))
            assert bousai is not None
            s.add(Operator(username="viewer", display_name="閲覧 専用", department_id=bousai,
                           password_hash=_demo_hash(PASSWORDS["viewer"]),
                           memberships=[Membership(department_id=bousai, role=Role.VIEWER)]))
            s.flush()
        for name, token in TOKENS.items():
            operator = s.scalar(select(Operator).where(Operator.username == name))
            assert operator is not None
            if name != "admin":  # the demo seed issued the admin's
                issue_token(s, operator, "test", expires_at=None, actor="test", token=token)


def bearer(who: str = "admin", **headers: str) -> dict[str, str]:
    """The demo operators' tokens; the extra ones of tests/api/policy_support.py use ``<name>-token``."""
    return {"Authorization": f"Bearer {TOKENS.get(who, f'{who}-token')}", **headers}


def message(**fields: Any) -> dict[str, Any]:
    """A valid message body: a live kenko (health) notice to residents, so it waits for a second person."""
    return {"title": "健診のお知らせ", "body": "明日は健診日です。保険証をお持ちください。",
            "channels": ["sms", "email", "rss"], "audience": "residents", "mode": "actual",
            "category": "kenko", **fields}


def create(client: FlaskClient, who: str = "admin", **fields: Any) -> TestResponse:
    return client.post("/api/v1/messages", json=message(**fields), headers=bearer(who))


def create_approved(client: FlaskClient, who: str = "admin", approver: str = "bousai2",
                    **fields: Any) -> dict[str, Any]:
    """Create a message and, if it waits for a second person, have ``approver`` approve it."""
    created = body(create(client, who, **fields))
    if created["state"] != "awaiting_approval":
        return dict(created)
    approved = client.post(f"/api/v1/messages/{created['message_id']}/approve", headers=bearer(approver))
    assert approved.status_code == 200, approved.get_data(as_text=True)
    return dict(body(approved))


def login(client: FlaskClient, who: str, password: str | None = None, code: str = "") -> TestResponse:
    """Log in on the web form with the operator's password (and TOTP code when they enrolled one)."""
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    return client.post("/login", data={"username": who, "password": password or PASSWORDS[who], "code": code,
                                       "csrf_token": csrf})


def csrf(client: FlaskClient) -> str:
    with client.session_transaction() as sess:
        return str(sess["csrf"])


def body(response: TestResponse) -> Any:
    """The JSON body, asserting there is one (keeps the tests free of Optional checks)."""
    assert response.is_json, response.get_data(as_text=True)[:500]
    return response.json
