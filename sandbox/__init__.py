"""The provider sandbox: local servers that speak Twilio, LINE, X, Karaden and SMTP, plus an inbox.

In development, tests and demos the hub talks to these servers instead of real providers.  The
official SDKs are pointed at them by ordinary hub settings (base URLs and credentials, see
:func:`hub_settings`), so the code under test is the code that runs in production; only the far
end is different.  The package does not import the hub.  See docs/sandbox.md.
"""

from sandbox.client import SandboxClient, SandboxError
from sandbox.constants import (
    DEFAULT_HTTP_PORT,
    DEFAULT_SMTP_PORT,
    DEFAULT_URL,
    SANDBOX_KARADEN_API_TOKEN,
    SANDBOX_KARADEN_CALLBACK_SECRET,
    SANDBOX_KARADEN_SERVICE_ID,
    SANDBOX_KARADEN_TENANT_ID,
    SANDBOX_LINE_ACCESS_TOKEN,
    SANDBOX_LINE_BOT_USER_ID,
    SANDBOX_LINE_CHANNEL_SECRET,
    SANDBOX_POP3_PASSWORD,
    SANDBOX_POP3_USER,
    SANDBOX_TWILIO_ACCOUNT_SID,
    SANDBOX_TWILIO_AUTH_TOKEN,
    SANDBOX_X_ACCESS_TOKEN,
    SANDBOX_X_ACCESS_TOKEN_SECRET,
    SANDBOX_X_CONSUMER_KEY,
    SANDBOX_X_CONSUMER_SECRET,
)
from sandbox.handover import hub_env, hub_settings, write_env_file
from sandbox.sandbox import Sandbox

__all__ = [
    "DEFAULT_HTTP_PORT",
    "DEFAULT_SMTP_PORT",
    "DEFAULT_URL",
    "SANDBOX_KARADEN_API_TOKEN",
    "SANDBOX_KARADEN_CALLBACK_SECRET",
    "SANDBOX_KARADEN_SERVICE_ID",
    "SANDBOX_KARADEN_TENANT_ID",
    "SANDBOX_LINE_ACCESS_TOKEN",
    "SANDBOX_LINE_BOT_USER_ID",
    "SANDBOX_LINE_CHANNEL_SECRET",
    "SANDBOX_POP3_PASSWORD",
    "SANDBOX_POP3_USER",
    "SANDBOX_TWILIO_ACCOUNT_SID",
    "SANDBOX_TWILIO_AUTH_TOKEN",
    "SANDBOX_X_ACCESS_TOKEN",
    "SANDBOX_X_ACCESS_TOKEN_SECRET",
    "SANDBOX_X_CONSUMER_KEY",
    "SANDBOX_X_CONSUMER_SECRET",
    "Sandbox",
    "SandboxClient",
    "SandboxError",
    "hub_env",
    "hub_settings",
    "write_env_file",
]
