"""Text messages residents send to a department's number, and who answers them.

The route (``/callbacks/twilio/sms``, hub/callbacks_sms.py) verifies the provider's signature,
tries the opt-out keywords first (they must always work) and the registration keyword
(hub/residents/optout.py), then hands the message to :func:`reply_for`: every registered handler
in order (survey answers, …). A handler returns the reply to send back, or None when the message
is not for it; when none answers, the resident gets no reply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from hub.runtime import Runtime


@dataclass(frozen=True)
class InboundSms:
    provider_id: str  # the provider's id of this message (Twilio MessageSid): applied once
    from_number: str  # E.164, the resident
    to_number: str  # E.164, the department's number it was sent to
    body: str


SmsHandler = Callable[[Session, Runtime, InboundSms], str | None]
sms_handlers: list[SmsHandler] = []


def reply_for(session: Session, runtime: Runtime, sms: InboundSms) -> str | None:
    for handler in sms_handlers:
        reply = handler(session, runtime, sms)
        if reply is not None:
            return reply
    return None
