"""Production refuses to start with keys anyone can read: the default session key, a short one, or
the sandbox's published provider secrets on a live channel — and signatures made with those
secrets never pass on a live channel."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from hub.app import create_app
from hub.config import DEFAULT_SECRET_KEY, PUBLISHED_CREDENTIALS, ConfigError, Settings
from hub.models import Operator
from sandbox import constants as sandbox_constants
from sandbox import hub_settings
from tests.api.support import seed

STRONG_KEY = "k" * 48
LIVE = {"twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": "real-twilio-token-0123456789",
        "line_channel_access_token": "real-line-access-token", "line_channel_secret": "real-line-secret",
        "x_consumer_key": "ck", "x_consumer_secret": "real-cs", "x_access_token": "at",
        "x_access_token_secret": "real-ats", "smtp_host": "smtp.example.jp"}


def production(tmp_path: Path, **values: object) -> Settings:
    return Settings(**{"env": "production", "data_dir": str(tmp_path), "secret_key": STRONG_KEY,
                       **LIVE, **values}).resolved()  # type: ignore[arg-type]


@pytest.mark.parametrize("env", ["production", "Production", "PRODUCTION "])
def test_production_refuses_the_default_secret_key_whatever_the_case(tmp_path: Path, env: str) -> None:
    with pytest.raises(ConfigError, match="HUB_SECRET_KEY"):
        create_app(production(tmp_path, env=env, secret_key=DEFAULT_SECRET_KEY))


def test_production_refuses_a_short_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="32バイト以上"):
        create_app(production(tmp_path, secret_key="x" * 31))
    create_app(production(tmp_path, secret_key="x" * 32))  # long enough, all channels live: starts


def test_from_env_reads_production_case_insensitively(tmp_path: Path) -> None:
    settings = Settings.from_env({"HUB_ENV": "Production", "HUB_DATA_DIR": str(tmp_path)})
    assert settings.is_production
    with pytest.raises(ConfigError):
        create_app(settings)


def test_the_published_list_covers_every_secret_the_sandbox_hands_out() -> None:
    handed_out = hub_settings("http://127.0.0.1:8025", 8026)
    secret_fields = [name for name in handed_out if "secret" in name or "token" in name]
    assert secret_fields, "the sandbox hands out secrets"
    for name in secret_fields:
        if name == "x_access_token":  # X's access token is an identifier, not a signing secret
            continue
        assert handed_out[name] in PUBLISHED_CREDENTIALS, name
    assert sandbox_constants.SANDBOX_TWILIO_AUTH_TOKEN in PUBLISHED_CREDENTIALS


@pytest.mark.parametrize(("field", "channels"), [
    ("twilio_auth_token", "sms, voice"),
    ("line_channel_secret", "line"),
    ("line_channel_access_token", "line"),
    ("x_consumer_secret", "x"),
])
def test_production_refuses_a_live_channel_with_a_sandbox_secret(tmp_path: Path, field: str,
                                                                  channels: str) -> None:
    published = hub_settings("http://127.0.0.1:8025", 8026)[field]
    with pytest.raises(ConfigError, match=f"サンドボックスの認証情報.*: {channels}。"):
        create_app(production(tmp_path, **{field: published}))


def test_production_refuses_a_live_line_channel_without_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HUB_LINE_CHANNEL_SECRET"):
        create_app(production(tmp_path, line_channel_secret=""))


def test_a_sandboxed_channel_may_keep_the_sandbox_secrets_when_allowed(tmp_path: Path) -> None:
    create_app(Settings(**hub_settings("http://127.0.0.1:8025", 8026), env="production",  # type: ignore[arg-type]
                        data_dir=str(tmp_path), secret_key=STRONG_KEY, allow_sandbox=True).resolved())


def _twilio_post(app: Flask, settings: Settings, token: str) -> int:
    url = settings.public_url.rstrip("/") + "/callbacks/twilio/status?d=1"
    form = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
    signature = RequestValidator(token).compute_signature(url, form)
    response = app.test_client().post("/callbacks/twilio/status?d=1", data=form,
                                      headers={"X-Twilio-Signature": signature})
    return response.status_code


def test_a_callback_signed_with_the_sandbox_token_fails_on_a_live_twilio_channel(settings: Settings) -> None:
    """In development too: a live channel (no base URL) carrying the sandbox token trusts no signature."""
    sandboxed = create_app(settings)
    assert _twilio_post(sandboxed, settings, sandbox_constants.SANDBOX_TWILIO_AUTH_TOKEN) == 204
    live = replace(settings, twilio_base_url="")
    assert not live.uses_sandbox("twilio")  # (SMS as a whole is not live: Karaden is still the sandbox)
    assert _twilio_post(create_app(live), live, sandbox_constants.SANDBOX_TWILIO_AUTH_TOKEN) == 403
    real = replace(live, twilio_auth_token="real-twilio-token-0123456789")
    assert _twilio_post(create_app(real), real, "real-twilio-token-0123456789") == 204


def test_a_line_webhook_signed_with_the_sandbox_secret_fails_on_a_live_line_channel(settings: Settings) -> None:
    import base64
    import hashlib
    import hmac

    body = '{"destination":"U0","events":[]}'

    def post(app: Flask, secret: str) -> int:
        signature = base64.b64encode(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()).decode()
        return app.test_client().post("/callbacks/line/webhook", data=body, content_type="application/json",
                                      headers={"X-Line-Signature": signature}).status_code

    assert post(create_app(settings), sandbox_constants.SANDBOX_LINE_CHANNEL_SECRET) == 200
    live = replace(settings, line_base_url="")
    assert post(create_app(live), sandbox_constants.SANDBOX_LINE_CHANNEL_SECRET) == 403
    assert post(create_app(replace(live, line_channel_secret="")), "") == 403


def test_a_session_cookie_signed_with_the_default_key_is_refused(settings: Settings) -> None:
    app = create_app(replace(settings, secret_key=STRONG_KEY))
    seed(app)
    with app.extensions["hub"].session() as s:
        admin = s.scalar(select(Operator).where(Operator.username == "admin"))
        assert admin is not None
        admin_id, version = admin.id, admin.session_version

    def cookie_signed_with(key: str) -> str:
        forger = Flask("forger")
        forger.secret_key = key
        serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
        assert serializer is not None
        return str(serializer.dumps({"operator_id": admin_id, "session_version": version}))

    client = app.test_client()
    client.set_cookie("session", cookie_signed_with(DEFAULT_SECRET_KEY))
    assert client.get("/api/v1/messages").status_code == 401
    client.set_cookie("session", cookie_signed_with(STRONG_KEY))  # the same cookie with the real key works
    assert client.get("/api/v1/messages").status_code == 200
