"""What the hub needs to know about a channel with several gateways (SMS: Twilio and Karaden).

The hub chooses a gateway per batch (the department's, or its failover partner when the first
one's circuit is open), records it on each row before the request, and later asks that same
gateway about rows in doubt. The channel only sends through the gateway the batch names and
reports, per request, whether the gateway answered (:func:`observe`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, runtime_checkable

from channels.base import DeliveryResult, Outcome, Requesting, SendEvent
from channels.errors import PermanentError, RateLimited, TransientError, Unreachable

TWILIO = "twilio"
KARADEN = "karaden"
SMS_GATEWAYS = (TWILIO, KARADEN)
GATEWAY_LABELS = {TWILIO: "Twilio", KARADEN: "Karaden（空電プッシュ）"}


@runtime_checkable
class HasGateways(Protocol):
    """A channel that can send through more than one gateway; the first is the historical default."""

    gateways: tuple[str, ...]

    def gateway_ready(self, gateway: str) -> bool:
        """Configured with credentials (live or the sandbox): worth failing over to."""

    def gateway_sender_field(self, gateway: str) -> str | None:
        """The Department attribute holding this gateway's sender identity (a number, a service id)."""


_ANSWERED = (Outcome.SENT, Outcome.DELIVERED, Outcome.FAILED)
_FAILED_REQUEST = (Outcome.RETRY, Outcome.UNKNOWN)


HEALTH_EVERY = 1.0  # seconds


def observe(gateway: str, events: Iterable[SendEvent], report: Callable[[str, bool], None]) -> Iterator[SendEvent]:
    """Pass the adapter's events through, telling ``report`` how each request to ``gateway`` went.

    An answer (accepted, or refused for the recipient's sake such as an invalid number) is health;
    a 5xx, a lost answer, a connection that never opened or refused credentials is a failure. A
    rate limit is neither (the gateway is busy, not broken), nor is anything raised before a
    request was under way (our own rate limiter, a missing sender).
    """
    # Several requests may be under way at once (HUB_REQUESTS_IN_FLIGHT): each row maps to its
    # request, and a request is reported once, with the first result that comes for it.
    request_of: dict[int, int] = {}
    unanswered: set[int] = set()
    # Answers are told at most once a second (and at once after a failure): the breaker needs to
    # know the gateway answers, not a Redis round trip for every SMS.
    healthy_told = -HEALTH_EVERY
    try:
        for number, event in enumerate(events):
            if isinstance(event, Requesting):
                request_of.update(dict.fromkeys(event.delivery_ids, number))
                unanswered.add(number)
            elif isinstance(event, DeliveryResult) and request_of.get(event.delivery_id) in unanswered:
                unanswered.discard(request_of[event.delivery_id])
                if event.outcome in _ANSWERED:
                    if time.monotonic() - healthy_told >= HEALTH_EVERY:
                        report(gateway, True)
                        healthy_told = time.monotonic()
                elif event.outcome in _FAILED_REQUEST:
                    report(gateway, False)
                    healthy_told = -HEALTH_EVERY
            yield event
    except RateLimited:
        raise
    except (Unreachable, PermanentError):
        if unanswered:
            report(gateway, False)
        raise
    except TransientError:
        raise  # after a lost answer, already counted with its result
