"""The Karaden SMS API (空電プッシュ's provider) as a gateway of the ``sms`` channel.

Driven through the official SDK ``karaden-prg-python``, pointed at ``karaden_base_url`` when set
(the sandbox) and otherwise at Karaden itself. Each request carries the tag ``hub-d{delivery id}``:
Karaden's delivery-result callbacks echo the tags (so a callback finds its row even before the
worker recorded the message id), and reconciliation lists exactly the records of one row by tag,
which is more precise than comparing bodies.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from channels.base import Batch, ChannelContext, DeliveryResult, Outcome, Recipient, Requesting, SendEvent
from channels.errors import PermanentError, RateLimited, TransientError
from channels.inbound import MalformedPost, StatusEvent
from channels.net import NETWORK_ERRORS, network_result

DEFAULT_API_VERSION = "2024-03-01"  # the SDK's default and a documented version
RATE_LIMIT_DEFAULT_WAIT = 5.0  # a 429 without Retry-After
TAG_PREFIX = "hub-d"
_TAG = re.compile(r"^hub-d([0-9]{1,18})$")
# Karaden's words (SMS API共通仕様 > ステータス). status: done | waiting | error | canceled;
# sent_result: none | received (着信済) | unconnected (圏外) | error | unknown (不明).
FAILED_SENT_RESULTS = {"unconnected", "error"}


@dataclass(frozen=True)
class KaradenSettings:
    api_token: str
    tenant_id: str
    base_url: str | None  # None: the real Karaden API
    service_id: int  # the hub's default サービス設定ID (the sender identity) when a department has none
    api_version: str = DEFAULT_API_VERSION
    callback_secret: str = ""
    published_secret: bool = False  # a live gateway configured with the sandbox's published secret

    @property
    def ready(self) -> bool:
        return bool(self.api_token and self.tenant_id)


def tag_for(delivery_id: int) -> str:
    return f"{TAG_PREFIX}{delivery_id}"


def national(address: str) -> str | None:
    """``+819012345678`` → ``09012345678``; None when Karaden cannot send to it (not a JP mobile)."""
    from channels.twilio import e164

    number = e164(address)
    if not number.startswith("+81") or len(number) != 13 or number[3] not in "789" or number[4] != "0":
        return None
    return "0" + number[3:]


class KaradenGateway:
    name = "karaden"
    label = "Karaden"

    def __init__(self, settings: KaradenSettings, context: ChannelContext) -> None:
        self.settings = settings
        self.context = context
        self._options: Any = None

    def options(self) -> Any:
        """Request options built once: token, tenant, base URL, version and both timeouts."""
        if self._options is None:
            import karaden  # noqa: F401  (wires the SDK's requestor and error classes)
            from karaden.request_options import RequestOptions

            from channels.clients import _ensure_no_proxy_for_local

            base = self.settings.base_url
            _ensure_no_proxy_for_local(base)
            builder = (RequestOptions.new_builder().with_api_key(self.settings.api_token)
                       .with_tenant_id(self.settings.tenant_id).with_api_version(self.settings.api_version)
                       .with_connection_timeout(self.context.timeout).with_read_timeout(self.context.timeout))
            if base:
                builder = builder.with_api_base(base.rstrip("/"))
            self._options = builder.build()
        return self._options

    def sender_used(self, batch: Batch) -> str | None:
        """The サービス設定ID the request goes out with: the department's, else the hub's."""
        try:
            return str(self.service_id(batch, self.settings.service_id))
        except PermanentError:
            return None

    @staticmethod
    def service_id(batch: Batch, default: int) -> int:
        try:
            value = int(batch.sender) if batch.sender else default
        except ValueError:
            value = default
        if value <= 0:
            raise PermanentError("KaradenのサービスID（サービス設定ID）が設定されていません。"
                                 "部署かHUB_KARADEN_SERVICE_IDに設定してください")
        return value

    def send(self, batch: Batch) -> Iterator[SendEvent]:
        from karaden.exception.karaden_exception import KaradenException
        from karaden.model.message import Message
        from karaden.param.message_create_params import MessageCreateParams

        if not self.settings.ready:  # said before any request: a configuration gap, not a failing gateway
            raise PermanentError("Karadenの設定（HUB_KARADEN_API_TOKEN・HUB_KARADEN_TENANT_ID）がありません")
        service = self.service_id(batch, self.settings.service_id)
        options = self.options()
        for recipient in batch.recipients:
            to = national(recipient.address)
            if to is None:
                yield DeliveryResult(recipient.delivery_id, Outcome.FAILED, reason="not_mobile",
                                     error="Karadenは日本の携帯電話番号（070/080/090）にのみ送信できます")
                continue
            self.context.throttle(batch.sender, 1)
            params = MessageCreateParams(service, to, batch.content_for(recipient).text,
                                         tags=[tag_for(recipient.delivery_id)])
            yield Requesting((recipient.delivery_id,))
            try:
                message = Message.create(params, options)
            except KaradenException as exc:
                yield karaden_failure(recipient, exc)
                continue
            except NETWORK_ERRORS as exc:
                yield network_result(recipient, exc, "Karaden")
                raise TransientError("Karadenから応答がなかったため、この宛先はまだ送っていません") from exc
            yield DeliveryResult(recipient.delivery_id, Outcome.SENT, provider_id=str(message.id))

    def reconcile(self, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        """Ask Karaden for the records tagged with each row: accepted → SENT; none → NOT_SENT."""
        from karaden.exception.karaden_exception import KaradenException
        from karaden.model.message import Message
        from karaden.param.message_list_params import MessageListParams

        results = []
        for recipient in recipients:
            params = MessageListParams(tag=tag_for(recipient.delivery_id), to=national(recipient.address))
            try:
                found = Message.list(params, self.options()).data or []
            except (KaradenException, *NETWORK_ERRORS) as exc:
                results.append(DeliveryResult(recipient.delivery_id, Outcome.UNKNOWN,
                                              error=f"Karadenに送信記録を確認できませんでした: {describe(exc)}"))
                continue
            results.append(_settled_by(recipient, [m for m in found if tag_for(recipient.delivery_id) in
                                                   (m.tags or [])]))
        return results

    def cancel(self, provider_id: str) -> bool:
        """Withdraw a message Karaden has not sent yet; False when it already went out (or is unknown)."""
        from karaden.exception.karaden_exception import KaradenException
        from karaden.model.message import Message
        from karaden.param.message_cancel_params import MessageCancelParams

        try:
            Message.cancel(MessageCancelParams(provider_id), self.options())
        except (KaradenException, *NETWORK_ERRORS):
            return False
        return True

    def verify_callback(self, presented: str) -> bool:
        """Karaden documents no signature for its callbacks: the secret in the URL we registered."""
        secret = self.settings.callback_secret
        if not secret or self.settings.published_secret:
            return False
        return hmac.compare_digest(presented.encode(), secret.encode())

    @staticmethod
    def status_event(raw: bytes) -> tuple[int, StatusEvent]:
        """The row a delivery-result callback is about (from its tag) and what it says."""
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedPost("KaradenのコールバックがJSONではありません") from exc
        if not isinstance(payload, dict) or payload.get("object") != "message" or not payload.get("id"):
            raise MalformedPost("Karadenのメッセージ通知ではありません")
        tags = payload.get("tags")
        ids = [int(m.group(1)) for t in (tags if isinstance(tags, list) else [])
               if isinstance(t, str) and (m := _TAG.match(t))]
        if len(ids) != 1:
            raise MalformedPost("配信ハブが付けたタグがありません")
        status, sent_result = str(payload.get("status") or ""), str(payload.get("sent_result") or "")
        outcome: Outcome | None = None
        if sent_result == "received":
            outcome = Outcome.DELIVERED
        elif sent_result in FAILED_SENT_RESULTS or status in ("error", "canceled"):
            outcome = Outcome.FAILED
        word = f"{status}/{sent_result}" if sent_result and sent_result != "none" else status
        return ids[0], StatusEvent(provider_id=str(payload["id"]), status=word[:32], outcome=outcome,
                                   error_code=sent_result if outcome == Outcome.FAILED else None)


def _settled_by(recipient: Recipient, records: list[Any]) -> DeliveryResult:
    live = [m for m in records if m.status in ("waiting", "done")]
    if live:
        return DeliveryResult(recipient.delivery_id, Outcome.SENT, provider_id=str(live[0].id))
    failed = [m for m in records if m.status == "error"]
    if failed:
        # Karaden took the request and could not send it: recorded as failed, never sent twice.
        return DeliveryResult(recipient.delivery_id, Outcome.FAILED, provider_id=str(failed[0].id),
                              error="Karadenが送信エラーとしました（送信記録で確認）", error_code="error")
    return DeliveryResult(recipient.delivery_id, Outcome.NOT_SENT,
                          error="Karadenに送信の記録がなく、未送信と確認できました")


def describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None) or getattr(exc, "STATUS_CODE", None)
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None) if error is not None else None
    return f"{type(exc).__name__}" + (f" {status}" if status else "") + (f": {message}" if message else "")


def karaden_failure(recipient: Recipient, exc: Any) -> DeliveryResult:
    """A per-recipient result, or raise when the error concerns every recipient of the batch."""
    from karaden.exception.invalid_params_exception import InvalidParamsException
    from karaden.exception.invalid_request_options_exception import InvalidRequestOptionsException

    detail = f"（{describe(exc)}）"
    status = getattr(exc, "status_code", None) or getattr(exc, "STATUS_CODE", None) or 0
    if isinstance(exc, InvalidRequestOptionsException):
        raise PermanentError("Karadenの設定（トークン・テナントID）がありません" + detail, code="config")
    if isinstance(exc, InvalidParamsException):
        raise PermanentError("Karadenへの送信内容が不正です" + detail, code="params")
    if status == 429:
        raise RateLimited("Karadenの送信速度の上限に達しました" + detail,
                          retry_after=_retry_after(exc) or RATE_LIMIT_DEFAULT_WAIT, code="429")
    if status in (401, 403, 404):
        raise PermanentError("Karadenの認証に失敗しました。トークンとテナントIDを確認してください" + detail,
                             code=str(status))
    if status >= 500:
        return DeliveryResult(recipient.delivery_id, Outcome.RETRY, error="Karaden側の一時的な障害です" + detail,
                              error_code=str(status))
    errors = getattr(getattr(exc, "error", None), "errors", None)
    if errors is not None and getattr(errors, "get_property", None) and errors.get_property("to"):
        return DeliveryResult(recipient.delivery_id, Outcome.FAILED, reason="invalid_address",
                              error="宛先の電話番号が正しくありません" + detail, error_code=str(status))
    return DeliveryResult(recipient.delivery_id, Outcome.FAILED, error="Karadenが送信を受け付けませんでした" + detail,
                          error_code=str(status or "error"))


def _retry_after(exc: Any) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    value = headers.get("Retry-After")
    try:
        return float(value) if value else None
    except (TypeError, ValueError):
        return None
