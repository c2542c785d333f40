"""Publishing to the hub's own feeds (Atom, RSS 2.0, CAP 1.2).

Publishing IS the delivery: the hub serves the feeds from its database, so recording the
delivery row makes the entry appear. ``_send`` only hands back the entry's permanent id; the
documents themselves are built by :mod:`channels.feeds`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from channels.base import (
    Batch,
    Capability,
    Channel,
    ChannelConfig,
    DeliveryResult,
    Draft,
    Outcome,
    Rendered,
    Requesting,
    SendEvent,
    prefix_for,
)
from channels.feeds import tag_uri
from channels.text import join_nonempty, signature, with_prefix

if TYPE_CHECKING:
    from hub.config import Settings

ADDRESS_RE = re.compile(r"^rss:[A-Za-z0-9_.-]{1,64}$")
MAX_CHARS = 10_000


@dataclass(frozen=True)
class RssConfig(ChannelConfig):
    authority: str = "localhost"  # the tag URI authority: a domain the municipality owns
    # The tag URI year must never change once entries are published, or every reader sees
    # every entry as new; it is the year the feed was first set up, not the current year.
    tag_year: int = 2025

    @classmethod
    def from_settings(cls, settings: Settings) -> RssConfig:
        return cls(
            sandbox=settings.uses_sandbox("rss"),
            authority=urlsplit(settings.public_url).hostname or "localhost",
        )


class RssChannel(Channel):
    name = "rss"
    publishes_exercises = True
    label = "RSS・Atom・CAPフィード"
    capabilities = Capability.BROADCAST
    config_class = RssConfig
    batch_size = 50
    max_chars = MAX_CHARS
    address_field = None
    config: RssConfig

    def render(self, draft: Draft) -> Rendered:
        prefix = prefix_for(draft)
        title = with_prefix(prefix, draft.title)
        body = join_nonempty(draft.override or draft.body, signature(draft.sender_name))
        text = join_nonempty(title, body, draft.link)
        errors = []
        if len(text) > MAX_CHARS:
            errors.append(f"フィードは{MAX_CHARS}文字までです（現在{len(text)}文字）")
        return Rendered(
            subject=title,
            text=text,
            errors=tuple(errors),
            units=1,
            meta={"title": title, "body": body, "link": draft.link},
        )

    def check_address(self, address: str) -> str | None:
        return None if ADDRESS_RE.match(address) else "invalid_address"

    def entry_id(self, message_id: int) -> str:
        return tag_uri(self.config.authority, self.config.tag_year, message_id)

    def _send(self, batch: Batch) -> Iterable[SendEvent]:
        entry = self.entry_id(batch.message_id)
        for recipient in batch.recipients:
            yield Requesting((recipient.delivery_id,))
            yield DeliveryResult(recipient.delivery_id, Outcome.DELIVERED, provider_id=entry)
