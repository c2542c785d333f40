"""How to point a hub at a running sandbox: ordinary hub settings, nothing the hub has to know.

The hub's channels take credentials and base URLs only from its settings (``HUB_*``); the
sandbox hands over its fixed credentials and its addresses as those settings. The keys are the
hub's ``Settings`` field names; :func:`hub_env` gives the same as ``HUB_<FIELD>`` variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from sandbox.constants import (
    SANDBOX_KARADEN_API_TOKEN,
    SANDBOX_KARADEN_CALLBACK_SECRET,
    SANDBOX_KARADEN_SERVICE_ID,
    SANDBOX_KARADEN_TENANT_ID,
    SANDBOX_LINE_ACCESS_TOKEN,
    SANDBOX_LINE_CHANNEL_SECRET,
    SANDBOX_TWILIO_ACCOUNT_SID,
    SANDBOX_TWILIO_AUTH_TOKEN,
    SANDBOX_X_ACCESS_TOKEN,
    SANDBOX_X_ACCESS_TOKEN_SECRET,
    SANDBOX_X_CONSUMER_KEY,
    SANDBOX_X_CONSUMER_SECRET,
)


def hub_settings(http_url: str, smtp_port: int) -> dict[str, object]:
    """The hub settings that send every channel to the sandbox at ``http_url`` (Twilio, LINE and X
    share it) and to its SMTP server on ``smtp_port`` (same host as ``http_url``)."""
    base = http_url.rstrip("/")
    return {
        "sandbox_url": base,
        "sandbox_smtp_port": smtp_port,
        "twilio_account_sid": SANDBOX_TWILIO_ACCOUNT_SID,
        "twilio_auth_token": SANDBOX_TWILIO_AUTH_TOKEN,
        "twilio_base_url": base,
        "line_channel_access_token": SANDBOX_LINE_ACCESS_TOKEN,
        "line_channel_secret": SANDBOX_LINE_CHANNEL_SECRET,
        "line_base_url": base,
        "x_consumer_key": SANDBOX_X_CONSUMER_KEY,
        "x_consumer_secret": SANDBOX_X_CONSUMER_SECRET,
        "x_access_token": SANDBOX_X_ACCESS_TOKEN,
        "x_access_token_secret": SANDBOX_X_ACCESS_TOKEN_SECRET,
        "x_base_url": base,
        "karaden_api_token": SANDBOX_KARADEN_API_TOKEN,
        "karaden_tenant_id": SANDBOX_KARADEN_TENANT_ID,
        "karaden_service_id": SANDBOX_KARADEN_SERVICE_ID,
        "karaden_callback_secret": SANDBOX_KARADEN_CALLBACK_SECRET,
        "karaden_base_url": f"{base}/api",
        "smtp_host": urlsplit(base).hostname or "127.0.0.1",
        "smtp_port": smtp_port,
        # The LibreTranslate-compatible translator at the sandbox's root (/translate, /languages).
        "translator": "libre",
        "translator_url": base + "/",
    }


def hub_env(http_url: str, smtp_port: int) -> dict[str, str]:
    """:func:`hub_settings` as ``HUB_*`` environment variables."""
    return {f"HUB_{name.upper()}": str(value) for name, value in hub_settings(http_url, smtp_port).items()}


def write_env_file(path: str | os.PathLike[str], http_url: str, smtp_port: int,
                   extra: Mapping[str, str] | None = None) -> Path:
    """Write :func:`hub_env` (and ``extra``) as ``KEY=value`` lines (also readable by ``set -a; . FILE``
    and ``docker --env-file``); the file holds the sandbox's fixed credentials only."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Written by the provider sandbox: point a hub at it (development only; nothing real)."]
    lines += [f"{key}={value}" for key, value in {**hub_env(http_url, smtp_port), **(extra or {})}.items()]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target
