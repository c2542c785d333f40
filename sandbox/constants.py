"""Fixed credentials and defaults of the sandbox.

The values are deliberately unlike real credentials: a configuration that carries them is
visibly pointed at the sandbox, and no real provider would accept them.
"""

from __future__ import annotations

# "5a4db0c5" reads as "sandbox"; the SID still matches Twilio's ^AC[0-9a-fA-F]{32}$ so SDK-side
# and contract-side validation behave as with a real account.
SANDBOX_TWILIO_ACCOUNT_SID = "AC" + "5a4db0c5" * 4
SANDBOX_TWILIO_AUTH_TOKEN = "sandbox-twilio-auth-token"
SANDBOX_LINE_CHANNEL_SECRET = "sandbox-line-channel-secret"
SANDBOX_LINE_ACCESS_TOKEN = "sandbox-line-channel-access-token"
# X accepts any OAuth 1.0a header in the sandbox; these exist so configuration has something to show.
SANDBOX_X_CONSUMER_KEY = "sandbox-x-consumer-key"
SANDBOX_X_CONSUMER_SECRET = "sandbox-x-consumer-secret"
SANDBOX_X_ACCESS_TOKEN = "1000000000000000001-sandbox-x-access-token"
SANDBOX_X_ACCESS_TOKEN_SECRET = "sandbox-x-access-token-secret"
# Karaden SMS API: a token, a tenant id (any UUID is served, as any AC… SID is for Twilio) and the
# secret the hub expects in the callback URL it configures for delivery results.
SANDBOX_KARADEN_API_TOKEN = "sandbox-karaden-api-token"
SANDBOX_KARADEN_TENANT_ID = "5a4db0c5-5a4d-4b0c-95a4-db0c55a4db0c"
SANDBOX_KARADEN_SERVICE_ID = 1
SANDBOX_KARADEN_CALLBACK_SECRET = "sandbox-karaden-callback-secret"
# The city's bounce mailbox, served over POP3 (sandbox/pop3.py).
SANDBOX_POP3_USER = "bounces"
SANDBOX_POP3_PASSWORD = "sandbox-pop3-password"
# The bot user id put in webhook bodies as "destination".
SANDBOX_LINE_BOT_USER_ID = "U" + "5a4db0c5" * 4

DEFAULT_HTTP_PORT = 8025
DEFAULT_SMTP_PORT = 8026
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_HTTP_PORT}"
DEFAULT_TIMEOUT_FAULT_DELAY = 15.0

CHANNELS = ("sms", "voice", "email", "line", "x")
