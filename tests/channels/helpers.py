"""Small builders shared by the channel tests."""

from __future__ import annotations

from collections.abc import Sequence

from channels import registry
from channels.base import Batch, Channel, ChannelContext, DeliveryResult, Draft, Observer, Recipient, Rendered
from hub.config import Settings
from sandbox import hub_settings

CALLBACK_URL = "http://127.0.0.1:9"  # nothing listens: the sandbox's status callbacks go nowhere


def sandbox_settings(http_url: str, smtp_port: int) -> Settings:
    return Settings(**hub_settings(http_url, smtp_port), public_url=CALLBACK_URL)


def build(
    name: str, settings: Settings, timeout: float = 5.0, throttle_log: list[str] | None = None,
    in_flight: int = 16, observer: Observer | None = None,
) -> Channel:
    def throttle(sender: str | None, n: int) -> None:
        if throttle_log is not None:
            throttle_log.append(f"{sender}:{n}")

    return registry.build(
        name, settings, ChannelContext(public_url=CALLBACK_URL, throttle=throttle, timeout=timeout,
                                        requests_in_flight=in_flight, observer=observer)
    )


def recipients(addresses: Sequence[str], start: int = 1, language: str = "ja") -> list[Recipient]:
    return [Recipient(delivery_id=start + i, address=a, language=language) for i, a in enumerate(addresses)]


def make_batch(
    channel: Channel,
    draft: Draft,
    people: Sequence[Recipient],
    *,
    contents: dict[str, Rendered] | None = None,
    sender: str | None = None,
    attempt: int = 1,
    key: str = "batch-key",
    message_id: int = 42,
) -> Batch:
    return Batch(
        message_id=message_id,
        batch_no=1,
        recipients=list(people),
        contents=contents or {"ja": channel.render(draft)},
        sender=sender,
        idempotency_key=key,
        attempt=attempt,
    )


def by_id(results: Sequence[DeliveryResult]) -> dict[int, DeliveryResult]:
    assert len({r.delivery_id for r in results}) == len(results), "one result per recipient"
    return {r.delivery_id: r for r in results}
