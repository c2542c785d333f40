"""What the Twilio channels (SMS and voice) share: config, error translation, phone numbers,
a lazily built client and reconciliation by listing what Twilio accepted."""

from __future__ import annotations

import functools
import inspect
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import phonenumbers
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from channels.base import (
    Batch,
    Channel,
    ChannelConfig,
    ChannelContext,
    DeliveryResult,
    Outcome,
    Recipient,
    SendEvent,
    crashed_result,
)
from channels.errors import DeliveryError, PermanentError, RateLimited, TransientError
from channels.inbound import StatusEvent
from channels.inflight import Settled, done_future, request_loop, send_in_flight
from channels.net import NETWORK_ERRORS, network_result

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
    # A live channel configured with a token published in this repository (the sandbox's): anyone
    # can sign with it, so no callback signed with it is trusted (Settings.published_secret).
    published_secret: bool = False

    @classmethod
    def twilio_kwargs(cls, settings: Settings, channel: str) -> dict[str, Any]:
        """From settings only: ``twilio_base_url`` if set (e.g. the sandbox), else the real Twilio."""
        not_live = settings.uses_sandbox(channel)
        return {
            "sandbox": not_live,
            "account_sid": settings.twilio_account_sid,
            "auth_token": settings.twilio_auth_token,
            "base_url": settings.twilio_base_url or None,
            "default_sender": SANDBOX_SENDER if not_live else "",
            "published_secret": settings.published_secret(channel),
        }


def twilio_failure(recipient: Recipient, exc: TwilioRestException, number_reason: str) -> DeliveryResult:
    """A per-recipient result, or raise when the error concerns every recipient of the batch.

    ``number_reason`` is what a 21614 means for this channel ("not_mobile" for SMS).
    """
    code = exc.code or 0
    detail = f"（Twilio {exc.status}/{code}: {exc.msg}）"
    if exc.status == 429 or code == TOO_MANY_REQUESTS:
        raise RateLimited(
            "Twilioの送信速度の上限に達しました" + detail,
            retry_after=RATE_LIMIT_DEFAULT_WAIT,
            code=str(code or 429),
        )
    if code == QUEUE_FULL:
        raise RateLimited(
            "送信元番号の送信待ちが満杯です" + detail,
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
            error="Twilio側の一時的な障害です" + detail,
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


# Japanese mobile numbers in E.164, the form contacts are stored in: valid and mobile without asking
# phonenumbers, whose parse was a tenth of a worker's time per SMS (tests hold the two to agreeing).
JAPANESE_MOBILE = re.compile(r"\+81[789]0[1-9]\d{7}")


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
    if JAPANESE_MOBILE.fullmatch(address):
        return address
    parsed = parse_phone(address)
    if parsed is None:
        return address
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# Keyed by process id too: a forked worker child must not use its parent's connections.
_ASYNC_CLIENTS: dict[tuple[Any, ...], Client] = {}
_ASYNC_LOCK = threading.Lock()


class TwilioChannel(Channel):
    """What SMS and voice share: a lazily built client reused across batches."""

    config: TwilioConfig

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

    def sender_used(self, batch: Batch) -> str | None:
        return batch.sender or self.config.default_sender or None

    def sender_for(self, batch: Batch) -> str:
        sender = batch.sender or self.config.default_sender
        if not sender:
            raise PermanentError(
                f"{self.label}の送信元番号が設定されていません。部署の送信元番号を設定してください"
            )
        return sender

    # Twilio's status words that settle a request; the rest only confirm it was accepted.
    final_statuses: ClassVar[dict[str, Outcome]] = {}
    status_field: ClassVar[str] = ""
    sid_field: ClassVar[str] = ""

    def verify_request(self, url: str, form: Mapping[str, str], signature: str) -> bool:
        """``X-Twilio-Signature`` over the URL we gave Twilio and the posted form."""
        if not self.config.auth_token or self.config.published_secret:
            return False
        return bool(
            RequestValidator(self.config.auth_token).validate(url, dict(form), signature))

    def status_event(self, form: Mapping[str, str]) -> StatusEvent:
        status = form.get(self.status_field, "")
        return StatusEvent(provider_id=form.get(self.sid_field, ""), status=status,
                           outcome=self.final_statuses.get(status), error_code=form.get("ErrorCode") or None)

    def callback_url(self, path: str, delivery_id: int) -> str:
        return f"{self.context.public_url.rstrip('/')}/callbacks/twilio/{path}?d={delivery_id}"

    def lookback(self) -> datetime:
        return datetime.now(UTC) - timedelta(minutes=self.config.reconcile_lookback_minutes)


    def async_client(self) -> Client:
        """The client for ``create_async``, shared by every channel object with the same settings in
        this process (each holds an aiohttp connection pool bound to the request loop)."""
        key = (os.getpid(), self.config.account_sid, self.config.auth_token, self.config.base_url,
               self.context.timeout, max(1, self.context.requests_in_flight))
        with _ASYNC_LOCK:
            client = _ASYNC_CLIENTS.get(key)
            if client is None:
                from channels.clients import make_twilio_async_client

                client = _ASYNC_CLIENTS[key] = request_loop.run(make_twilio_async_client(*key[1:]))
            return client

    def requests_in_flight(self) -> int:
        # Channels that record each request before making it promise at most one row in doubt.
        return 1 if self.records_each_request() else max(1, self.context.requests_in_flight)

    def _send_each(self, batch: Batch, number_reason: str,
                   create: Callable[[Recipient], Any]) -> Iterator[SendEvent]:
        """One request per recipient, with the error policy SMS and calls share.

        ``create`` makes the request for one recipient and returns the created resource (its
        ``sid`` is the provider id). A coroutine function is run on the process's request loop
        with up to ``requests_in_flight()`` requests unanswered; a plain function is called one
        request at a time, as it may not be safe to call from two threads.
        """
        if inspect.iscoroutinefunction(create):
            limit = self.requests_in_flight()

            def start(r: Recipient) -> Future[Any]:
                return request_loop.submit(create(r))
        else:
            limit = 1

            def start(r: Recipient) -> Future[Any]:
                return done_future(create, r)

        def settle(r: Recipient, answer: Future[Any]) -> Settled:
            return self._settled(r, answer, number_reason)

        yield from send_in_flight(batch.recipients, limit, lambda: self.context.throttle(batch.sender, 1),
                                  start, settle)

    def _settled(self, recipient: Recipient, answer: Future[Any], number_reason: str) -> Settled:
        """A request's answer as the recipient's result, and the error that stops the batch, if any."""
        rid = recipient.delivery_id
        try:
            resource = answer.result()
        except TwilioRestException as exc:
            try:
                return twilio_failure(recipient, exc, number_reason), None
            except DeliveryError as batch_error:  # 429, a full queue, bad credentials: nothing more now
                return None, batch_error
        except NETWORK_ERRORS as exc:
            try:
                result = network_result(recipient, exc, "Twilio")
            except DeliveryError as never_sent:  # never left this machine
                return None, never_sent
            # A provider that did not answer in time will likely not answer the next one either:
            # the rest of the batch is retried later rather than piling up timeouts.
            silent = TransientError("Twilioから応答がなかったため、この宛先はまだ送っていません")
            silent.__cause__ = exc
            return result, silent
        except Exception as exc:  # our own failure after the request began: in doubt, and stop
            return crashed_result(rid, True, repr(exc)), exc
        return DeliveryResult(rid, Outcome.SENT, provider_id=resource.sid), None

    def _reconcile_by_listing(
        self,
        recipients: Sequence[Recipient],
        what: str,
        records_for: Callable[[Recipient], Iterable[Any]],
        is_ours: Callable[[Recipient, Any], bool],
    ) -> list[DeliveryResult]:
        """Ask Twilio what it accepted for each recipient; each provider record can vouch for one row."""
        claimed: set[str] = set()  # two rows for one number must not both claim one record
        results = []
        for recipient in recipients:
            try:
                records = list(records_for(recipient))
            except (TwilioRestException, *NETWORK_ERRORS) as exc:
                results.append(DeliveryResult(recipient.delivery_id, Outcome.UNKNOWN,
                                              error=f"Twilioに{what}記録を確認できませんでした: {exc!r}"))
                continue
            match = next((r for r in records if str(r.sid) not in claimed and is_ours(recipient, r)), None)
            if match is None:
                results.append(DeliveryResult(recipient.delivery_id, Outcome.NOT_SENT,
                                              error=f"Twilioに{what}の記録がなく、未送信と確認できました"))
            else:
                claimed.add(str(match.sid))
                results.append(DeliveryResult(recipient.delivery_id, Outcome.SENT, provider_id=match.sid))
        return results
