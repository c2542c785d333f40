"""Typed settings read from ``HUB_*`` environment variables.

Every provider credential is optional: a channel without live credentials, or whose provider
address is overridden (``HUB_*_BASE_URL``: the local sandbox or any other stand-in), is not live,
and every output says so.  A production deployment refuses to start that way unless
``HUB_ALLOW_SANDBOX=true`` — the lesson of test messages that went live after an equipment change
is that "which world am I talking to" must never be ambiguous.

Outside production, :meth:`Settings.from_env` also reads ``$HUB_DATA_DIR/sandbox.env``: the
``HUB_*`` lines a running sandbox wrote there (``hub demo``, ``hub sandbox run --env-file``) to
point this hub at it.  Real environment variables win over the file.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SECRET = {"secret": True}
DEFAULT_SANDBOX_URL = "http://127.0.0.1:8025"
DEFAULT_SANDBOX_SMTP_PORT = 8026
SANDBOX_ENV_FILE = "sandbox.env"  # in the data dir, written by `hub demo` / `hub sandbox run --env-file`
JMA_FEED_BASE = "https://www.data.jma.go.jp/developer/xml/feed/"
DEFAULT_SECRET_KEY = "dev-only-change-me"
MIN_SECRET_KEY_BYTES = 32  # session cookies and answer links are only as strong as this key
# Credentials published in this repository (the provider sandbox's fixed values, docs/sandbox.md).
# Anyone can sign a webhook with them, so a live channel must never trust them: production refuses
# to start with one on a live channel, and adapters reject signatures made with one.
# tests/core/test_hardening.py checks this list still covers every value the sandbox hands out.
PUBLISHED_CREDENTIALS = frozenset({
    "sandbox-twilio-auth-token",
    "sandbox-line-channel-secret",
    "sandbox-line-channel-access-token",
    "sandbox-x-consumer-secret",
    "sandbox-x-access-token-secret",
    "sandbox-karaden-api-token",
    "sandbox-karaden-callback-secret",
})
SMS_GATEWAY_NAMES = ("twilio", "karaden")


Keys = str | Sequence[str]  # the hub's secret key, or every key that verifies (the first signs)


def as_keys(keys: Keys) -> tuple[str, ...]:
    return (keys,) if isinstance(keys, str) else tuple(keys)


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message tells the operator what to change."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    data_dir: str = "var"
    database_url: str = ""
    # PostgreSQL: the role the web app and the workers connect as, when `hub db upgrade` runs as the
    # schema's owner; the upgrade grants it what it needs and no more (hub/migrate.py).
    database_app_role: str = ""
    broker_url: str = ""
    redis_url: str = ""
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str = field(default=DEFAULT_SECRET_KEY, metadata=SECRET)
    # Keys HUB_SECRET_KEY had before a rotation, separated by spaces or commas: what they signed or
    # keyed stays valid (residents' stop links in mail already sent, bounce return paths, erased
    # people's fingerprints, sealed TOTP seeds, sessions); everything new uses secret_key.
    secret_key_previous: str = field(default="", metadata=SECRET)
    tasks_eager: bool = False
    # Request bodies: the largest anything may post (CSV imports are the big ones), and the cap on
    # provider webhooks, read raw and signature-checked before anything is parsed.
    max_content_length: int = 10 * 1024 * 1024
    webhook_max_bytes: int = 1024 * 1024
    # Reverse proxies in front of the hub that set X-Forwarded-For; 0 = trust no such header (direct).
    trusted_proxies: int = 0
    allow_sandbox: bool = False

    # Where the local sandbox runs (demo and drill tooling; e-mail to this SMTP address is not live).
    # Channels never fall back to it: they use the *_base_url / smtp_* settings below.
    sandbox_url: str = DEFAULT_SANDBOX_URL
    sandbox_smtp_port: int = DEFAULT_SANDBOX_SMTP_PORT

    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", metadata=SECRET)
    twilio_base_url: str = ""
    line_channel_access_token: str = field(default="", metadata=SECRET)
    line_channel_secret: str = field(default="", metadata=SECRET)
    line_base_url: str = ""
    # End every LINE message with how to reach one's preferences (send 「設定」: docs/residents.md).
    line_settings_hint: bool = True
    x_consumer_key: str = ""
    x_consumer_secret: str = field(default="", metadata=SECRET)
    x_access_token: str = ""
    x_access_token_secret: str = field(default="", metadata=SECRET)
    x_base_url: str = ""
    # The second SMS gateway, Karaden SMS API (docs/channels.md). Its callbacks are authenticated
    # by the secret in the URL registered in Karaden's service setting: /callbacks/karaden/<secret>.
    karaden_api_token: str = field(default="", metadata=SECRET)
    karaden_tenant_id: str = ""
    karaden_service_id: int = 0  # サービス設定ID used when a department has none of its own
    karaden_callback_secret: str = field(default="", metadata=SECRET)
    karaden_base_url: str = ""
    karaden_api_version: str = "2024-03-01"
    # Which gateway carries SMS when the department names none, and its failover partner:
    # "none" = no failover (the default: residents would see another sender, a city decides that),
    # "auto" = the other gateway when it is configured, or a gateway name.
    sms_gateway: str = "twilio"
    sms_failover_gateway: str = "none"
    # The circuit breaker per gateway (shared through Redis): open after this many failed requests
    # in a row (5xx, timeouts, unreachable); let one batch probe it again after the cool-down.
    sms_breaker_failures: int = 5
    sms_breaker_cooldown_seconds: float = 60.0
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = field(default="", metadata=SECRET)
    smtp_starttls: bool = False
    smtp_ssl: bool = False  # SMTPS (implicit TLS, usually port 465)
    smtp_ca_file: str = ""  # a CA bundle for a private CA; TLS certificates are always verified
    # DKIM signing by the hub itself (channels/dkim.py): all three, or none when the relay signs.
    smtp_dkim_domain: str = ""  # d=: the senders' domain (or a parent of it, for DMARC alignment)
    smtp_dkim_selector: str = ""  # s=: the key is published at {selector}._domainkey.{domain}
    smtp_dkim_key_file: str = ""  # PEM RSA private key (2048 bits); read once per process
    # Bounces (hub/bounces): each message's e-mail leaves with a signed return path at this domain,
    # whose MX is `hub bounces serve`; empty = the sender's own address (bounces go to its mailbox).
    bounce_domain: str = ""
    # Or the city's own mail server takes them for that domain, into one mailbox the hub fetches
    # over POP3 (hub/bounces/mailbox.py): pop3s://user@host:995, checked every bounce_fetch_seconds.
    bounce_mailbox_url: str = ""
    bounce_mailbox_password: str = field(default="", metadata=SECRET)
    bounce_fetch_seconds: float = 60.0

    provider_timeout: float = 10.0
    # Provider requests a worker process keeps unanswered at once within a batch (SMS, voice); the
    # shared per-sender rate limit still governs how many start per second.
    requests_in_flight: int = 16
    batch_size: int = 200
    # Provider requests per recipient before giving up; rate-limit waits and requests that never
    # left do not count, they are retried until retry_deadline_seconds after planning instead.
    max_attempts: int = 5
    # Personal data kept no longer than needed (hub/contacts/retention.py); 0 keeps it, fewer than 30
    # counts as 30. Days after a finished message that its delivery addresses (and a personalised
    # send's CSV values) are masked; days after a resident stopped everything that they are erased.
    history_retention_days: int = 0
    stopped_retention_days: int = 0
    # The first retry's backoff in seconds (with jitter); it doubles with each attempt, up to 300 s.
    retry_base_seconds: float = 2.0
    retry_deadline_seconds: int = 6 * 3600
    # After a request whose answer was lost: how long to wait before asking the provider about it.
    check_after_seconds: float = 30.0
    # Sends per second per (channel, sender), shared by all workers through Redis when available.
    rate_sms: float = 50.0
    rate_voice: float = 10.0
    rate_email: float = 100.0
    rate_line: float = 20.0
    rate_x: float = 1.0
    # A batch that would wait longer than this for its sender's rate goes back to the queue for that
    # long instead, so the worker slot serves other work meanwhile (alerts first).
    rate_wait_max_seconds: float = 2.0
    # Planning pages (contacts): a small first page, so the first requests leave at once.
    plan_first_page: int = 500
    plan_page: int = 5000
    # Pending rows whose task has not run this long after they were due are queued again
    # (e.g. the broker lost its queue in a restart).
    stale_after_seconds: int = 120
    # A worker renews its lease every third of this; rows of a worker silent this long are reconciled.
    lease_seconds: float = 30.0
    # Every worker runs the sweeper on this timer (one at a time), independent of the scheduler.
    sweep_interval_seconds: float = 10.0
    # Queued provider status callbacks are applied in bulk by every worker on this timer (one at a
    # time): a status is visible about this long after its callback (hub/statuses.py).
    status_apply_seconds: float = 1.0
    # Rows a living worker has held this long are settled by the sweeper anyway (no batch takes this
    # long; it covers a worker that lost its database while holding rows).
    stuck_after_seconds: int = 3600

    # JMA 防災情報XML triggers (docs/triggers.md). Off by default: tests and demos never poll JMA.
    jma_enabled: bool = False
    jma_feeds: str = ",".join(
        f"{JMA_FEED_BASE}{feed}.xml" for feed in ("regular", "extra", "eqvol", "other")
    )
    jma_poll_seconds: int = 60
    jma_exercise_policy: str = "exercise"  # 訓練 telegrams: "exercise" (drill participants only) | "ignore"
    jma_silence_alarm_minutes: int = 10
    jma_alarm_audience: str = "department:bousai"
    jma_alarm_channels: str = "email,line"
    # The department a trigger rule's messages are sent for when the rule names none.
    trigger_department: str = "bousai"
    # Everyday notices due inside this Japan-time window wait for its end (a department may set
    # its own); alerts, cancellations and call-outs never wait. "" turns it off.
    quiet_hours: str = "21:00-08:00"
    # What one billable SMS segment costs, in yen: a CSV send's preview multiplies the segments of
    # every row by it (an estimate; the contract's price, tax included, is what to put here).
    sms_unit_price_yen: float = 3.3

    # Staff call-outs (docs/relay.md): how often due steps are looked for, how long an answer link
    # stays valid, and whose sender numbers / addresses call-outs use.
    relay_tick_seconds: int = 10
    relay_link_max_age_hours: int = 72
    relay_department: str = "bousai"
    # The shortest gap between two steps of a chain: a call-out must not become a phone storm.
    relay_min_interval_seconds: int = 60

    # The engine watchdog (docs/operations.md#health-alarm-and-metrics). A worker node whose heartbeat
    # did not move for worker_silence_seconds of the watcher's clock is gone; a send with due rows
    # and no row settled for stall_alarm_seconds is stalled. Either raises the engine alarm.
    worker_silence_seconds: int = 60
    stall_alarm_seconds: int = 180
    watchdog_seconds: float = 15.0  # `hub watchdog`'s round, and the least gap between /healthz checks
    watchdog_in_web: bool = True  # web processes answering /healthz also check (and alarm) now and then
    # Who may read /metrics and the detailed /healthz in production: a bearer token, or these
    # addresses (comma-separated IPs or networks). Outside production both are open.
    metrics_token: str = field(default="", metadata=SECRET)
    metrics_allow: str = "127.0.0.1,::1"

    # Resident registration (docs/residents.md): how long the confirmation link of the web
    # registration stays valid, and the department whose e-mail sender identity sends it.
    register_link_max_age_hours: int = 24
    residents_department: str = "bousai"

    # Machine translation of message texts (docs/residents.md#多言語--languages): libre (a LibreTranslate
    # server at translator_url, self-hosted or the sandbox's) | deepl | google | none. The key is
    # LibreTranslate's api_key (if the server wants one) or DeepL's auth key; deep-translator's Google
    # backend takes none. A translation slower than translator_timeout seconds counts as failed.
    translator: str = "none"
    translator_url: str = ""
    translator_key: str = field(default="", metadata=SECRET)
    translator_timeout: float = 10.0
    # A trigger's alert waits at most this long for machine translations of the audience's
    # languages its template has no reviewed text for; 0: none (those readers get the reviewed
    # English text, marked as the fallback).
    trigger_translate_seconds: float = 3.0

    # Authorization (docs/security.md): department codes whose senders may import and edit the
    # department-less resident register. Empty: admins only.
    resident_registry: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``environ``, or from the process environment plus the data dir's
        ``sandbox.env`` (outside production; the environment wins)."""
        if environ is None:
            environ = {**sandbox_env(os.environ, overrides.get("data_dir"), overrides.get("env")), **os.environ}
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"HUB_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _coerce(f.type, raw)
        values.update(overrides)
        return cls(**values).resolved()

    def resolved(self) -> Settings:
        data_dir = Path(self.data_dir)
        changes: dict[str, Any] = {}
        if not self.database_url:
            changes["database_url"] = f"sqlite:///{(data_dir / 'hub.db').resolve()}"
        if not self.broker_url:
            changes["broker_url"] = "filesystem://"
        return dataclasses.replace(self, **changes) if changes else self

    @property
    def is_production(self) -> bool:
        # HUB_ENV=Production must not quietly mean "not production" (demo accounts, sandbox.env).
        return is_production_name(self.env)

    @property
    def broker_folder(self) -> Path:
        return Path(self.data_dir).resolve() / "broker"

    def uses_sandbox(self, channel: str) -> bool:
        """True when ``channel`` is not live: its credentials are missing, or its provider's address
        is overridden (a base URL; for e-mail, no SMTP host or the sandbox's SMTP address)."""
        live = {
            "sms": bool(self.twilio_account_sid and self.twilio_auth_token and not self.twilio_base_url),
            "voice": bool(self.twilio_account_sid and self.twilio_auth_token and not self.twilio_base_url),
            "line": bool(self.line_channel_access_token and not self.line_base_url),
            "x": bool(self.x_consumer_key and self.x_access_token and not self.x_base_url),
            "email": bool(self.smtp_host) and not self._smtp_is_sandbox(),
            "rss": True,
            # The two SMS gateways on their own ("sms" is live only when every configured one is).
            "twilio": bool(self.twilio_account_sid and self.twilio_auth_token and not self.twilio_base_url),
            "karaden": bool(self.karaden_api_token and self.karaden_tenant_id and not self.karaden_base_url),
        }
        if channel == "sms" and self.karaden_configured and not live["karaden"]:
            return True  # a department routed to Karaden (or failing over to it) would not be live
        return not live.get(channel, False)

    @property
    def karaden_configured(self) -> bool:
        return bool(self.karaden_api_token or self.karaden_tenant_id or self.karaden_base_url)

    def translator_is_sandbox(self) -> bool:
        """True when the LibreTranslate URL is the sandbox's (its translations are pseudo-translations)."""
        mine, sandbox = urlsplit(self.translator_url), urlsplit(self.sandbox_url)
        return bool(self.translator_url) and (mine.hostname, mine.port) == (sandbox.hostname, sandbox.port)

    def _smtp_is_sandbox(self) -> bool:
        sandbox_host = urlsplit(self.sandbox_url).hostname or ""
        return (self.smtp_host, self.smtp_port) == (sandbox_host, self.sandbox_smtp_port)

    def published_secret(self, channel: str) -> bool:
        """True when ``channel`` is live but carries a credential published in this repository:
        anyone could sign its webhooks, so its signatures must never be trusted."""
        if channel in ("sms", "voice"):
            # Twilio's signatures: whether Twilio itself is live, whatever the other SMS gateway is.
            channel = "twilio"
        secrets = {
            "twilio": [self.twilio_auth_token],
            "line": [self.line_channel_secret, self.line_channel_access_token],
            "x": [self.x_consumer_secret, self.x_access_token_secret],
            "karaden": [self.karaden_api_token, self.karaden_callback_secret],
        }.get(channel, [])
        return not self.uses_sandbox(channel) and any(s in PUBLISHED_CREDENTIALS for s in secrets)

    @property
    def previous_secret_keys(self) -> tuple[str, ...]:
        return tuple(k for k in self.secret_key_previous.replace(",", " ").split() if k != self.secret_key)

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """Every key that verifies, the current one first (it alone signs)."""
        return (self.secret_key, *self.previous_secret_keys)

    @property
    def secret_keys_oldest_first(self) -> list[str]:
        """The same, in the order itsdangerous takes them (it signs with the last)."""
        return list(reversed(self.secret_keys))

    def check_startup(self, channels: list[str]) -> None:
        if "email" in channels:
            self.check_dkim()
            from channels.dkim import DOMAIN_NAME

            if self.bounce_domain and not DOMAIN_NAME.match(self.bounce_domain):
                # It becomes every e-mail's MAIL FROM: a typo here fails every send at the relay.
                raise ConfigError(f"HUB_BOUNCE_DOMAIN「{self.bounce_domain}」はドメイン名ではありません"
                                  "（例: bounce.city.example.jp）。")
            if self.bounce_mailbox_url:
                from hub.bounces.mailbox import check_mailbox_url

                problem = check_mailbox_url(self.bounce_mailbox_url, self.is_production)
                if problem is None and not self.bounce_domain:
                    problem = "HUB_BOUNCE_DOMAIN（そのメールボックスに届くバウンスのドメイン）も設定してください"
                if problem is not None:
                    raise ConfigError(f"HUB_BOUNCE_MAILBOX_URL: {problem}")
        if not self.is_production:
            return
        for name, key in (("HUB_SECRET_KEY", self.secret_key),
                          *(("HUB_SECRET_KEY_PREVIOUS", k) for k in self.previous_secret_keys)):
            if key == DEFAULT_SECRET_KEY or len(key.encode()) < MIN_SECRET_KEY_BYTES:
                # The default key is in this repository: with it anyone can forge a session cookie or
                # an answer link. A previous key still verifies, so it must be as strong.
                raise ConfigError(
                    f"本番環境(HUB_ENV=production)では {name} に既定値や短い値は使えません"
                    f"（{MIN_SECRET_KEY_BYTES}バイト以上のランダムな値を設定してください。例: "
                    "python -c 'import secrets; print(secrets.token_urlsafe(48))'）。"
                )
        karaden = ["karaden"] if "sms" in channels and self.karaden_configured else []
        published = [c for c in [*channels, *karaden] if self.published_secret(c)]
        if published:
            raise ConfigError(
                "本番環境(HUB_ENV=production)で、公開されているサンドボックスの認証情報を設定した"
                "本番チャネルがあります: " + ", ".join(published) + "。プロバイダーの本当の認証情報を設定してください。"
            )
        if "line" in channels and not self.uses_sandbox("line") and not self.line_channel_secret:
            # Without the secret no webhook can be verified; we never fall back to accepting any.
            raise ConfigError(
                "本番環境(HUB_ENV=production)でLINEが本番設定なのに HUB_LINE_CHANNEL_SECRET が空です。"
                "Webhookの署名を検証できないため起動しません。"
            )
        if karaden and not self.uses_sandbox("karaden") and not self.karaden_callback_secret:
            raise ConfigError(
                "本番環境(HUB_ENV=production)でKaradenが本番設定なのに HUB_KARADEN_CALLBACK_SECRET が空です。"
                "送達結果の通知を認証できないため起動しません。"
            )
        for name in (self.sms_gateway, self.sms_failover_gateway):
            if name not in (*SMS_GATEWAY_NAMES, "auto", "none"):
                raise ConfigError(f"SMSのゲートウェイ「{name}」はありません（twilio / karaden）。")
        sandboxed = [c for c in channels if self.uses_sandbox(c)]
        if sandboxed and not self.allow_sandbox:
            raise ConfigError(
                "本番環境(HUB_ENV=production)でサンドボックスを使うチャネルがあります: "
                + ", ".join(sandboxed)
                + "。認証情報を設定するか、意図的であれば HUB_ALLOW_SANDBOX=true を設定してください。"
            )
        if self.translator not in ("libre", "deepl", "google", "none"):
            raise ConfigError(
                f"機械翻訳「{self.translator}」はありません（HUB_TRANSLATOR: libre / deepl / google / none）。")
        if self.translator == "libre" and self.translator_is_sandbox() and not self.allow_sandbox:
            # The sandbox's translator makes pseudo-translations: they must never reach residents.
            raise ConfigError(
                "本番環境(HUB_ENV=production)で機械翻訳がサンドボックスを指しています（HUB_TRANSLATOR_URL）。"
                "LibreTranslate のURLを設定するか、意図的であれば HUB_ALLOW_SANDBOX=true を設定してください。"
            )

    def check_dkim(self) -> None:
        """A half-configured or unreadable DKIM key stops the start, in every environment: unsigned
        mail from a domain that publishes DMARC is rejected or filed as spam, which nobody sees."""
        from channels.dkim import DkimKeyError, load_signer

        parts = {"HUB_SMTP_DKIM_DOMAIN": self.smtp_dkim_domain, "HUB_SMTP_DKIM_SELECTOR": self.smtp_dkim_selector,
                 "HUB_SMTP_DKIM_KEY_FILE": self.smtp_dkim_key_file}
        missing = [name for name, value in parts.items() if not value]
        if len(missing) == len(parts):
            return
        if missing:
            raise ConfigError("DKIM署名の設定が足りません: " + ", ".join(missing) + " も設定してください。")
        try:
            load_signer(self.smtp_dkim_key_file, self.smtp_dkim_domain, self.smtp_dkim_selector)
        except DkimKeyError as exc:
            raise ConfigError(str(exc)) from exc

    def rate_for(self, channel: str) -> float:
        return float(getattr(self, f"rate_{channel}", 10.0))

    def masked(self) -> dict[str, Any]:
        """Settings for display (the console's settings page, logs): see :func:`masked_value`."""
        return {f.name: masked_value(f.name, getattr(self, f.name), bool(f.metadata.get("secret")))
                for f in fields(self)}


# Marked secret or not, a setting whose name says token, secret, password, key or sid is shown only
# as set / not set: an account SID or consumer key names the account an attacker would aim at.
SECRET_NAME = re.compile(r"token|secret|password|key|sid", re.IGNORECASE)
MASK = "********"


def masked_value(name: str, value: Any, secret: bool = False) -> Any:
    """What an admin may see of a setting: secrets (by marking or by name) only as set / not set,
    URLs without the user and password they carry."""
    if secret or SECRET_NAME.search(name):
        return MASK if value else ""
    if isinstance(value, str) and "://" in value:
        return ",".join(_mask_url(part) for part in value.split(","))
    return value


def _mask_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        host = parts.hostname or ""
        netloc = f"{MASK}@{host}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return MASK
    return parts._replace(netloc=netloc).geturl()


def is_production_name(env: str) -> bool:
    return env.strip().lower() == "production"


def sandbox_env(environ: Mapping[str, str], data_dir: str | None = None, env: str | None = None) -> dict[str, str]:
    """The ``HUB_*`` lines of ``<data dir>/sandbox.env``, if the file exists and ``HUB_ENV`` is not
    production (a production hub never picks up a sandbox by accident)."""
    if is_production_name(env or environ.get("HUB_ENV") or Settings.env):
        return {}
    path = Path(data_dir or environ.get("HUB_DATA_DIR") or Settings.data_dir) / SANDBOX_ENV_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.startswith("HUB_") and key not in ("HUB_ENV", "HUB_DATA_DIR"):
            values[key] = value.strip()
    return values


def _coerce(type_name: Any, raw: str) -> Any:
    name = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", str(type_name))
    if name == "bool":
        return _bool(raw)
    if name == "int":
        return int(raw)
    if name == "float":
        return float(raw)
    return raw
