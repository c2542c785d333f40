"""Helpers for the account tests: the CLI as a city's staff run it, TOTP codes, the audit log."""

from __future__ import annotations

import re
import time

import pyotp
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from hub.cli import main
from hub.cli.context import HubContext
from hub.models import AuditLog
from tests.api.support import csrf


def invoke(app: Flask, *args: str, token: str | None = None, env: dict[str, str] | None = None,
           input: str | None = None) -> Result:
    hub = HubContext()
    hub._app = app
    environ = {"HUB_TOKEN": token or "", **(env or {})}
    return CliRunner().invoke(main, list(args), obj=hub, env=environ, input=input)


def audit_actions(app: Flask, action_prefix: str = "") -> list[tuple[str, str, dict[str, object]]]:
    with app.extensions["hub"].session() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action.startswith(action_prefix)).order_by(AuditLog.id))
        return [(r.actor, r.action, dict(r.detail or {})) for r in rows]


def post_form(client: FlaskClient, path: str, **fields: str) -> TestResponse:
    return client.post(path, data={**fields, "csrf_token": csrf(client)})


def login_form(client: FlaskClient, username: str, password: str, code: str = "",
               address: str = "127.0.0.1") -> TestResponse:
    client.get("/login")
    return client.post("/login", data={"username": username, "password": password, "code": code,
                                       "csrf_token": csrf(client)}, environ_base={"REMOTE_ADDR": address})


def enrol_totp(client: FlaskClient) -> str:
    """Enrol through the /totp page; returns the secret (as the operator's phone would keep it)."""
    page = client.get("/totp").get_data(as_text=True)
    found = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page)
    assert found, page[:500]
    secret = found.group(1)
    done = post_form(client, "/totp", code=code_at(secret, 0))
    assert done.status_code == 302, done.get_data(as_text=True)[:500]
    return secret


def code_at(secret: str, steps_from_now: int) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_from_now)


def one_time_password(output: str) -> str:
    found = re.search(r"shown once）: (\S+)", output)
    assert found, output
    return found.group(1)
