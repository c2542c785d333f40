"""Web login: password, TOTP (no replay), production TOTP for approvers and admins, one-time passwords,
logout, password rehash and throttling per account and per client address — over HTTP."""

from __future__ import annotations

import dataclasses

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.accounts import passwords
from hub.accounts.throttle import LocalFailures, LoginThrottle
from hub.app import create_app
from hub.config import Settings
from hub.models import Operator
from hub.runtime import Runtime
from tests.accounts.support import audit_actions, code_at, enrol_totp, invoke, login_form, one_time_password, post_form
from tests.api.support import PASSWORDS, TOKENS, bearer, csrf, login
from tests.conftest import PRODUCTION_HASHER

DRAFT = {"title": "t", "channels": ["sms"], "mode": "exercise"}


def _preview(client: FlaskClient) -> int:
    return client.post("/api/v1/messages/preview", json=DRAFT, headers={"X-CSRF-Token": csrf(client)}).status_code


def test_password_login_opens_the_console_and_the_api_with_the_session(client: FlaskClient, app: Flask) -> None:
    assert login(client, "bousai1").status_code == 302
    assert client.get("/").status_code == 200 and _preview(client) == 200
    wrong = login(app.test_client(), "bousai1", password="not-the-password")
    assert wrong.status_code == 401 and "パスワードが正しくありません" in wrong.get_data(as_text=True)
    actions = [(actor, action, detail.get("reason")) for actor, action, detail in audit_actions(app, "login")]
    assert ("bousai1", "login.ok", None) in actions and ("bousai1", "login.failed", "password") in actions
    # The audit never holds what was typed.
    assert not any(PASSWORDS["bousai1"] in str(d) or "not-the-password" in str(d)
                   for _a, _b, d in audit_actions(app))


def test_totp_login_and_a_code_is_not_accepted_twice(client: FlaskClient, app: Flask) -> None:
    login(client, "bousai1")
    secret = enrol_totp(client)
    assert ("bousai1", "totp.enrol") in [(a, b) for a, b, _d in audit_actions(app, "totp")]
    # Enrolling ended the other sessions and re-signed this one.
    assert client.get("/").status_code == 200

    browser = app.test_client()
    assert login_form(browser, "bousai1", PASSWORDS["bousai1"]).status_code == 401  # the code is missing
    code = code_at(secret, 1)
    assert login_form(browser, "bousai1", PASSWORDS["bousai1"], code).status_code == 302
    assert browser.get("/").status_code == 200
    # The same code again — seen over a shoulder, replayed from another machine — is refused.
    other = app.test_client()
    replay = login_form(other, "bousai1", PASSWORDS["bousai1"], code)
    assert replay.status_code == 401 and "使用済み" in replay.get_data(as_text=True)
    assert ("bousai1", "login.failed", "totp") in [(a, b, d.get("reason")) for a, b, d in audit_actions(app)]
    # A wrong code is refused too, whatever the password.
    assert login_form(other, "bousai1", PASSWORDS["bousai1"], "000000" if code != "000000" else "111111"
                      ).status_code == 401


def test_a_copy_of_the_database_makes_no_totp_codes(client: FlaskClient, app: Flask) -> None:
    """The seed is stored sealed with a key from HUB_SECRET_KEY; another key opens nothing, and a seed
    stored in plain by an older version is sealed by `hub db upgrade` and still works."""
    runtime: Runtime = app.extensions["hub"]
    login(client, "bousai1")
    secret = enrol_totp(client)
    with runtime.session() as s:
        stored = s.scalar(select(Operator.totp_secret).where(Operator.username == "bousai1"))
    assert stored is not None and secret not in stored and stored.startswith("f1:")

    rotated = dataclasses.replace(runtime.settings, secret_key="another-key-" + "x" * 40)
    key = runtime.settings
    runtime.settings = rotated
    refused = login_form(app.test_client(), "bousai1", PASSWORDS["bousai1"], code_at(secret, 1))
    assert refused.status_code == 401, "a seed sealed with the old key is never read with a new one"
    runtime.settings = key

    with runtime.session() as s:  # as an older version stored it
        operator = s.scalar(select(Operator).where(Operator.username == "bousai1"))
        assert operator is not None
        operator.totp_secret = secret
    assert invoke(app, "db", "upgrade").exit_code == 0
    with runtime.session() as s:
        resealed = s.scalar(select(Operator.totp_secret).where(Operator.username == "bousai1"))
    assert resealed is not None and resealed.startswith("f1:") and secret not in resealed
    assert login_form(app.test_client(), "bousai1", PASSWORDS["bousai1"], code_at(secret, 1)).status_code == 302


def _production(runtime: Runtime) -> None:
    runtime.settings = dataclasses.replace(runtime.settings, env="Production", allow_sandbox=True)


def test_production_requires_totp_of_approvers_and_admins_before_anything_else(
        client: FlaskClient, app: Flask, runtime: Runtime) -> None:
    _production(runtime)
    # Not with a token either, until enrolled; a sender's token works as before.
    assert client.get("/api/v1/messages", headers=bearer("bousai2")).status_code == 401
    assert client.get("/api/v1/messages", headers=bearer("bousai1")).status_code == 200
    refused = invoke(app, "admin", "operator", "list", token=TOKENS["admin"])
    assert refused.exit_code != 0 and "HUB_TOKEN" in refused.output
    # A sender without TOTP works as before.
    sender = app.test_client()
    assert login(sender, "bousai1").status_code == 302 and sender.get("/").status_code == 200
    approver = app.test_client()
    r = login(approver, "bousai2")
    assert r.status_code == 302 and r.headers["Location"].endswith("/totp")
    # Nothing but the enrolment works: not a page, not the API with the session.
    assert approver.get("/").headers["Location"].endswith("/totp")
    assert approver.get("/compose").headers["Location"].endswith("/totp")
    assert _preview(approver) == 401
    secret = enrol_totp(approver)
    assert approver.get("/").status_code == 200 and _preview(approver) == 200
    # From now on the code is part of the login.
    assert client.get("/api/v1/messages", headers=bearer("bousai2")).status_code == 200
    again = app.test_client()
    assert login(again, "bousai2").status_code == 401
    assert login(again, "bousai2", code=code_at(secret, 1)).status_code == 302
    assert again.get("/").status_code == 200


def test_outside_production_totp_is_optional_for_an_admin(client: FlaskClient) -> None:
    assert login(client, "admin").headers["Location"] == "/"


def test_a_one_time_password_must_be_changed_first(client: FlaskClient, app: Flask) -> None:
    created = invoke(app, "admin", "operator", "create", "kikaku1", "--display-name", "企画 一郎",
                     "--role", "kenko=sender", token=TOKENS["admin"])
    assert created.exit_code == 0, created.output
    first = one_time_password(created.output)
    browser = app.test_client()
    r = login_form(browser, "kikaku1", first)
    assert r.status_code == 302 and r.headers["Location"].endswith("/password")
    assert browser.get("/compose").headers["Location"].endswith("/password")
    # Every page, the call-out tally and its export (served by the relay) included.
    for page in ("/relay/callouts/1", "/relay/callouts/1/export.csv"):
        assert browser.get(page).headers["Location"].endswith("/password"), page
    assert _preview(browser) == 401
    short = post_form(browser, "/password", current_password=first, new_password="short",
                      confirm_password="short")
    assert short.status_code == 422 and "12文字以上" in short.get_data(as_text=True)
    mismatch = post_form(browser, "/password", current_password=first, new_password="kenko-2026-spring",
                         confirm_password="kenko-2026-summer")
    assert mismatch.status_code == 422
    wrong_current = post_form(browser, "/password", current_password="guess-guess-guess",
                              new_password="kenko-2026-spring", confirm_password="kenko-2026-spring")
    assert wrong_current.status_code == 422
    done = post_form(browser, "/password", current_password=first, new_password="kenko-2026-spring",
                     confirm_password="kenko-2026-spring")
    assert done.status_code == 302 and browser.get("/compose").status_code == 200
    # The one-time password is spent; the new one works.
    assert login_form(app.test_client(), "kikaku1", first).status_code == 401
    assert login_form(app.test_client(), "kikaku1", "kenko-2026-spring").status_code == 302
    assert ("kikaku1", "password.change") in [(a, b) for a, b, _d in audit_actions(app, "password")]


def test_logout_ends_the_session_even_for_a_kept_cookie(client: FlaskClient, app: Flask) -> None:
    login(client, "bousai1")
    with client.session_transaction() as sess:
        kept = dict(sess)  # what a stolen or backed-up cookie would carry
    assert post_form(client, "/logout").status_code == 302
    replayed = app.test_client()
    with replayed.session_transaction() as sess:
        sess.update(kept)
    assert replayed.get("/").status_code == 302
    assert _preview(replayed) == 401
    assert ("bousai1", "logout") in [(a, b) for a, b, _d in audit_actions(app, "logout")]


def test_a_password_made_with_older_parameters_is_rehashed_at_login(
        client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", PRODUCTION_HASHER)  # the suite's own are cheaper still
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORDS["bousai1"])
    with app.extensions["hub"].session() as s:
        operator = s.scalar(select(Operator).where(Operator.username == "bousai1"))
        assert operator is not None
        operator.password_hash = weak
    assert login(client, "bousai1").status_code == 302
    with app.extensions["hub"].session() as s:
        stored = s.scalar(select(Operator.password_hash).where(Operator.username == "bousai1"))
    assert stored and stored != weak and "t=1," not in stored
    assert login(app.test_client(), "bousai1").status_code == 302


def test_failures_for_one_account_lock_it_even_with_the_right_password(
        client: FlaskClient, app: Flask, runtime: Runtime) -> None:
    for n in range(5):
        assert login_form(app.test_client(), "bousai1", f"wrong-password-{n}", address=f"10.0.0.{n}"
                          ).status_code == 401
    locked = login_form(app.test_client(), "bousai1", PASSWORDS["bousai1"], address="10.0.1.1")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 14 * 60
    assert "分後にもう一度" in locked.get_data(as_text=True)
    # Another account is not affected.
    assert login_form(app.test_client(), "bousai2", PASSWORDS["bousai2"], address="10.0.1.1").status_code == 302
    assert ("bousai1", "login.throttled", "account") in [
        (a, b, d.get("scope")) for a, b, d in audit_actions(app, "login.throttled")]


def test_the_lock_ends_when_the_window_passes(client: FlaskClient, app: Flask, runtime: Runtime) -> None:
    now = [1000.0]  # the throttle's clock, moved by hand: a slow machine cannot expire the window early
    store = LocalFailures(window=3.0, clock=lambda: now[0])
    runtime.login_throttle = LoginThrottle(store)
    for n in range(5):
        login_form(app.test_client(), "bousai1", f"wrong-password-{n}")
    assert login_form(app.test_client(), "bousai1", PASSWORDS["bousai1"]).status_code == 429
    now[0] += 2.9
    assert login_form(app.test_client(), "bousai1", PASSWORDS["bousai1"]).status_code == 429
    now[0] += 0.2
    assert login_form(app.test_client(), "bousai1", PASSWORDS["bousai1"]).status_code == 302


def test_failures_from_one_address_lock_that_address_for_every_account(client: FlaskClient, app: Flask) -> None:
    for n in range(20):
        # A spray: a few tries each over many (partly unknown) usernames from one machine.
        assert login_form(app.test_client(), f"user{n % 4}", "password-guess", address="192.0.2.7"
                          ).status_code == 401
    refused = login_form(app.test_client(), "bousai2", PASSWORDS["bousai2"], address="192.0.2.7")
    assert refused.status_code == 429
    assert login_form(app.test_client(), "bousai2", PASSWORDS["bousai2"], address="192.0.2.8").status_code == 302
    assert ("address",) in [(d.get("scope"),) for _a, _b, d in audit_actions(app, "login.throttled")]


def test_a_disabled_account_cannot_log_in(client: FlaskClient, app: Flask) -> None:
    assert invoke(app, "admin", "operator", "disable", "bousai1", token=TOKENS["admin"]).exit_code == 0
    assert login(client, "bousai1").status_code == 401
    assert client.get("/api/v1/messages", headers={"Authorization": f"Bearer {TOKENS['bousai1']}"}
                      ).status_code == 401


def test_after_login_only_a_local_path_is_followed(client: FlaskClient, app: Flask) -> None:
    """An attacker's link "/login?next=/\\evil.example" must not bounce an officer to a look-alike site."""
    for target, lands in (("/\\evil.example", "/"), ("/\t/evil.example", "/"), ("//evil.example", "/"),
                          ("https://evil.example/", "/"), ("/messages/1", "/messages/1")):
        browser = app.test_client()
        browser.get("/login")
        response = browser.post("/login", query_string={"next": target}, data={
            "username": "bousai1", "password": PASSWORDS["bousai1"], "csrf_token": csrf(browser)})
        assert response.status_code == 302 and response.headers["Location"] == lands, target


def _spray_from_forged_addresses(app: Flask) -> int:
    """20 wrong logins from one machine that claims a new X-Forwarded-For each time; then its 21st."""
    def attempt(n: int) -> int:
        browser = app.test_client()
        browser.get("/login", environ_base={"REMOTE_ADDR": "192.0.2.7"})
        return browser.post("/login", data={"username": f"user{n}", "password": "guess", "csrf_token": csrf(browser)},
                            headers={"X-Forwarded-For": f"198.51.100.{n}"},
                            environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code
    for n in range(20):
        attempt(n)
    return attempt(99)


def test_a_forged_forwarded_for_header_does_not_escape_the_address_throttle(client: FlaskClient, app: Flask) -> None:
    assert _spray_from_forged_addresses(app) == 429


def test_behind_a_trusted_proxy_each_client_address_is_counted_apart(
        client: FlaskClient, settings: Settings) -> None:
    proxied = create_app(dataclasses.replace(settings, trusted_proxies=1))
    assert _spray_from_forged_addresses(proxied) == 401, "a proxy's clients do not share one counter"
