"""Which world am I talking to: sandbox vs live is explicit, and production refuses the sandbox."""

from __future__ import annotations

import os
from dataclasses import fields, replace
from pathlib import Path

import pytest

from channels import registry
from channels.base import ChannelContext
from hub.app import create_app
from hub.config import SANDBOX_ENV_FILE, ConfigError, Settings
from sandbox import SANDBOX_TWILIO_AUTH_TOKEN, hub_env, hub_settings, write_env_file


def test_channels_without_credentials_are_not_live() -> None:
    settings = Settings.from_env({"HUB_TWILIO_ACCOUNT_SID": "AC123", "HUB_TWILIO_AUTH_TOKEN": "secret"})
    assert not settings.uses_sandbox("sms")
    assert settings.uses_sandbox("line") and settings.uses_sandbox("email")


def test_production_refuses_to_start_on_the_sandbox_unless_allowed(tmp_path: object) -> None:
    env = {"HUB_ENV": "production", "HUB_DATA_DIR": str(tmp_path), "HUB_SECRET_KEY": "s" * 32}
    with pytest.raises(ConfigError, match="サンドボックス"):
        create_app(Settings.from_env(env))
    create_app(Settings.from_env({**env, "HUB_ALLOW_SANDBOX": "true"}))


def test_secrets_are_masked_for_display() -> None:
    settings = Settings.from_env({"HUB_TWILIO_AUTH_TOKEN": "very-secret", "HUB_TWILIO_ACCOUNT_SID": "AC1",
                                  "HUB_DATABASE_URL": "postgresql://hub:db-password@db/hub"})
    shown = settings.masked()
    assert shown["twilio_auth_token"] == shown["twilio_account_sid"] == "********"
    assert shown["database_url"] == "postgresql://********@db/hub"
    assert "very-secret" not in repr(shown) and "db-password" not in repr(shown)


def test_production_refuses_the_sandboxs_settings_unless_allowed(tmp_path: Path) -> None:
    """The sandbox's base URLs and SMTP address mark every channel as not live, credentials or not."""
    pointed = Settings(**hub_settings("http://127.0.0.1:8025", 8026), env="production",
                       data_dir=str(tmp_path), secret_key="s" * 32).resolved()
    assert all(pointed.uses_sandbox(c) for c in ("sms", "voice", "email", "line", "x"))
    with pytest.raises(ConfigError, match="sms, voice, email, line, x"):
        create_app(pointed)
    create_app(replace(pointed, allow_sandbox=True))


def test_email_is_live_on_any_smtp_server_but_the_sandboxs() -> None:
    assert not Settings(smtp_host="smtp.example.jp").uses_sandbox("email")
    assert not Settings(smtp_host="127.0.0.1", smtp_port=25).uses_sandbox("email")
    assert Settings(smtp_host="127.0.0.1", smtp_port=8026).uses_sandbox("email")  # the default sandbox
    on_9026 = Settings(**hub_settings("http://127.0.0.1:9025", 9026))
    assert on_9026.uses_sandbox("email") and on_9026.smtp_port == 9026


def test_channels_take_addresses_and_credentials_only_from_settings() -> None:
    pointed = Settings(**hub_settings("http://127.0.0.1:9025", 9026))
    for name in ("sms", "voice", "line", "x"):
        config = registry.build(name, pointed, ChannelContext(public_url="http://127.0.0.1:9")).config
        assert config.sandbox is True and config.base_url == "http://127.0.0.1:9025"  # type: ignore[attr-defined]
    email = registry.build("email", pointed, ChannelContext(public_url="http://127.0.0.1:9")).config
    assert (email.host, email.port, email.sandbox) == ("127.0.0.1", 9026, True)  # type: ignore[attr-defined]
    # No base URL: the real provider, never a fallback to where a sandbox might run.
    bare = Settings()
    for name in ("sms", "voice", "line", "x"):
        config = registry.build(name, bare, ChannelContext(public_url="http://127.0.0.1:9")).config
        assert config.base_url is None  # type: ignore[attr-defined]
    sms = registry.build("sms", bare, ChannelContext(public_url="http://127.0.0.1:9")).config
    assert sms.account_sid == "" and sms.auth_token == ""  # type: ignore[attr-defined]


def test_from_env_reads_the_sandbox_env_file_outside_production(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("HUB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    assert Settings.from_env().twilio_base_url == ""
    write_env_file(tmp_path / SANDBOX_ENV_FILE, "http://127.0.0.1:9025", 9026)
    settings = Settings.from_env()
    assert settings.twilio_base_url == settings.sandbox_url == "http://127.0.0.1:9025"
    assert (settings.smtp_host, settings.smtp_port) == ("127.0.0.1", 9026)
    assert settings.twilio_auth_token == SANDBOX_TWILIO_AUTH_TOKEN
    monkeypatch.setenv("HUB_LINE_BASE_URL", "http://127.0.0.1:7000")  # the environment wins
    assert Settings.from_env().line_base_url == "http://127.0.0.1:7000"
    assert Settings.from_env({"HUB_DATA_DIR": str(tmp_path)}).twilio_base_url == "", "an explicit mapping only"
    monkeypatch.setenv("HUB_ENV", "production")
    assert Settings.from_env().twilio_base_url == "", "production never reads the file"


def test_the_sandboxs_settings_are_hub_settings() -> None:
    values = hub_settings("http://127.0.0.1:9025/", 9026)
    assert set(values) <= {f.name for f in fields(Settings)}
    assert hub_env("http://127.0.0.1:9025", 9026) == {f"HUB_{k.upper()}": str(v) for k, v in values.items()}
    assert Settings.from_env(hub_env("http://127.0.0.1:9025", 9026)) == Settings(**values).resolved()
