"""Which world am I talking to: sandbox vs live is explicit, and production refuses the sandbox."""

from __future__ import annotations

import pytest

from hub.app import create_app
from hub.config import ConfigError, Settings


def test_channels_without_credentials_use_the_sandbox() -> None:
    settings = Settings.from_env({"HUB_TWILIO_ACCOUNT_SID": "AC123", "HUB_TWILIO_AUTH_TOKEN": "secret"})
    assert not settings.uses_sandbox("sms")
    assert settings.uses_sandbox("line") and settings.uses_sandbox("email")


def test_production_refuses_to_start_on_the_sandbox_unless_allowed(tmp_path: object) -> None:
    env = {"HUB_ENV": "production", "HUB_DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="サンドボックス"):
        create_app(Settings.from_env(env))
    create_app(Settings.from_env({**env, "HUB_ALLOW_SANDBOX": "true"}))


def test_secrets_are_masked_for_display() -> None:
    settings = Settings.from_env({"HUB_TWILIO_AUTH_TOKEN": "very-secret", "HUB_TWILIO_ACCOUNT_SID": "AC1"})
    shown = settings.masked()
    assert shown["twilio_auth_token"] == "********"
    assert shown["twilio_account_sid"] == "AC1"
    assert "very-secret" not in repr(shown)
