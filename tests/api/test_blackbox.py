"""The attacks from the trust review, replayed black-box over HTTP against a running hub.

Each one must now fail with a clear error and change nothing. The ``app`` fixture serves the hub
on a real socket (``settings.public_url``); these requests go through it as an attacker's would.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from hub.config import DEFAULT_SECRET_KEY, Settings
from hub.models import Message, Operator
from tests.api.policy_support import bearer, count, seed_operators, snapshot
from tests.api.support import PASSWORDS, message, seed

SIX_CHANNELS = ["sms", "voice", "email", "line", "x", "rss"]


class Hub:
    def __init__(self, settings: Settings) -> None:
        self.base = settings.public_url.rstrip("/")

    def api(self, method: str, path: str, who: str | None = "admin", **kwargs: Any) -> requests.Response:
        headers = {**(bearer(who) if who else {}), **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.base}/api/v1{path}", headers=headers, timeout=30, **kwargs)

    def send(self, who: str, **fields: Any) -> requests.Response:
        return self.api("POST", "/messages", who, json=message(**fields))


def _error(response: requests.Response) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:200]
    error: dict[str, Any] = response.json()["error"]
    assert error["message"], "a clear error says what is wrong"
    return error


def test_message_bypasses_fail_over_http_and_change_nothing(app: Flask, settings: Settings) -> None:
    seed(app)
    seed_operators(app)
    hub = Hub(settings)

    # A sender left out the category and sent live to every resident on six channels, alone.
    held = hub.send("bousai1", category=None, channels=SIX_CHANNELS, audience="all", title="避難指示")
    assert held.status_code == 201 and held.json()["state"] == "awaiting_approval"
    detail = hub.api("GET", f"/messages/{held.json()['message_id']}", "bousai1").json()
    assert detail["approved_by"] is None and all(sum(c.values()) == 0 for c in detail["channels"].values())

    original = hub.send("bousai1", channels=["sms", "email"]).json()["message_id"]
    assert hub.api("POST", f"/messages/{original}/approve", "bousai2").status_code == 200
    before = snapshot(app)

    # The creator approves their own message; an approver of another department approves it.
    assert hub.api("POST", f"/messages/{held.json()['message_id']}/approve", "bousai1").status_code in (403, 409)
    assert hub.api("POST", f"/messages/{held.json()['message_id']}/approve", "kenko2").status_code == 403
    # A sender of another department corrects or cancels it.
    for msg_type in ("update", "cancel"):
        r = hub.api("POST", "/messages", "kenko1", json={"msg_type": msg_type, "references": original,
                                                         "body": "別部署からの書き換え"})
        assert r.status_code == 403 and _error(r)["code"] == "forbidden"
    # Audiences that name nothing, 5,000 channel names, 1,000-deep JSON, ?_method=DELETE.
    for audience in ("area:9999999", "category:nosuch", "department:nosuch"):
        r = hub.send("bousai1", audience=audience)
        assert r.status_code == 400 and audience in json.dumps(_error(r), ensure_ascii=False)
    started = time.monotonic()
    r = hub.send("bousai1", channels=[f"ch{n}" for n in range(5000)])
    assert r.status_code == 400 and time.monotonic() - started < 2.0, "refused before any work"
    deep = "[" * 1000 + "]" * 1000
    r = hub.api("POST", "/messages", "bousai1", data=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and _error(r)
    r = hub.api("POST", "/messages?_method=DELETE", "bousai1", json=message(mode="exercise"))
    assert r.status_code == 400 and _error(r)
    assert snapshot(app) == before

    # A correction with new words waits for a second person like the original did.
    corrected = hub.api("POST", "/messages", "bousai1", json={"msg_type": "update", "references": original,
                                                              "body": "会場は第二庁舎に変わりました。"})
    assert corrected.status_code == 201 and corrected.json()["state"] == "awaiting_approval"


def test_account_and_call_out_bypasses_fail_over_http(app: Flask, settings: Settings) -> None:
    seed(app)
    seed_operators(app)
    hub = Hub(settings)
    before = snapshot(app)

    # A cookie forged with the default key is nobody: production refuses to start with that key
    # (tests/core/test_trust_startup.py), so this hub gets its own, as a real one has.
    app.config["SECRET_KEY"] = secrets.token_urlsafe(48)
    with app.extensions["hub"].session() as s:
        admin = s.scalar(select(Operator).where(Operator.username == "admin"))
        assert admin is not None
        claims = {"operator_id": admin.id, "session_version": admin.session_version}
    forger = Flask("forger")
    forger.secret_key = DEFAULT_SECRET_KEY
    serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
    assert serializer is not None
    forged = requests.get(f"{hub.base}/api/v1/messages", cookies={"session": serializer.dumps(claims)}, timeout=30)
    assert forged.status_code == 401

    # Staff-only and exercise messages are not on the public page, and ids are not walkable.
    staff = hub.send("bousai1", audience="staff", channels=["email"]).json()["message_id"]
    assert requests.get(f"{hub.base}/m/{staff}", timeout=30).status_code == 404

    # Call-outs: another department, 50 steps × 10 cycles, closing another department's.
    callout = {"survey": "anpi", "mode": "exercise", "interval": "5m", "cycles": 1, "steps": ["line", "email"]}
    r = hub.api("POST", "/callouts", "bousai1", json={**callout, "departments": ["kenko"]})
    assert r.status_code == 403 and _error(r)
    r = hub.api("POST", "/callouts", "bousai1", json={**callout, "departments": ["bousai"], "cycles": 10,
                                                      "steps": ["line", "voice", "email"] * 17})
    assert r.status_code == 400 and _error(r)["code"] == "invalid_callout"
    mine = hub.api("POST", "/callouts", "bousai1", json={**callout, "departments": ["bousai"]}).json()
    r = hub.api("POST", f"/callouts/{mine['callout']['id']}/close", "kenko1")
    assert r.status_code == 403
    assert hub.api("GET", f"/callouts/{mine['callout']['id']}").json()["callout"]["state"] == "active"

    # A session ends at logout, even for a copy of its cookie kept by someone else.
    browser = requests.Session()
    page = browser.get(f"{hub.base}/login", timeout=30).text
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert browser.post(f"{hub.base}/login", data={"username": "bousai1", "password": PASSWORDS["bousai1"],
                                                   "csrf_token": csrf}, allow_redirects=False,
                        timeout=30).status_code == 302
    kept = dict(browser.cookies)
    assert requests.get(f"{hub.base}/api/v1/messages", cookies=kept, timeout=30).status_code == 200
    home = browser.get(f"{hub.base}/", timeout=30).text
    token = home.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    out = browser.post(f"{hub.base}/logout", data={"csrf_token": token}, allow_redirects=False, timeout=30)
    assert out.status_code == 302, out.text[:300]
    assert requests.get(f"{hub.base}/api/v1/messages", cookies=kept, timeout=30).status_code == 401

    # Wrong logins are not answered at full speed for ever: the account locks.
    codes = []
    for n in range(7):
        attacker = requests.Session()
        form = attacker.get(f"{hub.base}/login", timeout=30).text
        csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        codes.append(attacker.post(f"{hub.base}/login", data={"username": "bousai2", "password": f"guess-{n}",
                                                              "csrf_token": csrf}, timeout=30).status_code)
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]

    assert count(app, Message) == before[0] + 1  # only the staff notice sent on purpose above
