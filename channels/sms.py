"""SMS through Twilio Programmable Messaging.

Also home of what the Twilio voice channel shares with SMS (config, error translation) and of
:func:`may_have_reached_provider`, which every HTTP adapter uses to tell a safe retry from an
ambiguous send.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import phonenumbers
import requests
import urllib3.exceptions
from twilio.base.exceptions import TwilioRestException

from channels.base import (
    Batch,
    Capability,
    Channel,
    ChannelConfig,
    ChannelContext,
    DeliveryResult,
    Draft,
    Outcome,
    Recipient,
    Rendered,
    prefix_for,
)
from channels.errors import PermanentError, RateLimited, TransientError
from channels.text import SMS_MAX_CHARS, join_nonempty, sms_info, with_prefix

if TYPE_CHECKING:
    from twilio.rest import Client

    from hub.config import Settings

SECRET = {"secret": True}
SANDBOX_SENDER = "+815000000001"  # a number no carrier would route: visibly the sandbox

# Twilio error codes with a meaning of their own.
TOO_MANY_REQUESTS = 20429
QUEUE_FULL = 21611
NOT_MOBILE = 21614
INVALID_TO = 21211
INVALID_TO_CODES = {INVALID_TO, 21217, 21401, 21407, 21612}
RATE_LIMIT_DEFAULT_WAIT = 5.0  # Twilio's 429 carries no Retry-After: a short backoff
QUEUE_FULL_WAIT = 600.0  # the sender's queue drains at about one segment per second


@dataclass(frozen=True)
class TwilioConfig(ChannelConfig):
    account_sid: str = ""
    auth_token: str = field(default="", metadata=SECRET)
    base_url: str | None = None  # None: the real Twilio API
    default_sender: str = ""  # used when the department has no number of its own
    reconcile_lookback_minutes: float = 24 * 60

    @classmethod
    def twilio_kwargs(cls, settings: Settings, channel: str) -> dict[str, Any]:
        if settings.uses_sandbox(channel):
            from hub.sandbox.constants import SANDBOX_TWILIO_ACCOUNT_SID, SANDBOX_TWILIO_AUTH_TOKEN

            # An explicit twilio_base_url (a sandbox on another host) keeps its own credentials.
            return {
                "sandbox": True,
                "account_sid": settings.twilio_account_sid or SANDBOX_TWILIO_ACCOUNT_SID,
                "auth_token": settings.twilio_auth_token or SANDBOX_TWILIO_AUTH_TOKEN,
                "base_url": settings.twilio_base_url or settings.sandbox_url,
                "default_sender": SANDBOX_SENDER,
            }
        return {
            "sandbox": False,
            "account_sid": settings.twilio_account_sid,
            "auth_token": settings.twilio_auth_token,
            "base_url": None,
        }


@dataclass(frozen=True)
class SmsConfig(TwilioConfig):
    @classmethod
    def from_settings(cls, settings: Settings) -> SmsConfig:
        return cls(**cls.twilio_kwargs(settings, "sms"))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None)])
        todo.extend(a for a in e.args if isinstance(a, BaseException))


def may_have_reached_provider(exc: BaseException) -> bool:
    """False only when the request certainly never left: refused, unresolvable, connect timeout.

    A read timeout or a connection reset after the request was written may hide an accepted
    send, and a blind resend would be a second SMS to a resident.
    """
    never_sent = (
        ConnectionRefusedError,
        requests.ConnectTimeout,
        urllib3.exceptions.NewConnectionError,
        urllib3.exceptions.ConnectTimeoutError,
    )
    return not any(isinstance(e, never_sent) for e in _causes(exc))


NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
)


def network_result(recipient: Recipient, exc: BaseException, what: str) -> DeliveryResult:
    """The result for a request that died on the network; raises when nothing was sent."""
    if not may_have_reached_provider(exc):
        raise TransientError(f"{what}に接続できませんでした（未送信・再試行します）: {type(exc).__name__}")
    return DeliveryResult(
        recipient.delivery_id,
        Outcome.UNKNOWN,
        error=f"{what}からの応答がありませんでした（送信済みの可能性があります。確認が必要です）: "
        f"{type(exc).__name__}",
        error_code="timeout",
    )


def twilio_failure(recipient: Recipient, exc: TwilioRestException, number_reason: str) -> DeliveryResult:
    """A per-recipient result, or raise when the error concerns every recipient of the batch.

    ``number_reason`` is what a 21614 means for this channel ("not_mobile" for SMS).
    """
    code = exc.code or 0
    detail = f"（Twilio {exc.status}/{code}: {exc.msg}）"
    if exc.status == 429 or code == TOO_MANY_REQUESTS:
        raise RateLimited(
            "Twilioの送信速度の上限に達しました。しばらく待って再送します" + detail,
            retry_after=RATE_LIMIT_DEFAULT_WAIT,
            code=str(code or 429),
        )
    if code == QUEUE_FULL:
        raise RateLimited(
            "送信元番号の送信待ちが満杯です。時間をおいて再送します" + detail,
            retry_after=QUEUE_FULL_WAIT,
            code=str(code),
        )
    if exc.status in (401, 403) and code in (0, 20003, 20005):
        raise PermanentError(
            "Twilioの認証に失敗しました。アカウントSIDとトークンを確認してください" + detail,
            code=str(code or exc.status),
        )
    if exc.status >= 500:
        return DeliveryResult(
            recipient.delivery_id,
            Outcome.RETRY,
            error="Twilio側の一時的な障害です。再送します" + detail,
            error_code=str(code or exc.status),
        )
    if code == NOT_MOBILE:
        return DeliveryResult(
            recipient.delivery_id,
            Outcome.FAILED,
            reason=number_reason,
            error="携帯電話番号ではないため送信できません" + detail,
            error_code=str(code),
        )
    if code in INVALID_TO_CODES:
        return DeliveryResult(
            recipient.delivery_id,
            Outcome.FAILED,
            reason="invalid_address",
            error="宛先の電話番号が正しくありません" + detail,
            error_code=str(code),
        )
    return DeliveryResult(
        recipient.delivery_id,
        Outcome.FAILED,
        error="Twilioが送信を受け付けませんでした" + detail,
        error_code=str(code or exc.status),
    )


@functools.lru_cache(maxsize=65536)  # planning, deliver() and _send() each look at every number
def parse_phone(address: str) -> phonenumbers.PhoneNumber | None:
    """A valid number, or None. National Japanese notation (090-…) is accepted as well as E.164."""
    try:
        parsed = phonenumbers.parse(address, "JP")
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_valid_number(parsed) else None


@functools.lru_cache(maxsize=65536)
def e164(address: str) -> str:
    parsed = parse_phone(address)
    if parsed is None:
        return address
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class TwilioChannel(Channel):
    """What SMS and voice share: a lazily built client reused across batches."""

    config: TwilioConfig
    sdk_name: ClassVar[str] = "Twilio"

    def __init__(self, config: ChannelConfig, context: ChannelContext | None = None) -> None:
        super().__init__(config, context)
        self._client: Client | None = None

    def client(self) -> Client:
        if self._client is None:
            from channels.clients import make_twilio_client

            self._client = make_twilio_client(
                self.config.account_sid, self.config.auth_token, self.config.base_url, self.context.timeout
            )
        return self._client

    def sender_for(self, batch: Batch) -> str:
        sender = batch.sender or self.config.default_sender
        if not sender:
            raise PermanentError(
                f"{self.label}の送信元番号が設定されていません。部署の送信元番号を設定してください"
            )
        return sender

    def callback_url(self, path: str, delivery_id: int) -> str:
        return f"{self.context.public_url.rstrip('/')}/callbacks/twilio/{path}?d={delivery_id}"

    def lookback(self) -> datetime:
        return datetime.now(UTC) - timedelta(minutes=self.config.reconcile_lookback_minutes)


class SmsChannel(TwilioChannel):
    name = "sms"
    label = "SMS"
    capabilities = Capability.PERSONAL | Capability.STATUS_CALLBACKS | Capability.RECONCILE
    config_class = SmsConfig
    batch_size = 100
    max_chars = SMS_MAX_CHARS
    address_field = "phone"

    def render(self, draft: Draft) -> Rendered:
        prefix = prefix_for(draft)
        base = with_prefix(prefix, draft.override or join_nonempty(draft.title, draft.body))
        text, warnings = base, []
        if draft.link:
            with_link = join_nonempty(base, draft.link)
            if len(with_link) <= SMS_MAX_CHARS:
                text = with_link
            else:
                warnings.append("文字数の上限のため、SMSにはリンクを入れていません")
        info = sms_info(text)
        errors = []
        if len(text) > SMS_MAX_CHARS:
            errors.append(f"SMSは{SMS_MAX_CHARS}文字までです（現在{len(text)}文字）")
        return Rendered(
            subject=None,
            text=text,
            warnings=tuple(warnings),
            errors=tuple(errors),
            units=int(info["segments"]),
            meta=dict(info),
        )

    def check_address(self, address: str) -> str | None:
        parsed = parse_phone(address)
        if parsed is None:
            return "invalid_address"
        kind = phonenumbers.number_type(parsed)
        # FIXED_LINE_OR_MOBILE is how some countries (US) answer: we cannot tell, so let Twilio
        # decide. Japanese 020 numbers come out as PAGER (M2M) and are refused here.
        if kind not in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            return "not_mobile"
        return None

    def _send(self, batch: Batch) -> Iterable[DeliveryResult]:
        sender = self.sender_for(batch)
        client = self.client()
        for recipient in batch.recipients:
            self.context.throttle(batch.sender, 1)
            try:
                message = client.messages.create(
                    to=e164(recipient.address),
                    from_=sender,
                    body=batch.content_for(recipient).text,
                    status_callback=self.callback_url("status", recipient.delivery_id),
                )
            except TwilioRestException as exc:
                yield twilio_failure(recipient, exc, "not_mobile")
                continue
            except NETWORK_ERRORS as exc:
                yield network_result(recipient, exc, "Twilio")
                # A provider that did not answer in time will likely not answer the next one either:
                # the rest of the batch is retried later rather than piling up timeouts.
                raise TransientError("Twilioの応答が遅いため、残りの宛先は後で再送します") from exc
            yield DeliveryResult(recipient.delivery_id, Outcome.SENT, provider_id=message.sid)

    def reconcile(self, recipients: Sequence[Recipient], batch: Batch) -> list[DeliveryResult]:
        """A message to the same number, from the same sender, with the same body, since the lookback."""
        sender = self.sender_for(batch)
        since = self.lookback()
        claimed: set[str] = set()  # two rows for one number must not both claim one message
        results = []
        for recipient in recipients:
            to, body = e164(recipient.address), batch.content_for(recipient).text
            try:
                found = self.client().messages.list(to=to, from_=sender, date_sent_after=since, limit=200)
            except (TwilioRestException, *NETWORK_ERRORS) as exc:
                results.append(
                    DeliveryResult(
                        recipient.delivery_id,
                        Outcome.UNKNOWN,
                        error=f"Twilioに送信記録を確認できませんでした: {exc!r}",
                    )
                )
                continue
            match = next((m for m in found if m.to == to and m.body == body and m.sid not in claimed), None)
            if match is None:
                results.append(DeliveryResult(recipient.delivery_id, Outcome.NOT_SENT))
            else:
                claimed.add(str(match.sid))
                results.append(DeliveryResult(recipient.delivery_id, Outcome.SENT, provider_id=match.sid))
        return results
