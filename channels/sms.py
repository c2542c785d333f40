"""SMS through Twilio Programmable Messaging (what SMS and voice share is in channels/twilio.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
from channels.text import SMS_MAX_CHARS, join_nonempty, sms_info, with_prefix
from channels.twilio import TwilioChannel, TwilioConfig, e164, parse_phone

if TYPE_CHECKING:
    from hub.config import Settings

# 070/080/090 numbers in E.164, as contacts are stored: always mobile in Japan's numbering plan
# (phonenumbers agrees: tests/channels/test_sms_numbers.py).
JAPANESE_MOBILE = re.compile(r"\+81[789]0[1-9]\d{7}")

@dataclass(frozen=True)
class SmsConfig(TwilioConfig):
    @classmethod
    def from_settings(cls, settings: Settings) -> SmsConfig:
        return cls(**cls.twilio_kwargs(settings, "sms"))


class SmsChannel(TwilioChannel):
    name = "sms"
    label = "SMS"
    capabilities = Capability.PERSONAL | Capability.STATUS_CALLBACKS | Capability.RECONCILE
    config_class = SmsConfig
    batch_size = 100
    max_chars = SMS_MAX_CHARS
    address_field = "phone"
    sender_field = "sms_sender"
    final_statuses: ClassVar[dict[str, Outcome]] = {
        "delivered": Outcome.DELIVERED, "undelivered": Outcome.FAILED, "failed": Outcome.FAILED}
    status_field = "MessageStatus"
    sid_field = "MessageSid"

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
        sender, client = self.sender_for(batch), self.async_client()

        async def message(r: Recipient) -> Any:
            content = batch.content_for(r)
            status_url = content.meta.get("status_callback", self.callback_url("status", r.delivery_id))
            return await client.messages.create_async(to=e164(r.address), from_=sender, body=content.text,
                                          **({"status_callback": status_url} if status_url else {}))

        yield from self._send_each(batch, "not_mobile", message)

    def reconcile(self, recipients: Sequence[Recipient], batch: Batch) -> list[DeliveryResult]:
        """A message to the same number, from the same sender, with the same body, since the lookback."""
        sender, since = self.sender_for(batch), self.lookback()
        return self._reconcile_by_listing(
            recipients, "送信",
            lambda r: self.client().messages.list(to=e164(r.address), from_=sender, date_sent_after=since,
                                                  limit=200),
            lambda r, m: m.to == e164(r.address) and m.body == batch.content_for(r).text,
        )
