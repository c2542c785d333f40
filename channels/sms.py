"""SMS through Twilio Programmable Messaging or the Karaden SMS API, one gateway per batch.

What SMS and voice share is in channels/twilio.py; the Karaden gateway is channels/karaden.py and
how the hub picks a gateway is channels/sms_gateways.py (and hub/dispatch/gateways.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import phonenumbers

from channels.base import (
    Batch,
    Capability,
    DeliveryResult,
    Draft,
    Outcome,
    Recipient,
    Rendered,
    SendEvent,
    prefix_for,
)
from channels.inbound import StatusEvent
from channels.karaden import KaradenGateway, KaradenSettings
from channels.sms_gateways import KARADEN, SMS_GATEWAYS, TWILIO, observe
from channels.text import SMS_MAX_CHARS, join_nonempty, sms_info, with_prefix
from channels.twilio import JAPANESE_MOBILE, SANDBOX_SENDER, SECRET, TwilioChannel, TwilioConfig, e164, parse_phone

if TYPE_CHECKING:
    from hub.config import Settings

# 070/080/090 numbers in E.164, as contacts are stored: always mobile in Japan's numbering plan
# (phonenumbers agrees: tests/channels/test_sms_numbers.py).

@dataclass(frozen=True)
class SmsConfig(TwilioConfig):
    # The second gateway (flattened so masked() hides its secrets like the Twilio token).
    karaden_api_token: str = field(default="", metadata=SECRET)
    karaden_tenant_id: str = ""
    karaden_base_url: str | None = None  # None: the real Karaden API
    karaden_service_id: int = 0
    karaden_api_version: str = "2024-03-01"
    karaden_callback_secret: str = field(default="", metadata=SECRET)
    karaden_published_secret: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsConfig:
        twilio = cls.twilio_kwargs(settings, "sms")
        # The sandbox's visible number only when Twilio itself is not live (Karaden may be the one that is not).
        twilio["default_sender"] = SANDBOX_SENDER if settings.uses_sandbox("twilio") else ""
        return cls(**twilio,
                   karaden_api_token=settings.karaden_api_token, karaden_tenant_id=settings.karaden_tenant_id,
                   karaden_base_url=settings.karaden_base_url or None,
                   karaden_service_id=settings.karaden_service_id,
                   karaden_api_version=settings.karaden_api_version,
                   karaden_callback_secret=settings.karaden_callback_secret,
                   karaden_published_secret=settings.published_secret("karaden"))

    def karaden(self) -> KaradenSettings:
        return KaradenSettings(self.karaden_api_token, self.karaden_tenant_id, self.karaden_base_url,
                               self.karaden_service_id, self.karaden_api_version, self.karaden_callback_secret,
                               self.karaden_published_secret)


class SmsChannel(TwilioChannel):
    name = "sms"
    label = "SMS"
    capabilities = Capability.PERSONAL | Capability.STATUS_CALLBACKS | Capability.RECONCILE
    config_class = SmsConfig
    batch_size = 300
    max_chars = SMS_MAX_CHARS
    address_field = "phone"
    sender_field = "sms_sender"
    final_statuses: ClassVar[dict[str, Outcome]] = {
        "delivered": Outcome.DELIVERED, "undelivered": Outcome.FAILED, "failed": Outcome.FAILED}
    status_field = "MessageStatus"
    sid_field = "MessageSid"
    gateways = SMS_GATEWAYS
    config: SmsConfig
    _karaden: KaradenGateway | None = None

    def karaden(self) -> KaradenGateway:
        if self._karaden is None:
            self._karaden = KaradenGateway(self.config.karaden(), self.context)
        return self._karaden

    def gateway_ready(self, gateway: str) -> bool:
        if gateway == KARADEN:
            return self.config.karaden().ready
        return gateway == TWILIO and bool(self.config.account_sid and self.config.auth_token)

    def gateway_sender_field(self, gateway: str) -> str | None:
        return "karaden_service_id" if gateway == KARADEN else self.sender_field

    def sender_used(self, batch: Batch) -> str | None:
        if batch.gateway == KARADEN:
            return self.karaden().sender_used(batch)
        return super().sender_used(batch)

    def karaden_status(self, raw: bytes, secret: str) -> tuple[int, StatusEvent] | None:
        """A Karaden delivery-result callback: (row, event), or None when the URL's secret is wrong."""
        gateway = self.karaden()
        return gateway.status_event(raw) if gateway.verify_callback(secret) else None

    def render(self, draft: Draft) -> Rendered:
        prefix = prefix_for(draft)
        base = with_prefix(prefix, draft.override or join_nonempty(draft.title, draft.body))
        if draft.poll is not None:
            # Before the link: if one of them must go for length, it is the link.
            base = join_nonempty(base, draft.poll.reply_hint(draft.language))
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
        if JAPANESE_MOBILE.fullmatch(address):
            return None  # the common case, without phonenumbers' parse (a third of planning's time)
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

    def _send(self, batch: Batch) -> Iterable[SendEvent]:
        if batch.gateway == KARADEN:
            yield from observe(KARADEN, self.karaden().send(batch), self.context.gateway_health)
        else:
            yield from observe(TWILIO, self._send_twilio(batch), self.context.gateway_health)

    def _send_twilio(self, batch: Batch) -> Iterable[SendEvent]:
        sender, client = self.sender_for(batch), self.async_client()

        async def message(r: Recipient) -> Any:
            content = batch.content_for(r)
            status_url = content.meta.get("status_callback", self.callback_url("status", r.delivery_id))
            return await client.messages.create_async(to=e164(r.address), from_=sender, body=content.text,
                                          **({"status_callback": status_url} if status_url else {}))

        yield from self._send_each(batch, "not_mobile", message)

    def reconcile(self, recipients: Sequence[Recipient], batch: Batch) -> list[DeliveryResult]:
        """Asked of the gateway that carried the rows (``batch.gateway``, recorded on each row).

        Twilio: a message to the same number, from the same sender, with the same body, since the
        lookback. Karaden: the records carrying the row's tag.
        """
        if batch.gateway == KARADEN:
            return self.karaden().reconcile(recipients)
        sender, since = self.sender_for(batch), self.lookback()
        return self._reconcile_by_listing(
            recipients, "送信",
            lambda r: self.client().messages.list(to=e164(r.address), from_=sender, date_sent_after=since,
                                                  limit=200),
            lambda r, m: m.to == e164(r.address) and m.body == batch.content_for(r).text,
        )
